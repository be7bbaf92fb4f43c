//! The demo server every stage's client talks to.
//!
//! It plays "the slow internet" on loopback: each request waits [`DemoConfig::delay`] (100 ms
//! by default) before it is answered, so a client that fetches ten pages one after another
//! takes about a second, and a client that overlaps them takes about 100 ms. In trickle mode
//! each response leaves in small pieces with pauses between them, so clients really meet the
//! partial reads that loopback otherwise hides.
//!
//! It is a blocking, thread-per-connection server: the simplest design that serves many
//! clients at once, and the one whose cost (a thread per client) motivates the rest of the
//! course. Pages:
//!
//! * `/`: a small index page linking to `/1` .. `/10`;
//! * `/N` (N a plain decimal number): a small page that depends only on N, see [`expected_body`];
//! * anything else: `404`; a request that is not HTTP: `400`; a method other than GET: `405`.
//!
//! Responses are HTTP/1.0 with `Content-Length` and `Connection: close`; then the server
//! closes the connection.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::lock;
use super::server_http::{self, HeadRead};
use crate::http::ParseError;
use crate::net;

/// Bytes per piece in trickle mode.
pub const TRICKLE_PIECE: usize = 16;
/// Pause between two pieces in trickle mode.
pub const TRICKLE_PAUSE: Duration = Duration::from_millis(3);
/// A connection that sends nothing (or reads nothing) for this long is closed, so a silent
/// client cannot hold a thread forever.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Stack size of a connection thread: it only holds a few KiB of buffers, and later stages
/// open a thousand connections at once.
const CONNECTION_STACK: usize = 256 * 1024;

/// How the demo server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    /// How long each request waits before it is answered: stands for network latency.
    pub delay: Duration,
    /// Send every response in [`TRICKLE_PIECE`]-byte pieces, [`TRICKLE_PAUSE`] apart.
    pub trickle: bool,
}

impl Default for DemoConfig {
    /// 100 ms per request, whole responses.
    fn default() -> Self {
        DemoConfig { delay: Duration::from_millis(100), trickle: false }
    }
}

impl DemoConfig {
    /// No delay, whole responses: for tests where latency does not matter.
    pub fn instant() -> Self {
        DemoConfig { delay: Duration::ZERO, trickle: false }
    }
}

// ANCHOR: expected_body
/// The exact body the demo server sends for `path`: the index page for `/`, page N for `/N`
/// (N written in plain decimal, no sign, no leading zeros), `None` for anything else (404).
///
/// Tests of every stage compare what their client received with this.
pub fn expected_body(path: &str) -> Option<Vec<u8>> {
    if path == "/" {
        let mut page = String::from("<html><title>demo</title><h1>Demo server</h1><ul>\n");
        for n in 1..=10 {
            page.push_str(&format!("<li><a href=\"/{n}\">page {n}</a></li>\n"));
        }
        page.push_str("</ul></html>\n");
        return Some(page.into_bytes());
    }
    let n: u32 = path.strip_prefix('/')?.parse().ok()?;
    if path != format!("/{n}") {
        return None; // "/+3", "/03": same number, different path
    }
    let next = u64::from(n) + 1;
    Some(
        format!("<html><title>page {n}</title><p>This is page {n}.</p><a href=\"/{next}\">next</a></html>\n")
            .into_bytes(),
    )
}
// ANCHOR_END: expected_body

/// A running demo server. Dropping it stops it: no new connections, connections in progress
/// are closed, and every thread it started is joined.
pub struct DemoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// What the accept thread, the connection threads and the handle share.
struct Shared {
    config: DemoConfig,
    /// Set once by `Drop`; the condvar wakes connection threads sleeping in a delay.
    stopping: Mutex<bool>,
    wake: Condvar,
    /// A second handle on every open connection, so `Drop` can shut them down.
    open: Mutex<HashMap<u64, TcpStream>>,
    served: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Shared {
    fn is_stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Sleeps for `d`, or less if the server is stopping. Returns false if it is.
    fn pause(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopping = lock(&self.stopping);
        loop {
            if *stopping {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopping =
                self.wake.wait_timeout(stopping, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

impl DemoServer {
    /// Starts a demo server on an ephemeral port of 127.0.0.1 (ask [`DemoServer::addr`]).
    pub fn start(config: DemoConfig) -> io::Result<DemoServer> {
        DemoServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config)
    }

    /// Starts a demo server on `addr` (port 0 picks a free port).
    pub fn bind(addr: SocketAddr, config: DemoConfig) -> io::Result<DemoServer> {
        let listener = net::bind_listener(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            stopping: Mutex::new(false),
            wake: Condvar::new(),
            open: Mutex::new(HashMap::new()),
            served: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            // Thread names carry the port ("demo-43817", "demo-43817-5"), so `top -H` or a
            // debugger tells servers apart (Linux shows the first 15 characters).
            thread::Builder::new()
                .name(format!("demo-{}", addr.port()))
                .spawn(move || accept_loop(listener, &shared))?
        };
        Ok(DemoServer { addr, shared, acceptor: Some(acceptor) })
    }

    /// The address the server listens on, e.g. `127.0.0.1:43817`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it was started with.
    pub fn config(&self) -> DemoConfig {
        self.shared.config
    }

    /// How many responses (any status) it has finished sending.
    pub fn requests_served(&self) -> u64 {
        self.shared.served.load(Ordering::SeqCst)
    }

    /// The largest number of connections it has been handling at the same moment: a client
    /// that overlaps its requests makes this greater than 1.
    pub fn peak_connections(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for DemoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoServer").field("addr", &self.addr).field("config", &self.shared.config).finish()
    }
}

// ANCHOR: drop
impl Drop for DemoServer {
    /// Stops the server. The accept thread is asleep inside `accept()` and only a new
    /// connection wakes it, so after raising the flag we connect to ourselves.
    fn drop(&mut self) {
        *lock(&self.shared.stopping) = true;
        self.shared.wake.notify_all();
        let mut wake_addr = self.addr;
        if wake_addr.ip().is_unspecified() {
            // Bound to 0.0.0.0 / [::]: connect through loopback of the same family.
            wake_addr.set_ip(match wake_addr {
                SocketAddr::V4(_) => [127, 0, 0, 1].into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let woke = TcpStream::connect_timeout(&wake_addr, Duration::from_secs(5)).is_ok();
        if let Some(acceptor) = self.acceptor.take() {
            if woke {
                let _ = acceptor.join();
            }
            // If we could not connect (should not happen on loopback), joining could wait
            // forever; the thread is detached instead and exits on its next connection.
        }
    }
}
// ANCHOR_END: drop

// ANCHOR: accept_loop
/// One thread accepts; each connection gets a thread of its own.
fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id: u64 = 0;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    for conn in listener.incoming() {
        if shared.is_stopping() {
            break; // this was the wake-up connection (or a late client): stop accepting
        }
        let stream = match conn {
            Ok(stream) => stream,
            Err(e) => {
                net::accept_backoff(&e);
                continue;
            }
        };
        // Forget threads that have finished, so a long-running server does not grow.
        workers.retain(|w| !w.is_finished());
        let id = next_id;
        next_id += 1;
        // Keep a second handle so Drop can interrupt a thread blocked on this socket. If even
        // that fails (out of descriptors), drop the connection: the client sees it close.
        let Ok(handle) = stream.try_clone() else { continue };
        lock(&shared.open).insert(id, handle);
        let worker_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("demo-{port}-{id}"))
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                serve_connection(stream, &worker_shared);
                lock(&worker_shared.open).remove(&id);
            });
        match spawned {
            Ok(worker) => workers.push(worker),
            // No thread for it (out of memory or thread limit): close this connection, keep serving.
            Err(_) => drop(lock(&shared.open).remove(&id)),
        }
    }
    // Stopping: wake every connection thread blocked in read or write, then wait for them.
    for stream in lock(&shared.open).values() {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for worker in workers {
        let _ = worker.join();
    }
}
// ANCHOR_END: accept_loop

/// Counts the connection as in flight while it is served.
fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.peak.fetch_max(now, Ordering::SeqCst);
    // Errors here are the client's business (it went away, it stalled): nothing to report,
    // and certainly nothing to panic about. The connection is simply closed.
    let _ = answer(&mut stream, shared);
    // Counted as done before the client can see the connection end, like `requests_served`:
    // a client that has read to EOF can rely on the count no longer including it.
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    close_politely(&mut stream);
}

// ANCHOR: answer
/// Reads one request head and answers it.
fn answer(stream: &mut TcpStream, shared: &Shared) -> io::Result<()> {
    // Small trickle pieces must leave at once, not wait for Nagle's algorithm to batch them.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;

    let head = match server_http::read_request_head(stream)? {
        HeadRead::Closed => return Ok(()),
        HeadRead::Invalid(ParseError::HeadTooLarge { .. }) => {
            let body = b"request head too large\n";
            return respond(stream, shared, 431, "Request Header Fields Too Large", body);
        }
        HeadRead::Invalid(e) => return respond(stream, shared, 400, "Bad Request", &error_body(&e)),
        HeadRead::Complete(head) => head,
    };
    let request = match server_http::parse_request_head(&head) {
        Ok(request) => request,
        Err(e) => return respond(stream, shared, 400, "Bad Request", &error_body(&e)),
    };
    if request.method != "GET" {
        let body = format!("method {} not allowed, only GET\n", request.method);
        return respond(stream, shared, 405, "Method Not Allowed", body.as_bytes());
    }

    // The pretend network latency. A stopping server cuts it short and sends nothing.
    if !shared.pause(shared.config.delay) {
        return Ok(());
    }
    match expected_body(&request.path) {
        Some(body) => respond(stream, shared, 200, "OK", &body),
        None => {
            let body = format!("no page at {}\n", request.path);
            respond(stream, shared, 404, "Not Found", body.as_bytes())
        }
    }
}
// ANCHOR_END: answer

fn error_body(e: &ParseError) -> Vec<u8> {
    format!("bad request: {e}\n").into_bytes()
}

// ANCHOR: respond
/// Sends a whole response (trickled if configured) and counts it; the caller then closes
/// politely.
fn respond(
    stream: &mut TcpStream,
    shared: &Shared,
    status: u16,
    reason: &str,
    body: &[u8],
) -> io::Result<()> {
    let content_type = if status == 200 { "text/html; charset=utf-8" } else { "text/plain" };
    let bytes = server_http::response_bytes(status, reason, content_type, body);
    if shared.config.trickle {
        for (i, piece) in bytes.chunks(TRICKLE_PIECE).enumerate() {
            if i > 0 && !shared.pause(TRICKLE_PAUSE) {
                return Ok(()); // stopping
            }
            stream.write_all(piece)?;
        }
    } else {
        // write_all, not write: one write may take only part of the bytes.
        stream.write_all(&bytes)?;
    }
    // Counted before the client can see the end of the response: a client that has read
    // to EOF can rely on `requests_served` including its request.
    shared.served.fetch_add(1, Ordering::SeqCst);
    Ok(())
}
// ANCHOR_END: respond

/// Ends the connection without destroying the response we just sent.
///
/// If we closed a socket whose receive queue still held bytes from the client (the rest of a
/// garbage request, say), the kernel would answer with a RST, and a RST can make the client
/// lose response bytes it has not read yet. So: send our FIN first (`shutdown(Write)`), then
/// read and discard until the client closes too, with a limit on time and bytes.
fn close_politely(stream: &mut TcpStream) {
    use std::io::Read;
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 4096];
    let mut left: usize = 256 * 1024;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(n) => left = left.saturating_sub(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http;
    use std::io::Read;
    use std::sync::Weak;

    #[test]
    fn drop_waits_for_every_thread_it_started() {
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        // Every thread the server starts holds the shared state; once none does, every one of
        // them has finished its work.
        let shared: Weak<Shared> = Arc::downgrade(&server.shared);
        let mut idle = TcpStream::connect(server.addr()).unwrap();
        idle.write_all(b"GET /1 HTTP/1.0\r\n").unwrap(); // a connection thread now waits
        // Connections are accepted in order, so once this one is answered `idle` has its thread.
        assert_eq!(http::get(server.addr(), "/2").unwrap().status, 200);
        assert!(Arc::strong_count(&shared.upgrade().unwrap()) >= 3, "handle + acceptor + idle");
        drop(server);
        assert!(shared.upgrade().is_none(), "a server thread outlived the DemoServer");
        let mut rest = Vec::new();
        let _ = idle.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{rest:?}");
    }
}
