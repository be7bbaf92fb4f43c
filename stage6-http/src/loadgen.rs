//! A load generator on our own runtime, the `wrk` of this course: N keep-alive connections,
//! each sending a request (or a pipelined batch), waiting for the responses, and sending the
//! next, for a fixed time. One stage 5 runtime per thread; connections are tasks.

use crate::client::frame_response;
use stage5_async_await::net::TcpStream;
use stage5_async_await::{Runtime, spawn};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

/// What to send, where, how hard, how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Server address.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Request target, e.g. `/hello`.
    pub path: String,
    /// Concurrent connections (spread over the threads).
    pub connections: usize,
    /// Threads, each with its own runtime.
    pub threads: usize,
    /// Requests written at once per connection (1 = no pipelining).
    pub pipeline: usize,
    /// How long to run.
    pub duration: Duration,
}

/// `http://host[:port]/path` into (address, Host value, path). Only plain HTTP.
pub fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest =
        url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url}: no host"));
    }
    let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address for {authority}"))?;
    Ok((addr, authority.to_string(), path.to_string()))
}

/// What one thread (or the whole run, merged) saw.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Complete responses.
    pub responses: u64,
    /// Responses with a status outside 200..=299.
    pub non_2xx: u64,
    /// Connect, read, write or framing failures (each also ends that connection's attempt).
    pub errors: u64,
    /// The first error seen, to show the user.
    pub first_error: Option<String>,
    /// Round-trip time of each request (or pipelined batch), in microseconds.
    pub latencies_us: Vec<u32>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Report {
    fn merge(&mut self, other: Report) {
        self.responses += other.responses;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    fn error(&mut self, what: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what.to_string());
        }
    }

    /// The latency at quantile `q` (0.0..=1.0), in microseconds; the latencies must be sorted.
    fn quantile(&self, q: f64) -> u32 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        self.latencies_us[i]
    }

    /// The human-readable summary (several lines, no trailing newline).
    pub fn summary(&mut self, config: &LoadConfig) -> String {
        self.latencies_us.sort_unstable();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mean = if self.latencies_us.is_empty() {
            0.0
        } else {
            self.latencies_us.iter().map(|&l| f64::from(l)).sum::<f64>() / self.latencies_us.len() as f64
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "stage6-loadgen: GET http://{}{} ({}), {} connections, {} thread{}, pipeline {}, {:.1} s",
            config.host,
            config.path,
            config.addr,
            config.connections,
            config.threads,
            if config.threads == 1 { "" } else { "s" },
            config.pipeline,
            secs
        );
        let _ = writeln!(
            out,
            "responses: {} ({} not 2xx), errors: {}",
            self.responses, self.non_2xx, self.errors
        );
        let _ = writeln!(out, "throughput: {:.0} requests/s", self.responses as f64 / secs);
        let unit = if config.pipeline > 1 { "per batch" } else { "per request" };
        let _ = writeln!(
            out,
            "latency {unit}: mean {:.0} us, p50 {} us, p90 {} us, p99 {} us, max {} us",
            mean,
            self.quantile(0.5),
            self.quantile(0.9),
            self.quantile(0.99),
            self.latencies_us.last().copied().unwrap_or(0)
        );
        if let Some(err) = &self.first_error {
            let _ = writeln!(out, "first error: {err}");
        }
        out.pop();
        out
    }
}

// ANCHOR: drive
/// One connection: send a batch, wait for every response of it, repeat until `deadline`.
/// A connection the server closes is reopened (and counted as an error).
async fn drive(
    addr: SocketAddr,
    batch: Rc<Vec<u8>>,
    pipeline: usize,
    deadline: Instant,
    report: Rc<RefCell<Report>>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    'connect: while Instant::now() < deadline {
        let stream = match TcpStream::connect(addr).await {
            Ok(stream) => stream,
            Err(e) => {
                report.borrow_mut().error(format!("connect: {e}"));
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        buf.clear();
        loop {
            let started = Instant::now();
            if started >= deadline {
                return;
            }
            if let Err(e) = stream.write_all(&batch).await {
                report.borrow_mut().error(format!("write: {e}"));
                continue 'connect;
            }
            let mut answered = 0;
            while answered < pipeline {
                match frame_response(&buf, false) {
                    Ok(Some(framed)) => {
                        buf.drain(..framed.len);
                        answered += 1;
                        let mut report = report.borrow_mut();
                        report.responses += 1;
                        if !(200..300).contains(&framed.status) {
                            report.non_2xx += 1;
                        }
                    }
                    Ok(None) => match stream.read(&mut chunk).await {
                        Ok(0) => {
                            report.borrow_mut().error("server closed the connection");
                            continue 'connect;
                        }
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        Err(e) => {
                            report.borrow_mut().error(format!("read: {e}"));
                            continue 'connect;
                        }
                    },
                    Err(e) => {
                        report.borrow_mut().error(format!("response: {e}"));
                        return;
                    }
                }
            }
            let micros = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            report.borrow_mut().latencies_us.push(micros);
        }
    }
}
// ANCHOR_END: drive

/// Runs the load and returns what was seen. Threads split the connections between them.
pub fn run(config: &LoadConfig) -> io::Result<Report> {
    let request = format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", config.path, config.host);
    let batch = request.repeat(config.pipeline.max(1)).into_bytes();
    let threads = config.threads.clamp(1, config.connections.max(1));
    let started = Instant::now();
    let deadline = started + config.duration;
    let mut workers = Vec::new();
    for t in 0..threads {
        // Connections t, t + threads, t + 2*threads, ... belong to thread t.
        let connections = (t..config.connections).step_by(threads).count();
        let (batch, addr, pipeline) = (batch.clone(), config.addr, config.pipeline.max(1));
        workers.push(thread::spawn(move || -> io::Result<Report> {
            let runtime = Runtime::new()?;
            let report = Rc::new(RefCell::new(Report::default()));
            let batch = Rc::new(batch);
            runtime.block_on(async {
                let tasks: Vec<_> = (0..connections)
                    .map(|_| spawn(drive(addr, batch.clone(), pipeline, deadline, report.clone())))
                    .collect();
                for task in tasks {
                    let _ = task.await;
                }
            });
            Ok(report.take())
        }));
    }
    let mut total = Report::default();
    for worker in workers {
        let report = worker.join().map_err(|_| io::Error::other("a load generator thread panicked"))??;
        total.merge(report);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::hello_router;
    use crate::{Server, ServerConfig};

    #[test]
    fn urls() {
        let (addr, host, path) = parse_url("http://127.0.0.1:8080/hello?x=1").unwrap();
        assert_eq!(
            (addr.to_string(), host.as_str(), path.as_str()),
            ("127.0.0.1:8080".into(), "127.0.0.1:8080", "/hello?x=1")
        );
        let (addr, _, path) = parse_url("http://127.0.0.1").unwrap();
        assert_eq!((addr.port(), path.as_str()), (80, "/"));
        assert!(parse_url("https://127.0.0.1/").is_err());
        assert!(parse_url("http:///x").is_err());
    }

    #[test]
    fn loads_our_own_server() {
        let server = Server::bind("127.0.0.1:0".parse().unwrap(), hello_router(), ServerConfig::default())
            .unwrap()
            .spawn()
            .unwrap();
        let config = LoadConfig {
            addr: server.addr(),
            host: server.addr().to_string(),
            path: "/hello".into(),
            connections: 4,
            threads: 2,
            pipeline: 3,
            duration: Duration::from_millis(200),
        };
        let mut report = run(&config).unwrap();
        assert_eq!(report.errors, 0, "{:?}", report.first_error);
        assert_eq!(report.non_2xx, 0);
        assert!(report.responses >= 3, "no complete batch in 200 ms");
        assert_eq!(report.responses % 3, 0, "batches are answered whole");
        assert_eq!(report.latencies_us.len() as u64 * 3, report.responses);
        let text = report.summary(&config);
        assert!(text.starts_with("stage6-loadgen: GET http://127.0.0.1:"), "{text}");
        assert_eq!(text.lines().count(), 4);
    }
}
