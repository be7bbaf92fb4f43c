//! `stage1-demo-server`: the demo server on its own, for `curl`, `nc` and clients of any stage
//! (`cargo run -p stage2-select-callbacks -- --addr 127.0.0.1:8000`).

use std::net::SocketAddr;

use stage1_blocking::workshop::cli;
use stage1_blocking::workshop::demo::{DemoConfig, DemoServer};

fn main() {
    let args = cli::Cli::new(
        "stage1-demo-server",
        "The demo server every stage's client talks to: / and /N pages, a delay per request, \
         trickle mode. Runs until Ctrl-C.",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:8000)")
    .option("--delay", "MS", "delay before each response, in ms (default 100)")
    .switch("--trickle", "send each response in small pieces with pauses")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 8000)));
    let config = DemoConfig { delay: args.duration_ms("--delay", 100), trickle: args.switch("--trickle") };
    let server = match DemoServer::bind(addr, config) {
        Ok(server) => server,
        Err(e) => cli::fail(cli::describe_bind_error(addr, &e)),
    };
    let trickle = if config.trickle { ", trickle" } else { "" };
    cli::say(format_args!(
        "demo server on http://{} (delay {} ms{trickle}); try: curl http://{}/1",
        server.addr(),
        config.delay.as_millis(),
        server.addr()
    ));
    // The server runs on its own threads; this one has nothing left to do but wait.
    loop {
        std::thread::park();
    }
}
