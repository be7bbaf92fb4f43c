//! `stage3-client`: fetch `/1` .. `/N` concurrently on one thread, each step waiting on a Future.
//!
//! Same flags and output as `stage1-client` and `stage2-client` (stage 1's
//! [`cli::run_crawler_demo`] does that part). With the default 100 ms delay, ten requests take
//! about 0.1 s: they all wait at the same time. `TRACE=1` shows each future being created,
//! resolved by the loop, and its callbacks run.

use anyhow::Context;
use stage1_blocking::workshop::cli;
use stage3_futures::{EventLoop, crawler};

fn main() {
    let about = "Fetch /1 .. /N concurrently on one thread; every wait is a Future with done-callbacks.";
    // ANCHOR: main
    cli::run_crawler_demo("stage3-client", about, |addr, paths, report| {
        let lp = EventLoop::new().context("cannot create the selector")?;
        // Each line is printed from the done-callback of that request's future, as it completes.
        crawler::crawl(&lp, addr, paths, move |outcome| report.response(&outcome.path, &outcome.result))
            .context("event loop")?;
        Ok(1) // one thread, one loop
    });
    // ANCHOR_END: main
}
