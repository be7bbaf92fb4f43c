//! `stage1-client`: fetch `/1` .. `/N` one after another with blocking sockets, and time it.
//!
//! With the default 100 ms delay per request, ten requests take about a second: each `get`
//! sleeps in `read` until its response arrives, and only then does the next one start.

use std::sync::OnceLock;
use std::time::Instant;

use stage1_blocking::cli::{self, ClientArgs};
use stage1_blocking::http;

fn main() {
    let args = ClientArgs::cli(
        "stage1-client",
        "Fetch /1 .. /N from the demo server one after another, with blocking sockets.",
    )
    .parse();
    let args = ClientArgs::from_args(&args);
    // `_server` keeps an in-process demo server alive until the end of main.
    let (_server, addr) = cli::target(&args);

    // ANCHOR: crawl
    let start = Instant::now();
    let mut failures = 0;
    for n in 1..=args.count {
        let path = format!("/{n}");
        // The thread sleeps inside get() for the whole round trip.
        let on_read = |n: usize| {
            if tracing() {
                let eof = if n == 0 { " (end of file: the server closed)" } else { "" };
                eprintln!("[trace] GET {path}: read returned {n} bytes{eof}");
            }
        };
        match http::get_observed(addr, &path, on_read) {
            Ok(response) => println!("{}", cli::response_line(&path, &response)),
            Err(e) => {
                failures += 1;
                println!("GET {path} -> error: {e:#}");
            }
        }
    }
    println!("{}", cli::summary_line("stage1", args.count, 1, start.elapsed()));
    // ANCHOR_END: crawl
    if failures > 0 {
        std::process::exit(1);
    }
}

/// `TRACE=1` prints every `read` the client makes (try it with `--trickle`). Checked once.
fn tracing() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("TRACE").is_some_and(|v| v != "0" && !v.is_empty()))
}
