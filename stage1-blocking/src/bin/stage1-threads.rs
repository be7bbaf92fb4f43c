//! `stage1-threads`: the blocking answer to latency: one thread per request.
//!
//! Each thread still sleeps through its whole round trip, but they sleep at the same time, so
//! N requests take about one latency instead of N. The price is a thread (a stack, a kernel
//! task, a share of the scheduler) for every request in flight. This binary prints what that
//! costs, so the chapter's "where this breaks" has numbers behind it.

use std::thread;

use anyhow::Context;
use stage1_blocking::http;
use stage1_blocking::workshop::timeline::trace;
use stage1_blocking::workshop::{cli, memory};

fn main() {
    let about = "Fetch /1 .. /N with one blocking thread per request, and report what the threads cost.";
    cli::run_crawler_demo("stage1-threads", about, |addr, paths, report| {
        let before = memory::peak_resident_kib();
        // ANCHOR: threads
        let mut workers = Vec::with_capacity(paths.len());
        for (n, path) in paths.iter().enumerate() {
            let thread_path = path.clone();
            let worker = thread::Builder::new()
                .spawn(move || {
                    // `TRACE=1` prints this line; `--timeline` draws a lane per request.
                    trace(format_args!(
                        "GET {thread_path}: connect, send, then block in read on thread {}",
                        n + 1
                    ));
                    let result = http::get(addr, &thread_path);
                    trace(format_args!("GET {thread_path} done on thread {}", n + 1));
                    result
                })
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
        match (before, memory::peak_resident_kib()) {
            (Some(before), Some(after)) => cli::say(format_args!(
                "memory (this process, client and in-process server): {} before, {} at peak",
                mib(before),
                mib(after)
            )),
            // The peak comes from /proc (VmHWM); `ps` only knows the size now, after the fact.
            _ => cli::say("memory: not measured here (the peak is read from Linux's /proc)"),
        }
        Ok(paths.len()) // one thread per request
    });
}

/// `2048` KiB -> `"2.0 MiB"`.
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
