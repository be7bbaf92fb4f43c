//! `stage2-echo`: an echo server for many clients at once, on one thread, with callbacks.
//!
//! Try it with a few `nc 127.0.0.1 7002` in different terminals; `TRACE=1` shows accepts,
//! reads, back-pressure pauses and closes.

use stage1_blocking::workshop::cli;
use stage2_select_callbacks::echo;

fn main() {
    let (listener, addr) = cli::listen_from_args(
        "stage2-echo",
        "Echo server: sends back whatever each client sends, many clients at once on one thread.",
        ([127, 0, 0, 1], 7002).into(),
    );
    cli::say(format_args!("stage2-echo listening on {addr} (try: nc {} {})", addr.ip(), addr.port()));
    if let Err(e) = echo::serve(listener) {
        cli::fail(format!("the event loop failed: {e}"));
    }
}
