//! `stage2-client`: fetch `/1` .. `/N` all at once on one thread, with callbacks.
//!
//! Every request is started before any is answered; one event loop waits on all the sockets
//! together. With the default 100 ms delay, ten requests take about 100 ms, not a second.
//! `TRACE=1` shows the loop's decisions; `SELECTOR=poll` switches from epoll to poll(2).
//! Flags, demo server, output and exit code are stage 1's [`cli::run_crawler_demo`].

use anyhow::Context;
use stage1_blocking::workshop::cli;
use stage2_select_callbacks::crawler;

fn main() {
    let about =
        "Fetch /1 .. /N from the demo server all at once, on one thread, with a selector and callbacks.";
    // ANCHOR: main
    cli::run_crawler_demo("stage2-client", about, |addr, paths, report| {
        let results = crawler::crawl(addr, paths).context("the event loop failed")?;
        // In the order the responses finished: with a real network that is rarely /1, /2, /3.
        for (path, outcome) in &results {
            report.response(path, outcome);
        }
        Ok(1) // one thread waited for every socket
    });
    // ANCHOR_END: main
}
