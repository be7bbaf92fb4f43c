//! Exercise 6.1 (scripts/exercise.sh check 6.1): `Limits::allow_bare_lf` (off by default)
//! makes the parser accept a lone LF wherever it wants CRLF: after the request line, each
//! header, each chunk size, each chunk's data, each trailer, and as the empty line. With the
//! flag on, a request written with LFs parses to exactly the request written with CRLFs, and
//! gives the same answer whole, one byte at a time, and in random pieces.
#![cfg(feature = "exercises")]

use stage1_blocking::workshop::testkit::Rng;
use stage6_http::{Limits, ParseError, Parsed, Parser};

const REQUESTS: &[&str] = &[
    "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
    "GET /users/42?x=1&y=%20 HTTP/1.1\r\nHost: a\r\nUser-Agent: lf\r\nAccept: */*\r\n\r\n",
    "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
    "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
    "GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /c HTTP/1.1\r\nHost: c\r\nContent-Length: 2\r\n\r\nok",
    "\r\nGET /after-crlf HTTP/1.1\r\nHost: a\r\n\r\n",
];

fn lenient() -> Limits {
    Limits { allow_bare_lf: true, ..Limits::default() }
}

/// What a handler could observe of each request, or the error, in order.
fn outcomes(
    limits: Limits,
    input: &[u8],
    mut split: impl FnMut() -> usize,
) -> Vec<Result<String, ParseError>> {
    let mut parser = Parser::new(limits);
    let (mut start, mut received, mut seen) = (0, 0, Vec::new());
    while received < input.len() {
        received = (received + split().max(1)).min(input.len());
        loop {
            match parser.parse(&input[start..received]) {
                Ok(Parsed::Partial) => break,
                Ok(Parsed::Complete { request, consumed }) => {
                    start += consumed;
                    let headers: Vec<String> = request
                        .headers()
                        .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
                        .collect();
                    seen.push(Ok(format!(
                        "{} {} query={:?} ka={} chunked={} headers={headers:?} body={:?}",
                        request.method(),
                        request.target(),
                        request.query(),
                        request.keep_alive(),
                        request.is_chunked(),
                        String::from_utf8_lossy(request.body()),
                    )));
                }
                Err(err) => {
                    seen.push(Err(err));
                    return seen;
                }
            }
        }
    }
    seen
}

fn whole(limits: Limits, input: &[u8]) -> Vec<Result<String, ParseError>> {
    outcomes(limits, input, || input.len())
}

/// `a\r\nb\r\nc\r\n` -> `a\r\nb\nc\r\n`: the line endings alternate.
fn every_other_cr_dropped(crlf: &str) -> String {
    let mut out = String::new();
    for (i, part) in crlf.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
        }
        out.push_str(part);
    }
    out
}

#[test]
fn the_flag_is_off_by_default_and_bare_lf_is_still_refused() {
    assert!(!Limits::default().allow_bare_lf, "allow_bare_lf must default to false");
    let lf = b"GET / HTTP/1.1\nHost: a\n\n";
    assert_eq!(whole(Limits::default(), lf), vec![Err(ParseError::BareLf)]);
}

#[test]
fn with_the_flag_lf_requests_parse_like_crlf_ones() {
    for crlf in REQUESTS {
        let expected = whole(Limits::default(), crlf.as_bytes());
        assert!(expected.iter().all(Result::is_ok), "{crlf:?} must parse with CRLF: {expected:?}");
        assert_eq!(whole(lenient(), crlf.as_bytes()), expected, "CRLF with the flag on: {crlf:?}");
        let lf = crlf.replace("\r\n", "\n");
        assert_eq!(whole(lenient(), lf.as_bytes()), expected, "LF endings with the flag on: {lf:?}");
        let mixed = every_other_cr_dropped(crlf);
        assert_eq!(whole(lenient(), mixed.as_bytes()), expected, "mixed endings: {mixed:?}");
    }
}

#[test]
fn with_the_flag_whole_bytewise_and_split_agree() {
    let mut rng = Rng(0x5eed_1f00_d00d_0001);
    for crlf in REQUESTS {
        let lf = crlf.replace("\r\n", "\n");
        for input in [crlf.to_string(), lf] {
            let bytes = input.as_bytes();
            let at_once = whole(lenient(), bytes);
            assert_eq!(outcomes(lenient(), bytes, || 1), at_once, "byte at a time: {input:?}");
            for _ in 0..20 {
                let mut split_rng = Rng(rng.next_u64() | 1);
                let split = outcomes(lenient(), bytes, || 1 + split_rng.below(7));
                assert_eq!(split, at_once, "random pieces: {input:?}");
            }
        }
    }
}

#[test]
fn with_the_flag_a_bare_cr_is_still_an_error() {
    for bad in [&b"GET / HTTP/1.1\rHost: a\n\n"[..], b"GET / HTTP/1.1\nX: a\rb\n\n"] {
        let seen = whole(lenient(), bad);
        assert!(matches!(seen.as_slice(), [Err(_)]), "{:?} -> {seen:?}", String::from_utf8_lossy(bad));
    }
}
