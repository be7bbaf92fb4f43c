//! An incremental HTTP/1.1 request parser, written as an explicit state machine.
//!
//! The connection loop appends whatever `read` returned to its buffer and calls
//! [`Parser::parse`] with the bytes of the current request (from its first byte to the end of
//! what has arrived). The parser remembers where it stopped, so a request that arrives one
//! byte at a time is scanned once, not once per byte, and gives exactly the same result as the
//! same request arriving in one piece. When a request is complete, `parse` returns it together
//! with the number of bytes it used; anything after that is the start of the next (pipelined)
//! request and stays in the caller's buffer.
//!
//! The head is never copied while parsing: the request line and the headers are remembered as
//! [`Span`]s (offsets) into the caller's buffer, names are compared case-insensitively in place,
//! and the list of spans is a `Vec` that lives in the parser and is reused for every request on
//! the connection. Only when a request is complete does the parser copy its bytes once into the
//! [`Request`] handed to the handler (one allocation per request).
//!
//! Strictness follows RFC 9112: every way a request can be malformed is a [`ParseError`]
//! variant, and [`ParseError::status`] says which status code answers it.

use crate::request::{HeaderSpan, Request, Span};
use std::fmt;

// ANCHOR: limits
/// Size limits enforced while parsing. Every limit protects the server's memory or CPU from a
/// client that sends too much; every one has a default and can be changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest request target (path and query) in bytes. Default 8 KiB (RFC 9112 asks for at
    /// least 8000 octets of request line). Longer: `414 URI Too Long`. Values above 65,535
    /// count as 65,535 (route parameters are stored as 16-bit offsets).
    pub max_target_len: usize,
    /// Most bytes of header lines (and of a chunked body's trailer lines, chunk extensions and
    /// leading zeros of chunk sizes), counting their CRLFs and the empty line that ends them.
    /// Default 16 KiB (Node.js's default). More: `431 Request Header Fields Too Large`.
    pub max_header_bytes: usize,
    /// Most header (plus trailer) lines. Default 100 (httparse and hyper's default). More:
    /// `431 Request Header Fields Too Large`.
    pub max_headers: usize,
    /// Largest body, declared by Content-Length or summed over chunks. Default 1 MiB (nginx's
    /// `client_max_body_size`). Larger: `413 Content Too Large`. Values above 1 GiB are treated
    /// as 1 GiB because bodies are buffered in memory and indexed with 32-bit offsets.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_target_len: 8 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
        }
    }
}
// ANCHOR_END: limits

/// Longest method token we accept; the longest registered method is far shorter.
const MAX_METHOD_LEN: usize = 32;
/// Longest chunk-size line (size, extensions, CR). Extensions are tolerated, not unlimited.
const MAX_CHUNK_LINE: usize = 1024;
/// Bodies are indexed with `u32` offsets inside a [`Request`].
const BODY_HARD_CAP: usize = 1 << 30;
/// Header spans the parser keeps room for between requests (16 bytes each). A browser sends
/// a dozen headers; room for more is given back once the request that needed it is parsed.
const KEPT_HEADER_SPANS: usize = 32;

/// The request methods this server implements. Any other well-formed method token gets
/// `501 Not Implemented` (RFC 9110 section 9.1), as does `CONNECT` and `TRACE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`: like GET, but the response carries no body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
        }
    }

    /// Recognises a method token (methods are case-sensitive). Written as slice patterns so
    /// the compiler emits a length switch and byte compares instead of `memcmp` calls.
    pub fn from_bytes(token: &[u8]) -> Option<Method> {
        Some(match token {
            [b'G', b'E', b'T'] => Method::Get,
            [b'H', b'E', b'A', b'D'] => Method::Head,
            [b'P', b'O', b'S', b'T'] => Method::Post,
            [b'P', b'U', b'T'] => Method::Put,
            [b'D', b'E', b'L', b'E', b'T', b'E'] => Method::Delete,
            [b'P', b'A', b'T', b'C', b'H'] => Method::Patch,
            [b'O', b'P', b'T', b'I', b'O', b'N', b'S'] => Method::Options,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP versions this server speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`: one request per connection unless the client asks for keep-alive.
    Http10,
    /// `HTTP/1.1`: persistent connections by default, Host required, chunked bodies.
    #[default]
    Http11,
}

impl Version {
    /// The version as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

// ANCHOR: errors
/// Everything that can be wrong with a request. Each variant maps to one status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The request line is not `method SP target SP version` (400).
    BadRequestLine,
    /// The method is well-formed but not one we implement (501).
    UnknownMethod,
    /// The request target has a forbidden byte or an unusable form (400).
    BadTarget,
    /// The request target is longer than [`Limits::max_target_len`] (414).
    TargetTooLong,
    /// The version is not `HTTP/x.y` (400).
    BadVersion,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1 (505).
    UnsupportedVersion,
    /// A header line without a colon, with an empty name or a byte not allowed in a name (400).
    BadHeaderName,
    /// Whitespace between a header name and its colon (400, RFC 9112 section 5.1).
    WhitespaceBeforeColon,
    /// A control character in a header value (400).
    BadHeaderValue,
    /// A header line starting with whitespace: obsolete line folding (400, RFC 9112 section 5.2).
    ObsFold,
    /// A CR not followed by LF (400, RFC 9112 section 2.2).
    BareCr,
    /// A line ended by LF without CR; we insist on CRLF so every parser on the path agrees (400).
    BareLf,
    /// A NUL byte in the head (400).
    Nul,
    /// An HTTP/1.1 request without a Host header (400, RFC 9112 section 3.2).
    MissingHost,
    /// More than one Host header (400, RFC 9112 section 3.2).
    DuplicateHost,
    /// A Host value with bytes no authority can contain (400).
    BadHost,
    /// A Content-Length that is not a plain decimal number (400).
    BadContentLength,
    /// Two different Content-Length values (400, RFC 9112 section 6.3).
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding: the classic request smuggling set-up (400).
    ContentLengthWithTransferEncoding,
    /// A transfer coding other than `chunked` (501, RFC 9112 section 6.1).
    UnknownTransferCoding,
    /// Transfer-Encoding that is empty, repeats `chunked`, or appears in an HTTP/1.0 request (400).
    BadTransferEncoding,
    /// A malformed chunk-size line or a chunk not followed by CRLF (400).
    BadChunk,
    /// More header lines than [`Limits::max_headers`] (431).
    TooManyHeaders,
    /// More header bytes (trailers and chunk extensions included) than
    /// [`Limits::max_header_bytes`] (431).
    HeadersTooLarge,
    /// A body longer than [`Limits::max_body_bytes`] (413).
    BodyTooLarge,
}

impl ParseError {
    /// The status code a server answers this error with (the connection is then closed).
    pub fn status(self) -> u16 {
        match self {
            ParseError::UnknownMethod | ParseError::UnknownTransferCoding => 501,
            ParseError::TargetTooLong => 414,
            ParseError::UnsupportedVersion => 505,
            ParseError::TooManyHeaders | ParseError::HeadersTooLarge => 431,
            ParseError::BodyTooLarge => 413,
            _ => 400,
        }
    }
}
// ANCHOR_END: errors

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ParseError::BadRequestLine => "malformed request line",
            ParseError::UnknownMethod => "method not implemented",
            ParseError::BadTarget => "malformed request target",
            ParseError::TargetTooLong => "request target too long",
            ParseError::BadVersion => "malformed HTTP version",
            ParseError::UnsupportedVersion => "HTTP version not supported",
            ParseError::BadHeaderName => "malformed header name",
            ParseError::WhitespaceBeforeColon => "whitespace between header name and colon",
            ParseError::BadHeaderValue => "control character in header value",
            ParseError::ObsFold => "obsolete header line folding",
            ParseError::BareCr => "CR not followed by LF",
            ParseError::BareLf => "line ended by LF without CR",
            ParseError::Nul => "NUL byte in request head",
            ParseError::MissingHost => "HTTP/1.1 request without Host",
            ParseError::DuplicateHost => "more than one Host header",
            ParseError::BadHost => "malformed Host header",
            ParseError::BadContentLength => "malformed Content-Length",
            ParseError::ConflictingContentLength => "conflicting Content-Length values",
            ParseError::ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            ParseError::UnknownTransferCoding => "transfer coding not implemented",
            ParseError::BadTransferEncoding => "malformed Transfer-Encoding",
            ParseError::BadChunk => "malformed chunked body",
            ParseError::TooManyHeaders => "too many header lines",
            ParseError::HeadersTooLarge => "header section too large",
            ParseError::BodyTooLarge => "body too large",
        };
        write!(f, "{text} ({})", self.status())
    }
}

impl std::error::Error for ParseError {}

/// What one call to [`Parser::parse`] found.
#[derive(Debug)]
pub enum Parsed {
    /// The request is not complete yet: read more bytes, append them, call `parse` again with
    /// the same (now longer) buffer.
    Partial,
    /// A whole request. `consumed` bytes of the buffer belong to it; the rest is the beginning
    /// of the next request. The parser is ready for that next request, whose buffer starts at
    /// `consumed`.
    Complete {
        /// The parsed request, owning a copy of its bytes.
        request: Request,
        /// How many bytes of the buffer the request occupied.
        consumed: usize,
    },
}

// ANCHOR: state
/// Where the parser is inside the current request. Every state but the body states waits for
/// one whole line (up to LF); the body states wait for a number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for `GET /path HTTP/1.1`.
    RequestLine,
    /// Waiting for a header line or the empty line that ends the head.
    HeaderLine,
    /// Content-Length body: complete once the buffer reaches `end`.
    FixedBody { end: usize },
    /// Chunked body: waiting for a `1a;ext=1` chunk-size line.
    ChunkSize,
    /// Chunked body: `remaining` data bytes of the current chunk still to come.
    ChunkData { remaining: usize },
    /// Chunked body: the CRLF after a chunk's data.
    ChunkEnd,
    /// Chunked body: a trailer line or the empty line after the last chunk.
    TrailerLine,
}
// ANCHOR_END: state

/// What the parser learned from the head of the current request (all offsets into the
/// caller's buffer).
#[derive(Debug, Default)]
struct Head {
    method: Method,
    version: Version,
    target: Span,
    path: Span,
    query: Option<Span>,
    target_host: Option<Span>,
    headers: Vec<HeaderSpan>,
    host: Option<Span>,
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
    head_end: usize,
}

impl Head {
    /// Forget the previous request but keep the header list's allocation, unless a request
    /// with unusually many headers grew it: the parser lives as long as its connection, idle
    /// or not, and one such request must not cost the connection 1.6 KiB for the rest of
    /// its life.
    fn reset(&mut self) {
        let mut headers = std::mem::take(&mut self.headers);
        headers.clear();
        if headers.capacity() > KEPT_HEADER_SPANS {
            headers = Vec::new();
        }
        *self = Head { headers, ..Head::default() };
    }
}

/// (start, end) of a header's name and of its value, relative to its line.
type FieldSpans = ((usize, usize), (usize, usize));

/// The incremental request parser. One per connection; reused for every request on it.
#[derive(Debug)]
pub struct Parser {
    limits: Limits,
    state: State,
    /// Offset of the first byte not yet consumed (start of the current line or body part).
    pos: usize,
    /// Offset where the search for the next LF resumes: bytes before it were already searched.
    scan: usize,
    /// RFC 9112 section 2.2: one empty line before the request line is tolerated.
    skipped_empty_line: bool,
    /// Header and trailer lines seen so far.
    fields: usize,
    /// Bytes of header and trailer lines seen so far.
    header_bytes: usize,
    head: Head,
    /// De-chunked body of a chunked request (reused between requests).
    body: Vec<u8>,
    /// Once an error is found the connection is finished; the error sticks.
    failed: Option<ParseError>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(Limits::default())
    }
}

impl Parser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Parser {
        Parser {
            limits,
            state: State::RequestLine,
            pos: 0,
            scan: 0,
            skipped_empty_line: false,
            fields: 0,
            header_bytes: 0,
            head: Head::default(),
            body: Vec::new(),
            failed: None,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// `max_target_len`, capped at what a 16-bit offset can address.
    fn max_target_len(&self) -> usize {
        self.limits.max_target_len.min(usize::from(u16::MAX))
    }

    /// True when part of a request has been parsed; EOF now means a truncated request.
    /// (Bytes that were appended but not yet passed to `parse` are the caller's to check.)
    pub fn in_progress(&self) -> bool {
        self.pos > 0 || self.scan > 0
    }

    /// True once the head of the current request is complete and its body is arriving: the
    /// server switches from the header deadline (slowloris) to the body's progress timeout.
    pub fn in_body(&self) -> bool {
        !matches!(self.state, State::RequestLine | State::HeaderLine)
    }

    /// True while the parser waits for the body of a request that sent
    /// `Expect: 100-continue` (HTTP/1.1): the server should write `100 Continue` once.
    pub fn wants_continue(&self) -> bool {
        self.head.expect_continue
            && self.head.version == Version::Http11
            && matches!(self.state, State::FixedBody { .. } | State::ChunkSize | State::ChunkData { .. })
    }

    // ANCHOR: parse
    /// Parses as much of `buf` as possible. `buf` must start at the first byte of the current
    /// request and hold everything received since, so each call sees the previous call's bytes
    /// plus new ones. After `Complete { consumed, .. }` the next call's buffer starts at the old
    /// buffer's `consumed`. After an error, every later call returns the same error.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parsed, ParseError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let result = self.advance(buf);
        if let Err(err) = result {
            self.failed = Some(err);
        }
        result
    }

    /// The state machine: each arm either moves to the next state and loops, or returns
    /// `Partial` because the bytes it needs have not arrived.
    fn advance(&mut self, buf: &[u8]) -> Result<Parsed, ParseError> {
        loop {
            match self.state {
                State::RequestLine | State::HeaderLine | State::ChunkSize | State::TrailerLine => {
                    let Some(newline) = self.find_newline(buf) else {
                        // No whole line yet; refuse to buffer a line that is already too long.
                        self.check_line_length(&buf[self.pos.min(buf.len())..])?;
                        return Ok(Parsed::Partial);
                    };
                    let start = self.pos;
                    let raw = &buf[start..newline];
                    self.check_line_length(raw)?;
                    // (Slice patterns, not `strip_suffix`: that compiles to a `memcmp` call per line.)
                    let [line @ .., b'\r'] = raw else {
                        return Err(ParseError::BareLf);
                    };
                    self.pos = newline + 1;
                    self.scan = self.pos;
                    let finished = match self.state {
                        State::RequestLine => self.on_request_line(start, line)?,
                        State::HeaderLine => {
                            self.header_bytes += raw.len() + 1;
                            self.on_header_line(start, line)?
                        }
                        State::ChunkSize => self.on_chunk_size(line)?,
                        _ => {
                            self.header_bytes += raw.len() + 1;
                            self.on_trailer_line(line)?
                        }
                    };
                    if finished {
                        return Ok(self.complete(buf));
                    }
                }
                State::FixedBody { end } => {
                    if buf.len() < end {
                        return Ok(Parsed::Partial);
                    }
                    self.pos = end;
                    return Ok(self.complete(buf));
                }
                State::ChunkData { remaining } => {
                    let available = buf.len().saturating_sub(self.pos).min(remaining);
                    self.body.extend_from_slice(&buf[self.pos..self.pos + available]);
                    self.pos += available;
                    if available < remaining {
                        self.state = State::ChunkData { remaining: remaining - available };
                        return Ok(Parsed::Partial);
                    }
                    self.state = State::ChunkEnd;
                }
                State::ChunkEnd => {
                    let Some(crlf) = buf.get(self.pos..self.pos + 2) else {
                        return Ok(Parsed::Partial);
                    };
                    if crlf != b"\r\n" {
                        return Err(ParseError::BadChunk);
                    }
                    self.pos += 2;
                    self.scan = self.pos;
                    self.state = State::ChunkSize;
                }
            }
        }
    }
    // ANCHOR_END: parse

    /// Finds the LF ending the current line, searching only bytes not searched before.
    fn find_newline(&mut self, buf: &[u8]) -> Option<usize> {
        let from = self.scan.max(self.pos);
        let rest = buf.get(from..)?;
        match find_byte(rest, b'\n') {
            Some(i) => Some(from + i),
            None => {
                self.scan = buf.len();
                None
            }
        }
    }

    // ANCHOR: line_length
    /// The per-line limits. `raw` is the line without its LF: either a complete line or the
    /// part received so far. Every rule only depends on bytes that are already present and
    /// can only get worse as more arrive, so a request fed one byte at a time fails at the
    /// same rule, with the same error, as the whole request at once.
    fn check_line_length(&self, raw: &[u8]) -> Result<(), ParseError> {
        // method SP target SP HTTP/1.1 CR
        let longest_request_line = MAX_METHOD_LEN + 1 + self.max_target_len() + 1 + 8 + 1;
        match self.state {
            State::RequestLine if raw.len() > longest_request_line => {
                Err(overlong_request_line(&raw[..longest_request_line], self.max_target_len()))
            }
            // The method must be a token from its first byte: binary (a TLS handshake sent to
            // this plain-HTTP port, say) is refused as soon as it arrives, not once a line or
            // the header timeout ends. A CR at the end may be the line's own.
            State::RequestLine => match method_error(raw.strip_suffix(b"\r").unwrap_or(raw)) {
                Some(err) => Err(err),
                None => Ok(()),
            },
            // + 1 for the LF that has not arrived (or was cut off) yet.
            State::HeaderLine | State::TrailerLine
                if self.header_bytes + raw.len() + 1 > self.limits.max_header_bytes =>
            {
                Err(ParseError::HeadersTooLarge)
            }
            State::ChunkSize if raw.len() > MAX_CHUNK_LINE => Err(ParseError::BadChunk),
            _ => Ok(()),
        }
    }
    // ANCHOR_END: line_length

    // ANCHOR: request_line
    /// `method SP request-target SP HTTP-version`, exactly one space between parts.
    fn on_request_line(&mut self, start: usize, line: &[u8]) -> Result<bool, ParseError> {
        if line.is_empty() && !self.skipped_empty_line {
            // A stray CRLF after a previous request's body; RFC 9112 says to ignore it.
            self.skipped_empty_line = true;
            return Ok(false);
        }
        let method_end = scan_token(line, b' ', ParseError::BadRequestLine)?;
        if method_end == 0 || method_end == line.len() || method_end > MAX_METHOD_LEN {
            return Err(ParseError::BadRequestLine);
        }
        let target_start = method_end + 1;
        let mut target_end = target_start;
        while target_end < line.len() && line[target_end] != b' ' {
            let b = line[target_end];
            if !(0x21..=0x7e).contains(&b) || b == b'#' {
                return Err(control_error(b).unwrap_or(ParseError::BadTarget));
            }
            target_end += 1;
        }
        if target_end == target_start || target_end == line.len() {
            return Err(ParseError::BadRequestLine);
        }
        if target_end - target_start > self.max_target_len() {
            return Err(ParseError::TargetTooLong);
        }
        self.head.version = parse_version(&line[target_end + 1..])?;
        self.head.method = Method::from_bytes(&line[..method_end]).ok_or(ParseError::UnknownMethod)?;
        self.parse_target(start + target_start, &line[target_start..target_end])?;
        self.state = State::HeaderLine;
        Ok(false)
    }
    // ANCHOR_END: request_line

    /// Origin-form (`/path?query`), absolute-form (`http://host/path?query`, sent to proxies
    /// but legal to any server), or `*` for `OPTIONS`. Offsets are absolute (`at` = where the
    /// target starts in the buffer).
    fn parse_target(&mut self, at: usize, target: &[u8]) -> Result<(), ParseError> {
        self.head.target = Span::new(at, at + target.len());
        let path_start = if target[0] == b'/' {
            0
        } else if target == b"*" {
            if self.head.method != Method::Options {
                return Err(ParseError::BadTarget);
            }
            self.head.path = self.head.target;
            return Ok(());
        } else {
            let after_scheme = if starts_with_ignore_case(target, b"http://") {
                7
            } else if starts_with_ignore_case(target, b"https://") {
                8
            } else {
                return Err(ParseError::BadTarget);
            };
            let authority_len = target[after_scheme..]
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(target.len() - after_scheme);
            let authority = &target[after_scheme..after_scheme + authority_len];
            if authority.is_empty() || authority.contains(&b'@') || !is_valid_host(authority) {
                return Err(ParseError::BadTarget);
            }
            self.head.target_host = Some(Span::new(at + after_scheme, at + after_scheme + authority_len));
            after_scheme + authority_len
        };
        // The path runs to '?' (or the end); an absolute-form target may have no path at all,
        // recorded as an empty span and read back as "/".
        let rest = &target[path_start..];
        let path_len = rest.iter().position(|&b| b == b'?').unwrap_or(rest.len());
        if path_len > 0 && rest[0] != b'/' {
            return Err(ParseError::BadTarget);
        }
        self.head.path = Span::new(at + path_start, at + path_start + path_len);
        if path_len < rest.len() {
            self.head.query = Some(Span::new(at + path_start + path_len + 1, at + target.len()));
        }
        Ok(())
    }

    // ANCHOR: header_line
    /// One `name: value` line, or the empty line ending the head.
    fn on_header_line(&mut self, start: usize, line: &[u8]) -> Result<bool, ParseError> {
        if line.is_empty() {
            return self.on_head_end();
        }
        let (name, value) = self.field_line(line)?;
        let header = HeaderSpan {
            name: Span::new(start + name.0, start + name.1),
            value: Span::new(start + value.0, start + value.1),
        };
        self.head.headers.push(header);
        self.interpret_header(&line[name.0..name.1], &line[value.0..value.1])?;
        Ok(false)
    }
    // ANCHOR_END: header_line

    /// Checks the syntax of a header or trailer line and returns the (start, end) of its name
    /// and of its value (without surrounding whitespace), relative to the line.
    fn field_line(&mut self, line: &[u8]) -> Result<FieldSpans, ParseError> {
        self.fields += 1;
        if self.fields > self.limits.max_headers {
            return Err(ParseError::TooManyHeaders);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(ParseError::ObsFold);
        }
        let colon = scan_token(line, b':', ParseError::BadHeaderName)?;
        if colon == line.len() || colon == 0 {
            return Err(ParseError::BadHeaderName);
        }
        let mut value_start = colon + 1;
        while value_start < line.len() && is_ows(line[value_start]) {
            value_start += 1;
        }
        let mut value_end = line.len();
        while value_end > value_start && is_ows(line[value_end - 1]) {
            value_end -= 1;
        }
        if let Some(b) = find_control(&line[value_start..value_end]) {
            return Err(control_error(b).unwrap_or(ParseError::BadHeaderValue));
        }
        Ok(((0, colon), (value_start, value_end)))
    }

    /// The headers that decide framing and connection handling.
    fn interpret_header(&mut self, name: &[u8], value: &[u8]) -> Result<(), ParseError> {
        let head = &mut self.head;
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                if head.host.is_some() {
                    return Err(ParseError::DuplicateHost);
                }
                if !is_valid_host(value) {
                    return Err(ParseError::BadHost);
                }
                let at = head.headers.last().map_or(0, |h| h.value.start as usize);
                head.host = Some(Span::new(at, at + value.len()));
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                // "5" or, tolerated by RFC 9110 section 8.6, a list of identical values "5, 5".
                for item in value.split(|&b| b == b',') {
                    let n = parse_decimal(trim_ows(item)).ok_or(ParseError::BadContentLength)?;
                    match head.content_length {
                        Some(previous) if previous != n => {
                            return Err(ParseError::ConflictingContentLength);
                        }
                        _ => head.content_length = Some(n),
                    }
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                head.transfer_encoding = true;
                for coding in value.split(|&b| b == b',').map(trim_ows) {
                    if coding.is_empty() {
                        continue;
                    }
                    if !coding.eq_ignore_ascii_case(b"chunked") {
                        return Err(ParseError::UnknownTransferCoding);
                    }
                    if head.chunked {
                        return Err(ParseError::BadTransferEncoding);
                    }
                    head.chunked = true;
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in value.split(|&b| b == b',').map(trim_ows) {
                    if token.eq_ignore_ascii_case(b"close") {
                        head.connection_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        head.connection_keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                head.expect_continue = value.eq_ignore_ascii_case(b"100-continue");
            }
            _ => {}
        }
        Ok(())
    }

    // ANCHOR: head_end
    /// The empty line: decide how the body is framed (RFC 9112 section 6.3).
    fn on_head_end(&mut self) -> Result<bool, ParseError> {
        let head = &mut self.head;
        head.head_end = self.pos;
        if head.transfer_encoding {
            if head.content_length.is_some() {
                // Two framings: an intermediary might pick the other one (request smuggling).
                return Err(ParseError::ContentLengthWithTransferEncoding);
            }
            if head.version == Version::Http10 || !head.chunked {
                return Err(ParseError::BadTransferEncoding);
            }
        }
        if head.version == Version::Http11 && head.host.is_none() {
            return Err(ParseError::MissingHost);
        }
        let max_body = self.limits.max_body_bytes.min(BODY_HARD_CAP);
        if head.chunked {
            self.state = State::ChunkSize;
            return Ok(false);
        }
        match head.content_length {
            Some(n) if n > max_body as u64 => Err(ParseError::BodyTooLarge),
            Some(n) if n > 0 => {
                self.state = State::FixedBody { end: self.pos + n as usize };
                Ok(false)
            }
            _ => Ok(true),
        }
    }
    // ANCHOR_END: head_end

    // ANCHOR: chunk_size
    /// `1a` or `1a;name=value` (extensions are accepted and ignored). Size 0 ends the body.
    fn on_chunk_size(&mut self, line: &[u8]) -> Result<bool, ParseError> {
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(ParseError::BadChunk);
        }
        let mut size: usize = 0;
        for &b in &line[..digits] {
            let digit = (b as char).to_digit(16).unwrap_or(0) as usize;
            size = size.checked_mul(16).and_then(|s| s.checked_add(digit)).ok_or(ParseError::BadChunk)?;
        }
        let extensions = &line[digits..];
        let after_ws = extensions.iter().position(|&b| !is_ows(b)).unwrap_or(extensions.len());
        if after_ws < extensions.len() && extensions[after_ws] != b';' {
            return Err(ParseError::BadChunk);
        }
        if let Some(b) = find_control(extensions) {
            return Err(control_error(b).unwrap_or(ParseError::BadChunk));
        }
        // Leading zeros and extensions carry nothing we use, yet the connection buffers them
        // with the body until the request is complete: without a bound, 1 KiB of them per
        // one-byte chunk would hold a GiB for a 1 MiB body. They count against the header
        // limit, as trailer lines do.
        let significant = line[..digits].iter().skip_while(|&&b| b == b'0').count().max(1);
        self.header_bytes += line.len() - significant;
        if self.header_bytes > self.limits.max_header_bytes {
            return Err(ParseError::HeadersTooLarge);
        }
        if size == 0 {
            self.state = State::TrailerLine;
            return Ok(false);
        }
        let max_body = self.limits.max_body_bytes.min(BODY_HARD_CAP);
        if size > max_body - self.body.len() {
            return Err(ParseError::BodyTooLarge);
        }
        self.state = State::ChunkData { remaining: size };
        Ok(false)
    }
    // ANCHOR_END: chunk_size

    /// Trailer fields are checked like headers (and count against the same limits), then
    /// dropped: nothing in this server needs them.
    fn on_trailer_line(&mut self, line: &[u8]) -> Result<bool, ParseError> {
        if line.is_empty() {
            return Ok(true);
        }
        self.field_line(line)?;
        Ok(false)
    }

    /// Builds the request from the buffer, then resets for the next request.
    fn complete(&mut self, buf: &[u8]) -> Parsed {
        let consumed = self.pos;
        let head = &self.head;
        let head_bytes = &buf[..head.head_end];
        let body: &[u8] = if head.chunked { &self.body } else { &buf[head.head_end..consumed] };
        let keep_alive = match head.version {
            Version::Http11 => !head.connection_close,
            Version::Http10 => head.connection_keep_alive && !head.connection_close,
        };
        let request = Request::from_parts(
            head_bytes,
            body,
            crate::request::RequestParts {
                method: head.method,
                version: head.version,
                target: head.target,
                path: head.path,
                query: head.query,
                host: head.target_host.or(head.host),
                headers: &head.headers,
                chunked: head.chunked,
                keep_alive,
                expect_continue: head.expect_continue,
            },
        );
        self.reset();
        Parsed::Complete { request, consumed }
    }

    /// Back to `RequestLine`, keeping small allocations. The de-chunked body has been copied
    /// into the request, so its buffer is let go: an idle connection should not hold the
    /// memory of the last upload it received (64 KiB of it before, for a 48 KiB upload).
    fn reset(&mut self) {
        self.state = State::RequestLine;
        self.pos = 0;
        self.scan = 0;
        self.skipped_empty_line = false;
        self.fields = 0;
        self.header_bytes = 0;
        self.head.reset();
        self.body = Vec::new();
    }
}

/// The error for a request line longer than any valid one, decided from its first `longest`
/// bytes: 414 if the target is what made it long, 400 otherwise.
fn overlong_request_line(prefix: &[u8], max_target_len: usize) -> ParseError {
    if let Some(err) = method_error(prefix) {
        return err;
    }
    let Some(space) = prefix.iter().position(|&b| b == b' ') else {
        return ParseError::BadRequestLine;
    };
    if space == 0 || space > MAX_METHOD_LEN || !prefix[..space].iter().all(|&b| is_tchar(b)) {
        return ParseError::BadRequestLine;
    }
    let rest = &prefix[space + 1..];
    let target_len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    if target_len > max_target_len { ParseError::TargetTooLong } else { ParseError::BadRequestLine }
}

/// The error a byte before the first space of a request line (that is, in its method) that
/// is not a token character makes, exactly as [`scan_token`] reports it for a whole line.
fn method_error(line: &[u8]) -> Option<ParseError> {
    let end = line.iter().position(|&b| b == b' ' || !is_tchar(b))?;
    (line[end] != b' ').then(|| control_error(line[end]).unwrap_or(ParseError::BadRequestLine))
}

/// `HTTP/1.1` or `HTTP/1.0`; `HTTP/d.d` otherwise is 505, anything else 400.
fn parse_version(version: &[u8]) -> Result<Version, ParseError> {
    match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1'] => Ok(Version::Http11),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0'] => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(ParseError::UnsupportedVersion)
        }
        _ => Err(version.iter().find_map(|&b| control_error(b)).unwrap_or(ParseError::BadVersion)),
    }
}

/// Length of the token at the start of `line`, which must be followed by `end` (or the end of
/// the line). A byte that is neither a token character nor `end` is an error: NUL and CR get
/// their own variants, whitespace before a colon too, everything else `otherwise`.
fn scan_token(line: &[u8], end: u8, otherwise: ParseError) -> Result<usize, ParseError> {
    for (i, &b) in line.iter().enumerate() {
        if b == end {
            return Ok(i);
        }
        if !is_tchar(b) {
            if end == b':' && is_ows(b) {
                return Err(ParseError::WhitespaceBeforeColon);
            }
            return Err(control_error(b).unwrap_or(otherwise));
        }
    }
    Ok(line.len())
}

/// The specific error for the two control bytes the rules name.
fn control_error(b: u8) -> Option<ParseError> {
    match b {
        0 => Some(ParseError::Nul),
        b'\r' => Some(ParseError::BareCr),
        _ => None,
    }
}

/// A non-empty run of at most 19 decimal digits (so it fits in a u64).
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Host (and absolute-form authority): reg-name, IPv4, `[IPv6]`, optional `:port`.
/// Empty is allowed (RFC 9112 section 3.2, a target without authority).
fn is_valid_host(value: &[u8]) -> bool {
    value.iter().all(|&b| HOST_CHAR[b as usize])
}

/// Bytes allowed in a Host value (RFC 3986 unreserved, sub-delims, ':', '[', ']', '%').
static HOST_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let allowed = b"-._~!$&'()*+,;=:[]%";
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < allowed.len() {
        table[allowed[j] as usize] = true;
        j += 1;
    }
    table
};

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// RFC 9110 `tchar`: the bytes allowed in a method or header name.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

// ANCHOR: find_byte
/// Position of the first `needle` in `haystack`, eight bytes per step ("SWAR": SIMD within a
/// register). XOR turns matching bytes into zero bytes; `(x - 0x01..) & !x & 0x80..` then has a
/// high bit set in the lowest zero byte, so `trailing_zeros` of the little-endian word finds
/// the first match. This is the trick `memchr` uses on targets without vector instructions.
pub fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(needle);
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == needle).map(|i| offset + i)
}
// ANCHOR_END: find_byte

/// A control byte in a field value: anything below SP except HTAB, and DEL. VCHAR and
/// obs-text (0x80-0xFF) are allowed.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

// ANCHOR: find_control
/// The first control byte in `value`, eight bytes per step: `(x - 0x20..) & !x & 0x80..` is
/// non-zero exactly when some byte is below 0x20 (bytes >= 0x80 are masked by `!x`), and the
/// zero-byte test on `x ^ 0x7f..` finds DEL. Only a word that trips one of them (rare: a tab,
/// or an attack) is looked at byte by byte.
fn find_control(value: &[u8]) -> Option<u8> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = value.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let del = x ^ (ONES * 0x7f);
        let is_del = del.wrapping_sub(ONES) & !del & HIGHS;
        if below_space | is_del != 0 {
            if let Some(&b) = chunk.iter().find(|&&b| is_control(b)) {
                return Some(b);
            }
        }
    }
    chunks.remainder().iter().copied().find(|&b| is_control(b))
}
// ANCHOR_END: find_control

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses one complete request (test helper shared with other modules' tests).
    pub(crate) fn parse_one(text: &[u8]) -> Result<Request, ParseError> {
        match Parser::default().parse(text)? {
            Parsed::Complete { request, consumed } => {
                assert_eq!(consumed, text.len(), "request had leftover bytes");
                Ok(request)
            }
            Parsed::Partial => panic!("request incomplete: {:?}", String::from_utf8_lossy(text)),
        }
    }

    fn error_of(text: &[u8]) -> ParseError {
        error_with(Limits::default(), text)
    }

    /// The error for `text`, checked to be the same when the bytes come one at a time.
    fn error_with(limits: Limits, text: &[u8]) -> ParseError {
        let whole = Parser::new(limits).parse(text);
        let mut parser = Parser::new(limits);
        let mut byte_result = Ok(Parsed::Partial);
        for end in 1..=text.len() {
            byte_result = parser.parse(&text[..end]);
            if byte_result.is_err() {
                break;
            }
        }
        match (whole, byte_result) {
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "whole vs byte-at-a-time");
                a
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let req =
            parse_one(b"GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n").unwrap();
        assert_eq!(req.method(), Method::Get);
        assert_eq!(req.path(), "/hello");
        assert_eq!(req.query(), Some("x=1"));
        assert_eq!(req.target(), "/hello?x=1");
        assert_eq!(req.version(), Version::Http11);
        assert_eq!(req.host(), Some("example.com"));
        assert_eq!(req.header("user-agent"), Some(&b"t"[..]));
        assert_eq!(req.header("USER-AGENT"), Some(&b"t"[..]));
        assert_eq!(req.header("accept"), None);
        assert!(req.keep_alive());
        assert!(!req.is_head());
        assert!(req.body().is_empty());
    }

    #[test]
    fn header_values_are_trimmed_and_may_be_empty_or_non_ascii() {
        let req = parse_one(
            b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \t spaced out \t\r\nX-E:\r\nX-U: caf\xc3\xa9\r\n\r\n",
        )
        .unwrap();
        assert_eq!(req.header_str("x-a"), Some("spaced out"));
        assert_eq!(req.header_str("x-e"), Some(""));
        assert_eq!(req.header_str("x-u"), Some("café"));
        let names: Vec<&str> = req.headers().map(|(n, _)| n).collect();
        assert_eq!(names, ["Host", "X-A", "X-E", "X-U"]);
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |t: &[u8]| parse_one(t).unwrap().keep_alive();
        assert!(ka(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
        assert!(!ka(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"));
    }

    #[test]
    fn http10_needs_no_host() {
        let req = parse_one(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(req.version(), Version::Http10);
        assert_eq!(req.host(), None);
    }

    #[test]
    fn head_is_noted() {
        assert!(parse_one(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().is_head());
    }

    #[test]
    fn absolute_form_gives_path_and_host() {
        let req = parse_one(b"GET http://example.com:8080/a/b?q HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
        assert_eq!(req.path(), "/a/b");
        assert_eq!(req.query(), Some("q"));
        assert_eq!(req.host(), Some("example.com:8080"));
        let req = parse_one(b"GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n").unwrap();
        assert_eq!(req.path(), "/");
        assert_eq!(req.query(), None);
        let req = parse_one(b"GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert_eq!((req.path(), req.query()), ("/", Some("x=1")));
    }

    #[test]
    fn asterisk_form_only_for_options() {
        let req = parse_one(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(req.path(), "*");
        assert_eq!(error_of(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n"), ParseError::BadTarget);
    }

    #[test]
    fn content_length_body_and_pipelining() {
        let text = b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut parser = Parser::default();
        let Parsed::Complete { request, consumed } = parser.parse(text).unwrap() else {
            panic!("first request incomplete");
        };
        assert_eq!(request.body(), b"hello");
        assert_eq!(request.method(), Method::Post);
        let rest = &text[consumed..];
        assert!(rest.starts_with(b"GET /next"));
        let Parsed::Complete { request, consumed } = parser.parse(rest).unwrap() else {
            panic!("second request incomplete");
        };
        assert_eq!(request.path(), "/next");
        assert_eq!(consumed, rest.len());
    }

    #[test]
    fn identical_content_lengths_are_accepted() {
        let req =
            parse_one(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc")
                .unwrap();
        assert_eq!(req.body(), b"abc");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let text = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;name=value\r\nhello\r\n1 ; x\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n";
        let req = parse_one(text).unwrap();
        assert_eq!(req.body(), b"hello 0123456789");
        assert!(req.is_chunked());
    }

    #[test]
    fn chunked_with_leftover_then_next_request() {
        let text = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip-not, chunked\r\n\r\n";
        assert_eq!(error_of(text), ParseError::UnknownTransferCoding);
        let text = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let Parsed::Complete { request, consumed } = Parser::default().parse(text).unwrap() else {
            panic!("incomplete");
        };
        assert_eq!(request.body(), b"abc");
        assert_eq!(&text[consumed..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn one_empty_line_before_request_is_ignored() {
        let req = parse_one(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(req.path(), "/");
        assert_eq!(error_of(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"), ParseError::BadRequestLine);
    }

    #[test]
    fn expect_continue_is_reported_while_waiting_for_body() {
        let mut parser = Parser::default();
        let text = b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(parser.parse(text), Ok(Parsed::Partial)));
        assert!(parser.wants_continue());
        let mut full = text.to_vec();
        full.extend_from_slice(b"ok");
        let Ok(Parsed::Complete { request, .. }) = parser.parse(&full) else {
            panic!("incomplete");
        };
        assert!(request.expects_continue());
        assert!(!parser.wants_continue());
    }

    #[test]
    fn byte_at_a_time_gives_the_same_request() {
        let text = b"POST /x?y=z HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nA: b\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let whole = parse_one(text).unwrap();
        let mut parser = Parser::default();
        for end in 1..text.len() {
            assert!(matches!(parser.parse(&text[..end]), Ok(Parsed::Partial)), "at {end}");
            assert!(parser.in_progress());
        }
        let Ok(Parsed::Complete { request, consumed }) = parser.parse(text) else {
            panic!("incomplete");
        };
        assert_eq!(consumed, text.len());
        assert_eq!(request.body(), whole.body());
        assert_eq!(request.path(), whole.path());
        assert_eq!(request.header("a"), Some(&b"b"[..]));
        assert!(!parser.in_progress());
    }

    // --- one test per strictness rule: the exact error and its status -----------------------

    fn host(extra: &str) -> Vec<u8> {
        format!("GET / HTTP/1.1\r\nHost: a\r\n{extra}\r\n").into_bytes()
    }

    #[test]
    fn malformed_request_lines_are_400() {
        for line in [
            &b"GET /\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1 \r\n\r\n",
            b" GET / HTTP/1.1\r\n\r\n",
            b"GET\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
        ] {
            let err = error_of(line);
            assert!(
                matches!(err, ParseError::BadRequestLine | ParseError::BadVersion),
                "{line:?} gave {err:?}"
            );
            assert_eq!(err.status(), 400);
        }
        assert_eq!(error_of(b"GET / http/1.1\r\n\r\n"), ParseError::BadVersion);
        assert_eq!(error_of(b"GET foo HTTP/1.1\r\n\r\n"), ParseError::BadTarget);
        assert_eq!(error_of(b"GET /a#frag HTTP/1.1\r\n\r\n"), ParseError::BadTarget);
        assert_eq!(error_of(b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"), ParseError::BadTarget);
        assert_eq!(error_of(b"GET http://u@h/ HTTP/1.1\r\n\r\n"), ParseError::BadTarget);
        assert_eq!(error_of(b"GET http:/// HTTP/1.1\r\n\r\n"), ParseError::BadTarget);
    }

    #[test]
    fn a_method_that_cannot_be_one_is_refused_before_its_line_ends() {
        let partial = |bytes: &[u8]| Parser::default().parse(bytes);
        assert_eq!(partial(b"\x16\x03\x01\x00\xc8").unwrap_err(), ParseError::BadRequestLine);
        assert_eq!(partial(b"GE\0").unwrap_err(), ParseError::Nul);
        assert_eq!(partial(b"GE\rT").unwrap_err(), ParseError::BareCr);
        // A CR at the end may be the line's own, a space ends the method: wait for more.
        assert!(matches!(partial(b"\r"), Ok(Parsed::Partial)));
        assert!(matches!(partial(b"GET\r"), Ok(Parsed::Partial)));
        assert!(matches!(partial(b"GET /\x7f"), Ok(Parsed::Partial)));
        // Whole, byte by byte, or too long to be a request line: the same error.
        assert_eq!(error_of(b"G\0T / HTTP/1.1\r\n\r\n"), ParseError::Nul);
        let mut overlong = b"G\x7fT /".to_vec();
        overlong.extend_from_slice(&[b'a'; 9000]);
        assert_eq!(error_of(&overlong), ParseError::BadRequestLine);
    }

    #[test]
    fn unknown_method_is_501() {
        let err = error_of(b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!((err, err.status()), (ParseError::UnknownMethod, 501));
        assert_eq!(error_of(b"CONNECT h:443 HTTP/1.1\r\n\r\n"), ParseError::UnknownMethod);
        assert_eq!(error_of(b"get / HTTP/1.1\r\n\r\n"), ParseError::UnknownMethod);
    }

    #[test]
    fn unsupported_version_is_505() {
        for v in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9"] {
            let err = error_of(format!("GET / {v}\r\n\r\n").as_bytes());
            assert_eq!((err, err.status()), (ParseError::UnsupportedVersion, 505), "{v}");
        }
        assert_eq!(error_of(b"GET / HTTP/1.10\r\n\r\n"), ParseError::BadVersion);
    }

    #[test]
    fn missing_or_duplicate_host_is_400() {
        let err = error_of(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
        assert_eq!((err, err.status()), (ParseError::MissingHost, 400));
        assert_eq!(error_of(&host("Host: b\r\n")), ParseError::DuplicateHost);
        assert_eq!(error_of(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), ParseError::BadHost);
    }

    #[test]
    fn content_length_and_transfer_encoding_together_are_400() {
        let err = error_of(&host("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"));
        assert_eq!((err, err.status()), (ParseError::ContentLengthWithTransferEncoding, 400));
        let err = error_of(&host("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"));
        assert_eq!(err, ParseError::ContentLengthWithTransferEncoding);
    }

    #[test]
    fn two_different_content_lengths_are_400() {
        let err = error_of(&host("Content-Length: 3\r\nContent-Length: 4\r\n"));
        assert_eq!((err, err.status()), (ParseError::ConflictingContentLength, 400));
        assert_eq!(error_of(&host("Content-Length: 3, 4\r\n")), ParseError::ConflictingContentLength);
    }

    #[test]
    fn malformed_content_length_is_400() {
        for v in ["-1", "+3", "0x10", "", "1 2", "99999999999999999999"] {
            let err = error_of(&host(&format!("Content-Length: {v}\r\n")));
            assert_eq!(err, ParseError::BadContentLength, "{v:?}");
        }
    }

    #[test]
    fn unknown_transfer_coding_is_501() {
        let err = error_of(&host("Transfer-Encoding: gzip\r\n"));
        assert_eq!((err, err.status()), (ParseError::UnknownTransferCoding, 501));
        assert_eq!(
            error_of(&host("Transfer-Encoding: chunked, gzip\r\n")),
            ParseError::UnknownTransferCoding
        );
    }

    #[test]
    fn bad_transfer_encoding_is_400() {
        assert_eq!(
            error_of(&host("Transfer-Encoding: chunked, chunked\r\n")),
            ParseError::BadTransferEncoding
        );
        assert_eq!(
            error_of(&host("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
            ParseError::BadTransferEncoding
        );
        assert_eq!(error_of(&host("Transfer-Encoding:\r\n")), ParseError::BadTransferEncoding);
        assert_eq!(
            error_of(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ParseError::BadTransferEncoding
        );
    }

    #[test]
    fn bad_chunks_are_400() {
        let chunked = |body: &str| {
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}").into_bytes()
        };
        for body in [
            "x\r\n",
            "3\r\nabcX\r\n",
            "3 x\r\n",
            "-1\r\n",
            "11111111111111111\r\n",
            "3\r\nabc\r\n0\r\nbad trailer\r\n\r\n",
        ] {
            let err = error_of(&chunked(body));
            assert!(
                matches!(
                    err,
                    ParseError::BadChunk | ParseError::BadHeaderName | ParseError::WhitespaceBeforeColon
                ),
                "{body:?} gave {err:?}"
            );
            assert_eq!(err.status(), 400);
        }
        assert_eq!(error_of(&chunked("3\nabc")), ParseError::BareLf);
        assert_eq!(error_of(&chunked(&"1".repeat(2000))), ParseError::BadChunk);
    }

    #[test]
    fn long_target_is_414() {
        let limits = Limits { max_target_len: 20, ..Limits::default() };
        let ok = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(19));
        assert!(Parser::new(limits).parse(ok.as_bytes()).is_ok());
        let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(20));
        let err = error_with(limits, long.as_bytes());
        assert_eq!((err, err.status()), (ParseError::TargetTooLong, 414));
        // Refused before the line ends: the client cannot make us buffer an endless target.
        let endless = format!("GET /{}", "a".repeat(100));
        assert_eq!(Parser::new(limits).parse(endless.as_bytes()).unwrap_err(), ParseError::TargetTooLong);
        assert_eq!(Parser::new(limits).parse(&[b'A'; 100]).unwrap_err(), ParseError::BadRequestLine);
    }

    #[test]
    fn too_many_headers_is_431() {
        let limits = Limits { max_headers: 3, ..Limits::default() };
        let ok = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(Parser::new(limits).parse(ok).is_ok());
        let err = error_with(limits, b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
        assert_eq!((err, err.status()), (ParseError::TooManyHeaders, 431));
    }

    #[test]
    fn oversized_header_section_is_431() {
        let limits = Limits { max_header_bytes: 20, ..Limits::default() };
        // "Host: a\r\n" (9) + "X: 123456\r\n" (11) = 20 ... + "\r\n" = 22 > 20.
        let err = error_with(limits, b"GET / HTTP/1.1\r\nHost: a\r\nX: 123456\r\n\r\n");
        assert_eq!((err, err.status()), (ParseError::HeadersTooLarge, 431));
        let ok = b"GET / HTTP/1.1\r\nHost: a\r\nX: 1234\r\n\r\n";
        assert!(matches!(Parser::new(limits).parse(ok), Ok(Parsed::Complete { .. })));
        // An endless header line is refused before it ends.
        let mut endless = b"GET / HTTP/1.1\r\nX: ".to_vec();
        endless.extend_from_slice(&[b'y'; 40]);
        assert_eq!(Parser::new(limits).parse(&endless).unwrap_err(), ParseError::HeadersTooLarge);
    }

    #[test]
    fn body_over_limit_is_413() {
        let limits = Limits { max_body_bytes: 4, ..Limits::default() };
        let err = error_with(limits, &host("Content-Length: 5\r\n"));
        assert_eq!((err, err.status()), (ParseError::BodyTooLarge, 413));
        let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(error_with(limits, chunked), ParseError::BodyTooLarge);
        let fits = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
        assert!(matches!(Parser::new(limits).parse(fits), Ok(Parsed::Complete { .. })));
    }

    #[test]
    fn bare_cr_is_400() {
        assert_eq!(error_of(&host("X: a\rb\r\n")), ParseError::BareCr);
        assert_eq!(error_of(b"GET /a\rb HTTP/1.1\r\n\r\n"), ParseError::BareCr);
        assert_eq!(error_of(b"GE\rT / HTTP/1.1\r\n\r\n"), ParseError::BareCr);
        assert_eq!(error_of(&host("X\r: a\r\n")), ParseError::BareCr);
        assert_eq!(ParseError::BareCr.status(), 400);
    }

    #[test]
    fn bare_lf_is_400() {
        assert_eq!(error_of(b"GET / HTTP/1.1\nHost: a\r\n\r\n"), ParseError::BareLf);
        assert_eq!(error_of(b"GET / HTTP/1.1\r\nHost: a\n\r\n"), ParseError::BareLf);
        assert_eq!(error_of(b"GET / HTTP/1.1\r\nHost: a\r\n\n"), ParseError::BareLf);
    }

    #[test]
    fn nul_is_400() {
        assert_eq!(error_of(&host("X: a\0b\r\n")), ParseError::Nul);
        assert_eq!(error_of(b"GET /\0 HTTP/1.1\r\n\r\n"), ParseError::Nul);
        assert_eq!(error_of(&host("X\0: a\r\n")), ParseError::Nul);
        assert_eq!(ParseError::Nul.status(), 400);
    }

    #[test]
    fn obs_fold_is_400() {
        let err = error_of(&host("X: a\r\n  continued\r\n"));
        assert_eq!((err, err.status()), (ParseError::ObsFold, 400));
        assert_eq!(error_of(&host("X: a\r\n\tcontinued\r\n")), ParseError::ObsFold);
    }

    #[test]
    fn whitespace_before_colon_is_400() {
        let err = error_of(&host("Content-Length : 3\r\n"));
        assert_eq!((err, err.status()), (ParseError::WhitespaceBeforeColon, 400));
        assert_eq!(error_of(&host("X\t: 3\r\n")), ParseError::WhitespaceBeforeColon);
    }

    #[test]
    fn malformed_header_names_and_values_are_400() {
        assert_eq!(error_of(&host("no colon\r\n")), ParseError::WhitespaceBeforeColon);
        assert_eq!(error_of(&host("nocolon\r\n")), ParseError::BadHeaderName);
        assert_eq!(error_of(&host(": empty name\r\n")), ParseError::BadHeaderName);
        assert_eq!(error_of(&host("X(y): 1\r\n")), ParseError::BadHeaderName);
        assert_eq!(error_of(&host("X: a\x01b\r\n")), ParseError::BadHeaderValue);
        assert_eq!(error_of(&host("X: a\x7fb\r\n")), ParseError::BadHeaderValue);
    }

    #[test]
    fn errors_stick() {
        let mut parser = Parser::default();
        let bad = b"GET / HTTP/9.9\r\n\r\n";
        assert_eq!(parser.parse(bad).unwrap_err(), ParseError::UnsupportedVersion);
        assert_eq!(parser.parse(bad).unwrap_err(), ParseError::UnsupportedVersion);
    }

    #[test]
    fn find_byte_matches_naive_search() {
        let hay: Vec<u8> = (0..200u32).map(|i| (i * 7 % 13) as u8).collect();
        for needle in 0..14u8 {
            for start in 0..20 {
                let s = &hay[start..];
                assert_eq!(find_byte(s, needle), s.iter().position(|&b| b == needle));
            }
        }
        assert_eq!(find_byte(b"", b'\n'), None);
        assert_eq!(find_byte(b"\x80\x0a", b'\n'), Some(1));
        assert_eq!(find_byte(b"abcdefgh\x01\n", b'\n'), Some(9));
    }

    #[test]
    fn find_control_matches_naive_search() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            let len = (rng % 40) as usize;
            let mut value = Vec::new();
            for _ in 0..len {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Mostly printable, sometimes a tab, DEL, obs-text or another control byte.
                let b = match rng % 16 {
                    0 => [0u8, 9, 0x1f, 0x7f, 0x80, 0xff, b'\r', 0x20][(rng >> 8) as usize % 8],
                    _ => 0x21 + (rng >> 8) as u8 % 0x5e,
                };
                value.push(b);
            }
            let naive = value.iter().copied().find(|&b| is_control(b));
            assert_eq!(find_control(&value), naive, "{value:?}");
        }
        assert_eq!(find_control(b"tab\tonly and text"), None);
        assert_eq!(find_control(b"12345678\x7f"), Some(0x7f));
    }

    #[test]
    fn no_growth_of_header_list_after_first_request() {
        let text = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
        let mut parser = Parser::default();
        parser.parse(text).unwrap();
        let capacity = parser.head.headers.capacity();
        for _ in 0..10 {
            parser.parse(text).unwrap();
            assert_eq!(parser.head.headers.capacity(), capacity);
        }
    }
}
