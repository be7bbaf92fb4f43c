//! Responses: a small builder and the code that turns one into bytes.
//!
//! Serialization appends to a `Vec<u8>` owned by the connection, so when a client pipelines
//! sixteen requests the sixteen responses end up in one buffer and go out in one `write`.
//! Framing headers (`Content-Length` or `Transfer-Encoding: chunked`, `Connection`, `Date`) are
//! the serializer's job, never the handler's: a handler cannot get them wrong.
//!
//! A body is [`Body::Full`] (bytes known up front, sent with Content-Length) or
//! [`Body::Stream`] (an iterator producing pieces; sent chunked to HTTP/1.1 clients and
//! delimited by closing the connection for HTTP/1.0 clients, who do not know chunked). The
//! connection loop pulls a streaming body one piece at a time with [`Streaming::write_next`],
//! so a large file never has to sit in memory whole.

use crate::date::DATE_LEN;
use crate::message::Version;
use crate::parser::error::ParseError;
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A body produced piece by piece; each item is the next piece (an empty piece is skipped).
/// An `Err` aborts the response: the connection is closed without the final chunk, so the
/// client can tell the body is incomplete.
pub type ChunkStream = Box<dyn Iterator<Item = io::Result<Vec<u8>>>>;

/// A response body.
pub enum Body {
    /// No body (Content-Length: 0).
    Empty,
    /// The whole body, sent with Content-Length. `Cow` so static bodies cost no copy.
    Full(Cow<'static, [u8]>),
    /// A body produced piece by piece, length unknown: chunked (HTTP/1.1) or until close.
    Stream(ChunkStream),
    /// A body produced piece by piece whose length is known (a file): sent with
    /// Content-Length. The pieces must add up to exactly `len` bytes.
    SizedStream {
        /// Total length.
        len: u64,
        /// The pieces.
        pieces: ChunkStream,
    },
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Full(bytes) => write!(f, "Full({} bytes)", bytes.len()),
            Body::Stream(_) => f.write_str("Stream"),
            Body::SizedStream { len, .. } => write!(f, "SizedStream({len} bytes)"),
        }
    }
}

/// The standard reason phrase for `status` (`""` for codes without one).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// The statuses a handler may answer with (see [`Response::new`]).
const FINAL_STATUSES: std::ops::RangeInclusive<u16> = 200..=999;

/// Headers the serializer writes itself; a handler setting one would break framing.
const MANAGED_HEADERS: [&str; 4] = ["content-length", "transfer-encoding", "connection", "date"];

/// A response under construction.
#[derive(Debug)]
pub struct Response {
    status: u16,
    content_type: Option<Cow<'static, str>>,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    body: Body,
    close: bool,
    /// A header with CR/LF (header injection) or a managed name was added: the response is
    /// replaced by a 500 when written, loudly, instead of sending something malformed.
    invalid: bool,
}

impl Response {
    /// An empty response with `status`. A status outside 200..=999 makes it a 500: below 100
    /// is not a status, and a 1xx is never a final answer (a client would read it as an
    /// interim response and take the *next* answer on the connection as this request's,
    /// leaving every later answer one off). `100 Continue` is the server's to send.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Body::Empty,
            close: false,
            invalid: !FINAL_STATUSES.contains(&status),
        }
    }

    /// 200 with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        Response::new(200).content_type("text/plain; charset=utf-8").body(body)
    }

    /// 200 with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<Cow<'static, str>>) -> Response {
        Response::text(body).content_type("text/html; charset=utf-8")
    }

    /// 200 with an `application/json` body (see [`crate::json`] to build it).
    pub fn json(body: String) -> Response {
        Response::new(200).content_type("application/json").body(body.into_bytes())
    }

    /// A plain-text error page: `404 Not Found\n`.
    pub fn error(status: u16) -> Response {
        let text = format!("{status} {}\n", reason(status));
        Response::text(text).status(status)
    }

    /// The answer to a request the parser rejected; the connection closes after it because
    /// the rest of the stream cannot be trusted to start at a request boundary.
    pub fn for_parse_error(err: ParseError) -> Response {
        Response::error(err.status()).close()
    }

    /// Sets the status code.
    pub fn status(mut self, status: u16) -> Response {
        self.status = status;
        self.invalid |= !FINAL_STATUSES.contains(&status);
        self
    }

    /// Sets `Content-Type`.
    pub fn content_type(mut self, value: impl Into<Cow<'static, str>>) -> Response {
        let value = value.into();
        self.invalid |= !valid_header_value(&value);
        self.content_type = Some(value);
        self
    }

    /// Adds a header. A name that is not a token, a value with control characters (CR/LF
    /// would let a client-controlled value inject headers), or one of the framing headers the
    /// serializer owns (`Content-Length`, `Transfer-Encoding`, `Connection`, `Date`) turns
    /// the whole response into a 500 when written.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        let (name, value) = (name.into(), value.into());
        let managed = MANAGED_HEADERS.iter().any(|m| m.eq_ignore_ascii_case(&name));
        if managed || !valid_header_name(&name) || !valid_header_value(&value) {
            self.invalid = true;
        } else if name.eq_ignore_ascii_case("content-type") {
            self.content_type = Some(value);
        } else {
            self.headers.push((name, value));
        }
        self
    }

    /// Sets a body known up front.
    pub fn body(mut self, body: impl Into<Cow<'static, [u8]>>) -> Response {
        self.body = Body::Full(body.into());
        self
    }

    /// Sets a body produced piece by piece (sent chunked).
    pub fn stream(mut self, pieces: ChunkStream) -> Response {
        self.body = Body::Stream(pieces);
        self
    }

    /// Sets a body of known length produced piece by piece (sent with Content-Length).
    pub fn stream_sized(mut self, len: u64, pieces: ChunkStream) -> Response {
        self.body = Body::SizedStream { len, pieces };
        self
    }

    /// Closes the connection after this response.
    pub fn close(mut self) -> Response {
        self.close = true;
        self
    }

    /// The status code (500 if the response was made invalid).
    pub fn status_code(&self) -> u16 {
        if self.invalid { 500 } else { self.status }
    }

    /// The first header called `name` set by the handler (case-insensitive), including
    /// `Content-Type`.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type.as_deref();
        }
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &**v)
    }

    /// The body.
    pub fn body_ref(&self) -> &Body {
        &self.body
    }

    // ANCHOR: write_to
    /// Appends the status line, headers and (for a full body) the body to `out`. A streaming
    /// body is returned as [`Written::Streaming`] for the caller to pump.
    pub fn write_to(self, out: &mut Vec<u8>, ctx: &WriteContext<'_>) -> Written {
        if self.invalid {
            return Response::error(500).write_to(out, ctx);
        }
        // 204 and 304 never have a body, nor (except 304) a Content-Length. (1xx statuses,
        // bodiless too, were made invalid above.)
        let bodiless = self.status == 204 || self.status == 304;
        let mut close = self.close || !ctx.keep_alive;
        let unsized_stream = matches!(self.body, Body::Stream(_)) && !bodiless;
        // HTTP/1.0 has no chunked coding: a streamed body ends when the connection does.
        let chunked = unsized_stream && ctx.version == Version::Http11;
        close |= unsized_stream && !chunked;

        write_status_line(out, self.status);
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(ctx.date);
        out.extend_from_slice(b"\r\n");
        if let Some(content_type) = &self.content_type {
            push_header(out, "Content-Type", content_type);
        }
        for (name, value) in &self.headers {
            push_header(out, name, value);
        }
        let (full, length): (&[u8], u64) = match &self.body {
            Body::Full(bytes) => (bytes, bytes.len() as u64),
            Body::SizedStream { len, .. } => (b"", *len),
            _ => (b"", 0),
        };
        if chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        } else if !bodiless && !unsized_stream {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, length);
            out.extend_from_slice(b"\r\n");
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if ctx.version == Version::Http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");

        if ctx.head_request || bodiless {
            return Written::Done { close };
        }
        match self.body {
            Body::Stream(pieces) => Written::Streaming(Streaming { pieces, chunked, remaining: None, close }),
            Body::SizedStream { len, pieces } => {
                Written::Streaming(Streaming { pieces, chunked: false, remaining: Some(len), close })
            }
            _ => {
                out.extend_from_slice(full);
                Written::Done { close }
            }
        }
    }
    // ANCHOR_END: write_to

    /// Writes the whole response, pumping a streaming body to its end (for small streams and
    /// tests; the server pumps piece by piece). Returns whether to close the connection.
    pub fn write_all_to(self, out: &mut Vec<u8>, ctx: &WriteContext<'_>) -> io::Result<bool> {
        match self.write_to(out, ctx) {
            Written::Done { close } => Ok(close),
            Written::Streaming(mut streaming) => {
                while streaming.write_next(out)? {}
                Ok(streaming.close_after())
            }
        }
    }
}

/// What the serializer needs to know about the request being answered.
#[derive(Clone, Copy, Debug)]
pub struct WriteContext<'a> {
    /// The request's version (decides chunked vs close-delimited, and keep-alive spelling).
    pub version: Version,
    /// A HEAD request: headers as for GET, no body.
    pub head_request: bool,
    /// Whether the request allows keeping the connection open.
    pub keep_alive: bool,
    /// The `Date` value, from a [`crate::date::DateCache`].
    pub date: &'a [u8; DATE_LEN],
}

/// The result of [`Response::write_to`].
#[must_use]
#[derive(Debug)]
pub enum Written {
    /// Everything is in the buffer. `close`: close the connection after writing it.
    Done {
        /// Close after this response.
        close: bool,
    },
    /// The head is in the buffer; the body follows piece by piece.
    Streaming(Streaming),
}

// ANCHOR: streaming
/// A streaming body being sent.
pub struct Streaming {
    pieces: ChunkStream,
    chunked: bool,
    /// Bytes still owed for a sized stream (Content-Length was promised).
    remaining: Option<u64>,
    close: bool,
}

impl fmt::Debug for Streaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming").field("chunked", &self.chunked).field("close", &self.close).finish()
    }
}

impl Streaming {
    /// Appends the next piece to `out`, framed as a chunk (`size-in-hex CRLF data CRLF`) for
    /// HTTP/1.1. Returns `Ok(false)` after appending the last-chunk (`0 CRLF CRLF`): the body
    /// is finished. An `Err` from the producer is returned as is; the caller must close the
    /// connection without finishing the body.
    pub fn write_next(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        loop {
            // The producer is the handler's code running inside the connection loop, outside
            // the catch around the handler's future: a panic here is turned into the same
            // error a failing producer returns (the body is cut short, the connection closes).
            let next = catch_unwind(AssertUnwindSafe(|| self.pieces.next()))
                .unwrap_or_else(|_| Some(Err(io::Error::other("the body's producer panicked"))));
            match next {
                // An empty chunk would be read as the end of the body: skip it.
                Some(Ok(piece)) if piece.is_empty() => continue,
                Some(Ok(piece)) => {
                    if let Some(remaining) = &mut self.remaining {
                        // More than promised would be read as the start of another response.
                        *remaining = remaining
                            .checked_sub(piece.len() as u64)
                            .ok_or_else(|| io::Error::other("body longer than its Content-Length"))?;
                    }
                    if self.chunked {
                        push_hex(out, piece.len() as u64);
                        out.extend_from_slice(b"\r\n");
                        out.extend_from_slice(&piece);
                        out.extend_from_slice(b"\r\n");
                    } else {
                        out.extend_from_slice(&piece);
                    }
                    return Ok(true);
                }
                Some(Err(err)) => return Err(err),
                None => {
                    if matches!(self.remaining, Some(n) if n > 0) {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "body shorter than its Content-Length",
                        ));
                    }
                    if self.chunked {
                        out.extend_from_slice(b"0\r\n\r\n");
                    }
                    return Ok(false);
                }
            }
        }
    }

    /// Whether the connection must close once the body is sent (HTTP/1.0 streaming, or asked).
    pub fn close_after(&self) -> bool {
        self.close
    }
}
// ANCHOR_END: streaming

/// The interim `100 Continue` sent before reading a body the client is holding back.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

fn write_status_line(out: &mut Vec<u8>, status: u16) {
    if status == 200 {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Decimal digits without going through `fmt` (this runs for every response).
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_hex(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n % 16) as usize];
        n /= 16;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_header_value(value: &str) -> bool {
    value.bytes().all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8; DATE_LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn ctx(version: Version, head_request: bool, keep_alive: bool) -> WriteContext<'static> {
        WriteContext { version, head_request, keep_alive, date: DATE }
    }

    fn render(response: Response, ctx: &WriteContext<'_>) -> (String, bool) {
        let mut out = Vec::new();
        let close = response.write_all_to(&mut out, ctx).unwrap();
        (String::from_utf8(out).unwrap(), close)
    }

    fn pieces(items: Vec<io::Result<Vec<u8>>>) -> ChunkStream {
        Box::new(items.into_iter())
    }

    #[test]
    fn hello_world_exact_bytes() {
        let (text, close) = render(Response::text("Hello, World!"), &ctx(Version::Http11, false, true));
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nHello, World!"
        );
        assert!(!close);
    }

    #[test]
    fn head_gets_content_length_but_no_body() {
        let (text, _) = render(Response::text("Hello"), &ctx(Version::Http11, true, true));
        assert!(text.ends_with("Content-Length: 5\r\n\r\n"), "{text}");
    }

    #[test]
    fn closing_adds_connection_close() {
        let (text, close) = render(Response::text("x"), &ctx(Version::Http11, false, false));
        assert!(close);
        assert!(text.contains("\r\nConnection: close\r\n"));
        let (text, close) = render(Response::text("x").close(), &ctx(Version::Http11, false, true));
        assert!(close && text.contains("\r\nConnection: close\r\n"));
    }

    #[test]
    fn http10_keep_alive_is_spelled_out() {
        let (text, close) = render(Response::text("x"), &ctx(Version::Http10, false, true));
        assert!(!close);
        assert!(text.contains("\r\nConnection: keep-alive\r\n"));
    }

    #[test]
    fn status_lines_and_reasons() {
        let (text, _) = render(Response::error(404), &ctx(Version::Http11, false, true));
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.ends_with("\r\n\r\n404 Not Found\n"));
        let (text, _) = render(Response::new(299), &ctx(Version::Http11, false, true));
        assert!(text.starts_with("HTTP/1.1 299 \r\n"));
        assert_eq!(reason(431), "Request Header Fields Too Large");
    }

    #[test]
    fn no_content_has_no_length_and_no_body() {
        let (text, _) = render(Response::new(204).body(&b"ignored"[..]), &ctx(Version::Http11, false, true));
        assert_eq!(text, "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");
    }

    #[test]
    fn custom_headers_in_order() {
        let response = Response::json(r#"{"a":1}"#.to_string())
            .header("X-One", "1")
            .header("Cache-Control", String::from("no-store"));
        assert_eq!(response.header_value("x-one"), Some("1"));
        assert_eq!(response.header_value("CONTENT-TYPE"), Some("application/json"));
        let (text, _) = render(response, &ctx(Version::Http11, false, true));
        assert!(text.contains(
            "Content-Type: application/json\r\nX-One: 1\r\nCache-Control: no-store\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        ), "{text}");
    }

    #[test]
    fn header_injection_becomes_500() {
        for response in [
            Response::text("x").header("X-Evil", "a\r\nSet-Cookie: b"),
            Response::text("x").header("Bad Name", "v"),
            Response::text("x").header("Content-Length", "1"),
            Response::text("x").content_type("text/plain\n"),
            Response::new(42),
        ] {
            assert_eq!(response.status_code(), 500);
            let (text, _) = render(response, &ctx(Version::Http11, false, true));
            assert!(text.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{text}");
            assert!(!text.contains("Evil") && !text.contains("Set-Cookie"));
        }
    }

    #[test]
    fn streaming_is_chunked_for_http11() {
        let response = Response::new(200).stream(pieces(vec![
            Ok(b"hello".to_vec()),
            Ok(Vec::new()),
            Ok(vec![b'x'; 26]),
        ]));
        let (text, close) = render(response, &ctx(Version::Http11, false, true));
        assert!(!close);
        assert!(text.contains("\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a\r\nxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n0\r\n\r\n"), "{text}");
        assert!(!text.contains("Content-Length"));
    }

    #[test]
    fn streaming_to_http10_is_close_delimited() {
        let response = Response::new(200).stream(pieces(vec![Ok(b"ab".to_vec()), Ok(b"cd".to_vec())]));
        let (text, close) = render(response, &ctx(Version::Http10, false, true));
        assert!(close);
        assert!(text.ends_with("Connection: close\r\n\r\nabcd"), "{text}");
    }

    #[test]
    fn streaming_head_sends_no_body() {
        let response = Response::new(200).stream(pieces(vec![Ok(b"ab".to_vec())]));
        let (text, _) = render(response, &ctx(Version::Http11, true, true));
        assert!(text.ends_with("Transfer-Encoding: chunked\r\n\r\n"), "{text}");
    }

    #[test]
    fn streaming_error_stops_before_last_chunk() {
        let response = Response::new(200)
            .stream(pieces(vec![Ok(b"ab".to_vec()), Err(io::Error::other("disk on fire"))]));
        let mut out = Vec::new();
        let Written::Streaming(mut s) = response.write_to(&mut out, &ctx(Version::Http11, false, true))
        else {
            panic!("expected streaming");
        };
        assert!(s.write_next(&mut out).unwrap());
        assert!(s.write_next(&mut out).is_err());
        assert!(out.ends_with(b"2\r\nab\r\n"));
    }

    #[test]
    fn sized_streams_use_content_length_and_keep_their_promise() {
        let response =
            Response::new(200).stream_sized(4, pieces(vec![Ok(b"ab".to_vec()), Ok(b"cd".to_vec())]));
        let (text, close) = render(response, &ctx(Version::Http10, false, true));
        assert!(!close);
        assert!(text.ends_with("Content-Length: 4\r\nConnection: keep-alive\r\n\r\nabcd"), "{text}");
        let (text, _) = render(
            Response::new(200).stream_sized(4, pieces(vec![Ok(b"ab".to_vec())])),
            &ctx(Version::Http11, true, true),
        );
        assert!(text.ends_with("Content-Length: 4\r\n\r\n"), "HEAD: {text}");
        for wrong in [vec![Ok(b"ab".to_vec())], vec![Ok(b"abc".to_vec()), Ok(b"de".to_vec())]] {
            let mut out = Vec::new();
            let response = Response::new(200).stream_sized(4, pieces(wrong));
            assert!(response.write_all_to(&mut out, &ctx(Version::Http11, false, true)).is_err());
        }
    }

    #[test]
    fn pipelined_responses_share_one_buffer() {
        let mut out = Vec::new();
        for body in ["a", "bb"] {
            let _ = Response::text(body).write_to(&mut out, &ctx(Version::Http11, false, true));
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2);
        assert!(text.ends_with("Content-Length: 2\r\n\r\nbb"));
    }

    #[test]
    fn parse_errors_map_to_closing_responses() {
        let response = Response::for_parse_error(ParseError::TargetTooLong);
        let (text, close) = render(response, &ctx(Version::Http11, false, true));
        assert!(close);
        assert!(text.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
    }

    #[test]
    fn decimal_and_hex() {
        let mut out = Vec::new();
        push_decimal(&mut out, 0);
        out.push(b' ');
        push_decimal(&mut out, u64::MAX);
        out.push(b' ');
        push_hex(&mut out, 0);
        out.push(b' ');
        push_hex(&mut out, 0xdead_beef);
        assert_eq!(out, b"0 18446744073709551615 0 deadbeef");
    }
}
