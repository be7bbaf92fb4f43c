//! Response parsing: whole, split across many reads, and every kind of bad input.

use std::io::{self, Read};

use stage1_blocking::http::{self, ParseError, Response, parse_response, request_bytes};
use stage1_blocking::workshop::server_http::{
    self, HeadRead, MAX_HEAD, parse_request_head, read_request_head,
};
use stage1_blocking::workshop::testkit;

const GOOD: &[u8] =
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Empty:\r\n\r\nhello";

#[test]
fn request_bytes_is_a_complete_http10_get() {
    assert_eq!(
        request_bytes("127.0.0.1:8000", "/3"),
        b"GET /3 HTTP/1.0\r\nHost: 127.0.0.1:8000\r\n\r\n".to_vec()
    );
}

#[test]
fn parses_status_headers_and_body() {
    let r = parse_response(GOOD).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.reason, "OK");
    assert_eq!(r.body, b"hello");
    assert_eq!(r.headers.len(), 3);
    assert_eq!(r.headers[0], ("Content-Type".to_string(), "text/plain".to_string()));
    // Header names compare case-insensitively; values come trimmed.
    assert_eq!(r.header("content-length"), Some("5"));
    assert_eq!(r.header("CONTENT-TYPE"), Some("text/plain"));
    assert_eq!(r.header("x-empty"), Some(""));
    assert_eq!(r.header("missing"), None);
}

#[test]
fn reason_phrase_may_have_spaces_or_be_empty() {
    let r = parse_response(b"HTTP/1.1 404 Not Found Here\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!((r.status, r.reason.as_str()), (404, "Not Found Here"));
    let r = parse_response(b"HTTP/1.0 204 \r\n\r\n").unwrap();
    assert_eq!((r.status, r.reason.as_str()), (204, ""));
    let r = parse_response(b"HTTP/1.0 204\r\n\r\n").unwrap();
    assert_eq!((r.status, r.reason.as_str()), (204, ""));
}

#[test]
fn without_content_length_the_body_is_everything_until_eof() {
    let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nall of\r\n\r\nthis").unwrap();
    assert_eq!(r.body, b"all of\r\n\r\nthis");
    assert!(r.headers.is_empty());
}

/// A reader that hands out 1, 2 or 3 bytes per call (and now and then fails with EINTR, which
/// a correct reader retries): what a slow network does to a response.
struct Choppy<'a> {
    data: &'a [u8],
    calls: usize,
}

impl Read for Choppy<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 7 == 0 {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        let n = (self.calls % 3 + 1).min(self.data.len()).min(buf.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn a_response_split_across_many_tiny_reads_parses_the_same() {
    let body = testkit::payload(1, 3000);
    let mut bytes = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    let mut reader = Choppy { data: &bytes, calls: 0 };
    let r: Response = http::read_response(&mut reader).unwrap();
    assert_eq!(r.body, body);
    assert!(reader.calls > 1000, "the reader really was called many times");
    assert_eq!(r, parse_response(&bytes).unwrap());
}

#[test]
fn request_head_split_across_tiny_reads() {
    let request = b"GET /7 HTTP/1.0\r\nHost: x\r\n\r\n";
    let mut reader = Choppy { data: request, calls: 0 };
    assert_eq!(read_request_head(&mut reader).unwrap(), HeadRead::Complete(request.to_vec()));
}

#[test]
fn malformed_status_lines_are_errors() {
    for line in [
        "hello",
        "HTTP/1.0",
        "HTTP/1.0 20 OK",
        "HTTP/1.0 2000 OK",
        "HTTP/1.0 abc OK",
        "HTTP/1.0 -20 OK",
        "HTTP/1.0 099 Low",
        "HTTP/1.0 600 High",
        "FTP/1.0 200 OK",
        "HTTP/10 200 OK",
        "HTTP/1.0  200 OK",
        "",
    ] {
        let bytes = format!("{line}\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            parse_response(bytes.as_bytes()),
            Err(ParseError::BadStatusLine(line.to_string())),
            "status line {line:?}"
        );
    }
}

#[test]
fn truncated_body_is_an_error_naming_both_lengths() {
    let err = parse_response(&GOOD[..GOOD.len() - 2]).unwrap_err();
    assert_eq!(err, ParseError::TruncatedBody { expected: 5, got: 3 });
    let text = err.to_string();
    assert!(text.contains('5') && text.contains('3'), "{text}");
}

#[test]
fn missing_header_end_is_an_error() {
    assert_eq!(parse_response(b""), Err(ParseError::MissingHeadEnd));
    assert_eq!(parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n"), Err(ParseError::MissingHeadEnd));
    // A bare "\n\n" is not the end of a head for the (strict) client parser.
    assert_eq!(parse_response(b"HTTP/1.0 200 OK\n\nhello"), Err(ParseError::MissingHeadEnd));
}

#[test]
fn every_prefix_of_a_response_is_an_error_never_a_panic() {
    for cut in 0..GOOD.len() {
        assert!(parse_response(&GOOD[..cut]).is_err(), "prefix of {cut} bytes");
    }
    assert!(parse_response(GOOD).is_ok());
}

#[test]
fn non_numeric_or_conflicting_content_length_is_an_error() {
    for value in ["abc", "5x", "+5", "-1", "", "1 2", "99999999999999999999999999"] {
        let bytes = format!("HTTP/1.0 200 OK\r\nContent-Length: {value}\r\n\r\nhello");
        assert_eq!(
            parse_response(bytes.as_bytes()),
            Err(ParseError::BadContentLength(value.to_string())),
            "Content-Length {value:?}"
        );
    }
    let two = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\ncontent-length: 4\r\n\r\nhello";
    assert_eq!(parse_response(two), Err(ParseError::BadContentLength("4".into())));
    let same = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello";
    assert_eq!(parse_response(same).unwrap().body, b"hello");
}

#[test]
fn bytes_beyond_content_length_are_an_error() {
    let mut bytes = GOOD.to_vec();
    bytes.extend_from_slice(b"!!");
    assert_eq!(parse_response(&bytes), Err(ParseError::TrailingBytes { expected: 5, got: 7 }));
}

#[test]
fn bad_header_lines_are_errors() {
    for line in ["no colon here", ": no name", "Bad Name: x", "Tab\tName: x"] {
        let bytes = format!("HTTP/1.0 200 OK\r\n{line}\r\n\r\n");
        assert_eq!(
            parse_response(bytes.as_bytes()),
            Err(ParseError::BadHeader(line.to_string())),
            "header {line:?}"
        );
    }
}

#[test]
fn a_head_that_is_not_text_is_an_error() {
    assert_eq!(parse_response(b"HTTP/1.0 200 \xff\xfe\r\n\r\n"), Err(ParseError::HeadNotText));
}

#[test]
fn random_bytes_never_panic() {
    for seed in 0..300u64 {
        let mut bytes = testkit::payload(seed, (seed as usize * 7) % 200);
        // Give half of them a real head end, so the later checks run too.
        if seed % 2 == 0 {
            bytes.splice(0..0, b"HTTP/1.0 200 OK\r\n".iter().copied());
            bytes.extend_from_slice(b"\r\n\r\n");
        }
        let _ = parse_response(&bytes);
        let _ = parse_request_head(&bytes);
    }
}

#[test]
fn request_heads_parse_with_crlf_or_bare_lf() {
    let head = parse_request_head(b"GET /3 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n").unwrap();
    assert_eq!((head.method.as_str(), head.path.as_str(), head.version.as_str()), ("GET", "/3", "HTTP/1.1"));
    assert_eq!(head.headers.len(), 2);
    let typed = parse_request_head(b"GET /4 HTTP/1.0\n\n").unwrap();
    assert_eq!(typed.path, "/4");
    for bad in [
        "garbage",
        "GET /3",
        "GET 3 HTTP/1.0",
        "get /3 HTTP/1.0",
        "GET /3 HTTP/1.0 extra",
        "GET  /3 HTTP/1.0",
    ] {
        let bytes = format!("{bad}\r\n\r\n");
        assert_eq!(
            parse_request_head(bytes.as_bytes()),
            Err(ParseError::BadRequestLine(bad.to_string())),
            "{bad:?}"
        );
    }
}

#[test]
fn read_request_head_limits_size_and_reports_eof() {
    let endless = vec![b'a'; MAX_HEAD * 3];
    assert_eq!(
        read_request_head(&mut &endless[..]).unwrap(),
        HeadRead::Invalid(ParseError::HeadTooLarge { limit: MAX_HEAD })
    );
    assert_eq!(read_request_head(&mut &b""[..]).unwrap(), HeadRead::Closed);
    assert_eq!(
        read_request_head(&mut &b"GET / HTTP/1.0\r\n"[..]).unwrap(),
        HeadRead::Invalid(ParseError::MissingHeadEnd)
    );
    // Bytes after the blank line are not part of the head.
    assert_eq!(
        read_request_head(&mut &b"GET / HTTP/1.0\r\n\r\nBODY"[..]).unwrap(),
        HeadRead::Complete(b"GET / HTTP/1.0\r\n\r\n".to_vec())
    );
}

#[test]
fn response_bytes_round_trip_through_the_parser() {
    let bytes = server_http::response_bytes(404, "Not Found", "text/plain", b"nope\n");
    let r = parse_response(&bytes).unwrap();
    assert_eq!((r.status, r.reason.as_str(), r.body.as_slice()), (404, "Not Found", &b"nope\n"[..]));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.header("content-length"), Some("5"));
}

#[test]
fn errors_display_as_one_readable_line() {
    let errors = [
        ParseError::MissingHeadEnd,
        ParseError::HeadTooLarge { limit: 8 },
        ParseError::HeadNotText,
        ParseError::BadStatusLine("x".into()),
        ParseError::BadRequestLine("y".into()),
        ParseError::BadHeader("z".into()),
        ParseError::BadContentLength("w".into()),
        ParseError::TruncatedBody { expected: 2, got: 1 },
        ParseError::TrailingBytes { expected: 1, got: 2 },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.is_empty() && !text.contains('\n'), "{e:?} -> {text:?}");
        let _: &dyn std::error::Error = &e;
    }
}

#[test]
fn a_response_that_never_ends_is_an_error_not_all_our_memory() {
    // io::repeat is a "server" that sends zeros forever and never closes.
    let err = http::read_to_eof(&mut io::repeat(0)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(err.to_string(), format!("response larger than {} bytes", http::MAX_RESPONSE));
}
