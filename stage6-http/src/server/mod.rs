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
//!
//! Files, in reading order: [`connection`] (the loop above, one request at a time),
//! [`accept`] (accepting, and a task per connection), [`worker`] (what a worker thread lends
//! its connections), [`config`] (every limit and timeout), [`threads`] (worker threads and the
//! graceful shutdown), [`access_log`].

pub mod accept;
pub mod access_log;
pub mod config;
pub mod connection;
pub mod threads;
pub mod worker;

pub use config::ServerConfig;
pub use worker::ServeStats;

use crate::router::Router;
use socket2::{Domain, Protocol, Socket, Type};
use stage1_blocking::workshop::lock;
use stage5_async_await::sync::event::Event;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex as StdMutex};
use std::thread;
use threads::{Shared, ShutdownSignals, run_worker};

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
        // Before any worker runs: a signal sent once the server has answered anything is seen.
        let signals = ShutdownSignals::new()?;
        let (shared, mut handle) = self.spawn_workers(1)?;
        let first = handle.first.take();
        let result = run_worker(first, shared.clone(), Some(signals));
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
    ///
    /// Each listening socket *moves* into its worker, and nothing else keeps a copy: when the
    /// worker drops it at shutdown, the socket is closed and a new connection is refused at
    /// once. (A copy kept here, as this server first did with `try_clone`, left the socket
    /// listening until `run` returned: clients kept connecting, were never accepted, and were
    /// reset at exit.)
    fn spawn_workers(self, from: usize) -> io::Result<(Arc<Shared>, ServerHandle)> {
        let shared = Arc::new(Shared {
            router: self.router.clone(),
            config: self.config,
            shutdown: Event::new(),
            abort: Event::new(),
            accepting: StdMutex::new(self.listeners.len()),
            accepting_changed: Condvar::new(),
            stats: StdMutex::new(ServeStats::default()),
            body_bytes: Arc::default(),
        });
        let mut handle =
            ServerHandle { addr: self.addr, shared: shared.clone(), threads: Vec::new(), first: None };
        for (i, listener) in self.listeners.into_iter().enumerate() {
            if i < from {
                handle.first = Some(listener);
                continue;
            }
            let shared = shared.clone();
            let thread = thread::Builder::new()
                .name(format!("stage6-worker-{i}"))
                .spawn(move || run_worker(Some(listener), shared, None))?;
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

    /// Bytes the connections hold right now for request bodies still arriving, all workers
    /// together: the figure `body_budget` bounds.
    pub fn body_bytes_held(&self) -> usize {
        self.shared.body_bytes.load(std::sync::atomic::Ordering::Relaxed)
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
