//! HTTP/1.0, just enough of it: write a `GET` request, read a response until the server closes
//! the connection, and turn those bytes into a [`Response`].
//!
//! HTTP/1.0 makes the client's life simple: the server sends one response and closes the
//! connection, so "the response" is every byte read until end-of-file. We still check the
//! bytes instead of trusting them: a status line that is not one, a header block that never
//! ends, or a body shorter than its `Content-Length` is a [`ParseError`], never a panic.
//!
//! Later stages reuse [`request_bytes`] and [`parse_response`] unchanged: only *how* the bytes
//! travel (blocking, callbacks, futures, tasks, async/await) changes from stage to stage.
//!
//! This is the client's side of HTTP. The demo server's side (reading and parsing a request
//! head, writing a response) is scaffolding, in
//! [`workshop::server_http`](crate::workshop::server_http).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use anyhow::Context as _;

/// The largest response the course's clients read (16 MiB). A server that sends more gets an
/// error, not all of our memory: the bytes come from the network, so their size is not ours to
/// trust. Every stage's crawler uses this same bound.
pub const MAX_RESPONSE: usize = 16 * 1024 * 1024;

// ANCHOR: request_bytes
/// The bytes of an HTTP/1.0 `GET` request: `"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n"`.
///
/// The blank line (`\r\n\r\n`) ends the request head; a `GET` has no body, so that is the
/// whole request.
pub fn request_bytes(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").into_bytes()
}
// ANCHOR_END: request_bytes

/// A parsed HTTP response: status line, headers in the order they came, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The three-digit status code, e.g. `200`.
    pub status: u16,
    /// The reason phrase after the code, e.g. `"OK"` (may be empty).
    pub reason: String,
    /// Header fields as `(name, value)`, names as sent, values trimmed of spaces.
    pub headers: Vec<(String, String)>,
    /// The body bytes (exactly `Content-Length` of them when the header is present).
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header called `name`, compared case-insensitively
    /// (`Content-Length` and `content-length` are the same header).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why some bytes are not a valid HTTP response (or request head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The bytes ended before the blank line that closes the head (`\r\n\r\n`).
    MissingHeadEnd,
    /// The head is larger than the reader accepts (the demo server's
    /// [`MAX_HEAD`](crate::workshop::server_http::MAX_HEAD)).
    HeadTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
    /// The head is not UTF-8 text.
    HeadNotText,
    /// The first line is not `HTTP/x.y CODE reason` (the offending line is kept).
    BadStatusLine(String),
    /// The first line is not `METHOD target HTTP/x.y` (requests only: the demo server's
    /// [`parse_request_head`](crate::workshop::server_http::parse_request_head)).
    BadRequestLine(String),
    /// A header line without a colon, or with an empty or spaced name.
    BadHeader(String),
    /// `Content-Length` is not a non-negative decimal number, or two of them disagree.
    BadContentLength(String),
    /// The connection closed before `Content-Length` bytes of body arrived.
    TruncatedBody {
        /// What `Content-Length` promised.
        expected: usize,
        /// What actually arrived.
        got: usize,
    },
    /// More bytes followed the body than `Content-Length` announced.
    TrailingBytes {
        /// What `Content-Length` promised.
        expected: usize,
        /// What actually arrived after the head.
        got: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::MissingHeadEnd => {
                write!(f, "truncated: the header block never ended (no blank line)")
            }
            ParseError::HeadTooLarge { limit } => {
                write!(f, "header block larger than {limit} bytes")
            }
            ParseError::HeadNotText => write!(f, "header block is not UTF-8 text"),
            ParseError::BadStatusLine(line) => write!(f, "malformed status line {line:?}"),
            ParseError::BadRequestLine(line) => write!(f, "malformed request line {line:?}"),
            ParseError::BadHeader(line) => write!(f, "malformed header line {line:?}"),
            ParseError::BadContentLength(value) => {
                write!(f, "bad Content-Length {value:?} (want a decimal number)")
            }
            ParseError::TruncatedBody { expected, got } => write!(
                f,
                "truncated response: Content-Length is {expected} but only {got} body bytes arrived"
            ),
            ParseError::TrailingBytes { expected, got } => {
                write!(f, "{got} body bytes arrived but Content-Length is {expected}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

// ANCHOR: find_head_end
/// Where the head ends: the index just past the first `\r\n\r\n`, or `None` if it has not
/// arrived yet.
///
/// This is the question every reader of HTTP asks after each read: "do I have the whole head
/// yet?" One read may bring half a line, or the head and part of the body together.
pub fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}
// ANCHOR_END: find_head_end

// ANCHOR: parse_response
/// Parses a whole response, as read until EOF (the HTTP/1.0 way of knowing it is complete).
///
/// Checks, in order: the head ends with a blank line; the status line is `HTTP/x.y NNN reason`;
/// each header is `Name: value`; `Content-Length`, if present, is a number and the body has
/// exactly that many bytes. Without `Content-Length`, the body is everything after the head.
pub fn parse_response(bytes: &[u8]) -> Result<Response, ParseError> {
    let head_end = find_head_end(bytes).ok_or(ParseError::MissingHeadEnd)?;
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| ParseError::HeadNotText)?;
    let mut lines = head.split("\r\n");

    let status_line = lines.next().unwrap_or_default();
    let (status, reason) = parse_status_line(status_line)?;
    let headers = parse_headers(lines)?;

    let body = &bytes[head_end..];
    let body = match content_length(&headers)? {
        None => body.to_vec(),
        Some(expected) if body.len() < expected => {
            return Err(ParseError::TruncatedBody { expected, got: body.len() });
        }
        Some(expected) if body.len() > expected => {
            return Err(ParseError::TrailingBytes { expected, got: body.len() });
        }
        Some(_) => body.to_vec(),
    };
    Ok(Response { status, reason, headers, body })
}
// ANCHOR_END: parse_response

/// `HTTP/1.0 200 OK` -> `(200, "OK")`.
fn parse_status_line(line: &str) -> Result<(u16, String), ParseError> {
    let bad = || ParseError::BadStatusLine(line.to_string());
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().ok_or_else(bad)?;
    let code = parts.next().ok_or_else(bad)?;
    let reason = parts.next().unwrap_or("");
    if !is_http_version(version) || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status: u16 = code.parse().map_err(|_| bad())?;
    if !(100..=599).contains(&status) {
        return Err(bad());
    }
    Ok((status, reason.to_string()))
}

/// `HTTP/1.0`, `HTTP/1.1` (any `HTTP/digit.digit`).
pub(crate) fn is_http_version(s: &str) -> bool {
    match s.strip_prefix("HTTP/").map(str::as_bytes) {
        Some([major, b'.', minor]) => major.is_ascii_digit() && minor.is_ascii_digit(),
        _ => false,
    }
}

/// Header lines up to the blank line. Lines arrive without their line ending.
pub(crate) fn parse_headers<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Vec<(String, String)>, ParseError> {
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            // The blank line that ends the head (and the empty piece after it).
            continue;
        }
        let bad = || ParseError::BadHeader(line.to_string());
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(bad());
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

/// The `Content-Length` value, if any. Several copies must agree (RFC 9112, section 6.3).
fn content_length(headers: &[(String, String)]) -> Result<Option<usize>, ParseError> {
    let mut found: Option<usize> = None;
    for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
        let bad = || ParseError::BadContentLength(value.clone());
        // `usize::from_str` accepts a leading '+'; HTTP does not, so check the digits ourselves.
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: usize = value.parse().map_err(|_| bad())?;
        if found.is_some_and(|prev| prev != n) {
            return Err(bad());
        }
        found = Some(n);
    }
    Ok(found)
}

// ANCHOR: read_to_eof
/// Reads until the peer closes the connection (a read returns 0), like the 500 Lines crawler's
/// `while True: chunk = s.recv(1000)` loop. Each `read` blocks the thread until *some* bytes
/// arrive: one byte or a thousand, we cannot choose, so we keep appending.
pub fn read_to_eof(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    read_to_eof_observed(reader, |_| {})
}

/// [`read_to_eof`], calling `on_read(n)` after every successful `read` (n = 0 at EOF), so a
/// demo can show how many pieces a response arrived in.
pub fn read_to_eof_observed(reader: &mut impl Read, mut on_read: impl FnMut(usize)) -> io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => {
                on_read(0);
                return Ok(response);
            }
            Ok(n) => {
                on_read(n);
                response.extend_from_slice(&chunk[..n]);
                if response.len() > MAX_RESPONSE {
                    return Err(too_large());
                }
            }
            // A signal arrived while we slept in read(2); nothing was lost, ask again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: read_to_eof

/// The error for a response over [`MAX_RESPONSE`] bytes (`InvalidData`).
pub fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("response larger than {MAX_RESPONSE} bytes"))
}

/// Reads a whole response from `reader` (until EOF) and parses it.
pub fn read_response(reader: &mut impl Read) -> anyhow::Result<Response> {
    let bytes = read_to_eof(reader).context("reading the response")?;
    Ok(parse_response(&bytes)?)
}

// ANCHOR: get
/// Blocking `GET`: connect, send the request, read until the server closes, parse.
///
/// Every step can put the thread to sleep: `connect` until the handshake completes,
/// `write_all` until the kernel has room for the bytes, each `read` until bytes arrive.
/// While it sleeps, this thread can do nothing else. That is the whole of stage 1.
pub fn get(addr: SocketAddr, path: &str) -> anyhow::Result<Response> {
    get_observed(addr, path, |_| {})
}

/// [`get`], calling `on_read(n)` after every `read` of the response (see
/// [`read_to_eof_observed`]).
pub fn get_observed(addr: SocketAddr, path: &str, on_read: impl FnMut(usize)) -> anyhow::Result<Response> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream
        .write_all(&request_bytes(&addr.to_string(), path))
        .with_context(|| format!("sending GET {path} to {addr}"))?;
    let bytes = read_to_eof_observed(&mut stream, on_read)
        .with_context(|| format!("reading the response to GET {path}"))?;
    parse_response(&bytes).with_context(|| format!("GET {path} from {addr}"))
}
// ANCHOR_END: get
