//! `stage6-loadgen`: an HTTP/1.1 load generator on the stage 5 runtime (this course's `wrk`).
//!
//! ```text
//! cargo run --release -p stage6-http --bin stage6-loadgen                     # loads its own server
//! cargo run --release -p stage6-http --bin stage6-loadgen -- http://127.0.0.1:8080/hello \
//!     --connections 50 --duration 8 [--pipeline 16] [--threads 2]
//! ```
//!
//! Aim it only at servers on your own machine: it sends as many requests as the server can take.

use stage1_blocking::workshop::cli::{Cli, fail, say, summary_line};
use stage6_http::app::hello_router;
use stage6_http::loadgen::{LoadConfig, Stop, Target, load, parse_url};
use stage6_http::{Server, ServerConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// A duration flag: `8` (seconds), `8s`, `500ms`, `2m`.
struct DurationArg(Duration);

impl FromStr for DurationArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (number, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
            Some(i) => s.split_at(i),
            None => (s, "s"),
        };
        let n: f64 = number.parse().map_err(|_| "expected a duration like 8, 8s, 500ms or 2m".to_string())?;
        let secs = match unit {
            "s" => n,
            "ms" => n / 1000.0,
            "m" => n * 60.0,
            _ => return Err(format!("unknown unit {unit:?} (use s, ms or m)")),
        };
        Duration::try_from_secs_f64(secs).map(DurationArg).map_err(|e| e.to_string())
    }
}

fn main() {
    let cli = Cli::new(
        "stage6-loadgen",
        "Keep N keep-alive connections busy with GET requests and report requests/s and latency, \
         like wrk. Aim it only at servers on your own machine.",
    )
    .positional("URL", "http://IP:PORT/path (default: start the stage 6 server in-process and load /hello)")
    .option("--connections", "N", "concurrent keep-alive connections (default 50)")
    .option("--duration", "TIME", "how long to run: 8, 8s, 500ms, 2m (default 5 s)")
    .option("--requests", "N", "stop after N requests instead of a duration")
    .option(
        "--pipeline",
        "P",
        "requests written at once per connection; latency is then per batch (default 1)",
    )
    .option("--threads", "T", "threads, each with its own runtime and C/T connections (default 1)")
    .option(
        "--timeout",
        "MS",
        "a request (or batch) not answered within MS counts as a timeout (default 2000)",
    )
    .option("--histogram", "FILE.svg", "also draw the latency histogram as an SVG picture in FILE.svg");
    let args = cli.parse();
    // Flags whose value is checked here get the same treatment as the parser's own mistakes:
    // `Args::bad_value`, one line naming the flag, one pointing at --help, exit 2.
    let positive = |name: &str, default: usize| -> usize {
        match args.value_or(name, default) {
            0 => args.bad_value(name, "0", "must be at least 1"),
            n => n,
        }
    };
    let connections = positive("--connections", 50);
    let pipeline = positive("--pipeline", 1);
    let threads = positive("--threads", 1);
    let timeout = args.duration_ms("--timeout", 2000).max(Duration::from_millis(1));
    let duration = args.value::<String>("--duration").map(|raw| {
        raw.parse::<DurationArg>().unwrap_or_else(|reason| args.bad_value("--duration", &raw, &reason))
    });
    let stop = match (args.value::<u64>("--requests"), duration) {
        (Some(0), _) => args.bad_value("--requests", "0", "must be at least 1"),
        (Some(n), _) => Stop::Requests(n),
        (None, Some(DurationArg(d))) => Stop::After(d),
        (None, None) => Stop::After(Duration::from_secs(5)),
    };

    // No URL: our own server on a free port, stopped when `_server` is dropped at the end.
    let (_server, target) = match args.positionals().first() {
        Some(url) => (None, parse_url(url).unwrap_or_else(|e| fail(e))),
        None => {
            let any: SocketAddr = ([127, 0, 0, 1], 0).into();
            let server = Server::bind(any, hello_router(), ServerConfig::default())
                .and_then(Server::spawn)
                .unwrap_or_else(|e| fail(format!("cannot start the in-process server: {e}")));
            let addr = server.addr();
            say(format_args!(
                "no URL given: started stage6-server in-process on http://{addr} (one worker thread)"
            ));
            (Some(server), Target { addr, host: addr.to_string(), path: "/hello".into() })
        }
    };

    let config = LoadConfig { target, connections, threads, pipeline, stop, timeout, progress: true };
    let threads = config.threads.min(config.connections);
    // A note on stderr, like the progress lines: if stderr has gone, the load goes on without
    // them (eprintln! would panic).
    let _ = match stop {
        Stop::After(d) => {
            writeln!(std::io::stderr(), "loading {} for {:.1} s ...", config.target, d.as_secs_f64())
        }
        Stop::Requests(n) => writeln!(std::io::stderr(), "loading {} with {n} requests ...", config.target),
    };
    let report = load(&config).unwrap_or_else(|e| fail(e));
    say(report.summary(&config).trim_end());
    if report.requests == 0 {
        fail(format!(
            "no response from {}: {}",
            config.target.addr,
            report.first_error.as_deref().unwrap_or("nothing answered")
        ));
    }
    if let Some(file) = args.value::<std::path::PathBuf>("--histogram") {
        let title = format!(
            "stage6-loadgen: {}, {} connections, {} requests in {:.2} s",
            config.target,
            config.connections,
            report.requests,
            report.elapsed.as_secs_f64()
        );
        match std::fs::write(&file, report.latency.svg(&title)) {
            Ok(()) => say(format_args!("histogram: {}", file.display())),
            Err(e) => fail(format!("cannot write the histogram to {}: {e}", file.display())),
        }
    }
    say(summary_line("stage6", report.requests as usize, threads, report.elapsed));
}
