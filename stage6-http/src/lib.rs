//! # Stage 6: an HTTP/1.1 server on our own runtime
//!
//! asyncio's ecosystem reaches HTTP in frameworks like sanic, a Flask-like framework where `async def handler(request)`
//! returns `json({'hello': 'world'})`. This crate builds the same thing from the bytes up, on
//! the stage 5 runtime. What it teaches: a protocol is a state machine over bytes that arrive
//! in pieces of any size; the parser, the router and the response writer need no runtime at
//! all (each can be read and tested on its own); and the server is one small task per
//! connection that reads, parses one request, awaits its handler, writes, and goes round again.
//!
//! ## Reading order
//!
//! The core path follows one request through the server (the chapter does the same):
//!
//! 1. [`message`]: the words of a message ([`Method`], [`Version`], the spans into its bytes).
//! 2. [`grammar`]: tokens, field lines, chunk-size lines, numbers, where a body ends; shared by
//!    the request parser and the client's response parser.
//! 3. [`parser`]: the incremental request parser, an explicit state machine, and its errors.
//! 4. [`request`]: the [`Request`] a handler receives.
//! 5. [`response`]: the [`Response`] builder and its bytes (Content-Length or chunked).
//! 6. [`router`]: method + path patterns (`/users/:id`, `/static/*path`) to async handlers.
//! 7. [`server`]: the connection loop ([`server::connection`]), then the accept loop.
//!
//! Going further, each on its own:
//!
//! * [`client`] and [`loadgen`]: a keep-alive client, and `stage6-loadgen` (our `wrk`);
//!   [`histogram`]: its fixed-memory latency histogram.
//! * [`static_files`]: safe mapping of URL paths to files; [`query`]: percent-decoding;
//!   [`json`]: a small JSON writer; [`app`]: the demo application's routes.
//! * [`date`]: the `Date` header, formatted once a second; [`server::access_log`].
//! * [`server::worker`], [`server::threads`], [`server::config`]: worker threads, limits,
//!   timeouts and the graceful shutdown.
//!
//! ## Two minutes with it
//!
//! The parser needs no runtime and no socket, only bytes:
//!
//! ```
//! use stage6_http::{Parsed, Parser};
//!
//! let bytes = b"GET /hello?name=world HTTP/1.1\r\nHost: example.com\r\n\r\n";
//! let Ok(Parsed::Complete { request, consumed }) = Parser::default().parse(bytes) else {
//!     panic!("a whole request was given");
//! };
//! println!("{} {}", request.method(), request.path()); // GET /hello
//! assert_eq!((request.method().as_str(), request.path(), consumed), ("GET", "/hello", bytes.len()));
//! ```
//!
//! The server, in-process on a free port, asked with nothing but std's `TcpStream`:
//!
//! ```
//! use stage6_http::app::hello_router;
//! use stage6_http::{Server, ServerConfig};
//! use std::io::{Read, Write};
//!
//! let server = Server::bind(([127, 0, 0, 1], 0).into(), hello_router(), ServerConfig::default())
//!     .and_then(Server::spawn)
//!     .unwrap();
//! let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
//! stream.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
//! let mut answer = String::new();
//! stream.read_to_string(&mut answer).unwrap(); // the server closes after its answer
//! assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(answer.ends_with("\r\n\r\nHello, World!"));
//! ```

#![forbid(unsafe_code)]

pub mod app;
pub mod client;
pub mod date;
mod deadline;
pub mod grammar;
pub mod histogram;
pub mod json;
pub mod loadgen;
pub mod message;
pub mod parser;
pub mod query;
pub mod request;
pub mod response;
pub mod router;
pub mod server;
pub mod static_files;

// For users outside the crate (tests, binaries, the book). Inside it, every file imports a
// name from the module that defines it, never through these.
pub use message::{Method, Version};
pub use parser::error::ParseError;
pub use parser::{Limits, Parsed, Parser};
pub use request::Request;
pub use response::Response;
pub use router::Router;
pub use server::{Server, ServerConfig, ServerHandle};
