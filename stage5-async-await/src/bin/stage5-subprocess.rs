//! `stage5-subprocess`: asyncio's `create_subprocess_exec` + `async for line in p.stdout`.
//! A child prints a line every 200 ms; we read its lines as they come while a timer ticks
//! every 150 ms in another task. Neither waits for the other: one thread, one loop.

use std::process::Command;
use std::time::Instant;

use stage1_blocking::workshop::cli;
use stage5_async_await::time::interval;
use stage5_async_await::{Runtime, process, spawn};

fn main() {
    let args = cli::Cli::new(
        "stage5-subprocess",
        "Read a child's output line by line while a timer ticks (default child: 5 lines, 200 ms apart).",
    )
    .option("--command", "SH", "shell command to run instead (sh -c SH)")
    .option("--tick-ms", "MS", "ticker period in ms (default 150)")
    .parse();
    let script: String =
        args.value_or("--command", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done".to_string());
    let tick = args.duration_ms("--tick-ms", 150);
    if tick.is_zero() {
        args.bad_value("--tick-ms", "0", "must be at least 1");
    }
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    let start = Instant::now();
    let status = runtime.block_on(async {
        // ANCHOR: subprocess
        let mut child = process::spawn(Command::new("sh").arg("-c").arg(&script))
            .unwrap_or_else(|e| cli::fail(format!("cannot run sh: {e}")));
        let ticker = spawn(async move {
            let mut ticks = interval(tick);
            loop {
                ticks.tick().await;
                cli::say(format_args!("[{:>5.0} ms] tick", start.elapsed().as_secs_f64() * 1e3));
            }
        });
        let mut lines = child.stdout.take().expect("stdout is piped").lines();
        let mut count = 0;
        while let Some(line) = lines.next_line().await.unwrap_or_else(|e| cli::fail(e)) {
            count += 1;
            cli::say(format_args!("[{:>5.0} ms] child says: {line}", start.elapsed().as_secs_f64() * 1e3));
        }
        let status = child.wait().await.unwrap_or_else(|e| cli::fail(e));
        ticker.abort();
        // ANCHOR_END: subprocess
        (status, count)
    });
    let (status, count) = status;
    cli::say(format_args!(
        "stage5: {count} lines from the child, {status}, 1 thread, {:.3} s",
        start.elapsed().as_secs_f64()
    ));
}
