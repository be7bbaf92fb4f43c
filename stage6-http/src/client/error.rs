//! What can go wrong when talking to a server: a response that is not HTTP, or a connection
//! that fails.

use std::fmt;
use std::io;

/// Why bytes from the server are not a valid response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// The status line is not `HTTP/1.x NNN reason`.
    StatusLine,
    /// A header line is malformed (no colon, space before the colon, bad name, control
    /// bytes, or an obsolete folded line).
    HeaderLine,
    /// A Content-Length that is not a number, or several that disagree.
    ContentLength,
    /// A chunk-size line or chunk terminator that is malformed.
    Chunk,
    /// The head did not end within the head limit.
    HeadTooLarge,
    /// The body is longer than the body limit.
    BodyTooLarge,
    /// `101 Switching Protocols`: this client speaks HTTP/1.1 only.
    Upgrade,
    /// The connection ended in the middle of a response.
    Truncated,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResponseError::StatusLine => "malformed status line",
            ResponseError::HeaderLine => "malformed header line",
            ResponseError::ContentLength => "malformed or conflicting Content-Length",
            ResponseError::Chunk => "malformed chunked body",
            ResponseError::HeadTooLarge => "response head too large",
            ResponseError::BodyTooLarge => "response body too large",
            ResponseError::Upgrade => "unexpected 101 Switching Protocols",
            ResponseError::Truncated => "connection closed in the middle of a response",
        })
    }
}

impl std::error::Error for ResponseError {}

/// What can go wrong with a request on a [`Connection`](crate::client::connection::Connection).
#[derive(Debug)]
pub enum ClientError {
    /// A socket error (connect, write or read).
    Io(io::Error),
    /// The server closed the connection before sending any byte of the response (or had
    /// announced `Connection: close`). Nothing was processed as far as we can tell: a new
    /// connection may retry an idempotent request.
    Closed,
    /// The server sent bytes that are not a valid response; the connection is unusable.
    Response(ResponseError),
    /// The request itself cannot be sent (a CR or LF in a header, a space in the target...).
    InvalidRequest(&'static str),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Closed => f.write_str("the server closed the connection"),
            ClientError::Response(e) => write!(f, "bad response: {e}"),
            ClientError::InvalidRequest(why) => write!(f, "invalid request: {why}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) => Some(e),
            ClientError::Response(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<ResponseError> for ClientError {
    fn from(e: ResponseError) -> Self {
        ClientError::Response(e)
    }
}
