//! `stage1-echo-threads`: a blocking echo server with one thread per client.
//!
//! Two `nc 127.0.0.1 7002` sessions are now served at the same time; each costs a thread.

use std::net::SocketAddr;

use stage1_blocking::{cli, echo};

fn main() {
    let args = cli::Cli::new(
        "stage1-echo-threads",
        "Blocking echo server, one thread per client (clients are served at the same time).",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:7002)")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 7002)));
    let listener = cli::listen_or_exit(addr);
    let addr = listener.local_addr().unwrap_or(addr);
    println!(
        "stage1-echo-threads listening on {addr}, a thread per client (try: nc {} {})",
        addr.ip(),
        addr.port()
    );
    echo::serve_thread_per_client(listener.incoming());
}
