//! The load generator's loop, run for a fixed number of requests (never a duration) against
//! small servers on 127.0.0.1: a canned keep-alive server written with std threads, and the
//! stage 6 server itself. The counts must be exact.

use stage6_http::app::hello_router;
use stage6_http::loadgen::{LoadConfig, LoadReport, Stop, Target, load};
use stage6_http::{Server, ServerConfig};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

/// A keep-alive server, thread per connection, answering every request it reads (pipelined
/// ones too) with `response`; with `close_every` = N it says `Connection: close` on every Nth
/// response of a connection and closes. Counts the requests it answered.
struct Canned {
    addr: SocketAddr,
    answered: Arc<AtomicU64>,
    /// Responses that said `Connection: close`.
    closed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Canned {
    fn start(status: &'static str, close_every: Option<u64>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let answered = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, closes, halt) = (answered.clone(), closed.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (count, closes) = (count.clone(), closes.clone());
                thread::spawn(move || serve(stream, status, close_every, &count, &closes));
            }
        });
        Canned { addr, answered, closed, stop }
    }

    fn target(&self, path: &str) -> Target {
        Target { addr: self.addr, host: self.addr.to_string(), path: path.into() }
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        // Wake the accept loop so its thread ends.
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    mut stream: TcpStream,
    status: &str,
    close_every: Option<u64>,
    count: &AtomicU64,
    closes: &AtomicU64,
) {
    let _ = stream.set_nodelay(true);
    let mut pending = Vec::new();
    let mut served = 0u64;
    let mut chunk = [0u8; 8192];
    loop {
        // Answer every complete request already received, in one write.
        let mut out = Vec::new();
        let mut close = false;
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            assert!(pending.starts_with(b"GET /load HTTP/1.1\r\nHost: 127.0.0.1:"), "unexpected request");
            pending.drain(..end + 4);
            served += 1;
            close = close_every.is_some_and(|n| served % n == 0);
            let connection = if close { "close" } else { "keep-alive" };
            out.extend_from_slice(
                format!("HTTP/1.1 {status}\r\nConnection: {connection}\r\nContent-Length: 2\r\n\r\nok")
                    .as_bytes(),
            );
            count.fetch_add(1, Ordering::Relaxed);
            if close {
                break;
            }
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
        if close {
            closes.fetch_add(1, Ordering::Relaxed);
            // Half-close, then wait for the client's EOF: closing with unread pipelined
            // requests in the buffer would send RST and could destroy the last response.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            while matches!(stream.read(&mut chunk), Ok(n) if n > 0) {}
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

fn config(target: Target, requests: u64, connections: usize, threads: usize, pipeline: usize) -> LoadConfig {
    LoadConfig {
        connections,
        threads,
        pipeline,
        // A safety net for a broken test, far above any real answer time.
        timeout: Duration::from_secs(30),
        ..LoadConfig::new(target, Stop::Requests(requests))
    }
}

fn assert_clean(report: &LoadReport) {
    assert_eq!(report.errors.socket_errors(), 0, "{:?} first: {:?}", report.errors, report.first_error);
    assert_eq!(report.errors.non_2xx, 0);
}

#[test]
fn exact_request_count_one_thread() {
    let server = Canned::start("200 OK", None);
    let report = load(&config(server.target("/load"), 1000, 10, 1, 1)).unwrap();
    assert_clean(&report);
    assert_eq!(report.requests, 1000);
    assert_eq!(server.answered.load(Ordering::Relaxed), 1000);
    assert_eq!(report.latency.count(), 1000, "one latency per request");
    assert_eq!(report.reconnects, 0);
    let one = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok".len() as u64;
    assert_eq!(report.bytes, 1000 * one);
    assert!(report.latency.max() >= report.latency.percentile(50.0));
}

#[test]
fn pipelined_batches_over_two_threads() {
    let server = Canned::start("200 OK", None);
    let report = load(&config(server.target("/load"), 1000, 8, 2, 8)).unwrap();
    assert_clean(&report);
    assert_eq!(report.requests, 1000);
    assert_eq!(server.answered.load(Ordering::Relaxed), 1000);
    assert_eq!(report.latency.count(), 125, "one latency per batch of 8");
}

#[test]
fn server_closing_connections_means_reconnects_not_errors() {
    // Every 3rd response closes its connection; with pipelining, the requests after it in the
    // batch are never answered and are not counted either.
    let server = Canned::start("200 OK", Some(3));
    let report = load(&config(server.target("/load"), 300, 4, 1, 1)).unwrap();
    assert_clean(&report);
    assert_eq!(report.requests, 300);
    assert_eq!(report.reconnects, server.closed.load(Ordering::Relaxed));
    assert!(report.reconnects >= 96, "4 connections, every 3rd response closes: {}", report.reconnects);
    let server = Canned::start("200 OK", Some(5));
    let report = load(&config(server.target("/load"), 200, 4, 1, 4)).unwrap();
    assert_clean(&report);
    assert_eq!(report.requests, server.answered.load(Ordering::Relaxed));
    assert_eq!(report.reconnects, server.closed.load(Ordering::Relaxed));
    assert!(report.requests > 0 && report.requests <= 200);
}

#[test]
fn non_2xx_statuses_are_counted() {
    let server = Canned::start("503 Service Unavailable", None);
    let report = load(&config(server.target("/load"), 50, 2, 1, 1)).unwrap();
    assert_eq!(report.errors.socket_errors(), 0);
    assert_eq!((report.requests, report.errors.non_2xx), (50, 50));
    let summary = report.summary(&config(server.target("/load"), 50, 2, 1, 1));
    assert!(summary.contains("non-2xx responses 50"), "{summary}");
}

#[test]
fn unreachable_server_is_an_error() {
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let target = Target { addr, host: addr.to_string(), path: "/".into() };
    let error = load(&config(target, 10, 1, 1, 1)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(error.to_string().starts_with(&format!("cannot connect to {addr}: ")), "{error}");
}

#[test]
fn loads_the_stage6_server() {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), hello_router(), ServerConfig::default())
        .unwrap()
        .spawn()
        .unwrap();
    let target = Target { addr: server.addr(), host: server.addr().to_string(), path: "/hello".into() };
    let report = load(&config(target.clone(), 2000, 16, 2, 4)).unwrap();
    assert_clean(&report);
    assert_eq!(report.requests, 2000);
    let summary = report.summary(&config(target, 2000, 16, 2, 4));
    assert!(summary.contains("2000 requests in "), "{summary}");
    assert!(summary.contains("Latency (per batch of 4)"), "{summary}");
}

/// The binary itself: no set-up needed, the exit codes of the workspace's conventions.
#[test]
fn the_binary_runs_with_no_setup_and_reports_mistakes() {
    let bin = env!("CARGO_BIN_EXE_stage6-loadgen");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).output().unwrap();

    // No URL: it starts the stage 6 server in-process and loads /hello.
    let out = run(&["--requests", "300", "--connections", "3", "--pipeline", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("no URL given: started stage6-server in-process on http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("  300 requests in "), "{stdout}");
    assert!(stdout.contains("Latency (per batch of 2)"), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("stage6: 300 requests, 1 thread, ") && last.ends_with(" s"), "{last}");

    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: stage6-loadgen [OPTIONS] [URL]"));

    for bad in
        [&["--bogus"][..], &["--connections", "zero"], &["--duration", "3 weeks"], &["--pipeline", "0"]]
    {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: ") && stderr.contains(bad[0]), "{bad:?}: {stderr}");
        assert!(
            stderr.ends_with("\ntry 'stage6-loadgen --help'\n") && stderr.lines().count() == 2,
            "{stderr}"
        );
    }

    // Nobody listens there: one line, exit 1.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = run(&[&format!("http://{addr}/")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with(&format!("error: cannot connect to {addr}: Connection refused")),
        "{stderr}"
    );
    let out = run(&["https://127.0.0.1/"]);
    assert_eq!(out.status.code(), Some(1));
}
