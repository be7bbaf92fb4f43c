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
    let req = parse_one(b"GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n").unwrap();
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
    let req =
        parse_one(b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \t spaced out \t\r\nX-E:\r\nX-U: caf\xc3\xa9\r\n\r\n")
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
    let text =
        b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: a\r\n\r\n";
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
    let text =
        b"POST /x?y=z HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nA: b\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
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
        assert!(matches!(err, ParseError::BadRequestLine | ParseError::BadVersion), "{line:?} gave {err:?}");
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
    for v in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.1", "HTTP/0.1"] {
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
    assert_eq!(error_of(&host("Transfer-Encoding: chunked, gzip\r\n")), ParseError::UnknownTransferCoding);
}

#[test]
fn bad_transfer_encoding_is_400() {
    assert_eq!(error_of(&host("Transfer-Encoding: chunked, chunked\r\n")), ParseError::BadTransferEncoding);
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
    let chunked =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    assert_eq!(error_with(limits, chunked), ParseError::BodyTooLarge);
    let fits =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n";
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

// --- the Request a parse produces (tests of request.rs, here because they need the parser) ---

#[test]
fn many_headers_spill_to_the_heap_and_still_work() {
    let mut text = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..30 {
        text.push_str(&format!("X-{i}: v{i}\r\n"));
    }
    text.push_str("\r\n");
    let req = parse_one(text.as_bytes()).unwrap();
    assert_eq!(req.header_str("x-29"), Some("v29"));
    assert_eq!(req.headers().count(), 31);
}

#[test]
fn request_is_small_enough_to_move_inline() {
    assert!(std::mem::size_of::<Request>() <= 112, "{}", std::mem::size_of::<Request>());
    assert!(std::mem::size_of::<Parsed>() <= 120);
}

#[test]
fn repeated_headers_are_all_visible() {
    let req = parse_one(b"GET / HTTP/1.1\r\nHost: a\r\nAccept: a\r\naccept: b\r\n\r\n").unwrap();
    let all: Vec<&[u8]> = req.header_all("Accept").collect();
    assert_eq!(all, [&b"a"[..], &b"b"[..]]);
}

#[test]
fn query_param_decodes() {
    let req = parse_one(b"GET /s?q=a+b%21&n=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert_eq!(req.query_param("q").unwrap().as_deref(), Some("a b!"));
    assert_eq!(req.query_param("zz").unwrap(), None);
    let bad = parse_one(b"GET /s?q=%zz HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert!(bad.query_param("q").is_err());
}

#[test]
fn higher_minor_versions_of_http1_are_read_as_http11() {
    // RFC 9110 section 2.5: a server receiving HTTP/1.x with x > 1 answers as HTTP/1.1.
    for v in ["HTTP/1.2", "HTTP/1.9"] {
        let req = parse_one(format!("GET / {v}\r\nHost: a\r\n\r\n").as_bytes()).unwrap();
        assert_eq!(req.version(), Version::Http11, "{v}");
        assert!(req.keep_alive(), "{v}");
    }
    // Read as 1.1, so it needs a Host like any 1.1 request.
    assert_eq!(error_of(b"GET / HTTP/1.2\r\n\r\n"), ParseError::MissingHost);
}

#[test]
fn chunk_extensions_follow_the_grammar() {
    let chunked = |size_line: &str| {
        format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{size_line}\r\nhello\r\n0\r\n\r\n")
            .into_bytes()
    };
    for bad in ["5;", "5;=", "5;a b c", "5;a=\"x", "5;a=", "5;;a", "5 ;a=b c", "5;a=\"x\"y", "5;a=\"\\\x7f\""]
    {
        let err = error_of(&chunked(bad));
        assert_eq!((err, err.status()), (ParseError::BadChunk, 400), "{bad:?}");
    }
    for good in ["5;a", "5;a=b", "5 ; a = \"b\"", "5;a;b=c", "5;a=\"q\\\"uote;d\"", "5\t;\ta\t", "5 "] {
        let req = parse_one(&chunked(good)).unwrap_or_else(|e| panic!("{good:?}: {e:?}"));
        assert_eq!(req.body(), b"hello", "{good:?}");
    }
}

#[test]
fn released_chunk_bytes_give_the_same_request_from_a_small_buffer() {
    // A caller that removes what `release_chunk_bytes` names after every partial parse, as
    // the server does, gets the same request as one that keeps every byte, while holding
    // no more than the head and a few bytes of framing.
    let mut text = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let head_len = text.len();
    for i in 0..300u32 {
        text.extend_from_slice(format!("{:x};i={i}\r\n", 1 + i % 3).as_bytes());
        text.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, 1 + i as usize % 3));
        text.extend_from_slice(b"\r\n");
    }
    text.extend_from_slice(b"0\r\nT: t\r\n\r\n");
    let whole = parse_one(&text).unwrap();
    let mut parser = Parser::new(Limits::default());
    let mut buffer = Vec::new();
    let mut most = 0;
    for &byte in &text {
        buffer.push(byte);
        match parser.parse(&buffer).unwrap() {
            Parsed::Partial => {
                if let Some(range) = parser.release_chunk_bytes() {
                    buffer.drain(range);
                }
                most = most.max(buffer.len());
            }
            Parsed::Complete { request, consumed } => {
                assert_eq!((request.body(), request.path()), (whole.body(), "/up"));
                assert_eq!(consumed, buffer.len());
                assert!(most <= head_len + 16, "held {most} bytes of a {}-byte request", text.len());
                return;
            }
        }
    }
    panic!("never complete");
}
