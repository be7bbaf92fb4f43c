//! `stage1-threads`: the blocking answer to latency: one thread per request.
//!
//! Each thread still sleeps through its whole round trip, but they sleep at the same time, so
//! N requests take about one latency instead of N. The price is a thread (a stack, a kernel
//! task, a share of the scheduler) for every request in flight. This binary prints what that
//! costs, so the chapter's "where this breaks" has numbers behind it.

use std::thread;

use anyhow::Context;
use stage1_blocking::http;
use stage1_blocking::workshop::cli;

fn main() {
    let about = "Fetch /1 .. /N with one blocking thread per request, and report what the threads cost.";
    cli::run_crawler_demo("stage1-threads", about, |addr, paths, report| {
        let before = memory_line();
        // ANCHOR: threads
        let mut workers = Vec::with_capacity(paths.len());
        for (n, path) in paths.iter().enumerate() {
            let thread_path = path.clone();
            let worker = thread::Builder::new()
                .spawn(move || http::get(addr, &thread_path))
                // The limit this stage runs into: the OS will not give us another thread.
                .with_context(|| format!("could not start thread {}", n + 1))?;
            workers.push((path, worker));
        }
        for (path, worker) in workers {
            // join() is Err only if the thread panicked (it printed its message already).
            let result = worker.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the thread panicked")));
            report.response(path, &result);
        }
        // ANCHOR_END: threads
        if let (Some(before), Some(after)) = (before, memory_line()) {
            cli::say(format_args!(
                "memory (this process, client and in-process server): {before} before, {after} at peak"
            ));
        }
        Ok(paths.len()) // one thread per request
    });
}

/// Peak resident memory of this process, from Linux's /proc (None elsewhere).
fn memory_line() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kib as f64 / 1024.0))
}
