//! `stage4-client`: fetch `/1` .. `/N` concurrently, each request one `Get` coroutine in a Task.
//!
//! Same flags and output as the earlier stages (stage 1's [`cli::run_crawler_demo`]).
//! `TRACE=1` shows every task step: which task, which state it went from and to, and which
//! future it yielded.

use anyhow::Context;
use stage1_blocking::workshop::cli;
use stage4_tasks::{Scheduler, get};

fn main() {
    let about = "Fetch /1 .. /N concurrently on one thread; each request is a coroutine stepped by a Task.";
    // ANCHOR: main
    cli::run_crawler_demo("stage4-client", about, |addr, paths, report| {
        let scheduler = Scheduler::new().context("cannot create the selector")?;
        // One Get task per path; each line is printed as its task completes.
        get::crawl(&scheduler, addr, paths, move |outcome| report.response(&outcome.path, &outcome.result))?;
        Ok(1) // one thread, one scheduler
    });
    // ANCHOR_END: main
}
