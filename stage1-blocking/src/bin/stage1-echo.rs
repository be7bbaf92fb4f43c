//! `stage1-echo`: a blocking echo server that serves one client at a time.
//!
//! Try it with two terminals running `nc 127.0.0.1 7001`: the second one's lines come back
//! only after the first `nc` quits.

use stage1_blocking::echo;
use stage1_blocking::workshop::cli;

fn main() {
    let (listener, addr) = cli::listen_from_args(
        "stage1-echo",
        "Blocking echo server, one client at a time (a second client waits until the first leaves).",
        ([127, 0, 0, 1], 7001).into(),
    );
    cli::say(format_args!(
        "stage1-echo listening on {addr}, one client at a time (try: nc {} {})",
        addr.ip(),
        addr.port()
    ));
    echo::serve_one_at_a_time(listener.incoming());
}
