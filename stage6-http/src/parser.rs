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
//! variant, and [`ParseError::status`] says which status code answers it. The grammar itself
//! (tokens, field lines, chunk-size lines, numbers, framing) is [`crate::grammar`], shared
//! with the client's response parser; this module is the server's policy on top of it.

use crate::grammar::{
    self, ChunkLineError, ConnectionOptions, ContentLengthError, FieldError, FieldSpans, Framing,
    MAX_CHUNK_LINE, find_byte,
};
use crate::message::{HeaderSpan, Method, Span, Version};
use crate::request::{Request, RequestParts};

pub mod error;
pub use error::ParseError;

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
/// Bodies are indexed with `u32` offsets inside a [`Request`].
const BODY_HARD_CAP: usize = 1 << 30;
/// Header spans the parser keeps room for between requests (16 bytes each). A browser sends
/// a dozen headers; room for more is given back once the request that needed it is parsed.
const KEPT_HEADER_SPANS: usize = 32;

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
    connection: ConnectionOptions,
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

    // ANCHOR: release_chunks
    /// The bytes of a chunked body that are parsed and copied out already (the data into the
    /// parser's body, the framing read and checked): `head_end..pos` of the caller's buffer.
    /// The caller removes that range from its buffer at once, and the parser moves its
    /// offsets back by its length, so a chunked upload holds its head, its de-chunked body and
    /// the last unparsed bytes, never the wire bytes: one-byte chunks (`1\r\nx\r\n`) are five
    /// bytes on the wire per byte of body. `None` when there is nothing to release.
    pub fn release_chunk_bytes(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.head.head_end;
        let chunk_states = matches!(
            self.state,
            State::ChunkSize | State::ChunkData { .. } | State::ChunkEnd | State::TrailerLine
        );
        if !chunk_states || self.pos <= start || self.failed.is_some() {
            return None;
        }
        let released = start..self.pos;
        self.scan -= released.len().min(self.scan);
        self.pos = start;
        Some(released)
    }
    // ANCHOR_END: release_chunks

    /// Where a Content-Length body ends in the caller's buffer (its head included), while it
    /// arrives: the caller can allocate exactly that much once instead of doubling its buffer.
    pub fn fixed_body_end(&self) -> Option<usize> {
        match self.state {
            State::FixedBody { end } => Some(end),
            _ => None,
        }
    }

    /// Bytes allocated for the de-chunked body of the request being parsed.
    pub fn body_capacity(&self) -> usize {
        self.body.capacity()
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
    /// plus new ones (less any range [`Parser::release_chunk_bytes`] gave back). After `Complete { consumed, .. }` the next call's buffer starts at the old
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
                    self.grow_body(available);
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

    /// Makes room for `more` bytes of de-chunked body: doubling, as a `Vec` does, but never
    /// past `max_body_bytes`, so a body at the limit holds the limit and not up to twice it
    /// (`on_chunk_size` already refused a chunk that would go over).
    fn grow_body(&mut self, more: usize) {
        let (len, capacity) = (self.body.len(), self.body.capacity());
        if capacity - len >= more {
            return;
        }
        let max_body = self.limits.max_body_bytes.min(BODY_HARD_CAP);
        let target = (capacity * 2).max(64).min(max_body).max(len + more);
        self.body.reserve_exact(target - len);
    }

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
        let method_end = grammar::scan_token(line, b' ')
            .map_err(|b| control_error(b).unwrap_or(ParseError::BadRequestLine))?;
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
        let FieldSpans { name_end, value } = self.field_line(line)?;
        let header = HeaderSpan {
            name: Span::new(start, start + name_end),
            value: Span::new(start + value.0, start + value.1),
        };
        self.head.headers.push(header);
        self.interpret_header(&line[..name_end], &line[value.0..value.1])?;
        Ok(false)
    }
    // ANCHOR_END: header_line

    /// Counts a header or trailer line against the limit and checks its syntax (the
    /// grammar's [`grammar::split_field_line`]); returns where its name and value are.
    fn field_line(&mut self, line: &[u8]) -> Result<FieldSpans, ParseError> {
        self.fields += 1;
        if self.fields > self.limits.max_headers {
            return Err(ParseError::TooManyHeaders);
        }
        grammar::split_field_line(line).map_err(|err| match err {
            FieldError::ObsFold => ParseError::ObsFold,
            FieldError::WhitespaceBeforeColon => ParseError::WhitespaceBeforeColon,
            FieldError::BadName => ParseError::BadHeaderName,
            FieldError::BadValue => ParseError::BadHeaderValue,
            FieldError::Nul => ParseError::Nul,
            FieldError::BareCr => ParseError::BareCr,
        })
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
                let n = grammar::content_length(value, head.content_length).map_err(|err| match err {
                    ContentLengthError::Malformed => ParseError::BadContentLength,
                    ContentLengthError::Conflicting => ParseError::ConflictingContentLength,
                })?;
                head.content_length = Some(n);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                head.transfer_encoding = true;
                // Policy: `chunked` is the only coding this server implements, and a request
                // (unlike a response) cannot be framed by closing the connection.
                for coding in grammar::transfer_codings(value) {
                    if !grammar::is_chunked(coding) {
                        return Err(ParseError::UnknownTransferCoding);
                    }
                    if head.chunked {
                        return Err(ParseError::BadTransferEncoding);
                    }
                    head.chunked = true;
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => head.connection.add(value),
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
        let transfer_encoding = head.transfer_encoding.then_some(head.chunked);
        match grammar::body_framing(transfer_encoding, head.content_length, false) {
            Framing::Chunked => {
                self.state = State::ChunkSize;
                Ok(false)
            }
            Framing::Length(n) if n > max_body as u64 => Err(ParseError::BodyTooLarge),
            Framing::Length(n) => {
                self.state = State::FixedBody { end: self.pos + n as usize };
                Ok(false)
            }
            Framing::Empty => Ok(true),
            // Refused above: a request's last coding must be chunked.
            Framing::UntilClose => Err(ParseError::BadTransferEncoding),
        }
    }
    // ANCHOR_END: head_end

    // ANCHOR: chunk_size
    /// `1a` or `1a;name=value` (extensions are accepted and ignored). Size 0 ends the body.
    fn on_chunk_size(&mut self, line: &[u8]) -> Result<bool, ParseError> {
        let chunk = grammar::parse_chunk_line(line).map_err(|err| match err {
            ChunkLineError::Malformed => ParseError::BadChunk,
            ChunkLineError::Control(b) => control_error(b).unwrap_or(ParseError::BadChunk),
        })?;
        let size = usize::try_from(chunk.size).map_err(|_| ParseError::BadChunk)?;
        // Leading zeros and extensions carry nothing we use, yet the connection buffers them
        // with the body until the request is complete: without a bound, 1 KiB of them per
        // one-byte chunk would hold a GiB for a 1 MiB body. They count against the header
        // limit, as trailer lines do.
        let significant = chunk.digits.iter().skip_while(|&&b| b == b'0').count().max(1);
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
            Version::Http11 => !head.connection.close,
            Version::Http10 => head.connection.keep_alive && !head.connection.close,
        };
        let request = Request::from_parts(
            head_bytes,
            body,
            RequestParts {
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
    if space == 0 || space > MAX_METHOD_LEN || !prefix[..space].iter().all(|&b| grammar::is_tchar(b)) {
        return ParseError::BadRequestLine;
    }
    let rest = &prefix[space + 1..];
    let target_len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    if target_len > max_target_len { ParseError::TargetTooLong } else { ParseError::BadRequestLine }
}

/// The error a byte before the first space of a request line (that is, in its method) that
/// is not a token character makes, exactly as `on_request_line` reports it for a whole line.
fn method_error(line: &[u8]) -> Option<ParseError> {
    let end = line.iter().position(|&b| b == b' ' || !grammar::is_tchar(b))?;
    (line[end] != b' ').then(|| control_error(line[end]).unwrap_or(ParseError::BadRequestLine))
}

/// `HTTP/1.1` or `HTTP/1.0`. A higher minor version of HTTP/1 (`HTTP/1.2`) is read as
/// HTTP/1.1, as RFC 9110 section 2.5 asks: a minor version promises to be understood by a
/// recipient of a lower one. `HTTP/d.d` otherwise (2.0, 0.9) is 505, anything else 400.
fn parse_version(version: &[u8]) -> Result<Version, ParseError> {
    match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1'] => Ok(Version::Http11),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0'] => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => Ok(Version::Http11),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(ParseError::UnsupportedVersion)
        }
        _ => Err(version.iter().find_map(|&b| control_error(b)).unwrap_or(ParseError::BadVersion)),
    }
}

/// The specific error for the two control bytes the rules name.
fn control_error(b: u8) -> Option<ParseError> {
    match b {
        0 => Some(ParseError::Nul),
        b'\r' => Some(ParseError::BareCr),
        _ => None,
    }
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

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
pub(crate) mod tests;
