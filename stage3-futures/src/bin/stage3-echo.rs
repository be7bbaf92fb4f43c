//! `stage3-echo`: an echo server on the future loop, one thread, many clients, bounded buffers.
//!
//! Try `nc 127.0.0.1 7003` in several terminals at once: every client is served at the same
//! time. `TRACE=1` shows the futures each connection waits on.

use std::net::SocketAddr;

use stage1_blocking::cli;
use stage3_futures::echo::EchoServer;

fn main() {
    let args = cli::Cli::new(
        "stage3-echo",
        "Echo server on one thread: every wait is a Future; a slow reader is held back by a bounded buffer.",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:7003)")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 7003)));
    let server = EchoServer::from_listener(cli::listen_or_exit(addr))
        .unwrap_or_else(|err| cli::fail(format!("cannot set up the listener on {addr}: {err}")));
    let addr = server.local_addr().unwrap_or(addr);
    println!("stage3-echo listening on {addr} (try: nc {} {})", addr.ip(), addr.port());
    if let Err(err) = server.run() {
        cli::fail(err);
    }
}
