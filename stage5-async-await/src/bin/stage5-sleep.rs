//! `stage5-sleep`: the classic asyncio demo. Three workers sleep 1, 2 and 3 units; run one after
//! another they would take 6 units, run as tasks on one loop they take about 3.
//!
//! `TRACE=1` shows the loop at work: three timers armed, the loop asleep in the selector
//! with a timeout equal to the next deadline, each timer firing and waking its task.
//!
//! Lines go out through stage 1's `cli::say`, not `println!`: `stage5-sleep | head -1` then
//! ends quietly when `head` leaves, instead of panicking on the failed write.

use std::io::Write;
use std::time::{Duration, Instant};

use stage1_blocking::workshop::cli;
use stage5_async_await::time::sleep;
use stage5_async_await::{Runtime, spawn};

// ANCHOR: workers
async fn long_time_work(units: u32, unit: Duration) {
    cli::say(format_args!("long time work ({units} units)"));
    sleep(unit * units).await;
    cli::say(format_args!("long time work End ({units} units)"));
}

async fn do_some_work(units: u32, unit: Duration) {
    cli::say(format_args!("Waiting: {units}"));
    long_time_work(units, unit).await;
}
// ANCHOR_END: workers

fn main() {
    let args = cli::Cli::new(
        "stage5-sleep",
        "The classic asyncio demo: workers sleeping 1, 2, 3 units finish in ~3 units, not 6.",
    )
    .option("--unit-ms", "MS", "length of one unit in ms (default 1000)")
    .parse();
    let unit = args.duration_ms("--unit-ms", 1000);
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    let start = Instant::now();
    runtime.block_on(async {
        let workers: Vec<_> = (1..=3).map(|units| spawn(do_some_work(units, unit))).collect();
        for w in workers {
            if let Err(e) = w.await {
                // Not eprintln!, which panics if stderr has gone.
                let _ = writeln!(std::io::stderr(), "a worker failed: {e}");
            }
        }
    });
    let elapsed = start.elapsed();
    cli::say(format_args!(
        "stage5: 3 workers sleeping 1+2+3 = 6 units of {} ms, 1 thread, {:.3} s ({:.2} units)",
        unit.as_millis(),
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / unit.as_secs_f64().max(f64::MIN_POSITIVE)
    ));
}
