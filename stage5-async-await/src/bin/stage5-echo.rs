//! `stage5-echo`: curio's echo server, in Rust: `accept().await`, then `spawn` a task per
//! client. Thousands of idle clients cost a few hundred bytes each, not a thread each.
//! Try `nc 127.0.0.1 7005` in several terminals; `TRACE=1` shows every decision of the loop.

use std::net::SocketAddr;

use stage1_blocking::cli;
use stage5_async_await::echo::echo_client;
use stage5_async_await::net::TcpListener;
use stage5_async_await::{Runtime, spawn};

fn main() {
    let args = cli::Cli::new("stage5-echo", "Echo server on the stage 5 runtime: one task per client.")
        .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:7005)")
        .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 7005)));
    let std_listener = cli::listen_or_exit(addr);
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    runtime.block_on(async {
        let listener = TcpListener::from_std(std_listener).unwrap_or_else(|e| cli::fail(e));
        let addr = listener.local_addr().unwrap_or(addr);
        println!(
            "stage5-echo listening on {addr}, a task per client (try: nc {} {})",
            addr.ip(),
            addr.port()
        );
        // ANCHOR: accept_loop
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    println!("connection from {peer}");
                    spawn(async move {
                        match echo_client(stream).await {
                            Ok(n) => println!("{peer} closed after {n} bytes"),
                            Err(e) => println!("{peer} failed: {e}"),
                        }
                    });
                }
                Err(e) => eprintln!("accept failed: {e}"),
            }
        }
        // ANCHOR_END: accept_loop
    });
}
