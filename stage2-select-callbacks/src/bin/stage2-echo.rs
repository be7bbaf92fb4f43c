//! `stage2-echo`: an echo server for many clients at once, on one thread, with callbacks.
//!
//! Try it with a few `nc 127.0.0.1 7002` in different terminals; `TRACE=1` shows accepts,
//! reads, back-pressure pauses and closes.

use std::net::SocketAddr;

use stage1_blocking::cli::{self, Cli};
use stage2_select_callbacks::echo;

fn main() {
    let args = Cli::new(
        "stage2-echo",
        "Echo server: sends back whatever each client sends, many clients at once on one thread.",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:7002)")
    .parse();
    let default: SocketAddr = ([127, 0, 0, 1], 7002).into();
    let addr = args.value_or("--addr", default);
    let listener = cli::listen_or_exit(addr);
    let shown = listener.local_addr().unwrap_or(addr);
    println!("stage2-echo: listening on {shown} (try: nc {} {})", shown.ip(), shown.port());
    if let Err(e) = echo::serve(listener) {
        cli::fail(format!("the event loop failed: {e}"));
    }
}
