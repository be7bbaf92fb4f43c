//! The client side of framing, for the load generator: where does the response at the front
//! of a buffer end? A keep-alive client cannot read "until EOF"; it must find the end of each
//! response from its head (Content-Length, chunked, or no body for HEAD/1xx/204/304), exactly
//! as the server finds the end of each request.
//!
//! Nothing is copied or decoded: the load generator only counts responses and their statuses.

use crate::parser::find_byte;
use std::fmt;

/// A response that cannot be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// The status line is not `HTTP/1.x NNN ...`.
    BadStatusLine,
    /// A Content-Length that is not a number, or a malformed chunk.
    BadLength,
    /// No Content-Length and not chunked: the body would end at EOF, which a keep-alive
    /// client cannot use.
    UntilClose,
    /// The head is longer than 64 KiB without ending.
    HeadTooLong,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramingError::BadStatusLine => "malformed status line",
            FramingError::BadLength => "malformed body length",
            FramingError::UntilClose => "response delimited by closing the connection",
            FramingError::HeadTooLong => "response head too long",
        })
    }
}

impl std::error::Error for FramingError {}

/// A complete response found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed {
    /// The status code.
    pub status: u16,
    /// Bytes the whole response (head and body) occupies.
    pub len: usize,
}

// ANCHOR: framing
/// The first complete response in `buf`, `Ok(None)` if more bytes are needed.
/// `head_request`: the request was HEAD, so no body follows whatever the headers say.
pub fn frame_response(buf: &[u8], head_request: bool) -> Result<Option<Framed>, FramingError> {
    let Some(head_len) = head_end(buf) else {
        return if buf.len() > 64 * 1024 { Err(FramingError::HeadTooLong) } else { Ok(None) };
    };
    let head = &buf[..head_len];
    let status = match head {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', a, b, c, ..]
            if [a, b, c].iter().all(|d| d.is_ascii_digit()) =>
        {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(FramingError::BadStatusLine),
    };
    if head_request || status < 200 || status == 204 || status == 304 {
        return Ok(Some(Framed { status, len: head_len }));
    }
    let mut content_length = None;
    let mut chunked = false;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let text = std::str::from_utf8(value).map_err(|_| FramingError::BadLength)?;
            content_length = Some(text.parse::<usize>().map_err(|_| FramingError::BadLength)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value.eq_ignore_ascii_case(b"chunked");
        }
    }
    let body = &buf[head_len..];
    let body_len = if chunked {
        match chunked_len(body)? {
            Some(n) => n,
            None => return Ok(None),
        }
    } else {
        let n = content_length.ok_or(FramingError::UntilClose)?;
        if body.len() < n {
            return Ok(None);
        }
        n
    };
    Ok(Some(Framed { status, len: head_len + body_len }))
}
// ANCHOR_END: framing

/// Length of the head including the empty line, once it is all there.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = find_byte(&buf[from..], b'\n') {
        let at = from + i;
        if buf[..at].ends_with(b"\r\n\r") {
            return Some(at + 1);
        }
        from = at + 1;
    }
    None
}

/// Length of a complete chunked body (through the last chunk and trailers), if complete.
fn chunked_len(body: &[u8]) -> Result<Option<usize>, FramingError> {
    let mut at = 0;
    loop {
        let Some(i) = find_byte(&body[at..], b'\n') else { return Ok(None) };
        let line = &body[at..at + i];
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let text = std::str::from_utf8(&line[..digits]).map_err(|_| FramingError::BadLength)?;
        let size = usize::from_str_radix(text, 16).map_err(|_| FramingError::BadLength)?;
        at += i + 1;
        if size == 0 {
            // Trailer lines, then the empty line.
            loop {
                let Some(j) = find_byte(&body[at..], b'\n') else { return Ok(None) };
                let empty = j == 1 && body[at] == b'\r';
                at += j + 1;
                if empty {
                    return Ok(Some(at));
                }
            }
        }
        let end = at.checked_add(size).and_then(|n| n.checked_add(2)).ok_or(FramingError::BadLength)?;
        if body.len() < end {
            return Ok(None);
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Version;
    use crate::response::{Response, WriteContext};

    fn render(response: Response, head_request: bool) -> Vec<u8> {
        let ctx = WriteContext {
            version: Version::Http11,
            head_request,
            keep_alive: true,
            date: b"Sun, 06 Nov 1994 08:49:37 GMT",
        };
        let mut out = Vec::new();
        response.write_all_to(&mut out, &ctx).unwrap();
        out
    }

    #[test]
    fn frames_what_our_server_writes_whole_and_in_every_prefix() {
        let pieces: Vec<std::io::Result<Vec<u8>>> = vec![Ok(b"ab".to_vec()), Ok(b"cde".to_vec())];
        let cases = [
            (render(Response::text("Hello, World!"), false), 200),
            (render(Response::error(404), false), 404),
            (render(Response::new(204), false), 204),
            (render(Response::text("Hello"), true), 200),
            (render(Response::new(200).stream(Box::new(pieces.into_iter())), false), 200),
        ];
        for (i, (bytes, status)) in cases.iter().enumerate() {
            let head_request = i == 3;
            let mut stream = bytes.clone();
            stream.extend_from_slice(b"HTTP/1.1 200 OK\r\n"); // the next response's start
            let framed = frame_response(&stream, head_request).unwrap().unwrap();
            assert_eq!(framed, Framed { status: *status, len: bytes.len() }, "case {i}");
            for cut in 0..bytes.len() {
                assert_eq!(frame_response(&bytes[..cut], head_request), Ok(None), "case {i} cut {cut}");
            }
        }
    }

    #[test]
    fn chunked_with_trailers() {
        let body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\nrest";
        let framed = frame_response(body, false).unwrap().unwrap();
        assert_eq!(&body[framed.len..], b"rest");
    }

    #[test]
    fn unusable_responses_are_errors() {
        assert_eq!(frame_response(b"HTTP/1.1 200 OK\r\n\r\n", false), Err(FramingError::UntilClose));
        assert_eq!(frame_response(b"HTTP/1.1 2x0 OK\r\n\r\n", false), Err(FramingError::BadStatusLine));
        assert_eq!(frame_response(b"SSH-2.0\r\n\r\n", false), Err(FramingError::BadStatusLine));
        assert_eq!(
            frame_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false),
            Err(FramingError::BadLength)
        );
        assert_eq!(frame_response(&[b'a'; 70_000], false), Err(FramingError::HeadTooLong));
    }
}
