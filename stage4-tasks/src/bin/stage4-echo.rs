//! `stage4-echo`: the echo server as tasks: one accept-loop task spawning a handler task per
//! client. Try `nc 127.0.0.1 7004` in several terminals; `TRACE=1` shows every task step.

use std::net::SocketAddr;

use stage1_blocking::cli;
use stage4_tasks::echo::EchoServer;

fn main() {
    let args = cli::Cli::new(
        "stage4-echo",
        "Echo server on one thread: an accept-loop task spawns one coroutine task per client.",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:7004)")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 7004)));
    let server = EchoServer::from_listener(cli::listen_or_exit(addr))
        .unwrap_or_else(|err| cli::fail(format!("cannot set up the listener on {addr}: {err}")));
    let addr = server.local_addr().unwrap_or(addr);
    println!("stage4-echo listening on {addr} (try: nc {} {})", addr.ip(), addr.port());
    if let Err(err) = server.run() {
        cli::fail(err);
    }
}
