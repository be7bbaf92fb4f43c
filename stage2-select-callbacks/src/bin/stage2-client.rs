//! `stage2-client`: fetch `/1` .. `/N` all at once on one thread, with callbacks.
//!
//! Every request is started before any is answered; one event loop waits on all the sockets
//! together. With the default 100 ms delay, ten requests take about 100 ms, not a second.
//! `TRACE=1` shows the loop's decisions; `SELECTOR=poll` switches from epoll to poll(2).

use std::time::Instant;

use stage1_blocking::cli::{self, ClientArgs};
use stage2_select_callbacks::crawler;

fn main() {
    let args = ClientArgs::cli(
        "stage2-client",
        "Fetch /1 .. /N from the demo server all at once, on one thread, with a selector and callbacks.",
    )
    .parse();
    let args = ClientArgs::from_args(&args);
    // `_server` keeps an in-process demo server alive until the end of main.
    let (_server, addr) = cli::target(&args);

    // ANCHOR: main
    let paths: Vec<String> = (1..=args.count).map(|n| format!("/{n}")).collect();
    let start = Instant::now();
    let results = match crawler::crawl(addr, &paths) {
        Ok(results) => results,
        Err(e) => cli::fail(format!("the event loop failed: {e}")),
    };
    let elapsed = start.elapsed();
    // In the order the responses finished: with a real network that is rarely /1, /2, /3.
    let mut failures = 0;
    for (path, outcome) in &results {
        match outcome {
            Ok(response) => println!("{}", cli::response_line(path, response)),
            Err(e) => {
                failures += 1;
                println!("GET {path} -> error: {e:#}");
            }
        }
    }
    println!("{}", cli::summary_line("stage2", args.count, 1, elapsed));
    // ANCHOR_END: main
    if failures > 0 {
        std::process::exit(1);
    }
}
