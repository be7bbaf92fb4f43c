//! `stage4-echo`: the echo server as tasks: one accept-loop task spawning a handler task per
//! client. Try `nc 127.0.0.1 7004` in several terminals; `TRACE=1` shows every task step.

use stage1_blocking::workshop::cli;
use stage4_tasks::echo::EchoServer;

fn main() {
    let (listener, addr) = cli::listen_from_args(
        "stage4-echo",
        "Echo server on one thread: an accept-loop task spawns one coroutine task per client.",
        ([127, 0, 0, 1], 7004).into(),
    );
    let server = EchoServer::from_listener(listener)
        .unwrap_or_else(|err| cli::fail(format!("cannot set up the listener on {addr}: {err}")));
    cli::say(format_args!("stage4-echo listening on {addr} (try: nc {} {})", addr.ip(), addr.port()));
    if let Err(err) = server.run() {
        cli::fail(err);
    }
}
