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
//! instead of being re-armed per request (the private module `deadline`, in `deadline.rs`).

use crate::date::DateCache;
use crate::deadline::ReadDeadline;
use crate::parser::{Limits, Parsed, Parser};
use crate::request::Request;
use crate::response::{Body, CONTINUE, Response, Streaming, WriteContext, Written};
use crate::router::{HandlerFuture, Router};
use socket2::{Domain, Protocol, Socket, Type};
use stage1_blocking::workshop::lock;
use stage2_select_callbacks::trace;
use stage5_async_await::combinators::{Either, select};
use stage5_async_await::io::AsyncWrite;
use stage5_async_await::net::{TcpListener, TcpStream};
use stage5_async_await::signal::{SIGTERM, shutdown_signal};
use stage5_async_await::sync::event::Event;
use stage5_async_await::time::{Sleep, sleep, timeout};
use stage5_async_await::{Runtime, spawn};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::io::{self, Write as _};
use std::net::{Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ANCHOR: config
/// Server settings. Every timeout exists because without it one misbehaving client holds a
/// connection (an fd, a task, its buffers) forever; every limit, because without it one client
/// (or a crowd) can take all of a resource.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Parser limits (target, headers, body).
    pub limits: Limits,
    /// Worker threads, each with its own runtime and listening socket. Default 1.
    pub workers: usize,
    /// Most connections served at once, shared out evenly over the workers. One more is
    /// accepted, answered `503 Service Unavailable` and closed, instead of being left in the
    /// kernel's queue where the client cannot tell a full server from a dead one. Default 10,000.
    pub max_connections: usize,
    /// Close a keep-alive connection idle this long between requests. Default 60 s.
    pub idle_timeout: Duration,
    /// A request's head (request line and headers) must arrive completely within this time of
    /// its first byte, or it gets `408 Request Timeout`: the slowloris attack trickles a header
    /// byte now and then to hold a connection forever. Default 30 s.
    pub header_timeout: Duration,
    /// Once the head is in, each read of the body must bring bytes within this time, or `408`.
    /// It bounds a stalled upload, not a slow one: a big body on a slow link keeps going as
    /// long as it moves (nginx's `client_body_timeout` works the same way). Default 30 s.
    pub body_timeout: Duration,
    /// A write must make progress within this time (a client that never reads). Default 30 s.
    pub write_timeout: Duration,
    /// After a shutdown request, how long in-flight requests get to finish before the workers
    /// stop anyway. Default 10 s.
    pub shutdown_timeout: Duration,
    /// Print one line per request to stdout (`--log`). Default off: at 100k requests a second
    /// the log would cost more than the requests.
    pub access_log: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            workers: 1,
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            access_log: false,
        }
    }
}
// ANCHOR_END: config

/// Bytes per read: one such buffer per worker, shared by all its connections.
const SCRATCH_LEN: usize = 64 * 1024;
/// Output is written once it reaches this size even in the middle of a burst or a stream,
/// which also gives a streaming body back-pressure: the next piece is produced only after
/// the previous ones were accepted by the kernel.
const FLUSH_AT: usize = 64 * 1024;
/// Connections past `max_connections` being answered 503 at once, per worker. Past this too,
/// a new connection is closed without a word: answering costs a task each, and a flood must
/// not turn into a flood of tasks.
const MAX_TURNING_AWAY: usize = 64;
/// The access log is written when this much has gathered (and every second).
const LOG_FLUSH_AT: usize = 16 * 1024;

/// What every worker thread shares: the routes, the settings, and the shutdown signals.
struct Shared {
    router: Arc<Router>,
    config: ServerConfig,
    /// Set to begin a graceful shutdown: stop accepting, finish what is in flight.
    shutdown: Event,
    /// Set to stop now, without waiting for in-flight requests (a second Ctrl-C).
    abort: Event,
    /// Workers still accepting; [`ServerHandle::stop_accepting`] waits for it to reach 0.
    accepting: StdMutex<usize>,
    accepting_changed: Condvar,
    /// Totals, added by each worker as it stops.
    stats: StdMutex<ServeStats>,
}

/// What a server did, reported when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Connections accepted and served.
    pub connections: u64,
    /// Requests answered (error answers to bad requests included).
    pub requests: u64,
    /// Connections answered `503` because `max_connections` were open.
    pub turned_away: u64,
    /// Connections still in the middle of a request when the shutdown deadline (or a second
    /// signal) cut them off. Zero after a clean shutdown.
    pub abandoned: u64,
}

impl std::ops::AddAssign for ServeStats {
    /// Adds one worker's figures to the server's totals.
    fn add_assign(&mut self, other: ServeStats) {
        self.connections += other.connections;
        self.requests += other.requests;
        self.turned_away += other.turned_away;
        self.abandoned += other.abandoned;
    }
}

/// What every connection on one worker shares. Single-threaded, hence `Rc`/`RefCell`/`Cell`;
/// a `RefCell` is only ever borrowed between two `.await`s, never across one.
struct Worker {
    router: Arc<Router>,
    config: ServerConfig,
    dates: RefCell<DateCache>,
    scratch: RefCell<Vec<u8>>,
    /// Output buffers lent to connections while they have responses to write.
    buffers: RefCell<Vec<Vec<u8>>>,
    /// This worker's share of `max_connections`.
    max_open: usize,
    /// Connections open now, and how many of them are being turned away with a 503.
    open: Cell<usize>,
    turning_away: Cell<usize>,
    /// Connections in the middle of a request (head received, not yet answered): what a
    /// graceful shutdown waits for. Idle keep-alive connections are not counted.
    busy: Cell<usize>,
    /// True once shutdown began: answers say `Connection: close`, idle connections end.
    draining: Cell<bool>,
    /// The shutdown's waiter, woken when `busy` drops to zero.
    drained: RefCell<Option<Waker>>,
    /// Parsers lent to connections while they have a request to parse. Boxed on purpose: a
    /// loan moves one pointer, and a connection holds 8 bytes (`Option<Box<Parser>>`).
    #[allow(clippy::vec_box)]
    parsers: RefCell<Vec<Box<Parser>>>,
    /// Access log lines not written yet (`config.access_log`).
    log: RefCell<Vec<u8>>,
    stats: Cell<ServeStats>,
}

impl Worker {
    fn new(router: Arc<Router>, config: ServerConfig) -> Worker {
        let workers = config.workers.max(1);
        Worker {
            router,
            config,
            dates: RefCell::new(DateCache::new()),
            scratch: RefCell::new(vec![0; SCRATCH_LEN]),
            buffers: RefCell::new(Vec::new()),
            parsers: RefCell::new(Vec::new()),
            max_open: config.max_connections.div_ceil(workers).max(1),
            open: Cell::new(0),
            turning_away: Cell::new(0),
            busy: Cell::new(0),
            draining: Cell::new(false),
            drained: RefCell::new(None),
            log: RefCell::new(Vec::new()),
            stats: Cell::new(ServeStats::default()),
        }
    }

    fn count(&self, update: impl FnOnce(&mut ServeStats)) {
        let mut stats = self.stats.get();
        update(&mut stats);
        self.stats.set(stats);
    }

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

    /// Writes the gathered access log lines. A blocking write to stdout: fine for a log that
    /// is off by default and flushed in 16 KiB pieces, but a stdout nobody reads would stall
    /// the worker (a production server hands its log to a thread or to the kernel's syslog).
    fn flush_log(&self) {
        let mut log = self.log.borrow_mut();
        if !log.is_empty() {
            let _ = io::stdout().lock().write_all(&log);
            log.clear();
        }
    }
}

/// A bound server, not running yet.
pub struct Server {
    listeners: Vec<std::net::TcpListener>,
    addr: SocketAddr,
    router: Arc<Router>,
    config: ServerConfig,
}

impl Server {
    // ANCHOR: bind
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
    // ANCHOR_END: bind

    /// The address the server listens on (with the real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    // ANCHOR: run
    /// Serves until SIGINT or SIGTERM, then shuts down gracefully: every worker stops
    /// accepting, finishes the requests in flight (their answers say `Connection: close`),
    /// closes its idle keep-alive connections, and stops, within `shutdown_timeout`. A second
    /// signal stops at once. Workers 1..N run on new threads, worker 0 on this one, which
    /// also watches for the signals.
    pub fn run(self) -> io::Result<ServeStats> {
        let (shared, mut handle) = self.spawn_workers(1)?;
        let first = handle.first.take();
        let result = run_worker(first, shared.clone(), true);
        // Worker 0 only returns once shutdown began (or it failed): make sure the others
        // stop too, and wait for them.
        let joined = handle.stop_and_join();
        result.and(joined)?;
        Ok(*lock(&shared.stats))
    }
    // ANCHOR_END: run

    /// Runs every worker on background threads. [`ServerHandle::stop`] (or dropping the
    /// handle) shuts them down gracefully, as a signal does for [`Server::run`]. Used by tests
    /// and benchmarks.
    pub fn spawn(self) -> io::Result<ServerHandle> {
        let (_, handle) = self.spawn_workers(0)?;
        Ok(handle)
    }

    /// Starts threads for the listeners from `from` on; the listener before (if any) is
    /// returned in `first` for the calling thread to run.
    fn spawn_workers(&self, from: usize) -> io::Result<(Arc<Shared>, ServerHandle)> {
        let shared = Arc::new(Shared {
            router: self.router.clone(),
            config: self.config,
            shutdown: Event::new(),
            abort: Event::new(),
            accepting: StdMutex::new(self.listeners.len()),
            accepting_changed: Condvar::new(),
            stats: StdMutex::new(ServeStats::default()),
        });
        let mut handle =
            ServerHandle { addr: self.addr, shared: shared.clone(), threads: Vec::new(), first: None };
        for (i, listener) in self.listeners.iter().enumerate() {
            let listener = listener.try_clone()?;
            if i < from {
                handle.first = Some(listener);
                continue;
            }
            let shared = shared.clone();
            let thread = thread::Builder::new()
                .name(format!("stage6-worker-{i}"))
                .spawn(move || run_worker(Some(listener), shared, false))?;
            handle.threads.push(thread);
        }
        Ok((shared, handle))
    }
}

/// Running worker threads. Dropping it shuts them down gracefully and joins them.
pub struct ServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<io::Result<()>>>,
    first: Option<std::net::TcpListener>,
}

impl ServerHandle {
    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Begins a graceful shutdown and returns once every worker has closed its listening
    /// socket: from then on a new connection is refused, while requests already in flight
    /// are still being answered.
    pub fn stop_accepting(&self) {
        self.shared.shutdown.set();
        let mut accepting = lock(&self.shared.accepting);
        while *accepting > 0 {
            accepting = self.shared.accepting_changed.wait(accepting).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Shuts down gracefully, waits for the workers, and says what they did; the first
    /// worker error, if any.
    pub fn stop(mut self) -> io::Result<ServeStats> {
        self.stop_and_join()?;
        Ok(*lock(&self.shared.stats))
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        self.shared.shutdown.set();
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

// ANCHOR: listen
/// A listening socket; with `reuse_port`, one of several on the same port (one per worker).
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
// ANCHOR_END: listen

// ANCHOR: run_worker
/// One worker: a runtime that accepts until shutdown begins, then drains. Worker 0 of
/// [`Server::run`] also watches for SIGINT/SIGTERM.
fn run_worker(listener: Option<std::net::TcpListener>, shared: Arc<Shared>, watch: bool) -> io::Result<()> {
    let Some(listener) = listener else {
        return Ok(());
    };
    // Until this is dropped, `stop_accepting` counts this worker as still accepting.
    let accepting = Accepting(&shared);
    let runtime = Runtime::new()?;
    let worker = Rc::new(Worker::new(shared.router.clone(), shared.config));
    worker.dates.borrow_mut().at(SystemTime::now());
    let result = runtime.block_on(async {
        // Detached: they live as long as the runtime (dropped with it at the end).
        drop(spawn(tick_date(worker.clone())));
        if watch {
            drop(spawn(watch_signals(shared.clone())));
        }
        let listener = TcpListener::from_std(listener)?;
        accept_loop(listener, worker.clone(), &shared.shutdown).await;
        // accept_loop owned the listener and closed it: new connections are refused now.
        drop(accepting);
        drain(&worker, &shared).await;
        Ok(())
    });
    worker.flush_log();
    // Nothing may wake the drain any more: the tasks dropped with the runtime below give
    // back their in-flight marks (see `Admitted`), and would otherwise wake a finished future.
    worker.drained.borrow_mut().take();
    let mine = ServeStats { abandoned: worker.busy.get() as u64, ..worker.stats.get() };
    *lock(&shared.stats) += mine;
    result
    // The runtime is dropped here, and with it every connection task still alive: the idle
    // keep-alive ones (and any the deadline cut off). Their sockets close.
}

/// One worker's place in the count of workers still accepting (see `stop_accepting`).
struct Accepting<'a>(&'a Shared);

impl Drop for Accepting<'_> {
    fn drop(&mut self) {
        let mut accepting = lock(&self.0.accepting);
        *accepting = accepting.saturating_sub(1);
        self.0.accepting_changed.notify_all();
    }
}
// ANCHOR_END: run_worker

// ANCHOR: drain
/// Graceful shutdown on one worker: tell every connection (the busy ones close after their
/// answer, idle ones as soon as they look), then wait until nothing is in flight, the
/// deadline passes, or a second signal says stop now.
async fn drain(worker: &Worker, shared: &Shared) {
    worker.draining.set(true);
    trace!("http: draining, {} requests in flight", worker.busy.get());
    let nothing_in_flight = poll_fn(|cx| {
        if worker.busy.get() == 0 {
            return Poll::Ready(());
        }
        *worker.drained.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    });
    let _ = timeout(worker.config.shutdown_timeout, select(nothing_in_flight, shared.abort.wait())).await;
}

/// Worker 0's signal watcher: the first SIGINT/SIGTERM begins the graceful shutdown of every
/// worker, a second one aborts it.
async fn watch_signals(shared: Arc<Shared>) {
    let name = |signal| if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
    match shutdown_signal().await {
        // writeln! with the error ignored, not eprintln!, which panics once stderr has gone.
        Ok(signal) => {
            let _ = writeln!(
                io::stderr(),
                "stage6-server: {}: no new connections; finishing requests in flight (up to {:?}; send it again to stop now)",
                name(signal),
                shared.config.shutdown_timeout
            );
        }
        Err(e) => {
            let _ = writeln!(io::stderr(), "stage6-server: cannot watch SIGINT/SIGTERM: {e}");
            return;
        }
    }
    shared.shutdown.set();
    if let Ok(signal) = shutdown_signal().await {
        let _ = writeln!(io::stderr(), "stage6-server: {} again: stopping now", name(signal));
        shared.abort.set();
    }
}
// ANCHOR_END: drain

// ANCHOR: tick_date
/// Refreshes the worker's `Date` text just after each second boundary, so responses copy 29
/// cached bytes instead of each reading the clock (that read was 3% of a pipelined request).
/// The access log, if on, is written on the same tick.
async fn tick_date(worker: Rc<Worker>) {
    loop {
        let now = SystemTime::now();
        worker.dates.borrow_mut().at(now);
        worker.flush_log();
        let into_second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        sleep(Duration::from_nanos(u64::from(1_000_000_000 - into_second))).await;
    }
}
// ANCHOR_END: tick_date

// ANCHOR: accept_loop
/// Accepts until shutdown begins. A connection past the worker's share of `max_connections`
/// is answered `503` and closed; accept errors are reported and survived (stage 5's `accept`
/// already backs off when the process is out of file descriptors, instead of spinning).
async fn accept_loop(listener: TcpListener, worker: Rc<Worker>, shutdown: &Event) {
    loop {
        match select(listener.accept(), shutdown.wait()).await {
            Either::Left(Ok((stream, peer))) => {
                trace!("http: connection from {peer}");
                // Responses are written whole; Nagle would only delay the last segment of
                // a pipelined burst or a streamed body.
                let _ = stream.set_nodelay(true);
                if worker.open.get() < worker.max_open {
                    // Dropping the JoinHandle detaches the task: it runs until the client is done.
                    drop(spawn(serve_connection(stream, worker.clone())));
                } else if worker.turning_away.get() < MAX_TURNING_AWAY {
                    worker.turning_away.set(worker.turning_away.get() + 1);
                    drop(spawn(turn_away(stream, worker.clone())));
                } // else: dropped here, closed without an answer
            }
            Either::Left(Err(e)) => {
                // Not eprintln!, which panics once stderr has gone: the server goes on.
                let _ = writeln!(io::stderr(), "stage6-server: accept failed: {e}");
                sleep(Duration::from_millis(100)).await;
            }
            Either::Right(()) => return,
        }
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: serve_connection
/// The connection task. Not an `async fn`: an `async fn` keeps its arguments (`stream`,
/// `worker`) in its state *and* the locals built from them (`connection`), for 40 bytes more
/// in every connection's task. An `async move` block captures the finished `Admitted` once.
fn serve_connection(stream: TcpStream, worker: Rc<Worker>) -> impl Future<Output = ()> {
    worker.count(|s| s.connections += 1);
    worker.open.set(worker.open.get() + 1); // given back by `Admitted::drop`
    let mut admitted = Admitted { connection: Connection::new(stream), worker };
    async move {
        let Admitted { connection, worker } = &mut admitted;
        match connection.run(worker).await {
            Ok(()) => trace!("http: connection closed"),
            Err(e) => trace!("http: connection dropped: {e}"),
        }
    }
}

/// A connection counted in its worker's `open` (and maybe `busy`). Giving those back in
/// `Drop` rather than after `run` returns means they are given back however the task ends:
/// returning, a panic the executor catches, or the runtime dropping it at shutdown. A leaked
/// place would shrink `max_connections` for good; a leaked in-flight mark would make every
/// later shutdown wait for its whole deadline.
struct Admitted {
    connection: Connection,
    worker: Rc<Worker>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let worker = &self.worker;
        self.connection.set_busy(worker, false);
        worker.give_back(std::mem::take(&mut self.connection.out));
        worker.open.set(worker.open.get() - 1);
    }
}
// ANCHOR_END: serve_connection

/// A connection over the limit: `503` with `Retry-After`, closed politely (the client learns
/// the server is full rather than waiting in a queue or seeing a reset).
async fn turn_away(stream: TcpStream, worker: Rc<Worker>) {
    trace!("http: {} connections open, turning one away", worker.open.get());
    worker.count(|s| s.turned_away += 1);
    let mut connection = Connection::new(stream);
    let busy = Response::error(503).header("Retry-After", "1").close();
    let _ = connection.write_response(&worker, busy, None);
    let _ = connection.close(&worker).await;
    worker.give_back(std::mem::take(&mut connection.out));
    worker.turning_away.set(worker.turning_away.get() - 1);
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
    /// When the head of the request being received must be complete.
    header_deadline: Option<Instant>,
    /// The timer bounding reads (idle, header and body timeouts), kept armed between requests.
    read_deadline: ReadDeadline,
    /// Counted in the worker's `busy`: a request is in flight on this connection.
    busy: bool,
}

/// What the connection loop awaits next.
enum Step {
    /// The handler's future, the request's (version, HEAD, keep-alive), and its access log
    /// entry if the log is on.
    Respond((crate::Version, bool, bool), HandlerFuture, Option<Box<LogEntry>>),
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

/// What the access log remembers of a request while its handler runs.
struct LogEntry {
    /// `GET /path HTTP/1.1`, copied before the request moves into its handler.
    request_line: String,
    start: Instant,
}

impl Connection {
    fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            parser: None,
            unparsed: Vec::new(),
            start: 0,
            out: Vec::new(),
            sent_continue: false,
            header_deadline: None,
            read_deadline: ReadDeadline::default(),
            busy: false,
        }
    }

    /// Keeps the worker's count of connections with a request in flight, which a graceful
    /// shutdown waits on, and wakes that wait when the count reaches zero.
    fn set_busy(&mut self, worker: &Worker, busy: bool) {
        if self.busy == busy {
            return;
        }
        self.busy = busy;
        let now_busy = if busy { worker.busy.get() + 1 } else { worker.busy.get() - 1 };
        worker.busy.set(now_busy);
        if now_busy == 0 {
            if let Some(waker) = worker.drained.borrow_mut().take() {
                waker.wake();
            }
        }
    }

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
                Step::Respond(meta, handler, log) => {
                    if self.respond(worker, meta, handler, log).await? {
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
                self.set_busy(worker, true);
                worker.count(|s| s.requests += 1);
                let meta = (request.version(), request.is_head(), request.keep_alive());
                if stage2_select_callbacks::trace::enabled() {
                    trace!("http: {} {}", request.method(), request.target());
                }
                let log = worker.config.access_log.then(|| {
                    let (method, target, version) = (request.method(), request.target(), request.version());
                    let request_line = format!("{} {target} {}", method.as_str(), version.as_str());
                    Box::new(LogEntry { request_line, start: Instant::now() })
                });
                Step::Respond(meta, worker.router.dispatch(request), log)
            }
            Next::Answer(response) => {
                worker.count(|s| s.requests += 1);
                if worker.config.access_log {
                    let status = response.status_code();
                    self.log(worker, "- (unreadable request)", status, None, Instant::now());
                }
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
            // In flight (for a graceful shutdown) once the head is in: a request that has
            // not even finished its headers is cut off like an idle connection.
            self.set_busy(worker, self.in_body());
            if !in_request && worker.draining.get() {
                return Ok(Next::Quiet);
            }
            if !in_request && self.unparsed.capacity() > 0 {
                // Idle again after a pipelined burst: everything in `unparsed` was answered,
                // and its buffer (up to 64 KiB) would stay with the connection for as long as
                // it idles. Allocating it again for the next burst is cheaper than keeping it.
                self.unparsed = Vec::new();
            }
            let deadline = if self.in_body() {
                Instant::now() + worker.config.body_timeout
            } else if let (true, Some(deadline)) = (in_request, self.header_deadline) {
                deadline
            } else {
                // The loop's time, not `Instant::now()`: this runs once per request, and a
                // clock read was 5% of the server's user-space time in `perf` (see
                // `iteration_time` for why the lag does not matter here).
                stage5_async_await::iteration_time() + worker.config.idle_timeout
            };
            if !self.read_deadline.wait_readable_until(&self.stream, deadline).await {
                let what = if self.in_body() {
                    "body"
                } else if in_request {
                    "header"
                } else {
                    "idle"
                };
                trace!("http: {what} timeout");
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
                self.header_deadline = None;
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

    /// The head of the current request is complete and its body is arriving.
    fn in_body(&self) -> bool {
        self.parser.as_ref().is_some_and(|p| p.in_body())
    }

    /// A request has started but its head has not finished: from now on the head has a
    /// deadline, set once, so trickling bytes does not extend it.
    fn note_deadline(&mut self, worker: &Worker) {
        if self.in_progress() && self.header_deadline.is_none() {
            self.header_deadline = Some(Instant::now() + worker.config.header_timeout);
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
        log: Option<Box<LogEntry>>,
    ) -> io::Result<bool> {
        // A panicking handler costs its request a 500, not the worker its other connections.
        let response = CatchUnwind(handler).await.unwrap_or_else(|_| Response::error(500).close());
        let close = match self.answer(worker, response, meta, log) {
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

    /// Serializes the handler's answer to a request (with `meta` = its version, HEAD,
    /// keep-alive) and logs it. Apart from `respond` on purpose: a response borrowed inside
    /// an `async fn` is kept in the future's state across its later `.await`s (the compiler
    /// cannot tell the borrow has ended), which made every connection 96 bytes bigger.
    fn answer(
        &mut self,
        worker: &Worker,
        response: Response,
        meta: (crate::Version, bool, bool),
        log: Option<Box<LogEntry>>,
    ) -> Written {
        let (version, head, keep_alive) = meta;
        if let Some(entry) = log {
            let body_len = match response.body_ref() {
                Body::Full(bytes) if !head => Some(bytes.len() as u64),
                Body::SizedStream { len, .. } if !head => Some(*len),
                Body::Stream(_) if !head => None,
                _ => Some(0),
            };
            self.log(worker, &entry.request_line, response.status_code(), body_len, entry.start);
        }
        // Shutting down: this answer is the connection's last, and says so.
        let keep_alive = keep_alive && !worker.draining.get();
        self.write_response(worker, response, Some((version, head, keep_alive)))
    }

    // ANCHOR: access_log
    /// Adds one access log line: peer, request line, status, body bytes (`-` when streamed
    /// with no known length), handler time. The peer address is asked of the kernel here,
    /// only when logging, rather than kept in every connection.
    fn log(&self, worker: &Worker, request_line: &str, status: u16, body: Option<u64>, start: Instant) {
        let mut log = worker.log.borrow_mut();
        // Written straight into the worker's log buffer (writes to a Vec cannot fail).
        let _ = match self.stream.peer_addr() {
            Ok(peer) => write!(log, "{peer} "),
            Err(_) => write!(log, "- "),
        };
        log.extend_from_slice(b"[");
        log.extend_from_slice(worker.dates.borrow().current());
        let _ = write!(log, "] \"{}\" {status} ", request_line.escape_debug());
        let _ = match body {
            Some(bytes) => write!(log, "{bytes}"),
            None => write!(log, "-"),
        };
        let _ = writeln!(log, " {}us", start.elapsed().as_micros());
        let full = log.len() >= LOG_FLUSH_AT;
        drop(log);
        if full {
            worker.flush_log();
        }
    }
    // ANCHOR_END: access_log

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
                    Poll::Ready(Ok(n)) => {
                        written += n;
                        // Progress: the client is reading. `write_timeout` bounds each wait
                        // for room in the kernel's buffer, not the whole (maybe huge) write.
                        timer = None;
                    }
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
            let worker = Rc::new(Worker::new(Arc::new(Router::new()), ServerConfig::default()));
            let future = serve_connection(TcpStream::from_std(client).unwrap(), worker);
            let size = std::mem::size_of_val(&future);
            assert!(size <= 384, "connection future grew to {size} bytes");
        });
    }
}
