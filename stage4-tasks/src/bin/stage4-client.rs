//! `stage4-client`: fetch `/1` .. `/N` concurrently, each request one `Get` coroutine in a Task.
//!
//! Same flags and output as the earlier stages. `TRACE=1` shows every task step: which task,
//! which state it went from and to, and which future it yielded.

use std::time::Instant;

use stage1_blocking::cli::{self, ClientArgs};
use stage4_tasks::{Scheduler, get};

fn main() {
    let args = ClientArgs::cli(
        "stage4-client",
        "Fetch /1 .. /N concurrently on one thread; each request is a coroutine stepped by a Task.",
    )
    .parse();
    let args = ClientArgs::from_args(&args);
    // `_server` keeps an in-process demo server alive until the end of main.
    let (_server, addr) = cli::target(&args);

    let paths: Vec<String> = (1..=args.count).map(|n| format!("/{n}")).collect();
    let start = Instant::now();
    let scheduler =
        Scheduler::new().unwrap_or_else(|err| cli::fail(format!("cannot create the selector: {err}")));
    let outcomes = get::crawl(&scheduler, addr, &paths, |outcome| match &outcome.result {
        Ok(response) => println!("{}", cli::response_line(&outcome.path, response)),
        Err(err) => println!("GET {} -> error: {err}", outcome.path),
    })
    .unwrap_or_else(|err| cli::fail(err));
    println!("{}", cli::summary_line("stage4", paths.len(), 1, start.elapsed()));
    if outcomes.iter().any(|o| o.result.is_err()) {
        std::process::exit(1);
    }
}
