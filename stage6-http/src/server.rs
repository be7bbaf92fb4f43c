//! The server: one stage 5 runtime per worker thread, one task per connection, and the
//! connection loop that ties the protocol pieces together.
//!
//! ```text
//!  worker thread (one Runtime each; --workers N threads share the port with SO_REUSEPORT)
//!  ┌────────────────────────────────────────────────────────────────────────────────────┐
//!  │ accept task:  loop { accept().await  ──spawn──►  connection task }                 │
//!  │                                                                                    │
//!  │ connection task:                                                                   │
//!  │   loop {                                                                           │
//!  │     for each parsed request, in order:  router.dispatch(req).await ─► write_to(out)│
//!  │     write_all(out).await            (a pipelined burst goes out in one write)      │
//!  │     try_read(worker's scratch) ─ WouldBlock ─► timeout(readable()).await           │
//!  │     parser.parse(bytes) ──► pending requests, leftover partial request kept        │
//!  │   }                                                                                │
//!  └────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Memory per idle keep-alive connection is what matters when there are thousands of them:
//! bytes are read into one scratch buffer per *worker*, parsed from there, and only the tail
//! of a request that has not fully arrived is copied into the connection's own buffer. Between
//! requests a connection holds no read buffer at all.

use crate::date::DateCache;
use crate::parser::{Limits, ParseError, Parsed, Parser};
use crate::request::Request;
use crate::response::{CONTINUE, Response, WriteContext, Written};
use crate::router::Router;
use socket2::{Domain, Protocol, Socket, Type};
use stage2_select_callbacks::trace;
use stage5_async_await::combinators::{Either, select};
use stage5_async_await::net::{TcpListener, TcpStream};
use stage5_async_await::sync::event::Event;
use stage5_async_await::time::timeout;
use stage5_async_await::{Runtime, spawn};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// Server settings. Every timeout exists because without it one misbehaving client holds a
/// connection (an fd, a task, its buffers) forever.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Parser limits (target, headers, body).
    pub limits: Limits,
    /// Worker threads, each with its own runtime and listening socket. Default 1.
    pub workers: usize,
    /// Close a keep-alive connection idle this long between requests. Default 60 s.
    pub idle_timeout: Duration,
    /// A request must arrive completely within this time of its first byte, or it gets
    /// `408 Request Timeout` (a slowloris client trickling a byte now and then). Default 30 s.
    pub request_timeout: Duration,
    /// A write must make progress within this time (a client that never reads). Default 30 s.
    pub write_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            workers: 1,
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Bytes per read: one such buffer per worker, shared by all its connections.
const SCRATCH_LEN: usize = 64 * 1024;
/// Output is written once it reaches this size even in the middle of a burst or a stream,
/// which also gives a streaming body back-pressure: the next piece is produced only after
/// the previous ones were accepted by the kernel.
const FLUSH_AT: usize = 64 * 1024;

/// What every connection on one worker shares. Single-threaded, hence `Rc`/`RefCell`; a
/// `RefCell` is only ever borrowed between two `.await`s, never across one.
struct Worker {
    router: Arc<Router>,
    config: ServerConfig,
    dates: RefCell<DateCache>,
    scratch: RefCell<Vec<u8>>,
}

/// A bound server, not running yet.
pub struct Server {
    listeners: Vec<std::net::TcpListener>,
    addr: SocketAddr,
    router: Arc<Router>,
    config: ServerConfig,
}

impl Server {
    /// Binds `addr` once per worker (SO_REUSEPORT: the kernel spreads new connections over
    /// the workers' sockets). Port 0 picks a free port, the same for every worker.
    pub fn bind(addr: SocketAddr, router: Router, config: ServerConfig) -> io::Result<Server> {
        let workers = config.workers.max(1);
        let first = listen(addr, workers > 1)?;
        let addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..workers {
            listeners.push(listen(addr, true)?);
        }
        Ok(Server { listeners, addr, router: Arc::new(router), config })
    }

    /// The address the server listens on (with the real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs until the process ends: workers 1..N on new threads, worker 0 on this one.
    pub fn run(self) -> io::Result<()> {
        let mut handle = self.spawn_workers(1)?;
        let first = handle.first.take();
        let shutdown = handle.shutdown.clone();
        let result = run_worker(first, self.router.clone(), self.config, shutdown);
        // Only reached if worker 0 failed: stop the others too.
        drop(handle);
        result
    }

    /// Runs every worker on background threads; the server stops when the handle is
    /// dropped (or [`ServerHandle::stop`] is called). Used by tests and benchmarks.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let mut handle = self.spawn_workers(0)?;
        handle.addr = self.addr;
        Ok(handle)
    }

    /// Starts threads for the listeners from `from` on; the listener before (if any) is
    /// returned in `first` for the calling thread to run.
    fn spawn_workers(&self, from: usize) -> io::Result<ServerHandle> {
        let shutdown = Arc::new(Event::new());
        let mut threads = Vec::new();
        let mut first = None;
        for (i, listener) in self.listeners.iter().enumerate() {
            let listener = listener.try_clone()?;
            if i < from {
                first = Some(listener);
                continue;
            }
            let (router, config, shutdown) = (self.router.clone(), self.config, shutdown.clone());
            let thread = thread::Builder::new()
                .name(format!("stage6-worker-{i}"))
                .spawn(move || run_worker(Some(listener), router, config, shutdown))?;
            threads.push(thread);
        }
        Ok(ServerHandle { addr: self.addr, shutdown, threads, first })
    }
}

/// Running worker threads. Dropping it stops them (they stop accepting and their runtimes
/// drop every connection task, closing the sockets) and joins them.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Arc<Event>,
    threads: Vec<thread::JoinHandle<io::Result<()>>>,
    first: Option<std::net::TcpListener>,
}

impl ServerHandle {
    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the workers and waits for them; the first worker error, if any.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        self.shutdown.set();
        let mut result = Ok(());
        for thread in self.threads.drain(..) {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = result.and(Err(e)),
                Err(_) => result = result.and(Err(io::Error::other("a worker thread panicked"))),
            }
        }
        result
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

fn listen(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// One worker: a runtime running the accept loop until shutdown.
fn run_worker(
    listener: Option<std::net::TcpListener>,
    router: Arc<Router>,
    config: ServerConfig,
    shutdown: Arc<Event>,
) -> io::Result<()> {
    let Some(listener) = listener else {
        return Ok(());
    };
    let runtime = Runtime::new()?;
    let worker = Rc::new(Worker {
        router,
        config,
        dates: RefCell::new(DateCache::new()),
        scratch: RefCell::new(vec![0; SCRATCH_LEN]),
    });
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        accept_loop(listener, worker, &shutdown).await
    })
}

// ANCHOR: accept_loop
async fn accept_loop(listener: TcpListener, worker: Rc<Worker>, shutdown: &Event) -> io::Result<()> {
    loop {
        match select(listener.accept(), shutdown.wait()).await {
            Either::Left(Ok((stream, peer))) => {
                trace!("http: connection from {peer}");
                // Responses are written whole; Nagle would only delay the last segment of
                // a pipelined burst or a streamed body.
                let _ = stream.set_nodelay(true);
                // Dropping the JoinHandle detaches the task: it runs until the client is done.
                drop(spawn(serve_connection(stream, worker.clone())));
            }
            Either::Left(Err(e)) => return Err(e),
            Either::Right(()) => return Ok(()),
        }
    }
}
// ANCHOR_END: accept_loop

async fn serve_connection(stream: TcpStream, worker: Rc<Worker>) {
    let mut connection = Connection {
        stream,
        parser: Parser::new(worker.config.limits),
        partial: Vec::new(),
        pending: VecDeque::new(),
        failed: None,
        out: Vec::new(),
        sent_continue: false,
        request_deadline: None,
    };
    match connection.run(&worker).await {
        Ok(()) => trace!("http: connection closed"),
        Err(e) => trace!("http: connection dropped: {e}"),
    }
}

/// One client connection.
struct Connection {
    stream: TcpStream,
    parser: Parser,
    /// The start of a request that has not fully arrived (empty between requests).
    partial: Vec<u8>,
    /// Requests parsed but not answered yet: a pipelined burst, answered in order.
    pending: VecDeque<Request>,
    /// The error that ended parsing; answered after `pending`, then the connection closes.
    failed: Option<ParseError>,
    /// Responses not written yet.
    out: Vec<u8>,
    /// `100 Continue` already sent for the request being received.
    sent_continue: bool,
    /// When the request being received must be complete.
    request_deadline: Option<Instant>,
}

/// Why a connection stops reading.
enum Stop {
    /// The client closed (or timed out while idle): close quietly.
    Quiet,
    /// Answer with this status, then close.
    Answer(u16),
}

impl Connection {
    // ANCHOR: connection_loop
    async fn run(&mut self, worker: &Worker) -> io::Result<()> {
        loop {
            while let Some(request) = self.pending.pop_front() {
                if self.respond(worker, request).await? {
                    return self.close(worker).await;
                }
            }
            if let Some(err) = self.failed {
                trace!("http: bad request: {err}");
                let _ = self.write_response(worker, Response::for_parse_error(err), None);
                return self.close(worker).await;
            }
            self.flush(worker).await?;
            if let Some(stop) = self.fill(worker).await? {
                if let Stop::Answer(status) = stop {
                    let _ = self.write_response(worker, Response::error(status).close(), None);
                    return self.close(worker).await;
                }
                return Ok(());
            }
        }
    }
    // ANCHOR_END: connection_loop

    // ANCHOR: fill
    /// Reads until at least one more request is complete (or the connection must stop).
    async fn fill(&mut self, worker: &Worker) -> io::Result<Option<Stop>> {
        loop {
            let read = {
                // Borrowed only for this synchronous block: other connections of this worker
                // use the same scratch buffer while we wait below.
                let mut scratch = worker.scratch.borrow_mut();
                match self.stream.try_read(&mut scratch) {
                    Ok(0) => return Ok(Some(Stop::Quiet)),
                    Ok(n) => {
                        self.ingest(&scratch[..n], worker);
                        true
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if read {
                if !self.pending.is_empty() || self.failed.is_some() {
                    return Ok(None);
                }
                continue;
            }
            if self.parser.wants_continue() && !self.sent_continue {
                // The client waits for our go-ahead before sending the body.
                self.sent_continue = true;
                self.out.extend_from_slice(CONTINUE);
                self.flush(worker).await?;
            }
            let in_request = !self.partial.is_empty() || self.parser.in_progress();
            let limit = match (in_request, self.request_deadline) {
                (true, Some(deadline)) => deadline.saturating_duration_since(Instant::now()),
                _ => worker.config.idle_timeout,
            };
            if timeout(limit, self.stream.readable()).await.is_err() {
                trace!("http: {} timeout", if in_request { "request" } else { "idle" });
                return Ok(Some(if in_request { Stop::Answer(408) } else { Stop::Quiet }));
            }
        }
    }
    // ANCHOR_END: fill

    // ANCHOR: ingest
    /// Parses newly read bytes. Complete requests go to `pending`; the unfinished tail is
    /// kept in `partial`, which is all the parser needs to resume (its offsets are relative
    /// to the first byte of the request it is in).
    fn ingest(&mut self, bytes: &[u8], worker: &Worker) {
        if self.partial.is_empty() {
            // Common case: parse straight from the scratch buffer, copy only a leftover tail.
            let consumed = self.parse_all(bytes);
            self.partial.extend_from_slice(&bytes[consumed..]);
        } else {
            self.partial.extend_from_slice(bytes);
            let partial = std::mem::take(&mut self.partial);
            let consumed = self.parse_all(&partial);
            self.partial = partial;
            self.partial.drain(..consumed);
        }
        if self.partial.is_empty() && self.partial.capacity() > SCRATCH_LEN {
            self.partial = Vec::new(); // a big body passed through: give the memory back
        }
        // A request has started but not finished: from now on it has a deadline.
        let in_request = !self.partial.is_empty() || self.parser.in_progress();
        if in_request && self.request_deadline.is_none() {
            self.request_deadline = Some(Instant::now() + worker.config.request_timeout);
        }
    }

    /// Parses every complete request in `buf`; returns how many bytes they used.
    fn parse_all(&mut self, buf: &[u8]) -> usize {
        let mut start = 0;
        loop {
            match self.parser.parse(&buf[start..]) {
                Ok(Parsed::Complete { request, consumed }) => {
                    start += consumed;
                    self.pending.push_back(request);
                    self.sent_continue = false;
                    self.request_deadline = None;
                }
                Ok(Parsed::Partial) => return start,
                Err(err) => {
                    self.failed = Some(err);
                    return buf.len();
                }
            }
        }
    }
    // ANCHOR_END: ingest

    // ANCHOR: respond
    /// Runs the handler for one request and appends its response. Returns whether the
    /// connection must close afterwards.
    async fn respond(&mut self, worker: &Worker, request: Request) -> io::Result<bool> {
        let version = request.version();
        let head_request = request.is_head();
        let keep_alive = request.keep_alive();
        if stage2_select_callbacks::trace::enabled() {
            trace!("http: {} {}", request.method(), request.target());
        }
        // A panicking handler costs its request a 500, not the worker its other connections.
        let response = CatchUnwind(worker.router.dispatch(request))
            .await
            .unwrap_or_else(|_| Response::error(500).close());
        let ctx = (version, head_request, keep_alive);
        let close = match self.write_response(worker, response, Some(ctx)) {
            Written::Done { close } => close,
            Written::Streaming(mut body) => loop {
                match body.write_next(&mut self.out) {
                    Ok(true) if self.out.len() >= FLUSH_AT => self.flush(worker).await?,
                    Ok(true) => {}
                    Ok(false) => break body.close_after(),
                    Err(e) => {
                        // Mid-body: no way to send an error status now. Send what we have
                        // and close without the last chunk, so the client sees a truncation.
                        self.flush(worker).await?;
                        return Err(e);
                    }
                }
            },
        };
        if self.out.len() >= FLUSH_AT {
            self.flush(worker).await?;
        }
        Ok(close)
    }
    // ANCHOR_END: respond

    /// Serializes `response` into `out`. `request` = (version, HEAD, keep-alive); `None` for
    /// error answers, which always close.
    fn write_response(
        &mut self,
        worker: &Worker,
        response: Response,
        request: Option<(crate::Version, bool, bool)>,
    ) -> Written {
        let (version, head_request, keep_alive) = request.unwrap_or((crate::Version::Http11, false, false));
        let date = *worker.dates.borrow_mut().now();
        let ctx = WriteContext { version, head_request, keep_alive, date: &date };
        response.write_to(&mut self.out, &ctx)
    }

    /// Writes everything in `out`.
    async fn flush(&mut self, worker: &Worker) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        timeout(worker.config.write_timeout, self.stream.write_all(&self.out)).await??;
        self.out.clear();
        if self.out.capacity() > 4 * FLUSH_AT {
            self.out = Vec::new();
        }
        Ok(())
    }

    // ANCHOR: close
    /// Sends what is left and closes politely: shut down our sending side (the client reads
    /// EOF after the last response), then read and discard briefly. Closing a socket with
    /// unread input makes the kernel send RST, and an RST can destroy the response the client
    /// has not read yet, which is exactly the error response it needs to see.
    async fn close(&mut self, worker: &Worker) -> io::Result<()> {
        self.flush(worker).await?;
        let _ = self.stream.shutdown(Shutdown::Write);
        let linger = async {
            let mut drained = 0usize;
            loop {
                let n = {
                    let mut scratch = worker.scratch.borrow_mut();
                    match self.stream.try_read(&mut scratch) {
                        Ok(n) => Some(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                        Err(_) => Some(0),
                    }
                };
                match n {
                    Some(0) => return,
                    Some(n) => {
                        drained += n;
                        if drained > 1024 * 1024 {
                            return;
                        }
                    }
                    None => self.stream.readable().await,
                }
            }
        };
        let _ = timeout(Duration::from_secs(2), linger).await;
        Ok(())
    }
    // ANCHOR_END: close
}

/// Turns a panic while polling the inner future into `Err`, like `catch_unwind` for a
/// closure. The panic message has already been printed by the panic hook.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
