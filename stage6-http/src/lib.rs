//! # Stage 6: an HTTP/1.1 server on our own runtime
//!
//! The seed's last stop is sanic: a Flask-like framework where `async def handler(request)`
//! returns `json({'hello': 'ahui'})`. This crate builds the same thing from the bytes up, on
//! the stage 5 runtime, and each protocol piece is a small module that runs without any
//! runtime at all, so it can be read and tested on its own:
//!
//! * [`parser`]: an incremental, zero-copy HTTP/1.1 request parser (an explicit state machine).
//! * [`request`]: the [`Request`] a handler receives.
//! * [`response`]: the [`Response`] builder and its serialization (Content-Length or chunked).
//! * [`date`]: the `Date` header, formatted at most once a second.
//! * [`router`]: method + path patterns (`/users/:id`, `/static/*path`) to async handlers.
//! * [`query`]: percent-decoding and query strings.
//! * [`json`]: a small JSON writer.
//! * [`static_files`]: safe mapping of URL paths to files under a root directory.
//! * [`app`]: the demo application (`stage6-server`'s routes).
//! * [`client`] and [`loadgen`]: response framing for clients, and `stage6-loadgen`.
//! * [`histogram`]: fixed-memory latency histogram (log-linear buckets) for `stage6-loadgen`.
//! * [`server`]: the connection loop and worker threads, on the stage 5 runtime.

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

pub use message::{Method, Version};
pub use parser::error::ParseError;
pub use parser::{Limits, Parsed, Parser};
pub use request::Request;
pub use response::Response;
pub use router::Router;
pub use server::{Server, ServerConfig, ServerHandle};
