//! `stage6-loadgen`: an HTTP/1.1 load generator on the stage 5 runtime (this course's `wrk`).
//!
//! ```text
//! cargo run --release -p stage6-http --bin stage6-loadgen -- http://127.0.0.1:8080/ --connections 50 --duration 8
//! ```
//!
//! With no URL it starts `stage6-server`'s hello routes in-process and loads those.

use stage1_blocking::cli::{Cli, fail, summary_line};
use stage6_http::app::hello_router;
use stage6_http::loadgen::{LoadConfig, parse_url, run};
use stage6_http::{Server, ServerConfig};
use std::time::Duration;

fn main() {
    let args = Cli::new(
        "stage6-loadgen",
        "Keep N connections busy with GET requests for a while; print throughput and latency.",
    )
    .positional("URL", "http://host:port/path (default: a stage6 server started in-process)")
    .option("--connections", "N", "concurrent keep-alive connections (default 50)")
    .option("--duration", "SECONDS", "how long to run (default 5)")
    .option("--pipeline", "N", "requests written at once per connection (default 1)")
    .option("--threads", "N", "threads, each with its own runtime (default 1)")
    .parse();
    let connections: usize = args.value_or("--connections", 50usize).max(1);
    let duration = Duration::from_secs(args.value_or("--duration", 5u64).max(1));
    let pipeline: usize = args.value_or("--pipeline", 1usize).max(1);
    let threads: usize = args.value_or("--threads", 1usize).max(1);

    // Kept alive until the end of main when we start our own server.
    let mut own_server = None;
    let (addr, host, path) = match args.positionals().first() {
        Some(url) => parse_url(url).unwrap_or_else(|e| fail(e)),
        None => {
            let server = Server::bind(
                "127.0.0.1:0".parse().unwrap_or_else(|e| fail(e)),
                hello_router(),
                ServerConfig::default(),
            )
            .and_then(Server::spawn)
            .unwrap_or_else(|e| fail(format!("cannot start the in-process server: {e}")));
            let addr = server.addr();
            println!("no URL given: started stage6-server (hello routes) on http://{addr}/hello");
            own_server = Some(server);
            (addr, addr.to_string(), "/hello".to_string())
        }
    };
    let config = LoadConfig { addr, host, path, connections, threads, pipeline, duration };
    let mut report = run(&config).unwrap_or_else(|e| fail(e));
    println!("{}", report.summary(&config));
    drop(own_server);
    if report.responses == 0 {
        fail(format!(
            "no response at all from {addr}: {}",
            report.first_error.as_deref().unwrap_or("nothing answered")
        ));
    }
    println!("{}", summary_line("stage6", report.responses as usize, threads, report.elapsed));
}
