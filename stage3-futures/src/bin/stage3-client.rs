//! `stage3-client`: fetch `/1` .. `/N` concurrently on one thread, each step waiting on a Future.
//!
//! Same flags and output as `stage1-client` and `stage2-client`. With the default 100 ms delay,
//! ten requests take about 0.1 s: they all wait at the same time. `TRACE=1` shows each future
//! being created, resolved by the loop, and its callbacks run.

use std::time::Instant;

use stage1_blocking::cli::{self, ClientArgs};
use stage3_futures::{EventLoop, crawler};

fn main() {
    let args = ClientArgs::cli(
        "stage3-client",
        "Fetch /1 .. /N concurrently on one thread; every wait is a Future with done-callbacks.",
    )
    .parse();
    let args = ClientArgs::from_args(&args);
    // `_server` keeps an in-process demo server alive until the end of main.
    let (_server, addr) = cli::target(&args);

    let paths: Vec<String> = (1..=args.count).map(|n| format!("/{n}")).collect();
    let start = Instant::now();
    // Each line is printed from the done-callback of that request's future, as it completes.
    let lp = EventLoop::new().unwrap_or_else(|err| cli::fail(format!("cannot create the selector: {err}")));
    let outcomes = crawler::crawl(&lp, addr, &paths, |outcome| match &outcome.result {
        Ok(response) => println!("{}", cli::response_line(&outcome.path, response)),
        Err(err) => println!("GET {} -> error: {err}", outcome.path),
    })
    .unwrap_or_else(|err| cli::fail(format!("event loop: {err}")));
    println!("{}", cli::summary_line("stage3", paths.len(), 1, start.elapsed()));
    if outcomes.iter().any(|o| o.result.is_err()) {
        std::process::exit(1);
    }
}
