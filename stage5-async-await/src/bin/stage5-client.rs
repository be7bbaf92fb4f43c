//! `stage5-client`: fetch `/1` .. `/N` concurrently with async/await on our own runtime.
//!
//! Same flags and output as the earlier stages (stage 1's [`cli::run_crawler_demo_with`]),
//! plus `--max-concurrency N`. Each page is an ordinary-looking `async` block (connect,
//! write, read to EOF, parse), and `join_all` runs them all at once in ONE task: ten requests
//! take about one latency, like the stage 2 callback crawler, but the code reads like the
//! stage 1 blocking one. `--max-concurrency N` puts a `Semaphore` in front of the requests
//! (asyncio's classic "only N at a time" pattern).

use std::num::NonZeroUsize;

use anyhow::Context;
use stage1_blocking::workshop::cli;
use stage5_async_await::combinators::join_all;
use stage5_async_await::sync::Semaphore;
use stage5_async_await::{Runtime, http};

fn main() {
    let about = "Fetch /1 .. /N concurrently with async/await on the stage 5 runtime (one thread).";
    let more_flags = |cli: cli::Cli| {
        cli.option("--max-concurrency", "N", "at most N requests in flight at once (default: all)")
    };
    cli::run_crawler_demo_with("stage5-client", about, more_flags, |args| {
        // Read before anything starts: `--max-concurrency 0` is a usage error (exit 2).
        let max = args.value::<NonZeroUsize>("--max-concurrency").map(NonZeroUsize::get);
        move |addr, paths, report| {
            let max = max.unwrap_or(paths.len().max(1));
            let runtime = Runtime::new().context("cannot start the runtime")?;
            // ANCHOR: crawl
            runtime.block_on(async {
                let limit = Semaphore::new(max);
                let fetches = paths.iter().map(|path| {
                    let (limit, report) = (&limit, &report);
                    async move {
                        // Waits here (without blocking the thread) while `max` requests are in flight.
                        let _permit = limit.acquire().await.expect("this semaphore is never closed");
                        report.response(path, &http::get(addr, path).await);
                    }
                });
                join_all(fetches).await;
            });
            // ANCHOR_END: crawl
            Ok(1) // one thread, one runtime
        }
    });
}
