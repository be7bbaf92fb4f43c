//! `stage5-echo`: curio's echo server, in Rust: `accept().await`, then `spawn` a task per
//! client. Thousands of idle clients cost a few hundred bytes each, not a thread each.
//! Try `nc 127.0.0.1 7005` in several terminals; `TRACE=1` shows every decision of the loop
//! (connections, tasks, readiness).

use std::sync::Arc;

use stage1_blocking::workshop::cli;
use stage2_select_callbacks::echo::EchoStats;
use stage5_async_await::Runtime;
use stage5_async_await::echo;
use stage5_async_await::net::TcpListener;

fn main() {
    let (std_listener, addr) = cli::listen_from_args(
        "stage5-echo",
        "Echo server on the stage 5 runtime: one task per client.",
        ([127, 0, 0, 1], 7005).into(),
    );
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    let result = runtime.block_on(async {
        let listener = TcpListener::from_std(std_listener)?;
        cli::say(format_args!(
            "stage5-echo listening on {addr}, a task per client (try: nc {} {})",
            addr.ip(),
            addr.port()
        ));
        echo::serve(listener, Arc::new(EchoStats::default())).await
    });
    if let Err(e) = result {
        cli::fail(format!("accept failed: {e}"));
    }
}
