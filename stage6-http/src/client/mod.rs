//! An HTTP/1.1 client on the stage 5 runtime: keep-alive connections, pipelining, and a
//! response parser of its own.
//!
//! The server reads *requests* and must find where each one ends; a keep-alive client has the
//! mirror problem with *responses*. It cannot read "until EOF" (the server keeps the
//! connection open for the next request), so the head of every response must say where its
//! body ends (RFC 9112 section 6.3, checked in this order):
//!
//! ```text
//!  request was HEAD, or status 1xx / 204 / 304  ->  no body, whatever the headers say
//!  Transfer-Encoding: ... chunked               ->  chunks until the 0-size chunk + trailers
//!  Content-Length: N                            ->  exactly N bytes
//!  none of these                                ->  the body ends when the server closes
//! ```
//!
//! [`ResponseParser`] is that rule as an incremental state machine: it is fed whatever bytes
//! have arrived, in pieces of any size, and reports [`ResponseEvent`]s (the head, slices of body,
//! the end). It never allocates and never copies: the caller decides what to keep.
//! [`Connection`] keeps everything (a [`ClientResponse`] with headers and body);
//! [`Connection::skip_response`], used by the load generator, keeps only the status.
//!
//! ```text
//!   Connection::send(request)
//!     write request bytes ──────────────────────────────► server
//!     loop {
//!       parser.advance(&buf[start..end]) ── Head ──► status, headers
//!                                        ── Body ──► append slice to body
//!                                        ── Done ──► return the response
//!                                        ── NeedMore ─► read more into buf (reused)
//!     }
//! ```
//!
//! Files, in reading order: [`response`] (the parser), [`request`] (writing a request),
//! [`connection`] (a keep-alive connection driving both), [`error`].

pub mod connection;
pub mod error;
pub mod request;
pub mod response;

pub use connection::{Client, ClientResponse, Connection, ResponseSummary};
pub use error::{ClientError, ResponseError};
pub use request::ClientRequest;
pub use response::{DEFAULT_MAX_BODY, DEFAULT_MAX_HEAD, Head, ResponseEvent, ResponseLimits, ResponseParser};
