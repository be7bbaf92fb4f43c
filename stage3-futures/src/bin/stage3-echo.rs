//! `stage3-echo`: an echo server on the future loop, one thread, many clients, bounded buffers.
//!
//! Try `nc 127.0.0.1 7003` in several terminals at once: every client is served at the same
//! time. `TRACE=1` shows the futures each connection waits on.

use stage1_blocking::workshop::cli;
use stage3_futures::echo::EchoServer;

fn main() {
    let (listener, addr) = cli::listen_from_args(
        "stage3-echo",
        "Echo server on one thread: every wait is a Future; a slow reader is held back by a bounded buffer.",
        ([127, 0, 0, 1], 7003).into(),
    );
    let server = EchoServer::from_listener(listener)
        .unwrap_or_else(|err| cli::fail(format!("cannot set up the listener on {addr}: {err}")));
    cli::say(format_args!("stage3-echo listening on {addr} (try: nc {} {})", addr.ip(), addr.port()));
    if let Err(err) = server.run() {
        cli::fail(err);
    }
}
