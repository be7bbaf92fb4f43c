//! `stage4-starve [N]`: fib(N) and a crawl of ten pages as tasks on the *same* scheduler, with
//! the time each response arrived (exercise 4.1 of the book's stage 4).
//!
//! Every leaf of `Fib` yields, so the crawl's tasks get turns while fib runs and the pages
//! arrive within milliseconds. Make the leaves complete without `yield_now` and run it again:
//! every page now arrives after fib is done. The demo server runs in this process, instant.

use std::time::Instant;

use stage1_blocking::workshop::cli;
use stage1_blocking::workshop::demo::{DemoConfig, DemoServer};
use stage4_tasks::Scheduler;
use stage4_tasks::fib::{Fib, MAX_N};
use stage4_tasks::get::Get;

fn main() {
    let n_help = format!("which Fibonacci number to compute meanwhile, 0 to {MAX_N} (default 27)");
    let args = cli::Cli::new(
        "stage4-starve",
        "fib(N) and a crawl of 10 pages on one scheduler: when does each page arrive?",
    )
    .positional("N", &n_help)
    .parse();
    let n: u32 = args.positional_or(0, "N", 27);
    if n > MAX_N {
        args.bad_value("N", &n.to_string(), &format!("fib(N) fits in a u64 only up to N = {MAX_N}"));
    }
    let server = DemoServer::start(DemoConfig::instant())
        .unwrap_or_else(|err| cli::fail(format!("cannot start the demo server: {err}")));
    let scheduler =
        Scheduler::new().unwrap_or_else(|err| cli::fail(format!("cannot create the selector: {err}")));
    let start = Instant::now();
    // ANCHOR: starve
    let fib = scheduler.spawn(format!("fib({n})"), Fib::new(&scheduler, n));
    fib.add_done_callback(move |fib| match fib.take_result() {
        Ok(value) => cli::say(format_args!("{:8.1} ms  fib({n}) = {value}", ms(start))),
        Err(err) => cli::say(format_args!("{:8.1} ms  fib({n}) failed: {err}", ms(start))),
    });
    for page in 1..=10 {
        let path = format!("/{page}");
        let get = scheduler.spawn(format!("GET {path}"), Get::new(&scheduler, server.addr(), &path));
        get.add_done_callback(move |get| match get.take_result() {
            Ok(response) => cli::say(format_args!("{:8.1} ms  GET {path} -> {}", ms(start), response.status)),
            Err(err) => cli::say(format_args!("{:8.1} ms  GET {path} failed: {err}", ms(start))),
        });
    }
    // ANCHOR_END: starve
    if let Err(err) = scheduler.run() {
        cli::fail(err);
    }
}

/// Milliseconds since `start`.
fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
