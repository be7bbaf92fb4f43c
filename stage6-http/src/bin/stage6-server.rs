//! `stage6-server`: the demo application on our own runtime.
//!
//! ```text
//! cargo run --release -p stage6-http --bin stage6-server -- --workers 2 --log
//! curl -i http://127.0.0.1:8080/json
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM shuts it down gracefully; a second one stops it at once.

use stage1_blocking::workshop::cli::{Args, Cli, describe_bind_error, fail, say};
use stage2_select_callbacks::sys::raise_nofile_limit;
use stage6_http::app::{default_root, demo_router, hello_router};
use stage6_http::static_files::StaticRoot;
use stage6_http::{Limits, Server, ServerConfig};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

fn main() {
    let args = Cli::new(
        "stage6-server",
        "HTTP/1.1 server on the stage 5 runtime: /, /hello, /json, /users/:id, POST /echo, \
         /sleep?ms=N, /static/*path and more (the / page lists them)",
    )
    .option("--addr", "ADDR", "address to listen on (default 127.0.0.1:8080)")
    .option(
        "--workers",
        "N",
        "worker threads, one runtime and SO_REUSEPORT socket each (default 1; balanced on Linux only)",
    )
    .option("--root", "DIR", "serve files under /static/ from DIR (default: the built book, docs/book)")
    .switch("--log", "print an access log line per request")
    .option("--max-connections", "N", "connections served at once; more get 503 (default 10000)")
    .option("--idle-timeout", "MS", "close keep-alive connections idle this long (default 60000)")
    .option("--header-timeout", "MS", "a request head must arrive within this (default 30000)")
    .option("--body-timeout", "MS", "longest wait for more of a request body (default 30000)")
    .option(
        "--min-body-rate",
        "BYTES",
        "a body must average this many bytes a second past --body-timeout; 0: off (default 500)",
    )
    .option(
        "--body-budget",
        "BYTES",
        "bytes all arriving request bodies may hold together; more gets 503 (default 67108864)",
    )
    .option("--write-timeout", "MS", "longest wait for a client to take our bytes (default 30000)")
    .option("--shutdown-timeout", "MS", "grace for in-flight requests at shutdown (default 10000)")
    .option("--max-body", "BYTES", "largest request body; more gets 413 (default 1048576)")
    .option("--max-header-bytes", "BYTES", "largest request head; more gets 431 (default 16384)")
    .option("--max-headers", "N", "most header lines; more gets 431 (default 100)")
    .option("--max-target", "BYTES", "longest request target; more gets 414 (default 8192)")
    .switch("--bench-hello", "serve only / and /hello (Hello, World!), like the benchmark peers")
    .parse();
    let addr: SocketAddr = args.value_or("--addr", SocketAddr::from(([127, 0, 0, 1], 8080)));
    // Every connection is a file descriptor, and the default soft limit (often 1,024; 256 on
    // macOS) is far below what the hard limit allows: raise it, or the 1,025th client meets
    // EMFILE while the machine has plenty to spare.
    if let Err(e) = raise_nofile_limit() {
        let _ = writeln!(io::stderr(), "stage6-server: cannot raise the open-file limit: {e}");
    }
    let config = config_from(&args);
    let root = match args.value::<String>("--root") {
        Some(dir) => Some(StaticRoot::new(&dir).unwrap_or_else(|e| fail(format!("--root {dir}: {e}")))),
        None => default_root(),
    };
    let static_note = match &root {
        Some(root) => format!(", /static/ from {}", root.root().display()),
        None => ", no /static/ (mdbook build docs, or --root DIR)".to_string(),
    };
    let router = if args.switch("--bench-hello") { hello_router() } else { demo_router(root) };
    let server = Server::bind(addr, router, config).unwrap_or_else(|e| fail(describe_bind_error(addr, &e)));
    say(format_args!(
        "stage6-server: listening on http://{} ({} worker{}{static_note}); Ctrl-C stops",
        server.local_addr(),
        config.workers,
        if config.workers == 1 { "" } else { "s" },
    ));
    if config.workers > 1 && !cfg!(target_os = "linux") {
        // The workers still run: they are correct, only not balanced (stage6-shutdown.md).
        // Not eprintln!: with stderr gone it would panic; the note is not worth that.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "stage6-server: note: SO_REUSEPORT balances connections between sockets only on Linux; \
             here it binds, but one worker may get every connection"
        );
    }
    match server.run() {
        Ok(stats) => say(format_args!(
            "stage6-server: stopped: {} requests on {} connections, {} turned away, {} cut off at shutdown",
            stats.requests, stats.connections, stats.turned_away, stats.abandoned
        )),
        Err(e) => fail(format!("server stopped: {e}")),
    }
}

/// Every limit and timeout of [`ServerConfig`] from its flag, or its default.
fn config_from(args: &Args) -> ServerConfig {
    let defaults = ServerConfig::default();
    let limits = Limits::default();
    let ms = |flag, default: Duration| args.duration_ms(flag, default.as_millis() as u64);
    ServerConfig {
        limits: Limits {
            max_target_len: args.value_or("--max-target", limits.max_target_len),
            max_header_bytes: args.value_or("--max-header-bytes", limits.max_header_bytes),
            max_headers: args.value_or("--max-headers", limits.max_headers),
            max_body_bytes: args.value_or("--max-body", limits.max_body_bytes),
        },
        workers: at_least_one(args, "--workers", 1),
        max_connections: at_least_one(args, "--max-connections", defaults.max_connections),
        idle_timeout: ms("--idle-timeout", defaults.idle_timeout),
        header_timeout: ms("--header-timeout", defaults.header_timeout),
        body_timeout: ms("--body-timeout", defaults.body_timeout),
        min_body_rate: args.value_or("--min-body-rate", defaults.min_body_rate),
        body_budget: args.value_or("--body-budget", defaults.body_budget),
        write_timeout: ms("--write-timeout", defaults.write_timeout),
        shutdown_timeout: ms("--shutdown-timeout", defaults.shutdown_timeout),
        access_log: args.switch("--log"),
    }
}

/// A count flag that must be 1 or more: 0 workers or 0 connections would be a server that
/// never answers, so it is a usage error (exit 2), not a value to round up quietly.
fn at_least_one(args: &Args, flag: &str, default: usize) -> usize {
    let n = args.value_or(flag, default);
    if n == 0 {
        args.bad_value(flag, "0", "must be at least 1");
    }
    n
}
