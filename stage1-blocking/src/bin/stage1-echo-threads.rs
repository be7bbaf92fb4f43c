//! `stage1-echo-threads`: a blocking echo server with one thread per client.
//!
//! Two `nc 127.0.0.1 7011` sessions are now served at the same time; each costs a thread.
//! (Port 7011, not 7002: stage 2's echo server has that one, and the two are worth running side
//! by side.)

use stage1_blocking::echo;
use stage1_blocking::workshop::cli;

fn main() {
    let (listener, addr) = cli::listen_from_args(
        "stage1-echo-threads",
        "Blocking echo server, one thread per client (clients are served at the same time).",
        ([127, 0, 0, 1], 7011).into(),
    );
    cli::say(format_args!(
        "stage1-echo-threads listening on {addr}, a thread per client (try: nc {} {})",
        addr.ip(),
        addr.port()
    ));
    echo::serve_thread_per_client(listener.incoming());
}
