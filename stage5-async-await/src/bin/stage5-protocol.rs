//! `stage5-protocol`: the echo server written as an asyncio-style Protocol (`asyncio.Protocol`):
//! callbacks `connection_made`, `data_received`, `eof_received`, `connection_lost`, served by
//! one task per connection underneath (the protocol is `stage5_async_await::echo::EchoProtocol`).
//! Try `nc 127.0.0.1 7006`; `TRACE=1` shows the connections and the loop's decisions.

use std::sync::Arc;

use stage1_blocking::workshop::cli;
use stage2_select_callbacks::echo::EchoStats;
use stage5_async_await::echo::EchoProtocol;
use stage5_async_await::net::TcpListener;
use stage5_async_await::{Runtime, protocol};

fn main() {
    let (std_listener, addr) = cli::listen_from_args(
        "stage5-protocol",
        "Echo server written as a Protocol (callbacks) on the stage 5 runtime.",
        ([127, 0, 0, 1], 7006).into(),
    );
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    let stats = Arc::new(EchoStats::default());
    let result = runtime.block_on(async {
        let listener = TcpListener::from_std(std_listener)?;
        cli::say(format_args!("stage5-protocol listening on {addr} (try: nc {} {})", addr.ip(), addr.port()));
        // ANCHOR: serve
        protocol::serve(listener, || EchoProtocol::new(stats.clone())).await
        // ANCHOR_END: serve
    });
    if let Err(e) = result {
        cli::fail(format!("accept failed: {e}"));
    }
}
