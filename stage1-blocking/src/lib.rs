//! # Stage 1: blocking sockets
//!
//! Every socket call in this crate puts the calling thread to sleep until it can finish:
//! `connect` until the handshake is done, `read` until bytes arrive, `write` until the kernel
//! takes the bytes. Code reads top to bottom, which is pleasant, but a thread waiting on one
//! socket can do nothing else, so N requests one after another take N x the latency.
//!
//! ## Reading order (the core path)
//!
//! 1. [`http`]: the bytes of an HTTP/1.0 `GET`, a response parser that never trusts the
//!    network, and the blocking [`http::get`] every later stage re-does without blocking.
//! 2. `src/bin/stage1-client.rs`: ten `get`s one after another (about ten latencies).
//! 3. [`echo`]: blocking echo servers, one client at a time and thread per client (their front
//!    ends are `src/bin/stage1-echo.rs` and `src/bin/stage1-echo-threads.rs`), and [`net`]:
//!    binding their listener, and what an accept loop does when `accept` fails.
//! 4. `src/bin/stage1-threads.rs`: ten threads (one latency, one thread each), and what the
//!    threads cost.
//!
//! ## Not the lesson: the workshop
//!
//! [`workshop`] holds the scaffolding all stages share: flags, the demo server every client
//! talks to (`src/workshop/bin/stage1-demo-server.rs` runs it on its own) and its side of HTTP, and the
//! test kit (only with the `testkit` feature, which every stage turns on in
//! `[dev-dependencies]`). The book's appendix "The workshop's scaffolding" walks through it.
//!
//! ## Example
//!
//! ```
//! use stage1_blocking::http;
//! use stage1_blocking::workshop::demo::{DemoConfig, DemoServer, expected_body};
//!
//! // A demo server on a free port of 127.0.0.1, answering without delay.
//! let server = DemoServer::start(DemoConfig::instant())?;
//! let response = http::get(server.addr(), "/3")?; // the thread sleeps until the reply is in
//! assert_eq!(response.status, 200);
//! assert_eq!(Some(response.body), expected_body("/3"));
//! drop(server); // stops it and joins its threads
//! # Ok::<(), anyhow::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod echo;
pub mod http;
pub mod net;
pub mod workshop;
