//! Micro-benchmark of the protocol pieces, no sockets: parse a buffer of N pipelined requests
//! exactly as a connection loop would (parse, take the request, move on by `consumed`), and
//! optionally route each one and serialize a `Hello, World!` response into one shared output
//! buffer. Prints nanoseconds per request; compare with the peers' `srv_us/req` (whole server,
//! syscalls included) to see what share of a request's cost the parsing is.
//!
//! ```text
//! cargo run --release -p stage6-http --bin stage6-parse-bench -- --requests 2000000 --kind browser
//! ```

use stage1_blocking::workshop::cli::{Cli, fail, say};
use stage6_http::date::DateCache;
use stage6_http::response::WriteContext;
use stage6_http::{Parsed, Parser, Response};
use std::hint::black_box;
use std::time::Instant;

/// What `wrk -t1 -c50 http://127.0.0.1:8080/` sends.
const WRK: &str = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
/// A typical browser navigation request.
const BROWSER: &str = "GET /users/42/profile?tab=posts&sort=new HTTP/1.1\r\n\
Host: example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: none\r\n\r\n";
/// A POST with a small chunked body.
const CHUNKED: &str = "POST /api/items HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\n\
Transfer-Encoding: chunked\r\n\r\n9\r\n{\"id\":42,\r\na\r\n\"ok\":true}\r\n0\r\n\r\n";

fn main() {
    let args = Cli::new(
        "stage6-parse-bench",
        "Parse N pipelined requests from one buffer (no sockets) and print ns per request.",
    )
    .option("--requests", "N", "requests to parse (default 1000000)")
    .option("--depth", "N", "requests per buffer, like a pipelining client (default 16)")
    .option("--kind", "KIND", "wrk | browser | chunked (default wrk)")
    .switch("--respond", "also serialize a Hello, World! response per request")
    .parse();
    let requests: usize = args.value_or("--requests", 1_000_000);
    let depth: usize = args.value_or("--depth", 16).max(1);
    let kind: String = args.value_or("--kind", "wrk".to_string());
    let respond = args.switch("--respond");
    let one = match kind.as_str() {
        "wrk" => WRK,
        "browser" => BROWSER,
        "chunked" => CHUNKED,
        other => args.bad_value("--kind", other, "expected wrk, browser or chunked"),
    };
    let buffer = one.repeat(depth).into_bytes();
    let rounds = requests.div_ceil(depth).max(1);

    let mut parser = Parser::default();
    let mut dates = DateCache::new();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut parsed = 0usize;
    let mut body_bytes = 0usize;
    let started = Instant::now();
    for _ in 0..rounds {
        let mut start = 0;
        out.clear();
        let date = *dates.now();
        while start < buffer.len() {
            match parser.parse(black_box(&buffer[start..])) {
                Ok(Parsed::Complete { request, consumed }) => {
                    start += consumed;
                    parsed += 1;
                    body_bytes += request.body().len();
                    if respond {
                        let ctx = WriteContext {
                            version: request.version(),
                            head_request: request.is_head(),
                            keep_alive: request.keep_alive(),
                            date: &date,
                        };
                        let _ = Response::text("Hello, World!").write_to(&mut out, &ctx);
                    }
                    black_box(&request);
                }
                Ok(Parsed::Partial) => fail("benchmark buffer ended mid-request"),
                Err(err) => fail(format!("benchmark request rejected: {err}")),
            }
        }
        black_box(&out);
    }
    let elapsed = started.elapsed();
    let ns = elapsed.as_nanos() as f64 / parsed as f64;
    let mb_per_s = (buffer.len() * rounds) as f64 / elapsed.as_secs_f64() / 1e6;
    say(format_args!(
        "stage6-parse-bench: {parsed} {kind} requests ({} bytes each, {depth} per buffer{}), {body_bytes} body bytes",
        one.len(),
        if respond { ", with responses" } else { "" }
    ));
    say(format_args!("{ns:.1} ns/request, {mb_per_s:.0} MB/s, {:.3} s", elapsed.as_secs_f64()));
}
