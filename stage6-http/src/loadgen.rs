//! A load generator on our own runtime, the `wrk` of this course.
//!
//! ```text
//!  main thread: progress line once a second, then merges the threads' reports
//!     │
//!     ├── thread 1: Runtime ── task: connection 1 ─┐
//!     │                    ── task: connection 2 ─┤  each connection task:
//!     │                    ── ...                  │    loop { write batch (pre-serialized)
//!     └── thread T: Runtime ── task: connection C ─┘           read P responses (framing only)
//!                                                              record latency in the histogram }
//! ```
//!
//! Each thread runs its own stage 5 [`Runtime`] with its share of the connections, one task
//! per connection. A connection writes its request (or `P` pipelined requests in one write),
//! reads the responses with [`Connection::skip_response`](crate::client::Connection::skip_response) (status and framing only, body
//! bytes stepped over in the connection's one read buffer), records the round trip in the
//! thread's [`Histogram`], and starts over. Nothing is allocated per request: the request
//! bytes are built once, the buffer is reused, the histogram is a fixed array.
//!
//! It measures what wrk measures: a *closed* loop, where each connection waits for its answer
//! before asking again. See the chapter on coordinated omission for what that hides.

use crate::client::connection::Client;
use crate::client::error::ClientError;
use crate::client::request::ClientRequest;
use crate::histogram::Histogram;
use stage2_select_callbacks::trace;
use stage5_async_await::time::{Sleep, sleep};
use stage5_async_await::{Runtime, spawn};
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::future::{Future, poll_fn};
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

/// Where to send the load: an address, the `Host` value, the request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// The `Host` header (the URL's authority, as typed).
    pub host: String,
    /// The request target, e.g. `/hello?x=1`.
    pub path: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host, self.path)
    }
}

// ANCHOR: parse_url
/// `http://HOST[:PORT][/path]` where HOST is an IP address (`127.0.0.1`, `[::1]`) or
/// `localhost`. No DNS on purpose: a load generator should hit exactly the machine you named.
pub fn parse_url(url: &str) -> Result<Target, String> {
    let rest =
        url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal has colons inside its brackets: a port only follows the `]`.
        Some((host, port)) if !port.contains(']') => {
            (host, port.parse::<u16>().map_err(|_| format!("{url:?}: bad port {port:?}"))?)
        }
        _ => (authority, 80),
    };
    let ip: IpAddr = match host {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{url:?}: the host must be an IP address or localhost, not {host:?}"))?,
    };
    if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("{url:?}: spaces or control characters in the path"));
    }
    Ok(Target { addr: SocketAddr::new(ip, port), host: authority.to_string(), path })
}
// ANCHOR_END: parse_url

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long (batches in flight at the end are finished, not cut).
    After(Duration),
    /// After this many requests have been sent (tests use this: no clock involved).
    Requests(u64),
}

/// What to load, how hard, for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server and the request target (always a GET).
    pub target: Target,
    /// Concurrent keep-alive connections, spread over the threads.
    pub connections: usize,
    /// Threads, each with its own runtime (at most one per connection).
    pub threads: usize,
    /// Requests written at once per connection; latency is then per batch.
    pub pipeline: usize,
    /// When to stop.
    pub stop: Stop,
    /// A batch not fully answered within this time counts as a timeout (and the connection
    /// is replaced). Also bounds each connect.
    pub timeout: Duration,
    /// Print a progress line to stderr once a second.
    pub progress: bool,
}

impl LoadConfig {
    /// 50 connections, 1 thread, no pipelining, 2 s timeout, no progress line.
    pub fn new(target: Target, stop: Stop) -> LoadConfig {
        LoadConfig {
            target,
            connections: 50,
            threads: 1,
            pipeline: 1,
            stop,
            timeout: Duration::from_secs(2),
            progress: false,
        }
    }
}

/// Errors by kind, as wrk counts them (plus malformed responses and statuses outside 2xx).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    /// Connects that failed (or timed out).
    pub connect: u64,
    /// Reads that failed, or a connection closed before its responses were complete.
    pub read: u64,
    /// Writes that failed.
    pub write: u64,
    /// Batches not answered within the timeout.
    pub timeout: u64,
    /// Responses that could not be parsed.
    pub parse: u64,
    /// Complete responses whose status was not 2xx (counted in `requests` too).
    pub non_2xx: u64,
}

impl Errors {
    /// Every error except non-2xx statuses (those are answers, not failures).
    pub fn socket_errors(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.parse
    }

    fn add(&mut self, other: &Errors) {
        self.connect += other.connect;
        self.read += other.read;
        self.write += other.write;
        self.timeout += other.timeout;
        self.parse += other.parse;
        self.non_2xx += other.non_2xx;
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Complete responses received.
    pub requests: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Errors by kind.
    pub errors: Errors,
    /// Connections reopened after the server closed one (not an error).
    pub reconnects: u64,
    /// Round-trip time of every batch (of every request when `pipeline` is 1).
    pub latency: Histogram,
    /// Wall time from the start until the last connection stopped.
    pub elapsed: Duration,
    /// The first error seen, for the user.
    pub first_error: Option<String>,
}

impl LoadReport {
    fn merge(&mut self, other: LoadReport) {
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.errors.add(&other.errors);
        self.reconnects += other.reconnects;
        self.latency.merge(&other.latency);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Requests per second over the whole run.
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    // ANCHOR: summary
    /// The report, laid out like wrk's (several lines, ending with a newline).
    pub fn summary(&self, config: &LoadConfig) -> String {
        let mut out = String::new();
        let secs = self.elapsed.as_secs_f64();
        let threads = config.threads.clamp(1, config.connections.max(1));
        let _ = writeln!(out, "stage6-loadgen: {:.2} s @ {}", secs, config.target);
        let _ = writeln!(
            out,
            "  {threads} thread{}, {} connections, pipeline {}",
            if threads == 1 { "" } else { "s" },
            config.connections,
            config.pipeline
        );
        let per = if config.pipeline > 1 {
            format!("per batch of {}", config.pipeline)
        } else {
            "per request".into()
        };
        let h = &self.latency;
        let _ = writeln!(
            out,
            "  Latency ({per}): avg {}, stdev {}, max {}",
            fmt_duration(h.mean()),
            fmt_duration(h.stdev()),
            fmt_duration(h.max())
        );
        let _ = writeln!(out, "  Latency distribution:");
        for p in [50.0, 75.0, 90.0, 99.0, 99.9] {
            let _ = writeln!(out, "    {:>5}%  {}", p, fmt_duration(h.percentile(p)));
        }
        let _ = writeln!(
            out,
            "  {} requests in {:.2} s, {:.2} MB read",
            self.requests,
            secs,
            self.bytes as f64 / 1e6
        );
        let e = &self.errors;
        if e.socket_errors() > 0 || e.non_2xx > 0 || self.reconnects > 0 {
            let _ = writeln!(
                out,
                "  Errors: connect {}, read {}, write {}, timeout {}, parse {}; non-2xx responses {}; reconnects {}",
                e.connect, e.read, e.write, e.timeout, e.parse, e.non_2xx, self.reconnects
            );
        }
        if let Some(first) = &self.first_error {
            let _ = writeln!(out, "  First error: {first}");
        }
        let _ = writeln!(out, "Requests/sec: {:.2}", self.requests_per_sec());
        let _ = writeln!(out, "Transfer/sec: {:.2} MB", self.bytes as f64 / 1e6 / secs.max(1e-9));
        out
    }
    // ANCHOR_END: summary
}

/// `812us`, `4.27ms`, `1.20s`: three significant figures, like wrk.
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1e3 {
        format!("{ns:.0}ns")
    } else if ns < 1e6 {
        format!("{:.2}us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2}ms", ns / 1e6)
    } else {
        format!("{:.2}s", ns / 1e9)
    }
}

/// What every connection of every thread reads: the request bytes, the stop rule.
struct Plan {
    target: Target,
    /// `pipeline` copies of the request, back to back.
    batch: Vec<u8>,
    /// Length of one request in `batch`.
    one: usize,
    pipeline: usize,
    timeout: Duration,
    deadline: Option<Instant>,
    /// Requests not yet handed out (for `Stop::Requests`).
    budget: Option<AtomicU64>,
}

impl Plan {
    /// The deadline passed, or the budget is spent.
    fn finished(&self) -> bool {
        match (&self.deadline, &self.budget) {
            (Some(deadline), _) => Instant::now() >= *deadline,
            (None, Some(budget)) => budget.load(Ordering::Relaxed) == 0,
            (None, None) => true,
        }
    }

    /// How many requests the next batch may send (0: stop). With a request budget the
    /// requests are taken from it, so the threads together send exactly that many.
    fn take(&self, want: u64) -> u64 {
        if let Some(deadline) = self.deadline {
            return if Instant::now() < deadline { want } else { 0 };
        }
        let Some(budget) = &self.budget else { return 0 };
        let mut left = budget.load(Ordering::Relaxed);
        loop {
            let take = left.min(want);
            if take == 0 {
                return 0;
            }
            match budget.compare_exchange_weak(left, left - take, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return take,
                Err(now) => left = now,
            }
        }
    }
}

/// Per-thread counters the main thread reads for the progress line.
#[derive(Default)]
struct Progress {
    requests: AtomicU64,
    errors: AtomicU64,
}

/// What one connection task updates: the thread's report (single-threaded, so a RefCell).
struct Recorder {
    report: RefCell<LoadReport>,
    progress: Arc<Progress>,
}

impl Recorder {
    fn error(&self, what: &str, error: &dyn fmt::Display, count: impl FnOnce(&mut Errors)) {
        trace!("loadgen: {what}: {error}");
        let mut report = self.report.borrow_mut();
        count(&mut report.errors);
        if report.first_error.is_none() {
            report.first_error = Some(format!("{what}: {error}"));
        }
        self.progress.errors.fetch_add(1, Ordering::Relaxed);
    }
}

// ANCHOR: drive
/// One connection: connect, then batch after batch until the plan says stop. The server
/// closing the connection (politely, between responses) means reconnect; every error
/// replaces the connection too, after counting it.
async fn drive(plan: Arc<Plan>, recorder: Rc<Recorder>) {
    let client = Client::new();
    // One timer per connection, moved forward for each batch (no allocation per request).
    let mut timer = sleep(plan.timeout);
    'connect: loop {
        if plan.finished() {
            return;
        }
        timer.reset(Instant::now() + plan.timeout);
        let mut conn = match race(client.open(plan.target.addr), &mut timer).await {
            Some(Ok(conn)) => conn,
            failed => {
                let error: &dyn fmt::Display = match &failed {
                    Some(Err(e)) => e,
                    _ => &"timed out",
                };
                recorder.error("connect", error, |e| e.connect += 1);
                // A connect failure uses up a request of a budget, so a dead server ends the
                // run; and waits a little, so a refused port is not hammered in a tight loop.
                if plan.budget.is_some() && plan.take(1) == 0 {
                    return;
                }
                sleep(Duration::from_millis(10)).await;
                continue 'connect;
            }
        };
        trace!("loadgen: connected to {}", plan.target.addr);
        conn.set_host(&plan.target.host);
        loop {
            let batch = plan.take(plan.pipeline as u64) as usize;
            if batch == 0 {
                recorder.report.borrow_mut().bytes += conn.take_bytes_read();
                return;
            }
            let started = Instant::now();
            timer.reset(started + plan.timeout);
            if let Err(e) = conn.write_raw(&plan.batch[..batch * plan.one]).await {
                recorder.error("write", &e, |e| e.write += 1);
                continue 'connect;
            }
            let (mut ok, mut non_2xx, mut failed) = (0, 0, false);
            while ok < batch {
                match race(conn.skip_response(false), &mut timer).await {
                    Some(Ok(response)) => {
                        ok += 1;
                        if !(200..300).contains(&response.status) {
                            non_2xx += 1;
                        }
                        if response.close {
                            break; // the rest of a pipelined batch will not be answered
                        }
                    }
                    Some(Err(e)) => {
                        match &e {
                            ClientError::Response(_) => recorder.error("response", &e, |e| e.parse += 1),
                            _ => recorder.error("read", &e, |e| e.read += 1),
                        }
                        failed = true;
                        break;
                    }
                    None => {
                        recorder.error("batch", &"no complete answer within the timeout", |e| e.timeout += 1);
                        failed = true;
                        break;
                    }
                }
            }
            {
                let mut report = recorder.report.borrow_mut();
                report.requests += ok as u64;
                report.errors.non_2xx += non_2xx;
                report.bytes += conn.take_bytes_read();
                if ok == batch {
                    report.latency.record(started.elapsed());
                }
                if !failed && conn.is_closed() {
                    trace!("loadgen: the server closes this connection; reconnecting");
                    report.reconnects += 1; // the server said Connection: close
                }
                recorder.progress.requests.fetch_add(ok as u64, Ordering::Relaxed);
            }
            if failed || conn.is_closed() {
                continue 'connect;
            }
        }
    }
}
// ANCHOR_END: drive

/// Runs `future` until it finishes (`Some(output)`) or `timer` fires (`None`). Unlike
/// `time::timeout`, the timer is borrowed, so one timer serves every batch.
async fn race<F: Future>(future: F, timer: &mut Sleep) -> Option<F::Output> {
    let mut future = pin!(future);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        match Pin::new(&mut *timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

// ANCHOR: load
/// Runs the load described by `config` and returns what it measured. Fails (before any
/// load) if the target cannot be connected to at all.
pub fn load(config: &LoadConfig) -> io::Result<LoadReport> {
    // One blocking connect first, so "nothing listens there" is one clear error.
    std::net::TcpStream::connect_timeout(&config.target.addr, config.timeout)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {}: {e}", config.target.addr)))?;

    let mut one = Vec::new();
    ClientRequest::get(&config.target.path)
        .write_to(&config.target.host, &mut one)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let pipeline = config.pipeline.max(1);
    let connections = config.connections.max(1);
    let threads = config.threads.clamp(1, connections);
    let started = Instant::now();
    let plan = Arc::new(Plan {
        target: config.target.clone(),
        batch: one.repeat(pipeline),
        one: one.len(),
        pipeline,
        timeout: config.timeout,
        deadline: match config.stop {
            Stop::After(d) => Some(started + d),
            Stop::Requests(_) => None,
        },
        budget: match config.stop {
            Stop::Requests(n) => Some(AtomicU64::new(n)),
            Stop::After(_) => None,
        },
    });

    let (done_tx, done_rx) = mpsc::channel();
    let mut progress = Vec::new();
    let mut workers = Vec::new();
    for t in 0..threads {
        // Connections t, t + threads, ... belong to thread t.
        let mine = (t..connections).step_by(threads).count();
        let (plan, done_tx) = (plan.clone(), done_tx.clone());
        let counters = Arc::new(Progress::default());
        progress.push(counters.clone());
        let worker = thread::Builder::new().name(format!("stage6-loadgen-{t}")).spawn(move || {
            let result = run_thread(plan, mine, counters);
            let _ = done_tx.send(());
            result
        })?;
        workers.push(worker);
    }
    drop(done_tx);

    // The main thread only watches: a line per second until every worker has reported.
    let mut finished = 0;
    let mut last = (0, 0);
    let mut next_tick = started + Duration::from_secs(1);
    while finished < threads {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(wait) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let sum = |f: fn(&Progress) -> u64| progress.iter().map(|p| f(p)).sum::<u64>();
                let now =
                    (sum(|p| p.requests.load(Ordering::Relaxed)), sum(|p| p.errors.load(Ordering::Relaxed)));
                if config.progress {
                    // Not eprintln!, which panics once stderr has gone (`2>&1 | head`): the
                    // load goes on, the progress is only lost.
                    let _ = writeln!(
                        io::stderr().lock(),
                        "  {:>3} s: {:>9} req/s, {:>10} requests, {} errors",
                        (next_tick - started).as_secs(),
                        now.0 - last.0,
                        now.0,
                        now.1
                    );
                }
                last = now;
                next_tick += Duration::from_secs(1);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let mut total = LoadReport::default();
    for worker in workers {
        let report = worker.join().map_err(|_| io::Error::other("a load generator thread panicked"))??;
        total.merge(report);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}
// ANCHOR_END: load

/// One thread: a runtime with `connections` connection tasks, until they all stop.
fn run_thread(plan: Arc<Plan>, connections: usize, progress: Arc<Progress>) -> io::Result<LoadReport> {
    let runtime = Runtime::new()?;
    let recorder = Rc::new(Recorder { report: RefCell::new(LoadReport::default()), progress });
    runtime.block_on(async {
        let tasks: Vec<_> = (0..connections).map(|_| spawn(drive(plan.clone(), recorder.clone()))).collect();
        for task in tasks {
            let _ = task.await;
        }
    });
    drop(runtime);
    Ok(recorder.report.take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:8080/hello?x=1").unwrap();
        assert_eq!(
            (t.addr.to_string(), t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:8080".into(), "127.0.0.1:8080", "/hello?x=1")
        );
        let t = parse_url("http://127.0.0.1").unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (80, "/"));
        let t = parse_url("http://localhost:9?q").unwrap();
        assert_eq!((t.addr.to_string(), t.path.as_str()), ("127.0.0.1:9".into(), "/?q"));
        let t = parse_url("http://[::1]:8080/").unwrap();
        assert_eq!(t.addr.to_string(), "[::1]:8080");
        assert_eq!(t.to_string(), "http://[::1]:8080/");
        for bad in [
            "https://127.0.0.1/",
            "http:///x",
            "http://example.com/",
            "http://127.0.0.1:99999/",
            "127.0.0.1:80",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn budget_hands_out_exactly_n() {
        let plan = Plan {
            target: parse_url("http://127.0.0.1:1/").unwrap(),
            batch: Vec::new(),
            one: 0,
            pipeline: 4,
            timeout: Duration::from_secs(1),
            deadline: None,
            budget: Some(AtomicU64::new(10)),
        };
        assert_eq!([plan.take(4), plan.take(4), plan.take(4), plan.take(4)], [4, 4, 2, 0]);
    }

    #[test]
    fn durations_print_like_wrk() {
        assert_eq!(fmt_duration(Duration::from_nanos(812)), "812ns");
        assert_eq!(fmt_duration(Duration::from_micros(376)), "376.00us");
        assert_eq!(fmt_duration(Duration::from_micros(4270)), "4.27ms");
        assert_eq!(fmt_duration(Duration::from_millis(1200)), "1.20s");
    }
}
