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
//!  │     while a request can be parsed:  router.dispatch(req).await ─► write_to(out)    │
//!  │     write_all(out).await            (a pipelined burst goes out in one write)      │
//!  │     try_read(worker's scratch) ─ WouldBlock ─► readable or deadline (.await)       │
//!  │     parser.parse(bytes) ──► one request; the rest stays as bytes in `unparsed`     │
//!  │   }                                                                                │
//!  └────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Memory per idle keep-alive connection is what matters when there are thousands of them:
//! bytes are read into one scratch buffer per *worker*, parsed from there, and only the tail
//! of a request that has not fully arrived is copied into the connection's own buffer. Between
//! requests a connection holds no read buffer, no output buffer and no parser (the worker
//! lends those out while there is something to hold), and its read timeout stays armed
//! instead of being re-armed per request ([`crate::deadline`]).

use crate::date::DateCache;
use crate::deadline::ReadDeadline;
use crate::parser::{Limits, Parsed, Parser};
use crate::request::Request;
use crate::response::{CONTINUE, Response, Streaming, WriteContext, Written};
use crate::router::{HandlerFuture, Router};
use socket2::{Domain, Protocol, Socket, Type};
use stage2_select_callbacks::trace;
use stage5_async_await::combinators::{Either, select};
use stage5_async_await::io::AsyncWrite;
use stage5_async_await::net::{TcpListener, TcpStream};
use stage5_async_await::sync::event::Event;
use stage5_async_await::time::{Sleep, sleep, timeout};
use stage5_async_await::{Runtime, spawn};
use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// Output buffers lent to connections while they have responses to write.
    buffers: RefCell<Vec<Vec<u8>>>,
    /// Parsers lent to connections while they have a request to parse. Boxed on purpose: a
    /// loan moves one pointer, and a connection holds 8 bytes (`Option<Box<Parser>>`).
    #[allow(clippy::vec_box)]
    parsers: RefCell<Vec<Box<Parser>>>,
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
        buffers: RefCell::new(Vec::new()),
        parsers: RefCell::new(Vec::new()),
    });
    worker.dates.borrow_mut().at(SystemTime::now());
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)?;
        // Detached: it lives as long as the runtime (dropped with it at shutdown).
        drop(spawn(tick_date(worker.clone())));
        accept_loop(listener, worker, &shutdown).await
    })
}

// ANCHOR: tick_date
/// Refreshes the worker's `Date` text just after each second boundary, so responses copy 29
/// cached bytes instead of each reading the clock (that read was 3% of a pipelined request).
async fn tick_date(worker: Rc<Worker>) {
    loop {
        let now = SystemTime::now();
        worker.dates.borrow_mut().at(now);
        let into_second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        sleep(Duration::from_nanos(u64::from(1_000_000_000 - into_second))).await;
    }
}
// ANCHOR_END: tick_date

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

// ANCHOR: serve_connection
/// The connection task. Not an `async fn`: an `async fn` keeps its arguments (`stream`,
/// `worker`) in its state *and* the locals built from them (`connection`), for 40 bytes more
/// in every connection's task. An `async move` block captures the finished `Connection` once.
fn serve_connection(stream: TcpStream, worker: Rc<Worker>) -> impl Future<Output = ()> {
    let mut connection = Connection {
        stream,
        parser: None,
        unparsed: Vec::new(),
        start: 0,
        out: Vec::new(),
        sent_continue: false,
        request_deadline: None,
        read_deadline: ReadDeadline::default(),
    };
    async move {
        match connection.run(&worker).await {
            Ok(()) => trace!("http: connection closed"),
            Err(e) => trace!("http: connection dropped: {e}"),
        }
        worker.give_back(std::mem::take(&mut connection.out));
    }
}
// ANCHOR_END: serve_connection

impl Worker {
    /// An output buffer from the worker's pool (connections hold one only while answering).
    fn lend(&self) -> Vec<u8> {
        self.buffers.borrow_mut().pop().unwrap_or_else(|| Vec::with_capacity(4096))
    }

    /// Returns an output buffer to the pool (dropped if it grew large or the pool is full).
    fn give_back(&self, mut buffer: Vec<u8>) {
        let mut pool = self.buffers.borrow_mut();
        if buffer.capacity() > 0 && buffer.capacity() <= 4 * FLUSH_AT && pool.len() < 64 {
            buffer.clear();
            pool.push(buffer);
        }
    }

    /// A parser from the worker's pool. A parser between two requests holds nothing but
    /// its limits and some spare capacity, so connections borrow one only while a request
    /// is being parsed: an idle connection does not carry 224 bytes of parser around.
    fn lend_parser(&self) -> Box<Parser> {
        self.parsers.borrow_mut().pop().unwrap_or_else(|| Box::new(Parser::new(self.config.limits)))
    }

    /// Returns a parser that finished a request (so it is back at its initial state).
    fn give_back_parser(&self, parser: Box<Parser>) {
        let mut pool = self.parsers.borrow_mut();
        if pool.len() < 64 {
            pool.push(parser);
        }
    }
}

/// One client connection.
struct Connection {
    stream: TcpStream,
    /// Lent by the worker from a request's first bytes until it is parsed; `None` between
    /// requests (see [`Worker::lend_parser`]).
    parser: Option<Box<Parser>>,
    /// Received bytes not parsed yet, from `start`: the tail of a pipelined burst, or a request
    /// that has not fully arrived. Empty (no allocation) on an idle connection. Requests are
    /// parsed one at a time, when the previous one has been answered: bytes are smaller than
    /// parsed requests, and nothing parsed has to be kept across an `.await`.
    unparsed: Vec<u8>,
    start: usize,
    /// Responses not written yet; lent by the worker while there is something to write.
    out: Vec<u8>,
    /// `100 Continue` already sent for the request being received.
    sent_continue: bool,
    /// When the request being received must be complete.
    request_deadline: Option<Instant>,
    /// The timer bounding reads (idle and request timeouts), kept armed between requests.
    read_deadline: ReadDeadline,
}

/// What the connection loop awaits next.
enum Step {
    /// The handler's future, and the request's (version, HEAD, keep-alive).
    Respond((crate::Version, bool, bool), HandlerFuture),
    /// An error response is in `out`: send it and close.
    Close,
    /// Close without a word.
    Quiet,
}

/// What reading produced.
enum Next {
    /// Answer this request.
    Request(Request),
    /// Send this (error) response, then close.
    Answer(Response),
    /// The client closed, or stayed idle too long: close quietly.
    Quiet,
}

impl Connection {
    // ANCHOR: connection_loop
    async fn run(&mut self, worker: &Worker) -> io::Result<()> {
        loop {
            // (`if let`, not `match`: a `match` keeps its scrutinee, 112 bytes of
            // `Option<Next>`, alive in the future's state across the `.await`s below.)
            let next = if let Some(next) = self.next_buffered(worker) {
                next
            } else {
                // Everything received has been answered: one write for the whole burst.
                self.flush(worker).await?;
                self.fill(worker).await?
            };
            match self.start_step(worker, next) {
                Step::Respond(meta, handler) => {
                    if self.respond(worker, meta, handler).await? {
                        return Box::pin(self.close(worker)).await;
                    }
                    if self.out.len() >= FLUSH_AT {
                        self.flush(worker).await?;
                    }
                }
                Step::Close => return Box::pin(self.close(worker)).await,
                Step::Quiet => return Ok(()),
            }
        }
    }
    // ANCHOR_END: connection_loop

    /// Turns what was read into what to await. Not async on purpose: the request (168 bytes)
    /// moves into the handler's future here, and is never part of the connection's state.
    fn start_step(&mut self, worker: &Worker, next: Next) -> Step {
        match next {
            Next::Request(request) => {
                let meta = (request.version(), request.is_head(), request.keep_alive());
                if stage2_select_callbacks::trace::enabled() {
                    trace!("http: {} {}", request.method(), request.target());
                }
                Step::Respond(meta, worker.router.dispatch(request))
            }
            Next::Answer(response) => {
                let _ = self.write_response(worker, response, None);
                Step::Close
            }
            Next::Quiet => Step::Quiet,
        }
    }

    // ANCHOR: fill
    /// Reads until a request is complete (or the connection must stop).
    async fn fill(&mut self, worker: &Worker) -> io::Result<Next> {
        loop {
            {
                // Borrowed only for this synchronous block: other connections of this worker
                // use the same scratch buffer while we wait below.
                let mut scratch = worker.scratch.borrow_mut();
                match self.stream.try_read(&mut scratch) {
                    Ok(0) => return Ok(Next::Quiet),
                    Ok(n) => match self.ingest(&scratch[..n], worker) {
                        Some(next) => return Ok(next),
                        None => continue,
                    },
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if self.parser.as_ref().is_some_and(|p| p.wants_continue()) && !self.sent_continue {
                // The client waits for our go-ahead before sending the body.
                self.sent_continue = true;
                if self.out.capacity() == 0 {
                    self.out = worker.lend();
                }
                self.out.extend_from_slice(CONTINUE);
                self.flush(worker).await?;
            }
            let in_request = self.start < self.unparsed.len() || self.in_progress();
            let deadline = match (in_request, self.request_deadline) {
                (true, Some(deadline)) => deadline,
                // The loop's time, not `Instant::now()`: this runs once per request, and a
                // clock read was 5% of the server's user-space time in `perf` (see
                // `iteration_time` for why the lag does not matter here).
                _ => stage5_async_await::iteration_time() + worker.config.idle_timeout,
            };
            if !self.read_deadline.wait_readable_until(&self.stream, deadline).await {
                trace!("http: {} timeout", if in_request { "request" } else { "idle" });
                return Ok(if in_request { Next::Answer(Response::error(408).close()) } else { Next::Quiet });
            }
        }
    }
    // ANCHOR_END: fill

    // ANCHOR: ingest
    /// Takes newly read bytes. Common case (nothing left over from before): parse straight
    /// from the worker's scratch buffer, and copy only what follows the first request (the
    /// rest of a pipelined burst, or an incomplete request) into `unparsed`.
    fn ingest(&mut self, bytes: &[u8], worker: &Worker) -> Option<Next> {
        let next = if self.start == self.unparsed.len() {
            self.unparsed.clear();
            self.start = 0;
            let (consumed, next) = self.parse_from(worker, bytes);
            self.unparsed.extend_from_slice(&bytes[consumed..]);
            next
        } else {
            if self.start > 0 {
                // The parser's offsets are relative to `start`, so moving the bytes is safe.
                self.unparsed.drain(..self.start);
                self.start = 0;
            }
            self.unparsed.extend_from_slice(bytes);
            self.next_buffered(worker)
        };
        self.note_deadline(worker);
        next
    }

    /// The next request (or error answer) from bytes already received, if there is one.
    fn next_buffered(&mut self, worker: &Worker) -> Option<Next> {
        if self.start == self.unparsed.len() {
            return None;
        }
        let unparsed = std::mem::take(&mut self.unparsed);
        let (consumed, next) = self.parse_from(worker, &unparsed[self.start..]);
        self.unparsed = unparsed;
        self.start += consumed;
        if self.start == self.unparsed.len() {
            self.unparsed.clear();
            self.start = 0;
            if self.unparsed.capacity() > SCRATCH_LEN {
                self.unparsed = Vec::new(); // a big body passed through: give the memory back
            }
        }
        self.note_deadline(worker);
        next
    }

    /// Parses at most one request from `buf`. Returns the bytes a complete request used (0
    /// while incomplete: the parser still needs those bytes, from the same offset, next time)
    /// and what to do next. After an error everything is consumed: nothing more is read.
    fn parse_from(&mut self, worker: &Worker, buf: &[u8]) -> (usize, Option<Next>) {
        let parser = self.parser.get_or_insert_with(|| worker.lend_parser());
        match parser.parse(buf) {
            Ok(Parsed::Complete { request, consumed }) => {
                self.sent_continue = false;
                self.request_deadline = None;
                if let Some(parser) = self.parser.take() {
                    worker.give_back_parser(parser);
                }
                (consumed, Some(Next::Request(request)))
            }
            Ok(Parsed::Partial) => (0, None),
            Err(err) => {
                trace!("http: bad request: {err}");
                (buf.len(), Some(Next::Answer(Response::for_parse_error(err))))
            }
        }
    }

    /// Part of a request has been parsed.
    fn in_progress(&self) -> bool {
        self.parser.as_ref().is_some_and(|p| p.in_progress())
    }

    /// A request has started but not finished: from now on it has a deadline.
    fn note_deadline(&mut self, worker: &Worker) {
        if self.in_progress() && self.request_deadline.is_none() {
            self.request_deadline = Some(Instant::now() + worker.config.request_timeout);
        }
    }
    // ANCHOR_END: ingest

    // ANCHOR: respond
    /// Awaits the handler of one request and appends its response. `meta` is the request's
    /// (version, HEAD, keep-alive). Returns whether the connection must close afterwards.
    async fn respond(
        &mut self,
        worker: &Worker,
        meta: (crate::Version, bool, bool),
        handler: HandlerFuture,
    ) -> io::Result<bool> {
        // A panicking handler costs its request a 500, not the worker its other connections.
        let response = CatchUnwind(handler).await.unwrap_or_else(|_| Response::error(500).close());
        let close = match self.write_response(worker, response, Some(meta)) {
            Written::Done { close } => close,
            Written::Streaming(body) => Box::pin(self.pump(worker, body)).await?,
        };
        // (A big `out` is flushed by the caller: awaiting `flush` here would nest its state
        // inside this future's, and every connection's task is as big as its largest state.)
        Ok(close)
    }

    /// Sends a streaming body piece by piece; flushing whenever `out` is full is the
    /// back-pressure: the next piece is produced only once the kernel took the previous ones.
    /// (Boxed by the caller: its state is only allocated for responses that stream.)
    async fn pump(&mut self, worker: &Worker, mut body: Streaming) -> io::Result<bool> {
        loop {
            match body.write_next(&mut self.out) {
                Ok(true) if self.out.len() >= FLUSH_AT => self.flush(worker).await?,
                Ok(true) => {}
                Ok(false) => return Ok(body.close_after()),
                Err(e) => {
                    // Mid-body: no way to send an error status now. Send what we have and
                    // close without the last chunk, so the client sees a truncated body.
                    self.flush(worker).await?;
                    return Err(e);
                }
            }
        }
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
        if self.out.capacity() == 0 {
            self.out = worker.lend();
        }
        let date = *worker.dates.borrow().current();
        let ctx = WriteContext { version, head_request, keep_alive, date: &date };
        response.write_to(&mut self.out, &ctx)
    }

    // ANCHOR: flush
    /// Writes everything in `out`, then hands the buffer back to the worker: an idle
    /// connection holds no output buffer. Written with `poll_fn` rather than
    /// `timeout(write_all(..))`: the timer is only armed if the kernel's buffer is full, and
    /// the state kept in every connection's future is a few words instead of 400 bytes.
    /// (A plain `fn` returning the `poll_fn`, not an `async fn`: the closure's captures are
    /// the whole state, where an `async fn` would also keep its arguments twice.)
    fn flush<'a>(&'a mut self, worker: &'a Worker) -> impl Future<Output = io::Result<()>> + 'a {
        let mut written = 0;
        let mut timer: Option<Sleep> = None;
        poll_fn(move |cx| {
            let (stream, out) = (&self.stream, &self.out);
            while written < out.len() {
                match stream.poll_write(cx, &out[written..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => written += n,
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        let timer = timer.get_or_insert_with(|| sleep(worker.config.write_timeout));
                        return match Pin::new(timer).poll(cx) {
                            Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
                            Poll::Pending => Poll::Pending,
                        };
                    }
                }
            }
            if self.out.capacity() > 0 {
                worker.give_back(std::mem::take(&mut self.out));
            }
            Poll::Ready(Ok(()))
        })
    }
    // ANCHOR_END: flush

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The connection's state lives in its task for as long as the client keeps the
    /// connection open, idle or not; this keeps an eye on its size (1,512 bytes at first,
    /// 800 after the flush and dispatch rework, 344 once the parser became a loan and no
    /// `async fn` kept its arguments twice: see the chapter).
    #[test]
    fn connection_future_stays_small() {
        let runtime = Runtime::new().unwrap();
        runtime.block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let worker = Rc::new(Worker {
                router: Arc::new(Router::new()),
                config: ServerConfig::default(),
                dates: RefCell::default(),
                scratch: RefCell::default(),
                buffers: RefCell::default(),
                parsers: RefCell::default(),
            });
            let future = serve_connection(TcpStream::from_std(client).unwrap(), worker);
            let size = std::mem::size_of_val(&future);
            assert!(size <= 384, "connection future grew to {size} bytes");
        });
    }
}
