//! `stage5-protocol`: the echo server written as an asyncio-style Protocol (seed 004):
//! callbacks `connection_made`, `data_received`, `eof_received`, `connection_lost`, served by
//! one task per connection underneath. Try `nc 127.0.0.1 7006`.

use std::io;
use std::net::SocketAddr;

use stage1_blocking::cli;
use stage5_async_await::Runtime;
use stage5_async_await::net::TcpListener;
use stage5_async_await::protocol::{self, Protocol, Transport};

// ANCHOR: echo_protocol
/// Echo as callbacks: no loop, no await, no buffer management.
#[derive(Default)]
struct EchoProtocol {
    transport: Option<Transport>,
    bytes: usize,
}

impl Protocol for EchoProtocol {
    fn connection_made(&mut self, transport: Transport) {
        if let Some(peer) = transport.peer_addr() {
            println!("connection from {peer}");
        }
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.bytes += data.len();
        if let Some(t) = &self.transport {
            t.write(data);
        }
    }

    fn eof_received(&mut self) -> bool {
        false // close once everything is echoed
    }

    fn connection_lost(&mut self, error: Option<io::Error>) {
        let peer = self.transport.as_ref().and_then(Transport::peer_addr);
        match (peer, error) {
            (Some(p), None) => println!("{p} closed after {} bytes", self.bytes),
            (Some(p), Some(e)) => println!("{p} failed: {e}"),
            (None, _) => {}
        }
    }
}
// ANCHOR_END: echo_protocol

fn main() {
    let args = cli::Cli::new(
        "stage5-protocol",
        "Echo server written as a Protocol (callbacks) on the stage 5 runtime.",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:7006)")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 7006)));
    let std_listener = cli::listen_or_exit(addr);
    let runtime = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    runtime.block_on(async {
        let listener = TcpListener::from_std(std_listener).unwrap_or_else(|e| cli::fail(e));
        let addr = listener.local_addr().unwrap_or(addr);
        println!("stage5-protocol listening on {addr} (try: nc {} {})", addr.ip(), addr.port());
        if let Err(e) = protocol::serve(listener, EchoProtocol::default).await {
            cli::fail(format!("accept failed: {e}"));
        }
    });
}
