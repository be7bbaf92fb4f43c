//! What `std::thread::sleep` inside a task does to the event loop, next to the two right ways
//! to wait: `time::sleep(..).await` (the loop waits for all tasks at once) and
//! `spawn_blocking(|| thread::sleep(..))` (the blocking call moves to a pool thread).
//!
//! A ticker task (every 10 ms) runs alongside each variant: how often it got to run shows
//! whether the loop was free or frozen.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use stage1_blocking::workshop::cli::{Cli, fail, say};
use stage5_async_await::blocking::BlockingPool;
use stage5_async_await::combinators::join_all;
use stage5_async_await::{Runtime, spawn, time};

const TICK: Duration = Duration::from_millis(10);

/// Runs `work` on the runtime with the ticker beside it; returns (elapsed, ticks).
fn measure<F: Future>(runtime: &Runtime, work: impl FnOnce() -> F) -> (Duration, u32) {
    let ticks = Rc::new(Cell::new(0u32));
    runtime.block_on(async {
        let counter = ticks.clone();
        let ticker = spawn(async move {
            loop {
                time::sleep(TICK).await;
                counter.set(counter.get() + 1);
            }
        });
        let start = Instant::now();
        work().await;
        let elapsed = start.elapsed();
        ticker.abort();
        (elapsed, ticks.get())
    })
}

// ANCHOR: variants
fn main() {
    let args = Cli::new(
        "stage5-bench-blocking",
        "Runs N tasks that each wait, three ways, and times them: thread::sleep inside the task \
         (blocks the loop), time::sleep(..).await, and spawn_blocking(thread::sleep).",
    )
    .option("--count", "N", "number of tasks (default 10)")
    .option("--delay", "MS", "how long each task waits, in ms (default 100)")
    .option("--threads", "N", "threads of the spawn_blocking pool (default 8)")
    .parse();
    let count: usize = args.value_or("--count", 10);
    let delay = args.duration_ms("--delay", 100);
    let threads: usize = args.value_or("--threads", 8);
    if threads == 0 {
        args.bad_value("--threads", "0", "must be at least 1");
    }
    let runtime = Runtime::new().unwrap_or_else(|e| fail(format!("cannot start the runtime: {e}")));
    let pool = Rc::new(BlockingPool::new(threads, Duration::from_secs(10)));

    say(format_args!(
        "{count} tasks that each wait {} ms, on one loop thread (a {} ms ticker task runs alongside):",
        delay.as_millis(),
        TICK.as_millis()
    ));
    let rows = [
        (
            "std::thread::sleep inside the task".to_string(),
            measure(&runtime, || {
                join_all((0..count).map(|_| spawn(async move { std::thread::sleep(delay) })))
            }),
        ),
        (
            "time::sleep(..).await".to_string(),
            measure(&runtime, || {
                join_all((0..count).map(|_| spawn(async move { time::sleep(delay).await })))
            }),
        ),
        (
            format!("spawn_blocking(thread::sleep), {threads} threads"),
            measure(&runtime, || join_all((0..count).map(|_| pool.spawn(move || std::thread::sleep(delay))))),
        ),
    ];
    for (name, (elapsed, ticks)) in rows {
        say(format_args!("  {name:<44} {:>7.3} s   ticker ran {ticks} times", elapsed.as_secs_f64()));
    }
}
// ANCHOR_END: variants
