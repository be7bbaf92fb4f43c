//! `stage5-client`: fetch `/1` .. `/N` concurrently with async/await on our own runtime.
//!
//! Each page is an ordinary-looking `async` block (connect, write, read to EOF, parse), and
//! `join_all` runs them all at once in ONE task: ten requests take about one latency, like the
//! stage 2 callback crawler, but the code reads like the stage 1 blocking one.
//! `--max-concurrency N` puts a `Semaphore` in front of the requests (asyncio's classic
//! "only N at a time" pattern).

use std::time::Instant;

use stage1_blocking::cli::{self, ClientArgs};
use stage5_async_await::combinators::join_all;
use stage5_async_await::sync::Semaphore;
use stage5_async_await::{Runtime, http};

fn main() {
    let args = ClientArgs::cli(
        "stage5-client",
        "Fetch /1 .. /N concurrently with async/await on the stage 5 runtime (one thread).",
    )
    .option("--max-concurrency", "N", "at most N requests in flight at once (default: all)")
    .parse();
    let client = ClientArgs::from_args(&args);
    let max = args.value_or("--max-concurrency", client.count.max(1));
    if max == 0 {
        cli::fail("--max-concurrency must be at least 1");
    }
    let (_server, addr) = cli::target(&client);
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));

    // ANCHOR: crawl
    let start = Instant::now();
    let failures = runtime.block_on(async {
        let limit = Semaphore::new(max);
        let fetches = (1..=client.count).map(|n| {
            let limit = &limit;
            async move {
                // Waits here (without blocking the thread) while `max` requests are in flight.
                let _permit = limit.acquire().await;
                let path = format!("/{n}");
                match http::get(addr, &path).await {
                    Ok(response) => {
                        println!("{}", cli::response_line(&path, &response));
                        0
                    }
                    Err(e) => {
                        println!("GET {path} -> error: {e:#}");
                        1
                    }
                }
            }
        });
        join_all(fetches).await.into_iter().sum::<usize>()
    });
    println!("{}", cli::summary_line("stage5", client.count, 1, start.elapsed()));
    // ANCHOR_END: crawl
    if failures > 0 {
        std::process::exit(1);
    }
}
