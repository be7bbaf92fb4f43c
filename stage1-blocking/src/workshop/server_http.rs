//! HTTP from the server's side, just enough for the demo server: read a request head without
//! letting a client make us buffer forever, parse it, and write a whole response.
//!
//! The lesson's `http.rs` is the client's side (send a `GET`, parse what comes back); this is
//! its mirror image, and it uses the same checks (`is_http_version`, `parse_headers`) and the
//! same [`ParseError`].

use std::io::{self, Read};

use crate::http::{self, ParseError, is_http_version, parse_headers};

/// The most header bytes [`read_request_head`] accepts before it gives up (431).
pub const MAX_HEAD: usize = 8 * 1024;

/// Like [`find_head_end`](http::find_head_end), but also accepts a bare `\n\n`, which is what a person typing into
/// `nc` sends. Servers are lenient here (RFC 9112 allows it); our client parser is not.
pub fn find_head_end_lenient(bytes: &[u8]) -> Option<usize> {
    let crlf = http::find_head_end(bytes);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The parts of a request head the demo server cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `POST`, ... (case-sensitive, as HTTP says).
    pub method: String,
    /// The request target, e.g. `/3`.
    pub path: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    /// Header fields as `(name, value)`.
    pub headers: Vec<(String, String)>,
}

/// Parses a request head (the bytes up to and including the blank line). Accepts `\r\n` or a
/// bare `\n` as line ending, so a person can type a request into `nc`.
pub fn parse_request_head(head: &[u8]) -> Result<RequestHead, ParseError> {
    let head = std::str::from_utf8(head).map_err(|_| ParseError::HeadNotText)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let bad = || ParseError::BadRequestLine(request_line.to_string());
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, path, version] = parts[..] else {
        return Err(bad());
    };
    let method_ok = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !method_ok || !path.starts_with('/') || !is_http_version(version) {
        return Err(bad());
    }
    let headers = parse_headers(lines)?;
    Ok(RequestHead {
        method: method.to_string(),
        path: path.to_string(),
        version: version.to_string(),
        headers,
    })
}

/// What [`read_request_head`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadRead {
    /// A whole head, up to and including its blank line.
    Complete(Vec<u8>),
    /// The peer closed before sending a single byte (a port check, or the demo server's own
    /// wake-up connection): nothing to answer.
    Closed,
    /// The peer sent something that can never become a head: too long, or cut short by EOF.
    Invalid(ParseError),
}

// ANCHOR: read_request_head
/// Reads from `reader` until a request head has arrived (a blank line), at most [`MAX_HEAD`]
/// bytes, so a client that never stops talking cannot make us buffer without end.
///
/// Reads 1 KiB at a time and never past the limit; bytes after the blank line in the same read
/// (a request body, which a `GET` does not have) are dropped.
pub fn read_request_head(reader: &mut impl Read) -> io::Result<HeadRead> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end_lenient(&buf) {
            buf.truncate(end);
            return Ok(HeadRead::Complete(buf));
        }
        if buf.len() >= MAX_HEAD {
            return Ok(HeadRead::Invalid(ParseError::HeadTooLarge { limit: MAX_HEAD }));
        }
        let room = chunk.len().min(MAX_HEAD - buf.len());
        match reader.read(&mut chunk[..room]) {
            Ok(0) if buf.is_empty() => return Ok(HeadRead::Closed),
            Ok(0) => return Ok(HeadRead::Invalid(ParseError::MissingHeadEnd)),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: read_request_head

/// The bytes of a complete HTTP/1.0 response with `Content-Length` and `Connection: close`.
pub fn response_bytes(status: u16, reason: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.0 {status} {reason}\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\
         \r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}
