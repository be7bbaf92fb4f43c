//! `stage1-echo`: a blocking echo server that serves one client at a time.
//!
//! Try it with two terminals running `nc 127.0.0.1 7001`: the second one's lines come back
//! only after the first `nc` quits.

use std::net::SocketAddr;

use stage1_blocking::{cli, echo};

fn main() {
    let args = cli::Cli::new(
        "stage1-echo",
        "Blocking echo server, one client at a time (a second client waits until the first leaves).",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:7001)")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 7001)));
    let listener = cli::listen_or_exit(addr);
    let addr = listener.local_addr().unwrap_or(addr);
    println!("stage1-echo listening on {addr}, one client at a time (try: nc {} {})", addr.ip(), addr.port());
    echo::serve_one_at_a_time(listener.incoming());
}
