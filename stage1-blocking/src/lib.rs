//! # Stage 1: blocking sockets
//!
//! Every socket call in this crate puts the calling thread to sleep until it can finish:
//! `connect` until the handshake is done, `read` until bytes arrive, `write` until the kernel
//! takes the bytes. Code reads top to bottom, which is pleasant, but a thread waiting on one
//! socket can do nothing else, so N requests one after another take N x the latency.
//!
//! * [`http`]: HTTP/1.0 request bytes, response parsing, and a blocking [`http::get`].
//! * [`demo`]: the demo server every stage talks to (delay, trickle mode), thread per connection.
//! * [`echo`]: blocking echo servers, one client at a time and thread per client.
//! * [`cli`]: the workspace's small flag parser and the helpers every demo binary shares.
//! * [`net`]: listener set-up and accept-error handling shared by the servers.
//! * [`testkit`]: the client side of every stage's tests: loopback sockets, payloads, and
//!   [`testkit::check_echo`], the exam every stage's echo server must pass.
//!
//! ```
//! use stage1_blocking::demo::{DemoConfig, DemoServer, expected_body};
//! use stage1_blocking::http;
//!
//! // A demo server on a free port of 127.0.0.1, answering without delay.
//! let server = DemoServer::start(DemoConfig::instant())?;
//! let response = http::get(server.addr(), "/3")?; // the thread sleeps until the reply is in
//! assert_eq!(response.status, 200);
//! assert_eq!(Some(response.body), expected_body("/3"));
//! drop(server); // stops it and joins its threads
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod cli;
pub mod demo;
pub mod echo;
pub mod http;
pub mod net;
pub mod testkit;
