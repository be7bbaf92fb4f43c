//! `stage1-threads`: the blocking answer to latency: one thread per request.
//!
//! Each thread still sleeps through its whole round trip, but they sleep at the same time, so
//! N requests take about one latency instead of N. The price is a thread (a stack, a kernel
//! task, a share of the scheduler) for every request in flight. This binary prints what that
//! costs, so the chapter's "where this breaks" has numbers behind it.

use std::thread;
use std::time::Instant;

use stage1_blocking::cli::{self, ClientArgs};
use stage1_blocking::http;

fn main() {
    let args = ClientArgs::cli(
        "stage1-threads",
        "Fetch /1 .. /N with one blocking thread per request, and report what the threads cost.",
    )
    .parse();
    let args = ClientArgs::from_args(&args);
    let (_server, addr) = cli::target(&args);
    let before = memory_line();

    // ANCHOR: threads
    let start = Instant::now();
    let mut workers = Vec::with_capacity(args.count);
    for n in 1..=args.count {
        let path = format!("/{n}");
        let spawned = thread::Builder::new().spawn(move || {
            let result = http::get(addr, &path);
            (path, result)
        });
        match spawned {
            Ok(worker) => workers.push(worker),
            // The limit this stage runs into: the OS will not give us another thread.
            Err(e) => cli::fail(format!("could not start thread {n}: {e}")),
        }
    }
    let mut failures = 0;
    for worker in workers {
        match worker.join() {
            Ok((path, Ok(response))) => println!("{}", cli::response_line(&path, &response)),
            Ok((path, Err(e))) => {
                failures += 1;
                println!("GET {path} -> error: {e:#}");
            }
            Err(_) => failures += 1, // a panicking thread already printed its message
        }
    }
    let elapsed = start.elapsed();
    // ANCHOR_END: threads
    if let (Some(before), Some(after)) = (before, memory_line()) {
        println!("memory (this process, client and in-process server): {before} before, {after} at peak");
    }
    println!("{}", cli::summary_line("stage1", args.count, args.count, elapsed));
    if failures > 0 {
        std::process::exit(1);
    }
}

/// Peak resident memory of this process, from Linux's /proc (None elsewhere).
fn memory_line() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kib as f64 / 1024.0))
}
