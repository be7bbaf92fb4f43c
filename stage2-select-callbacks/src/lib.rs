//! # Stage 2: one thread, many sockets, a selector and callbacks
//!
//! Stage 1 gave each request the whole thread, and the thread spent nearly all its time asleep
//! inside `read`. Here the sockets are *non-blocking*: a call that cannot finish now returns
//! `WouldBlock` instead of sleeping. One thread hands all its sockets to a [`selector::Selector`],
//! sleeps in one place until *some* socket is ready, and runs the callback that was waiting for
//! that socket. Ten requests now overlap, and take about one latency instead of ten.
//!
//! ## Reading order (the core path)
//!
//! 1. [`selector`]: the `Selector` (poll(2) everywhere, epoll on Linux): register an fd with a
//!    `Token` and an `Interest`, `select` hands back `Readiness` reports.
//! 2. [`event_loop`]: the `EventLoop` that runs a callback when its fd is ready (a reader and
//!    a writer slot per fd, kept in a `Watched` record).
//! 3. [`net`]: non-blocking connect and its `SO_ERROR` check, `send` without `SIGPIPE`,
//!    accepting until `WouldBlock`.
//! 4. [`crawler`]: the 500 Lines crawler's callbacks, every request at once on one thread; its
//!    front end is `src/bin/stage2-client.rs`.
//! 5. The server half: [`buffer`] (`WriteBuffer`, the pending output and the water marks that
//!    make back-pressure), then [`echo`], the callback echo server that uses it (front end:
//!    `src/bin/stage2-echo.rs`). Stages 3 and 4 reuse both.
//!
//! ## Going further
//!
//! * `src/bin/stage2-echo-bench.rs`: a thousand clients at once against the echo server.
//! * [`sys`]: the crate's only `unsafe` code, thin wrappers over poll, epoll and the
//!   descriptor limits.
//! * [`trace`](mod@trace): how `TRACE=1` makes the loops say what they decide.
//!
//! ## Example
//!
//! ```
//! use stage1_blocking::workshop::demo::{DemoConfig, DemoServer, expected_body};
//! use stage2_select_callbacks::crawler;
//! # std::thread::spawn(|| {
//! #     std::thread::sleep(stage1_blocking::workshop::testkit::SAFETY_TIMEOUT);
//! #     eprintln!("the crawl never ended: a callback that was never run, or one never unregistered");
//! #     std::process::exit(1);
//! # });
//!
//! let server = DemoServer::start(DemoConfig::instant())?;
//! let paths = ["/1", "/2", "/3"].map(String::from);
//! // Three requests in flight at once, on this thread: connect, send and read are callbacks
//! // that the event loop runs when their socket is ready.
//! let results = crawler::crawl(server.addr(), &paths)?;
//! assert_eq!(results.len(), 3); // in the order they finished
//! for (path, outcome) in results {
//!     assert_eq!(Some(outcome?.body), expected_body(&path));
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod buffer;
pub mod crawler;
pub mod echo;
pub mod event_loop;
pub mod net;
pub mod selector;
#[allow(unsafe_code)] // the crate's one syscall module: every block has a SAFETY comment
pub mod sys;
pub mod trace;
