//! `stage6-server`: the demo application on our own runtime.
//!
//! ```text
//! cargo run --release -p stage6-http --bin stage6-server -- --workers 2 --root docs/src
//! curl -i http://127.0.0.1:8080/json
//! ```

use stage1_blocking::cli::{Cli, describe_bind_error, fail};
use stage6_http::app::{demo_router, hello_router};
use stage6_http::static_files::StaticRoot;
use stage6_http::{Server, ServerConfig};
use std::net::SocketAddr;
use std::time::Duration;

fn main() {
    let args = Cli::new(
        "stage6-server",
        "HTTP/1.1 server on the stage 5 runtime: /, /json, /users/:id, /search?q=, POST /echo, \
         /stream/:n, /sleep/:ms, /static/*path",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:8080)")
    .option("--workers", "N", "worker threads, one runtime each (default 1)")
    .option("--root", "DIR", "serve files under /static/ from DIR (default: none)")
    .option("--idle-timeout", "MS", "close keep-alive connections idle this long (default 60000)")
    .switch("--bench-hello", "serve only / and /hello (Hello, World!), like the benchmark peers")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 8080)));
    let config = ServerConfig {
        workers: args.value_or("--workers", 1usize).max(1),
        idle_timeout: Duration::from_millis(args.value_or("--idle-timeout", 60_000u64)),
        ..ServerConfig::default()
    };
    let root = args
        .value::<String>("--root")
        .map(|dir| StaticRoot::new(&dir).unwrap_or_else(|e| fail(format!("--root {dir}: {e}"))));
    let static_note = match &root {
        Some(root) => format!(", files from {}", root.root().display()),
        None => String::new(),
    };
    let router = if args.switch("--bench-hello") { hello_router() } else { demo_router(root) };
    let server = Server::bind(addr, router, config).unwrap_or_else(|e| fail(describe_bind_error(addr, &e)));
    println!(
        "stage6-server: listening on http://{} ({} worker{}{static_note})",
        server.local_addr(),
        config.workers,
        if config.workers == 1 { "" } else { "s" },
    );
    if let Err(e) = server.run() {
        fail(format!("server stopped: {e}"));
    }
}
