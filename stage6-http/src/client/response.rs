//! The response parser: where each response on a keep-alive connection ends.
//!
//! The grammar (field lines, chunk-size lines, numbers, the framing rule) is
//! [`crate::grammar`], the same as the server's request parser. The policy is a client's: it
//! takes what a server may send that a request may not (a body that runs until the close,
//! transfer codings other than chunked, a reason phrase in any bytes), and it accepts bare LF
//! line ends, which the server refuses in requests: a client gains nothing by rejecting a
//! sloppy server's answer, while a server that is lenient with requests invites smuggling.

use crate::client::error::ResponseError;
use crate::grammar::{self, ConnectionOptions, Framing, MAX_CHUNK_LINE, find_byte};

/// Default cap on a response's head, in bytes (a server sending more is broken or hostile).
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;
/// Default cap on a response's body, in bytes.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

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
pub enum ResponseEvent<'b> {
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
    /// Waiting for a whole chunk-size line (`1a;ext=x`).
    Size,
    /// Inside a chunk's data.
    Data { remaining: u64 },
    /// After a chunk's data: its CRLF (or a bare LF).
    DataEnd,
    /// After the last chunk: a trailer line, or the empty line that ends the body.
    Trailer,
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

    /// The limits this parser enforces.
    pub fn limits(&self) -> &ResponseLimits {
        &self.limits
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
    ) -> Result<ResponseEvent<'b>, ResponseError> {
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
                        return Ok(ResponseEvent::NeedMore { consumed });
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
                        Framing::Chunked => State::Chunk(ChunkState::Size),
                        Framing::UntilClose => State::UntilClose,
                    };
                    head.reason = (head.reason.0 + consumed, head.reason.1 + consumed);
                    return Ok(ResponseEvent::Head { head, consumed: consumed + len });
                }
                State::Length { remaining } => {
                    if rest.is_empty() {
                        return Ok(ResponseEvent::NeedMore { consumed });
                    }
                    let n = remaining.min(rest.len() as u64) as usize;
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::Done } else { State::Length { remaining: left } };
                    return Ok(ResponseEvent::Body { data: &rest[..n], consumed: consumed + n });
                }
                State::UntilClose => {
                    if rest.is_empty() {
                        return Ok(ResponseEvent::NeedMore { consumed });
                    }
                    self.count_body(rest.len())?;
                    return Ok(ResponseEvent::Body { data: rest, consumed: consumed + rest.len() });
                }
                State::Chunk(ChunkState::Data { remaining }) => {
                    if rest.is_empty() {
                        return Ok(ResponseEvent::NeedMore { consumed });
                    }
                    let n = remaining.min(rest.len() as u64) as usize;
                    let left = remaining - n as u64;
                    self.state = State::Chunk(if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data { remaining: left }
                    });
                    return Ok(ResponseEvent::Body { data: &rest[..n], consumed: consumed + n });
                }
                State::Chunk(ChunkState::DataEnd) => {
                    consumed += match rest {
                        [b'\r', b'\n', ..] => 2,
                        [b'\n', ..] => 1,
                        [] | [b'\r'] => return Ok(ResponseEvent::NeedMore { consumed }),
                        _ => return Err(ResponseError::Chunk),
                    };
                    self.state = State::Chunk(ChunkState::Size);
                }
                State::Chunk(ChunkState::Size) => {
                    let Some((line, len)) = take_line(rest, MAX_CHUNK_LINE)? else {
                        return Ok(ResponseEvent::NeedMore { consumed });
                    };
                    consumed += len;
                    let chunk = grammar::parse_chunk_line(line).map_err(|_| ResponseError::Chunk)?;
                    self.state = self.end_size_line(chunk.size)?;
                }
                State::Chunk(ChunkState::Trailer) => {
                    let Some((line, len)) = take_line(rest, self.limits.max_head)? else {
                        return Ok(ResponseEvent::NeedMore { consumed });
                    };
                    consumed += len;
                    if line.is_empty() {
                        self.state = State::Done;
                    } else {
                        // Checked like a header, then dropped: nothing here needs trailers.
                        grammar::split_field_line(line).map_err(|_| ResponseError::Chunk)?;
                    }
                }
                State::Done => return Ok(ResponseEvent::Done { consumed }),
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

    // ANCHOR: chunk_size
    /// After a chunk-size line: the chunk's data, or (size 0) the trailer section.
    fn end_size_line(&mut self, size: u64) -> Result<State, ResponseError> {
        if size == 0 {
            return Ok(State::Chunk(ChunkState::Trailer));
        }
        self.count_body(usize::try_from(size).unwrap_or(usize::MAX))?;
        Ok(State::Chunk(ChunkState::Data { remaining: size }))
    }
    // ANCHOR_END: chunk_size
}

/// The first line of `rest` (without its LF, and without a CR before it) and the bytes it
/// takes, LF included; `None` while its LF has not arrived. A line longer than `max` is an
/// error before it ends: the connection would otherwise buffer it whole.
fn take_line(rest: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, ResponseError> {
    let Some(end) = find_byte(rest, b'\n') else {
        return if rest.len() > max { Err(ResponseError::Chunk) } else { Ok(None) };
    };
    let line = &rest[..end];
    Ok(Some((line.strip_suffix(b"\r").unwrap_or(line), end + 1)))
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
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            minor @ (b'0' | b'1'),
            b' ',
            a @ b'1'..=b'9',
            b,
            c,
            tail @ ..,
        ] if tail.first().is_none_or(|&b| b == b' ') => {
            let status = grammar::parse_decimal(&[*a, *b, *c]).ok_or(ResponseError::StatusLine)?;
            (minor - b'0', status as u16)
        }
        _ => return Err(ResponseError::StatusLine),
    };
    if status == 101 {
        return Err(ResponseError::Upgrade);
    }
    let reason_start = status_line.len().min(13);
    let reason = &status_line[reason_start..];
    // Lenient: a reason phrase may hold any byte but controls (obs-text too); nobody reads it.
    if reason.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(ResponseError::StatusLine);
    }

    let mut content_length: Option<u64> = None;
    // `None` without Transfer-Encoding, else whether the last coding is chunked.
    let mut transfer_encoding: Option<bool> = None;
    let mut connection = ConnectionOptions::default();
    loop {
        let (line, tail) = split_line(rest).ok_or(ResponseError::HeaderLine)?;
        rest = tail;
        if line.is_empty() {
            break;
        }
        let field = grammar::split_field_line(line).map_err(|_| ResponseError::HeaderLine)?;
        let (name, value) = (&line[..field.name_end], &line[field.value.0..field.value.1]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n =
                grammar::content_length(value, content_length).map_err(|_| ResponseError::ContentLength)?;
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Lenient where the server is strict: any coding may come before the last one,
            // and a last coding other than chunked means the body runs until the close.
            for coding in grammar::transfer_codings(value) {
                transfer_encoding = Some(grammar::is_chunked(coding));
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection.add(value);
        }
        if status >= 200 {
            on_header(name, value); // an interim head's headers are not the response's
        }
    }

    // HTTP/1.0 closes unless it said keep-alive; either version closes on `close`.
    let mut close = connection.close || (minor_version == 0 && !connection.keep_alive);
    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::Empty
    } else {
        grammar::body_framing(transfer_encoding, content_length, true)
    };
    if framing == Framing::UntilClose {
        close = true;
    }
    let reason_end = reason_start + reason.len();
    Ok(Head { minor_version, status, framing, close, reason: (reason_start.min(reason_end), reason_end) })
}
// ANCHOR_END: framing

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
                    ResponseEvent::Head { head, consumed } => {
                        out.status = head.status;
                        out.close = head.close;
                        out.reason = buf[head.reason.0..head.reason.1].to_vec();
                        out.headers = headers;
                        consumed
                    }
                    ResponseEvent::Body { data, consumed } => {
                        out.body.extend_from_slice(data);
                        consumed
                    }
                    ResponseEvent::Done { consumed } => {
                        out.used += consumed;
                        return Ok(out);
                    }
                    ResponseEvent::NeedMore { consumed } => {
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
}
