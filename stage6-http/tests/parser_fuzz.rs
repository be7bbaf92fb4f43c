//! Fuzz-ish test: 10,000 random and mutated requests, each fed to the parser whole, one byte
//! at a time, and in random pieces. All three must agree exactly (same requests, same bytes
//! consumed, same error) and nothing may panic. Deterministic: a fixed xorshift seed, so a
//! failure prints the case number and reproduces every time.

use stage1_blocking::workshop::testkit::Rng;
use stage6_http::{Limits, ParseError, Parsed, Parser};
use std::collections::BTreeMap;

const TEMPLATES: &[&str] = &[
    "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
    "GET /users/42?x=1&y=%20 HTTP/1.1\r\nHost: a\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n",
    "HEAD /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world",
    "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n",
    "GET http://example.com:80/abs?q HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\nPOST /c HTTP/1.1\r\nHost: c\r\nContent-Length: 2\r\n\r\nok",
    "DELETE /item/7 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
    "\r\nGET /after-crlf HTTP/1.1\r\nHost: a\r\n\r\n",
];

/// Bytes and snippets that tend to matter to an HTTP parser.
const BYTES: &[u8] = b"\r\n\0 \t:;,=0123456789aAfF/?%#\x7f\x80\xff\x01";
const SNIPPETS: &[&str] = &[
    "\r\n",
    "\r\n\r\n",
    "Host: x\r\n",
    "Content-Length: 3\r\n",
    "Content-Length: 99999999999999999999\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip\r\n",
    "Connection: close\r\n",
    " folded\r\n",
    "0\r\n\r\n",
    "ffffffffffffffffff\r\n",
    "HTTP/1.0",
    "HTTP/2.0",
    "GET / HTTP/1.1\r\n",
    "X : y\r\n",
];

fn make_case(rng: &mut Rng) -> Vec<u8> {
    let mut bytes: Vec<u8> = rng.pick(TEMPLATES).as_bytes().to_vec();
    if rng.below(4) == 0 {
        // Concatenate a second template: pipelining.
        bytes.extend_from_slice(rng.pick(TEMPLATES).as_bytes());
    }
    let mutations = rng.below(5);
    for _ in 0..mutations {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 if at < bytes.len() => bytes[at] = *rng.pick(BYTES),
            1 => bytes.insert(at, *rng.pick(BYTES)),
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            3 => {
                let snippet = rng.pick(SNIPPETS).as_bytes();
                bytes.splice(at..at, snippet.iter().copied());
            }
            4 => bytes.truncate(at),
            _ => {
                let len = rng.below(40);
                let end = (at + len).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    bytes
}

fn make_limits(rng: &mut Rng) -> Limits {
    if rng.below(3) != 0 {
        return Limits::default();
    }
    Limits {
        max_target_len: 1 + rng.below(40),
        max_header_bytes: 1 + rng.below(120),
        max_headers: rng.below(6),
        max_body_bytes: rng.below(30),
    }
}

/// Everything observable about one outcome, as a comparable value.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Request { consumed: usize, summary: String },
    Error(ParseError),
}

/// Feeds `input` in pieces of the sizes `split` returns; parses after every piece.
fn run(limits: Limits, input: &[u8], mut split: impl FnMut(usize) -> usize) -> (Vec<Event>, usize) {
    let mut parser = Parser::new(limits);
    let mut events = Vec::new();
    let mut received = 0;
    let mut start = 0;
    while received < input.len() {
        received += split(input.len() - received).clamp(1, input.len() - received);
        loop {
            match parser.parse(&input[start..received]) {
                Ok(Parsed::Partial) => break,
                Ok(Parsed::Complete { request, consumed }) => {
                    assert!(consumed > 0 && start + consumed <= received);
                    start += consumed;
                    let headers: Vec<String> = request
                        .headers()
                        .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
                        .collect();
                    let summary = format!(
                        "{} {} {:?} path={} query={:?} host={:?} ka={} head={} cont={} chunked={} headers={headers:?} body={:?}",
                        request.method(),
                        request.target(),
                        request.version(),
                        request.path(),
                        request.query(),
                        request.host(),
                        request.keep_alive(),
                        request.is_head(),
                        request.expects_continue(),
                        request.is_chunked(),
                        String::from_utf8_lossy(request.body()),
                    );
                    events.push(Event::Request { consumed, summary });
                }
                Err(err) => {
                    events.push(Event::Error(err));
                    // The error must stick.
                    assert!(matches!(parser.parse(&input[start..received]), Err(e) if e == err));
                    return (events, start);
                }
            }
        }
    }
    (events, start)
}

#[test]
fn ten_thousand_cases_agree_whole_bytewise_and_split() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut completed = 0;
    for case in 0..10_000 {
        let limits = make_limits(&mut rng);
        let input = make_case(&mut rng);
        let whole = run(limits, &input, |rest| rest);
        let bytewise = run(limits, &input, |_| 1);
        let mut split_rng = Rng(rng.next_u64() | 1);
        let split = run(limits, &input, |_| 1 + split_rng.below(17));
        let show = || String::from_utf8_lossy(&input).into_owned();
        assert_eq!(whole, bytewise, "case {case}: whole vs byte-at-a-time for {:?}", show());
        assert_eq!(whole, split, "case {case}: whole vs random split for {:?}", show());
        for event in &whole.0 {
            match event {
                Event::Request { .. } => completed += 1,
                Event::Error(err) => *errors.entry(format!("{err:?}")).or_default() += 1,
            }
        }
    }
    eprintln!("completed requests: {completed}; errors: {errors:?}");
    // The generator must actually reach both sides of the parser.
    assert!(completed > 3000, "only {completed} requests completed");
    assert!(errors.len() >= 15, "only {} error kinds reached: {errors:?}", errors.len());
}
