//! `stage1-client`: fetch `/1` .. `/N` one after another with blocking sockets, and time it.
//!
//! With the default 100 ms delay per request, ten requests take about a second: each `get`
//! sleeps in `read` until its response arrives, and only then does the next one start.
//! Everything around the loop (flags, demo server, output, exit code) is
//! [`cli::run_crawler_demo`], shared by every stage's client.

use stage1_blocking::http;
use stage1_blocking::workshop::cli;
use stage1_blocking::workshop::timeline::trace;

fn main() {
    let about = "Fetch /1 .. /N from the demo server one after another, with blocking sockets.";
    // ANCHOR: crawl
    cli::run_crawler_demo("stage1-client", about, |addr, paths, report| {
        for path in paths {
            // `TRACE=1` prints these lines, stamped; `--timeline` draws them.
            trace(format_args!("GET {path}: connect, send, then block in read"));
            // The thread sleeps inside get() for the whole round trip.
            let on_read = |n: usize| {
                let eof = if n == 0 { " (end of file: the server closed)" } else { "" };
                trace(format_args!("GET {path}: read returned {n} bytes{eof}"));
            };
            report.response(path, &http::get_observed(addr, path, on_read));
        }
        Ok(1) // one thread, one request at a time
    });
    // ANCHOR_END: crawl
}
