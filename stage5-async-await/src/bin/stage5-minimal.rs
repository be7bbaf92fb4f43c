//! `stage5-minimal`: fetch `/1` .. `/N` concurrently on the smallest executor
//! (`minimal_executor.rs`): one task per page, spawned from the future given to `block_on`.
//!
//! Same flags and output as every stage (stage 1's [`cli::run_crawler_demo`]). `TRACE=1`
//! shows the executor at work: every poll, every wake, every sleep in the selector.

use anyhow::Context;
use stage1_blocking::workshop::cli;
use stage5_async_await::minimal_executor::http::get;
use stage5_async_await::minimal_executor::{block_on, spawn};

fn main() {
    let about = "Fetch /1 .. /N concurrently on the smallest executor (one file, one thread).";
    cli::run_crawler_demo("stage5-minimal", about, |addr, paths, report| {
        // ANCHOR: crawl
        // One task per page; block_on returns once `main` *and* every task it spawned are done.
        block_on(async {
            for path in paths {
                let (path, report) = (path.clone(), report.clone());
                spawn(async move { report.response(&path, &get(addr, &path).await) });
            }
        })
        .context("the executor's selector failed")?;
        // ANCHOR_END: crawl
        Ok(1) // one thread
    });
}
