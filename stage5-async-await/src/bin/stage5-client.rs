//! `stage5-client`: fetch `/1` .. `/N` concurrently with async/await on our own runtime.
//!
//! Same flags and output as the earlier stages (stage 1's [`cli::run_crawler_demo_with`]),
//! plus `--max-concurrency N`. Each page is an ordinary-looking `async` block (connect,
//! write, read to EOF, parse), and `join_all` runs them all at once in ONE task: ten requests
//! take about one latency, like the stage 2 callback crawler, but the code reads like the
//! stage 1 blocking one. `--max-concurrency N` puts a `Semaphore` in front of the requests
//! (asyncio's classic "only N at a time" pattern).
//!
//! `--crawl PATH` crawls instead, like the 500 Lines crawler: start at PATH, follow the
//! page's links, visit each page once, at most `--max-pages` (default 50) and at most
//! `--max-concurrency` at once (default 5) ([`http::crawl`]). The summary line counts the pages
//! fetched; with the in-process demo server, a line before it says how many requests the
//! server saw in flight at most.

use std::num::NonZeroUsize;
use std::time::Instant;

use anyhow::Context;
use stage1_blocking::workshop::cli::{self, Args, ClientArgs, Report};
use stage5_async_await::combinators::join_all;
use stage5_async_await::sync::Semaphore;
use stage5_async_await::{Runtime, http};

fn main() {
    let about = "Fetch /1 .. /N concurrently with async/await on the stage 5 runtime (one thread).";
    let more_flags = |cli: cli::Cli| {
        cli.option(
            "--max-concurrency",
            "N",
            "at most N requests in flight at once (default: all; 5 with --crawl)",
        )
        .option("--crawl", "PATH", "crawl from PATH instead: follow links, each page once")
        .option("--max-pages", "N", "with --crawl: visit at most N pages (default 50)")
    };
    let parsed = more_flags(ClientArgs::cli("stage5-client", about)).parse();
    if parsed.value::<String>("--crawl").is_some() {
        return crawl_demo(&parsed);
    }
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

/// `--crawl PATH`: the shared demo's flags, server and summary line around [`http::crawl`].
fn crawl_demo(parsed: &Args) {
    let start: String = parsed.value("--crawl").unwrap_or_default();
    if !start.starts_with('/') {
        parsed.bad_value("--crawl", &start, "a path on the server, starting with '/'");
    }
    let max_pages = parsed.value_or("--max-pages", 50usize);
    let concurrency = parsed.value::<NonZeroUsize>("--max-concurrency").map_or(5, NonZeroUsize::get);
    let args = ClientArgs::from_args(parsed);
    // `server` keeps an in-process demo server alive until the summary is printed.
    let (server, addr) = cli::target(&args);
    let report = Report::default();

    let begin = Instant::now();
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    let pages = runtime.block_on(http::crawl(addr, &start, max_pages, concurrency, |path, outcome| {
        report.response(path, outcome)
    }));
    let elapsed = begin.elapsed();

    if let Some(server) = &server {
        cli::say(format_args!(
            "demo server: {} requests, at most {} in flight (--max-concurrency {concurrency})",
            server.requests_served(),
            server.peak_connections()
        ));
    }
    cli::say(cli::summary_line("stage5", pages, 1, elapsed));
    if report.failures() > 0 {
        std::process::exit(1);
    }
}
