//! `stage4-fib N`: fib(N) as coroutines delegating to sub-coroutines, stepped by one Task.
//!
//! Every leaf of the recursion yields once, so the task takes one step per leaf (plus the
//! last one that completes it). The work grows like fib(N) itself: 25 is instant, 35 takes a
//! while in a debug build.

use stage1_blocking::workshop::cli;
use stage4_tasks::Scheduler;
use stage4_tasks::fib::{Fib, MAX_N};

fn main() {
    let n_help = format!("which Fibonacci number, 0 to {MAX_N} (default 20; fib(0) = 0, fib(1) = 1)");
    let args = cli::Cli::new("stage4-fib", "Compute fib(N) with coroutines that delegate to sub-coroutines.")
        .positional("N", &n_help)
        .parse();
    // The parser already refuses a second positional; a bad N is one line and exit 2, and so
    // is an N whose answer does not fit in a u64 (the recursion would never get that far).
    let n: u32 = args.positional_or(0, "N", 20);
    if n > MAX_N {
        let reason = format!("fib(N) fits in a u64 only up to N = {MAX_N}");
        args.bad_value("N", &n.to_string(), &reason);
    }
    let scheduler =
        Scheduler::new().unwrap_or_else(|err| cli::fail(format!("cannot create the selector: {err}")));
    let result = scheduler.spawn(format!("fib({n})"), Fib::new(&scheduler, n));
    match scheduler.run_until_complete(&result) {
        Ok(value) => {
            cli::say(format_args!("fib({n}) = {value}"));
            cli::say(format_args!(
                "{} task steps (one per leaf of the recursion, plus the first)",
                scheduler.steps()
            ));
        }
        Err(err) => cli::fail(err),
    }
}
