//! # Stage 3: futures
//!
//! Stage 2's crawler kept its state in a chain of callbacks that the selector called. This
//! stage puts an object between the selector and the callbacks: a [`future::Future`], which
//! stands for a result that is not there yet. The selector now stores futures
//! ([`event_loop::EventLoop::wait_readable`] registers an fd and returns the future that resolves
//! when it is ready), the code that wants the result attaches a callback to the future, and the
//! loop runs those callbacks from its ready queue ([`event_loop::EventLoop::call_soon`]).
//!
//! ## Reading order (the core path)
//!
//! 1. [`future`]: `Future<T>`, `set_result` (which schedules the callbacks, never calls them),
//!    `add_done_callback`, `cancel`, `result`.
//! 2. [`event_loop`]: the `EventLoop`: stage 2's `Selector` (its `Direction` and
//!    `Interest::of_waiters` included) plus a ready queue; one-shot fd waits that return futures.
//! 3. [`crawler`]: the 500 Lines crawler, its steps now chained through futures; front end:
//!    `src/bin/stage3-client.rs`.
//! 4. The server half: [`echo`], an echo server whose connection waits on two futures at once,
//!    with stage 2's bounded `WriteBuffer` (front end: `src/bin/stage3-echo.rs`).
//!
//! ## Going further
//!
//! `tests/future.rs` holds the two tests that break when `set_result` calls its callbacks
//! inline (a re-entrant borrow, a 200,000-link chain); the chapter's first exercise asks you
//! to break them.
//!
//! ## Example
//!
//! ```
//! use std::cell::RefCell;
//! use std::io::Write;
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//! use std::rc::Rc;
//!
//! use stage3_futures::event_loop::EventLoop;
//! # std::thread::spawn(|| {
//! #     std::thread::sleep(stage1_blocking::workshop::testkit::SAFETY_TIMEOUT);
//! #     eprintln!("the loop never stopped: a future the selector never resolved");
//! #     std::process::exit(1);
//! # });
//!
//! let lp = EventLoop::new()?;
//! let (ours, mut theirs) = UnixStream::pair()?;
//! // A future the loop resolves when `ours` is readable, and what to do then.
//! let readable = lp.wait_readable(ours.as_raw_fd());
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let log_in_callback = Rc::clone(&log);
//! readable.add_done_callback(move |fut| log_in_callback.borrow_mut().push(fut.done()));
//!
//! theirs.write_all(b"x")?;
//! assert!(log.borrow().is_empty()); // nothing runs until the loop turns
//! lp.run()?; // select, resolve the future, run its callback; then nothing is left to do
//! assert_eq!(*log.borrow(), [true]);
//! # Ok::<(), anyhow::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod crawler;
pub mod echo;
pub mod event_loop;
pub mod future;

pub use event_loop::EventLoop;
pub use future::{Future, FutureError};
