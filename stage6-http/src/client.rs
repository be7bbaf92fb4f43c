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
//! have arrived, in pieces of any size, and reports [`Event`]s (the head, slices of body,
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

use stage5_async_await::io::AsyncRead;
use stage5_async_await::net::TcpStream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

/// Default cap on a response's head, in bytes (a server sending more is broken or hostile).
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;
/// Default cap on a response's body, in bytes.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

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

/// What can go wrong with a request on a [`Connection`].
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

// ---------------------------------------------------------------------------------------------
// The response parser
// ---------------------------------------------------------------------------------------------

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection (HTTP/1.0 style).
    UntilClose,
}

/// What a response head says, without owning any of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The status code, 100..=999.
    pub status: u16,
    /// Where the body ends.
    pub framing: Framing,
    /// The server will close the connection after this response (`Connection: close`,
    /// HTTP/1.0 without keep-alive, or a body delimited by the close).
    pub close: bool,
    /// The reason phrase: `reason.0..reason.1` of the bytes given to the `advance` call
    /// that returned this head.
    pub reason: (usize, usize),
}

/// What [`ResponseParser::advance`] found in the bytes it was given. `consumed` is how many
/// of those bytes the caller may now drop; the rest must be given again (with more after).
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'b> {
    /// Nothing more to report until more bytes arrive.
    NeedMore {
        /// Bytes used up (a skipped 1xx head, chunk framing).
        consumed: usize,
    },
    /// The head of the final response (interim 1xx heads are skipped).
    Head {
        /// What the head says; `reason` indexes the bytes given to this call.
        head: Head,
        /// Length of the head, blank line included (plus any 1xx heads skipped before it).
        consumed: usize,
    },
    /// A piece of the body.
    Body {
        /// The payload bytes (a slice of the input, chunk framing removed).
        data: &'b [u8],
        /// Bytes used up, framing included.
        consumed: usize,
    },
    /// The response is complete.
    Done {
        /// Bytes used up (the end of the body or the chunked trailer).
        consumed: usize,
    },
}

/// Where the parser is inside one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the complete head; `scanned` bytes are known to hold no blank line yet.
    Head { scanned: usize },
    /// `remaining` body bytes of a Content-Length body.
    Length { remaining: u64 },
    /// Body until EOF.
    UntilClose,
    /// Chunked body, at some point of its framing.
    Chunk(ChunkState),
    /// The response is complete.
    Done,
}

/// Positions inside a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex digits of a chunk size (how many digits so far, the value so far).
    Size { digits: u8, size: u64 },
    /// After the digits: whitespace or a `;extension` until the line's end.
    Extension { size: u64 },
    /// Saw CR after the size line, expecting LF.
    SizeLf { size: u64 },
    /// Inside a chunk's data.
    Data { remaining: u64 },
    /// After a chunk's data: expecting CR (or a bare LF).
    DataCr,
    /// Expecting the LF of a chunk's CRLF.
    DataLf,
    /// After the last chunk: trailer lines; `empty` while the current line has no byte yet.
    Trailer { empty: bool, cr: bool },
}

/// Limits a [`ResponseParser`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Longest head, status line to blank line.
    pub max_head: usize,
    /// Longest body (declared or received).
    pub max_body: u64,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits { max_head: DEFAULT_MAX_HEAD, max_body: DEFAULT_MAX_BODY }
    }
}

/// An incremental parser for one response (call [`ResponseParser::reset`] for the next).
#[derive(Debug, Clone)]
pub struct ResponseParser {
    limits: ResponseLimits,
    head_request: bool,
    state: State,
    body_seen: u64,
    /// Some byte of this exchange was consumed (an interim 1xx head counts).
    started: bool,
}

impl ResponseParser {
    /// A parser for the response to a request; `head_request`: the request was HEAD (so the
    /// response has no body whatever its headers say).
    pub fn new(limits: ResponseLimits, head_request: bool) -> ResponseParser {
        ResponseParser {
            limits,
            head_request,
            state: State::Head { scanned: 0 },
            body_seen: 0,
            started: false,
        }
    }

    /// Gets ready for the next response on the same connection.
    pub fn reset(&mut self, head_request: bool) {
        self.head_request = head_request;
        self.state = State::Head { scanned: 0 };
        self.body_seen = 0;
        self.started = false;
    }

    /// Whether the response is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether no byte of the response has been consumed or seen yet (EOF now is a clean
    /// close between responses, not a truncated response).
    pub fn is_fresh(&self) -> bool {
        !self.started && self.state == State::Head { scanned: 0 }
    }

    // ANCHOR: advance
    /// Parses what it can of `buf`: the bytes not consumed by earlier calls, plus any that
    /// arrived since. Every header of the final head is shown to `on_header(name, value)`
    /// (value without surrounding whitespace); pass `|_, _| {}` to keep nothing.
    pub fn advance<'b>(
        &mut self,
        buf: &'b [u8],
        mut on_header: impl FnMut(&'b [u8], &'b [u8]),
    ) -> Result<Event<'b>, ResponseError> {
        let mut consumed = 0;
        loop {
            let rest = &buf[consumed..];
            match self.state {
                State::Head { scanned } => {
                    let Some(len) = find_head_end(rest, scanned) else {
                        if rest.len() > self.limits.max_head {
                            return Err(ResponseError::HeadTooLarge);
                        }
                        // Only whole lines were scanned: resume at the last line's start.
                        self.state = State::Head { scanned: last_line_start(rest) };
                        return Ok(Event::NeedMore { consumed });
                    };
                    if len > self.limits.max_head {
                        return Err(ResponseError::HeadTooLarge);
                    }
                    let mut head = parse_head(&rest[..len], self.head_request, &mut on_header)?;
                    if (100..200).contains(&head.status) {
                        // An interim response (100 Continue, 103 Early Hints): skip it, the
                        // real one follows.
                        consumed += len;
                        self.started = true;
                        self.state = State::Head { scanned: 0 };
                        continue;
                    }
                    if let Framing::Length(n) = head.framing {
                        if n > self.limits.max_body {
                            return Err(ResponseError::BodyTooLarge);
                        }
                    }
                    self.state = match head.framing {
                        Framing::Empty | Framing::Length(0) => State::Done,
                        Framing::Length(n) => State::Length { remaining: n },
                        Framing::Chunked => State::Chunk(ChunkState::Size { digits: 0, size: 0 }),
                        Framing::UntilClose => State::UntilClose,
                    };
                    head.reason = (head.reason.0 + consumed, head.reason.1 + consumed);
                    return Ok(Event::Head { head, consumed: consumed + len });
                }
                State::Length { remaining } => {
                    if rest.is_empty() {
                        return Ok(Event::NeedMore { consumed });
                    }
                    let n = remaining.min(rest.len() as u64) as usize;
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::Done } else { State::Length { remaining: left } };
                    return Ok(Event::Body { data: &rest[..n], consumed: consumed + n });
                }
                State::UntilClose => {
                    if rest.is_empty() {
                        return Ok(Event::NeedMore { consumed });
                    }
                    self.count_body(rest.len())?;
                    return Ok(Event::Body { data: rest, consumed: consumed + rest.len() });
                }
                State::Chunk(ChunkState::Data { remaining }) => {
                    if rest.is_empty() {
                        return Ok(Event::NeedMore { consumed });
                    }
                    let n = remaining.min(rest.len() as u64) as usize;
                    let left = remaining - n as u64;
                    self.state = State::Chunk(if left == 0 {
                        ChunkState::DataCr
                    } else {
                        ChunkState::Data { remaining: left }
                    });
                    return Ok(Event::Body { data: &rest[..n], consumed: consumed + n });
                }
                State::Chunk(chunk) => {
                    // Framing bytes, one at a time (they are a few per chunk).
                    let Some(&byte) = rest.first() else {
                        return Ok(Event::NeedMore { consumed });
                    };
                    consumed += 1;
                    self.state = self.chunk_byte(chunk, byte)?;
                }
                State::Done => return Ok(Event::Done { consumed }),
            }
        }
    }
    // ANCHOR_END: advance

    /// The connection reached EOF: fine for a body delimited by the close (the response is
    /// complete now), a truncated response otherwise.
    pub fn finish_eof(&mut self) -> Result<(), ResponseError> {
        match self.state {
            State::UntilClose | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(ResponseError::Truncated),
        }
    }

    fn count_body(&mut self, n: usize) -> Result<(), ResponseError> {
        self.body_seen = self.body_seen.saturating_add(n as u64);
        if self.body_seen > self.limits.max_body {
            return Err(ResponseError::BodyTooLarge);
        }
        Ok(())
    }

    // ANCHOR: chunk_byte
    /// One framing byte of a chunked body: `1a;ext=x\r\n` ... data ... `\r\n` ... `0\r\n`
    /// then trailer lines and a blank line.
    fn chunk_byte(&mut self, state: ChunkState, byte: u8) -> Result<State, ResponseError> {
        use ChunkState::*;
        let next = match state {
            Size { digits, size } => match hex_value(byte) {
                Some(v) => {
                    // 16 hex digits would overflow u64; no sane chunk needs more than 15.
                    if digits >= 15 {
                        return Err(ResponseError::Chunk);
                    }
                    Size { digits: digits + 1, size: size * 16 + u64::from(v) }
                }
                None if digits == 0 => return Err(ResponseError::Chunk),
                None => return self.chunk_byte(Extension { size }, byte),
            },
            Extension { size } => match byte {
                b'\r' => SizeLf { size },
                b'\n' => return self.end_size_line(size),
                b'\t' | b' ' | b';' | b'=' | b'"' | b'\\' => Extension { size },
                _ if byte.is_ascii_graphic() => Extension { size },
                _ => return Err(ResponseError::Chunk),
            },
            SizeLf { size } if byte == b'\n' => return self.end_size_line(size),
            SizeLf { .. } => return Err(ResponseError::Chunk),
            Data { .. } => unreachable!("chunk data is taken in slices by advance"),
            DataCr if byte == b'\r' => DataLf,
            DataCr | DataLf if byte == b'\n' => Size { digits: 0, size: 0 },
            DataCr | DataLf => return Err(ResponseError::Chunk),
            Trailer { empty, cr: false } if byte == b'\r' => Trailer { empty, cr: true },
            Trailer { empty: true, .. } if byte == b'\n' => return Ok(State::Done),
            Trailer { empty: false, .. } if byte == b'\n' => Trailer { empty: true, cr: false },
            Trailer { cr: true, .. } => return Err(ResponseError::Chunk),
            Trailer { .. } if byte == b'\t' || byte == b' ' || byte >= 0x21 => {
                Trailer { empty: false, cr: false }
            }
            Trailer { .. } => return Err(ResponseError::Chunk),
        };
        Ok(State::Chunk(next))
    }

    fn end_size_line(&mut self, size: u64) -> Result<State, ResponseError> {
        if size == 0 {
            return Ok(State::Chunk(ChunkState::Trailer { empty: true, cr: false }));
        }
        self.count_body(usize::try_from(size).unwrap_or(usize::MAX))?;
        Ok(State::Chunk(ChunkState::Data { remaining: size }))
    }
    // ANCHOR_END: chunk_byte
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Length of the head (through its blank line) if `buf` holds all of it. `from` is a line
/// start up to which `buf` is already known to hold no blank line, so a head arriving a byte
/// at a time is scanned once in total, not once per byte.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut line = from;
    while let Some(i) = buf[line..].iter().position(|&b| b == b'\n') {
        let end = line + i;
        // A blank line is "\r\n" or a bare "\n"; the status line itself never counts.
        if line > 0 && (end == line || (end == line + 1 && buf[line] == b'\r')) {
            return Some(end + 1);
        }
        line = end + 1;
    }
    None
}

/// Start of the last (incomplete) line of `buf`.
fn last_line_start(buf: &[u8]) -> usize {
    buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

/// Splits off one line (without its `\n` or `\r\n`); `None` for a bare CR inside it.
fn split_line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    if line.contains(&b'\r') {
        return None;
    }
    Some((line, &buf[end + 1..]))
}

/// RFC 9110 `tchar`: the bytes allowed in a header name.
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

// ANCHOR: framing
/// Parses a complete head (status line, headers, blank line) and decides the framing.
fn parse_head<'b>(
    head: &'b [u8],
    head_request: bool,
    on_header: &mut impl FnMut(&'b [u8], &'b [u8]),
) -> Result<Head, ResponseError> {
    let (status_line, mut rest) = split_line(head).ok_or(ResponseError::StatusLine)?;
    // "HTTP/1.1 200 OK": fixed positions up to the reason phrase.
    let (minor_version, status) = match status_line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor @ (b'0' | b'1'), b' ', a, b, c, tail @ ..]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && *a != b'0'
                && (tail.is_empty() || tail[0] == b' ') =>
        {
            (minor - b'0', u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => return Err(ResponseError::StatusLine),
    };
    if status == 101 {
        return Err(ResponseError::Upgrade);
    }
    let reason_start = status_line.len().min(13);
    let reason = &status_line[reason_start..];
    if reason.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(ResponseError::StatusLine);
    }

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut other_coding = false;
    let mut close = minor_version == 0;
    loop {
        let (line, tail) = split_line(rest).ok_or(ResponseError::HeaderLine)?;
        rest = tail;
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(ResponseError::HeaderLine)?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        // No empty names, no "Name :" (RFC 9112 5.1 says reject), no folded lines.
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(ResponseError::HeaderLine);
        }
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(ResponseError::HeaderLine);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            // "5" or "5, 5" (a list of the same value, RFC 9110 8.6); anything else is an error.
            for item in value.split(|&b| b == b',') {
                let n = parse_decimal(item.trim_ascii()).ok_or(ResponseError::ContentLength)?;
                if content_length.is_some_and(|old| old != n) {
                    return Err(ResponseError::ContentLength);
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // The final coding decides: chunked last means chunked framing; any other
            // coding last means the body runs until the close.
            for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii).filter(|c| !c.is_empty()) {
                chunked = coding.eq_ignore_ascii_case(b"chunked");
                other_coding = !chunked;
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && minor_version == 0 {
                    close = false;
                }
            }
        }
        if status >= 200 {
            on_header(name, value); // an interim head's headers are not the response's
        }
    }

    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked // Transfer-Encoding wins over Content-Length (RFC 9112 6.3 rule 3)
    } else if other_coding {
        Framing::UntilClose
    } else if let Some(n) = content_length {
        if n == 0 { Framing::Empty } else { Framing::Length(n) }
    } else {
        Framing::UntilClose
    };
    if framing == Framing::UntilClose {
        close = true;
    }
    let reason_end = reason_start + reason.len();
    Ok(Head { minor_version, status, framing, close, reason: (reason_start.min(reason_end), reason_end) })
}
// ANCHOR_END: framing

/// Digits only (no sign, no spaces), at most 18 of them so it cannot overflow.
fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 18 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

// ---------------------------------------------------------------------------------------------
// Requests and responses
// ---------------------------------------------------------------------------------------------

/// A request to send: method, target, extra headers, body. `Host` and `Content-Length` are
/// added when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// `GET`, `POST`, `HEAD`...
    pub method: String,
    /// The request target, e.g. `/users/7?x=1`.
    pub target: String,
    /// Extra headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body (sent with a Content-Length; empty and no length for GET/HEAD).
    pub body: Vec<u8>,
}

impl ClientRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, target: &str) -> ClientRequest {
        ClientRequest {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET target`.
    pub fn get(target: &str) -> ClientRequest {
        ClientRequest::new("GET", target)
    }

    /// `HEAD target`.
    pub fn head(target: &str) -> ClientRequest {
        ClientRequest::new("HEAD", target)
    }

    /// `POST target` with `body`.
    pub fn post(target: &str, body: impl Into<Vec<u8>>) -> ClientRequest {
        ClientRequest { body: body.into(), ..ClientRequest::new("POST", target) }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> ClientRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Whether this is a HEAD request (its response has no body).
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    // ANCHOR: write_to
    /// Appends the request's bytes to `out`. Refuses anything that could split the request
    /// into two on the wire (a CR or LF in a header is how request smuggling starts).
    pub fn write_to(&self, host: &str, out: &mut Vec<u8>) -> Result<(), ClientError> {
        if self.method.is_empty() || !self.method.bytes().all(is_token) {
            return Err(ClientError::InvalidRequest("method is not a token"));
        }
        if self.target.is_empty() || self.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(ClientError::InvalidRequest("target is empty or has spaces or control bytes"));
        }
        let bad_value = |v: &str| v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
        if bad_value(host) {
            return Err(ClientError::InvalidRequest("host has control bytes"));
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token) || bad_value(value) {
                return Err(ClientError::InvalidRequest("header name or value"));
            }
        }
        let write = |out: &mut Vec<u8>, parts: &[&[u8]]| parts.iter().for_each(|p| out.extend_from_slice(p));
        write(
            out,
            &[
                self.method.as_bytes(),
                b" ",
                self.target.as_bytes(),
                b" HTTP/1.1\r\nHost: ",
                host.as_bytes(),
                b"\r\n",
            ],
        );
        for (name, value) in &self.headers {
            write(out, &[name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
        }
        let needs_length = !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        if needs_length {
            write(out, &[b"Content-Length: ", self.body.len().to_string().as_bytes(), b"\r\n"]);
        }
        write(out, &[b"\r\n", &self.body]);
        Ok(())
    }
    // ANCHOR_END: write_to
}

/// A whole response, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientResponse {
    /// The status code.
    pub status: u16,
    /// The reason phrase (lossily decoded).
    pub reason: String,
    /// Headers in order, names as sent (lossily decoded).
    pub headers: Vec<(String, String)>,
    /// The body, chunk framing removed.
    pub body: Vec<u8>,
    /// The server closes the connection after this response.
    pub close: bool,
}

impl ClientResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What [`Connection::skip_response`] keeps of a response: its status, its size, whether the
/// server closes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSummary {
    /// The status code.
    pub status: u16,
    /// The server closes the connection after this response.
    pub close: bool,
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

/// Opens [`Connection`]s with some limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Client {
    limits: ResponseLimits,
}

impl Client {
    /// A client with the default limits (64 KiB head, 16 MiB body).
    pub fn new() -> Client {
        Client::default()
    }

    /// Caps the response body size; longer responses are errors.
    pub fn max_response(mut self, bytes: u64) -> Client {
        self.limits.max_body = bytes;
        self
    }

    /// Connects to `addr` with the default limits.
    pub async fn connect(addr: SocketAddr) -> Result<Connection, ClientError> {
        Client::new().open(addr).await
    }

    /// Connects to `addr` with this client's limits. Must run inside a stage 5 runtime.
    pub async fn open(&self, addr: SocketAddr) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        // Requests are written whole; Nagle would only hold back a pipelined burst's tail.
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            host: addr.to_string(),
            parser: ResponseParser::new(self.limits, false),
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            out: Vec::new(),
            closed: false,
            eof: false,
            bytes_read: 0,
        })
    }
}

/// One keep-alive connection to a server. Requests are answered in order, so they go
/// through `&mut self`: one exchange at a time (or one pipelined batch).
pub struct Connection {
    stream: TcpStream,
    host: String,
    parser: ResponseParser,
    /// The read buffer, reused for every response: `buf[start..end]` is received, unparsed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Serialized requests, reused.
    out: Vec<u8>,
    /// The server said it closes (or closed): no further request can be sent.
    closed: bool,
    /// The socket returned EOF.
    eof: bool,
    /// Bytes received since the last [`Connection::take_bytes_read`].
    bytes_read: u64,
}

impl Connection {
    /// Bytes received since the last call (the load generator's "MB read").
    pub fn take_bytes_read(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_read)
    }

    /// Sets the `Host` header value (default: the address connected to).
    pub fn set_host(&mut self, host: &str) {
        self.host = host.to_string();
    }

    /// Whether the server closed the connection or announced it would (`Connection: close`,
    /// HTTP/1.0). A closed connection refuses new requests with [`ClientError::Closed`].
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends `request` and reads its whole response.
    pub async fn send(&mut self, request: &ClientRequest) -> Result<ClientResponse, ClientError> {
        self.out.clear();
        request.write_to(&self.host, &mut self.out)?;
        self.write_out().await?;
        self.read_response(request.is_head()).await
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<ClientResponse, ClientError> {
        self.send(&ClientRequest::get(path)).await
    }

    /// `POST path` with `body`.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> Result<ClientResponse, ClientError> {
        self.send(&ClientRequest::post(path, body)).await
    }

    /// `HEAD path` (the response has headers and no body).
    pub async fn head(&mut self, path: &str) -> Result<ClientResponse, ClientError> {
        self.send(&ClientRequest::head(path)).await
    }

    // ANCHOR: pipelined
    /// Pipelining: writes every request in one go, then reads the responses, which come back
    /// in the same order. The requests must fit in the socket buffers (small GETs do): we
    /// only start reading once they are all written. If the server closes after answering
    /// some of them, the answered ones are lost with the error; use [`Connection::send`] for
    /// requests that must not be repeated.
    pub async fn send_pipelined(
        &mut self,
        requests: &[ClientRequest],
    ) -> Result<Vec<ClientResponse>, ClientError> {
        self.out.clear();
        for request in requests {
            request.write_to(&self.host, &mut self.out)?;
        }
        self.write_out().await?;
        let mut responses = Vec::with_capacity(requests.len());
        for request in requests {
            responses.push(self.read_response(request.is_head()).await?);
        }
        Ok(responses)
    }
    // ANCHOR_END: pipelined

    /// Writes raw request bytes as they are (the load generator's pre-serialized requests).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    async fn write_out(&mut self) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// Reads the next response whole.
    pub async fn read_response(&mut self, head_request: bool) -> Result<ClientResponse, ClientError> {
        let mut response = ClientResponse {
            status: 0,
            reason: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        };
        self.parser.reset(head_request);
        poll_fn(|cx| {
            self.poll_parse(
                cx,
                &mut |event| match event {
                    Seen::Head { head, bytes, headers } => {
                        response.status = head.status;
                        response.close = head.close;
                        response.reason =
                            String::from_utf8_lossy(&bytes[head.reason.0..head.reason.1]).into_owned();
                        response.headers = headers;
                    }
                    Seen::Body(data) => response.body.extend_from_slice(data),
                },
                true,
            )
        })
        .await?;
        Ok(response)
    }

    // ANCHOR: skip_response
    /// Reads the next response and keeps only its status: the load generator's path. Body
    /// bytes are stepped over in the read buffer; in the steady state nothing is allocated.
    pub async fn skip_response(&mut self, head_request: bool) -> Result<ResponseSummary, ClientError> {
        let mut summary = ResponseSummary { status: 0, close: false };
        self.parser.reset(head_request);
        poll_fn(|cx| {
            self.poll_parse(
                cx,
                &mut |event| {
                    if let Seen::Head { head, .. } = event {
                        summary = ResponseSummary { status: head.status, close: head.close };
                    }
                },
                false,
            )
        })
        .await?;
        Ok(summary)
    }
    // ANCHOR_END: skip_response

    // ANCHOR: poll_parse
    /// Drives the parser over the read buffer, reading more whenever it needs more, until the
    /// response is complete. `seen` receives the head (with the headers, collected only if
    /// `keep_headers`) and each body slice.
    fn poll_parse(
        &mut self,
        cx: &mut Context<'_>,
        seen: &mut dyn FnMut(Seen<'_>),
        keep_headers: bool,
    ) -> Poll<Result<(), ClientError>> {
        loop {
            let bytes = &self.buf[self.start..self.end];
            let mut headers = Vec::new();
            let event = self.parser.advance(bytes, |name, value| {
                if keep_headers {
                    headers.push((
                        String::from_utf8_lossy(name).into_owned(),
                        String::from_utf8_lossy(value).into_owned(),
                    ));
                }
            });
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    self.closed = true; // we no longer know where the next response starts
                    return Poll::Ready(Err(e.into()));
                }
            };
            match event {
                Event::Head { head, consumed } => {
                    seen(Seen::Head { head: &head, bytes, headers });
                    self.closed |= head.close;
                    self.start += consumed;
                }
                Event::Body { data, consumed } => {
                    seen(Seen::Body(data));
                    self.start += consumed;
                }
                Event::Done { consumed } => {
                    self.start += consumed;
                    return Poll::Ready(Ok(()));
                }
                Event::NeedMore { consumed } => {
                    self.start += consumed;
                    if self.eof {
                        return Poll::Ready(self.at_eof());
                    }
                    match self.poll_fill(cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => {
                            self.closed = true;
                            return Poll::Ready(Err(e));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
    // ANCHOR_END: poll_parse

    /// EOF while the parser wanted more: the end of a close-delimited body, a clean close
    /// before the response began, or a truncated response.
    fn at_eof(&mut self) -> Result<(), ClientError> {
        self.closed = true;
        if self.parser.is_fresh() && self.start == self.end {
            return Err(ClientError::Closed);
        }
        self.parser.finish_eof()?;
        Ok(())
    }

    /// Reads more bytes after `buf[start..end]`: moves the unparsed tail to the front first,
    /// and grows the buffer only for a head longer than it (up to the head limit).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.end == self.buf.len() {
                // A head bigger than the buffer: the parser reports HeadTooLarge at its limit.
                let grown = (self.buf.len() * 2).min(self.parser.limits.max_head + READ_CHUNK);
                self.buf.resize(grown.max(self.buf.len() + 1), 0);
            }
        }
        match self.stream.poll_read(cx, &mut self.buf[self.end..]) {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(n)) => {
                self.end += n;
                self.bytes_read += n as u64;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What [`Connection::poll_parse`] shows its caller.
enum Seen<'a> {
    /// The final head, the bytes its `reason` indexes, the headers (if kept).
    Head { head: &'a Head, bytes: &'a [u8], headers: Vec<(String, String)> },
    /// A slice of the body.
    Body(&'a [u8]),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a whole parse produced: status, reason, headers, body, close, bytes used.
    #[derive(Debug, PartialEq, Eq)]
    struct Parsed {
        status: u16,
        reason: Vec<u8>,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        body: Vec<u8>,
        close: bool,
        used: usize,
    }

    /// Feeds `pieces` one after the other (the way reads deliver them), keeping unconsumed
    /// bytes like a connection's buffer does; after the last piece, EOF if `eof`.
    fn feed(pieces: &[&[u8]], head_request: bool, eof: bool) -> Result<Parsed, ResponseError> {
        let limits = ResponseLimits { max_head: 1024, max_body: 4096 };
        let mut parser = ResponseParser::new(limits, head_request);
        let mut buf: Vec<u8> = Vec::new();
        let mut out =
            Parsed { status: 0, reason: vec![], headers: vec![], body: vec![], close: false, used: 0 };
        for (i, piece) in pieces.iter().enumerate() {
            buf.extend_from_slice(piece);
            loop {
                let mut headers = Vec::new();
                let event = parser.advance(&buf, |n, v| headers.push((n.to_vec(), v.to_vec())))?;
                let consumed = match event {
                    Event::Head { head, consumed } => {
                        out.status = head.status;
                        out.close = head.close;
                        out.reason = buf[head.reason.0..head.reason.1].to_vec();
                        out.headers = headers;
                        consumed
                    }
                    Event::Body { data, consumed } => {
                        out.body.extend_from_slice(data);
                        consumed
                    }
                    Event::Done { consumed } => {
                        out.used += consumed;
                        return Ok(out);
                    }
                    Event::NeedMore { consumed } => {
                        out.used += consumed;
                        buf.drain(..consumed);
                        break;
                    }
                };
                out.used += consumed;
                buf.drain(..consumed);
            }
            if i == pieces.len() - 1 && eof {
                parser.finish_eof()?;
                return Ok(out);
            }
        }
        Err(ResponseError::Truncated)
    }

    /// The same bytes must parse the same whole, split in two at every position, and one byte
    /// at a time.
    fn check_every_split(bytes: &[u8], head_request: bool, eof: bool) -> Result<Parsed, ResponseError> {
        let whole = feed(&[bytes], head_request, eof);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(feed(&[a, b], head_request, eof), whole, "split at {cut}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        if !bytewise.is_empty() {
            assert_eq!(feed(&bytewise, head_request, eof), whole, "one byte at a time");
        }
        whole
    }

    fn header<'a>(p: &'a Parsed, name: &str) -> Option<&'a [u8]> {
        p.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice())
    }

    #[test]
    fn content_length_body_and_what_follows_it() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
        let p = check_every_split(bytes, false, false).unwrap();
        assert_eq!(
            (p.status, p.reason.as_slice(), p.body.as_slice()),
            (200, &b"OK"[..], &b"Hello, World!"[..])
        );
        assert_eq!(header(&p, "content-type"), Some(&b"text/plain"[..]));
        assert_eq!((p.close, p.used), (false, bytes.len()));
        // The next response's first bytes are not consumed.
        let mut two = bytes.to_vec();
        two.extend_from_slice(b"HTTP/1.1 404 Not Found\r\n");
        assert_eq!(feed(&[&two], false, false).unwrap().used, bytes.len());
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 99\r\n\r\n\
                      5;name=\"v\"\r\nhello\r\n1 \r\n,\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n";
        let p = check_every_split(bytes, false, false).unwrap();
        assert_eq!(p.body, b"hello,0123456789");
        assert_eq!((p.used, p.close), (bytes.len(), false));
        // Bare LF line ends are accepted too.
        let lf = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n";
        assert_eq!(check_every_split(lf, false, false).unwrap().body, b"abc");
    }

    #[test]
    fn body_until_close() {
        // HTTP/1.0 without a length: the body is whatever comes before EOF.
        let bytes = b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of this, until the end";
        let p = check_every_split(bytes, false, true).unwrap();
        assert_eq!((p.body.as_slice(), p.close), (&b"all of this, until the end"[..], true));
        // HTTP/1.1 with Connection: close and no length: the same.
        let p = check_every_split(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nxyz", false, true).unwrap();
        assert_eq!((p.body.as_slice(), p.close), (&b"xyz"[..], true));
        // A body delimited by the close means the connection closes, whatever it says.
        let p = feed(&[b"HTTP/1.1 200 OK\r\n\r\nab"], false, true).unwrap();
        assert!(p.close);
        // HTTP/1.0 with keep-alive and a length stays open.
        let p =
            feed(&[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"], false, false)
                .unwrap();
        assert!(!p.close);
    }

    #[test]
    fn responses_without_a_body() {
        // HEAD: the length describes the GET's body, none follows.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
        let p = check_every_split(head, true, false).unwrap();
        assert_eq!((p.status, p.body.len(), p.used), (200, 0, head.len()));
        for status in ["204 No Content", "304 Not Modified"] {
            let bytes = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
            let p = check_every_split(bytes.as_bytes(), false, false).unwrap();
            assert_eq!((p.body.len(), p.used), (0, bytes.len()));
        }
        let p = check_every_split(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, false).unwrap();
        assert_eq!(p.body.len(), 0);
    }

    #[test]
    fn interim_responses_are_skipped() {
        let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
                      HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        let p = check_every_split(bytes, false, false).unwrap();
        assert_eq!((p.status, p.reason.as_slice(), p.body.as_slice()), (201, &b"Created"[..], &b"ok"[..]));
        assert_eq!(header(&p, "link"), None, "headers are the final response's");
        assert_eq!(p.used, bytes.len());
    }

    #[test]
    fn status_line_variants() {
        let p = feed(&[b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"], false, false).unwrap();
        assert_eq!((p.status, p.reason.len()), (200, 0));
        let p =
            feed(&[b"HTTP/1.1 599 Strange \xe9t\xe9\r\nContent-Length: 0\r\n\r\n"], false, false).unwrap();
        assert_eq!((p.status, p.reason.as_slice()), (599, &b"Strange \xe9t\xe9"[..]));
    }

    #[test]
    fn malformed_responses_are_errors_at_every_split() {
        use ResponseError::*;
        let cases: &[(&[u8], ResponseError)] = &[
            (b"HTTP/2 200 OK\r\n\r\n", StatusLine),
            (b"HTTP/1.1 20 OK\r\n\r\n", StatusLine),
            (b"HTTP/1.1 099 OK\r\n\r\n", StatusLine),
            (b"HTTP/1.1 200OK\r\n\r\n", StatusLine),
            (b"HTTP/1.1 200 O\x00K\r\n\r\n", StatusLine),
            (b"SSH-2.0-OpenSSH\r\n\r\n", StatusLine),
            (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", HeaderLine),
            (b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n", HeaderLine),
            (b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", HeaderLine),
            (b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", HeaderLine),
            (b"HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n", HeaderLine),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", ContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", ContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", BodyTooLarge),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Chunk),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX", Chunk),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\x01\r\n", Chunk),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", Chunk),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n", BodyTooLarge),
            (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", Upgrade),
        ];
        for (bytes, want) in cases {
            let got = check_every_split(bytes, false, false);
            assert_eq!(got, Err(*want), "{}", String::from_utf8_lossy(bytes));
        }
        // A head that never ends is cut off at the limit (1024 here).
        let long = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 2000]].concat();
        assert_eq!(check_every_split(&long, false, false), Err(HeadTooLarge));
        // A close-delimited body also has the body limit.
        let big = [b"HTTP/1.0 200 OK\r\n\r\n".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(feed(&[&big], false, true), Err(BodyTooLarge));
    }

    #[test]
    fn eof_in_the_middle_is_truncated() {
        for bytes in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Len",
        ] {
            assert_eq!(feed(&[bytes], false, true), Err(ResponseError::Truncated));
        }
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic mutations of valid responses: flip, drop and insert bytes. Whatever
        // the result, no panic, and a success never claims more bytes than it was given.
        let seeds: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No\r\n\r\n",
        ];
        let mut rng = stage1_blocking::workshop::testkit::Rng(0x9E37_79B9_7F4A_7C15);
        let mut next = || rng.next_u64();
        for round in 0..3000 {
            let mut bytes = seeds[round % seeds.len()].to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => drop(bytes.remove(at)),
                    _ => bytes.insert(at, b"\r\n:; 0aZ\x00\xff"[(next() % 10) as usize]),
                }
            }
            let cut = (next() as usize) % (bytes.len() + 1);
            for eof in [false, true] {
                if let Ok(p) = feed(&[&bytes[..cut], &bytes[cut..]], round % 5 == 0, eof) {
                    assert!(p.used <= bytes.len());
                }
            }
        }
    }

    #[test]
    fn requests_are_serialized_and_checked() {
        let mut out = Vec::new();
        ClientRequest::post("/echo", "hi").header("X-A", "1").write_to("h:1", &mut out).unwrap();
        assert_eq!(out, b"POST /echo HTTP/1.1\r\nHost: h:1\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi");
        out.clear();
        ClientRequest::get("/").write_to("h", &mut out).unwrap();
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let bad = [
            ClientRequest::get("/a b"),
            ClientRequest::new("GE T", "/"),
            ClientRequest::get("/").header("X", "a\r\nInjected: 1"),
            ClientRequest::get("/").header("Bad Name", "v"),
        ];
        for request in bad {
            assert!(
                matches!(request.write_to("h", &mut out), Err(ClientError::InvalidRequest(_))),
                "{request:?}"
            );
        }
    }
}
