//! The callback echo server: many clients on one thread, with back-pressure.
//!
//! The echo server in the documentation of Python's `selectors` module reads what a client sent and calls `conn.send(data)`
//! with the comment "Hope it won't block". On a non-blocking socket it does not block: when
//! the client is not reading and the kernel's send buffer is full, `send` takes *part* of the
//! data (or none, `EAGAIN`), and that code drops the rest on the floor. Making the socket
//! blocking instead would stall the only thread, and every other client with it.
//!
//! The fix is a write buffer per connection plus *back-pressure*:
//!
//! ```text
//!   client ──bytes──> [kernel rcvbuf] ──read──> [ our buffer ] ──send──> [kernel sndbuf] ──> client
//!                                                 │
//!              above HIGH_WATER: stop reading <───┤  (the client's own sends then fill the
//!              below LOW_WATER: read again    <───┘   kernel buffers and block *it*, not us)
//! ```
//!
//! What we read goes into the buffer (a [`WriteBuffer`], which stages 3 and 4 reuse); we send
//! what the socket takes and wait for *writable* to send more. When the buffer passes [`HIGH_WATER`] we stop watching the client for
//! *readable*: its bytes pile up in the kernel, TCP's window closes, and the client's own
//! `write` waits. That slows the sender down to the pace of the reader, with bounded memory
//! on our side, instead of blocking the loop or dropping bytes.

use std::cell::{Cell, RefCell};
use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use stage1_blocking::net::{ACCEPT_BACKOFF, out_of_descriptors};

use crate::buffer::WriteBuffer;
use crate::event_loop::EventLoop;
use crate::net::{AcceptError, accept_nonblocking, classify_accept_error};

/// Stop reading from a client once this many of its bytes wait to be sent back.
pub const HIGH_WATER: usize = 64 * 1024;
/// Read from a paused client again once its buffer has drained below this.
pub const LOW_WATER: usize = 16 * 1024;
/// Bytes per `read`. A connection's buffer never exceeds `HIGH_WATER + READ_CHUNK`: we only
/// read while it is below `HIGH_WATER`, and one read adds at most a chunk.
pub const READ_CHUNK: usize = 16 * 1024;

// ANCHOR: stats
/// The counters an echo server keeps, readable from any thread: tests and the bench hold the
/// server to them. Stage 3's and stage 4's echo servers keep these same counters, so one
/// [`EchoStats::check`] judges all three.
#[derive(Debug, Default)]
pub struct EchoStats {
    accepted: AtomicU64,
    closed: AtomicU64,
    bytes_echoed: AtomicU64,
    max_buffered: AtomicUsize,
    read_pauses: AtomicU64,
    accept_pauses: AtomicU64,
    accept_episodes: AtomicU64,
    accept_retries: AtomicU64,
    buffer_bytes: AtomicUsize,
    /// Lets another thread wait for a counter to change (see [`EchoStats::wait_until`]).
    changed: Condvar,
    lock: Mutex<()>,
}
// ANCHOR_END: stats

impl EchoStats {
    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
    /// Connections closed so far (by EOF, error or reset).
    pub fn closed(&self) -> u64 {
        self.closed.load(Ordering::Relaxed)
    }
    /// Connections accepted and not closed yet.
    pub fn open(&self) -> u64 {
        self.accepted().saturating_sub(self.closed())
    }
    /// Bytes sent back to clients so far.
    pub fn bytes_echoed(&self) -> u64 {
        self.bytes_echoed.load(Ordering::Relaxed)
    }
    /// The most bytes any one connection ever had waiting in its buffer.
    pub fn max_buffered(&self) -> usize {
        self.max_buffered.load(Ordering::Relaxed)
    }
    /// How many times a connection was paused (stopped reading) because its buffer was full.
    pub fn read_pauses(&self) -> u64 {
        self.read_pauses.load(Ordering::Relaxed)
    }
    /// How many times the server stopped accepting because it ran out of file descriptors:
    /// one per failed `accept` (each failure stops watching the listener for a while).
    pub fn accept_pauses(&self) -> u64 {
        self.accept_pauses.load(Ordering::Relaxed)
    }
    /// How many times the server *began* running out of file descriptors (one log line each):
    /// an episode lasts until the accept queue is empty again. See [`AcceptBackoff`].
    pub fn accept_episodes(&self) -> u64 {
        self.accept_episodes.load(Ordering::Relaxed)
    }
    /// How many times the back-off timer ran out and the server tried accepting again (the
    /// other way to try again is a connection closing).
    pub fn accept_retries(&self) -> u64 {
        self.accept_retries.load(Ordering::Relaxed)
    }
    /// Bytes of memory the server holds right now in its connections' own buffers (their
    /// capacity, used or not). Idle connections should hold none.
    pub fn buffer_bytes(&self) -> usize {
        self.buffer_bytes.load(Ordering::Relaxed)
    }

    /// Records an accepted connection.
    pub fn count_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }
    /// Records a closed connection (and wakes [`EchoStats::wait_until`]).
    pub fn count_closed(&self) {
        self.closed.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }
    /// Records `n` bytes sent back to a client.
    pub fn count_echoed(&self, n: usize) {
        self.bytes_echoed.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Records that a connection stopped reading because its buffer was full (and wakes
    /// [`EchoStats::wait_until`]).
    pub fn count_read_pause(&self) {
        self.read_pauses.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }
    /// Records that the server stopped accepting for lack of file descriptors (and wakes
    /// [`EchoStats::wait_until`]).
    pub fn count_accept_pause(&self) {
        self.accept_pauses.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }
    /// Records the start of an out-of-descriptors episode (the one log line it gets).
    pub fn count_accept_episode(&self) {
        self.accept_episodes.fetch_add(1, Ordering::Relaxed);
    }
    /// Records that the back-off timer fired and accepting starts again.
    pub fn count_accept_retry(&self) {
        self.accept_retries.fetch_add(1, Ordering::Relaxed);
    }
    /// Records that a connection's own buffers went from holding `was` bytes of memory to
    /// holding `now` (see [`EchoStats::buffer_bytes`]).
    pub fn note_buffer_memory(&self, was: usize, now: usize) {
        if now >= was {
            self.buffer_bytes.fetch_add(now - was, Ordering::Relaxed);
        } else {
            self.buffer_bytes.fetch_sub(was - now, Ordering::Relaxed);
        }
    }
    /// Records that a connection now holds `bytes` bytes waiting to be sent; keeps the largest
    /// (and wakes [`EchoStats::wait_until`] when it grows).
    pub fn note_buffered(&self, bytes: usize) {
        if self.max_buffered.fetch_max(bytes, Ordering::Relaxed) < bytes {
            self.notify();
        }
    }

    /// Blocks the calling thread until `condition` holds. The server wakes waiters whenever a
    /// connection closes or pauses, or the largest buffer grows: no polling, no sleeps.
    pub fn wait_until(&self, condition: impl Fn(&EchoStats) -> bool) {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !condition(self) {
            guard = self.changed.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// [`EchoStats::wait_until`] that gives up after `timeout`; returns whether `condition`
    /// held. Tests wait this way, so a broken server fails them instead of hanging them.
    pub fn wait_until_for(&self, timeout: Duration, condition: impl Fn(&EchoStats) -> bool) -> bool {
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (_guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |_| !condition(self))
            .unwrap_or_else(PoisonError::into_inner);
        condition(self)
    }

    /// After a run: Ok if exactly `accepted` connections were accepted, and no connection
    /// ever held more than `limit` bytes (and some held bytes at all: the buffer was used).
    pub fn check(&self, accepted: u64, limit: usize) -> anyhow::Result<()> {
        let (got, peak) = (self.accepted(), self.max_buffered());
        anyhow::ensure!(got == accepted, "{got} connections accepted, expected {accepted}");
        anyhow::ensure!(peak > 0 && peak <= limit, "peak buffer {peak} bytes, limit {limit}");
        Ok(())
    }

    fn notify(&self) {
        // Taking the lock (after the counter changed) orders us after any waiter that is
        // between its check and its wait, so the wake-up cannot be lost.
        drop(self.lock.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_all();
    }
}

// ANCHOR: backoff
/// What an event-loop accept loop does when it runs out of file descriptors (`EMFILE`,
/// `ENFILE`, `ENOBUFS`, `ENOMEM`: stage 1's `net::out_of_descriptors`). The echo servers of
/// stages 2, 3 and 4 share it.
///
/// The connection that could not be accepted stays queued, so the listener stays readable:
/// waiting for readable again wakes at once, fails at once, and spins at 100% CPU (with a log
/// line per failure, hundreds of thousands a second). So the server stops watching the
/// listener and tries again when one of its connections closes (a descriptor came back) or
/// when [`ACCEPT_BACKOFF`] has passed, whichever comes first. The timer is what saves a server
/// that holds no connection at all (another part of the process, or the whole system, holds
/// the descriptors): no close will ever wake it. And it says so once per *episode*, from the
/// first failure until the accept queue is empty again: a server held at its limit by a flood
/// says it once, not once for every connection that closes and lets one more in.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    /// When to try accepting again; `None` while the listener is watched.
    retry_at: Cell<Option<Instant>>,
    /// In an episode: accept failed for lack of descriptors, and the queue has not been
    /// emptied since.
    starved: Cell<bool>,
}

impl AcceptBackoff {
    /// `accept` failed with `err`, and [`out_of_descriptors`] says why: the caller stops
    /// watching the listener. Counts the pause, logs the first one of an episode (naming
    /// `server`), and sets the retry time.
    pub fn ran_out(&self, err: &io::Error, stats: &EchoStats, server: &str) {
        debug_assert!(out_of_descriptors(err));
        stats.count_accept_pause();
        if !self.starved.replace(true) {
            stats.count_accept_episode();
            eprintln!(
                "{server}: accept: {err}; pausing accepts until a connection closes or for \
                 {ACCEPT_BACKOFF:?} at a time (said once, until accepting works again)"
            );
        }
        crate::trace!("echo: out of descriptors, listener paused");
        self.retry_at.set(Some(Instant::now() + ACCEPT_BACKOFF));
    }

    /// `accept` found the queue empty (`WouldBlock`): every waiting client got in, so the
    /// episode, if any, is over.
    pub fn drained(&self) {
        if self.starved.replace(false) {
            crate::trace!("echo: accepting again, out-of-descriptors episode over");
        }
    }

    /// A connection closed: if accepting is paused, the caller watches the listener again now
    /// (returns true) instead of waiting for the timer.
    pub fn resume(&self) -> bool {
        self.retry_at.take().is_some()
    }

    /// How long the loop may sleep in `select` before a retry is due; `None` if no retry is
    /// pending (sleep until an fd is ready).
    pub fn timeout(&self) -> Option<Duration> {
        self.retry_at.get().map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Called after each turn of the loop: is the retry due? Then it is taken (and counted),
    /// and the caller watches the listener again.
    pub fn take_due(&self, stats: &EchoStats) -> bool {
        match self.retry_at.get() {
            Some(at) if at <= Instant::now() => {
                self.retry_at.set(None);
                stats.count_accept_retry();
                true
            }
            _ => false,
        }
    }
}
// ANCHOR_END: backoff

/// What every connection shares: the listener, the counters, the accept back-off, and the one
/// buffer every read goes into.
struct Server {
    listener: TcpListener,
    stats: Arc<EchoStats>,
    /// Paused while out of file descriptors; see [`AcceptBackoff`].
    backoff: AcceptBackoff,
    /// [`READ_CHUNK`] bytes that every `read` of every connection goes into, one at a time
    /// (one thread): a connection keeps only what its socket did not take back at once.
    scratch: RefCell<Vec<u8>>,
}

// ANCHOR: conn
/// One client. The reader and writer callbacks of its socket share it through `Rc<RefCell>`.
struct Conn {
    server: Rc<Server>,
    stream: TcpStream,
    fd: RawFd,
    peer: SocketAddr,
    /// Bytes read from the client and not yet sent back, with the water marks.
    out: WriteBuffer,
    /// The memory `out` held when last reported to the stats (its capacity).
    held: usize,
    /// The client sent EOF: flush what is buffered, then close.
    eof: bool,
    /// Is a reader callback registered? (False while paused by back-pressure or after EOF.)
    reading: bool,
    /// Is a writer callback registered? (Only while something waits to be sent.)
    writing: bool,
    closed: bool,
}
// ANCHOR_END: conn

type Shared = Rc<RefCell<Conn>>;

impl Conn {
    /// Sends what the socket takes right now (Ok even if some bytes remain), and counts it.
    fn flush(&mut self) -> io::Result<()> {
        let sent = self.out.send_to(&self.stream)?;
        self.server.stats.count_echoed(sent);
        Ok(())
    }

    /// Tells the stats how much memory this connection's buffer holds now.
    fn report_memory(&mut self) {
        let now = self.out.capacity();
        self.server.stats.note_buffer_memory(self.held, now);
        self.held = now;
    }
}

// ANCHOR: serve
/// Serves echo on `listener` forever on this thread (a server binary's `main`).
pub fn serve(listener: TcpListener) -> io::Result<()> {
    let mut lp = EventLoop::new()?;
    serve_on(&mut lp, listener, Arc::new(EchoStats::default()))
}

/// Registers the echo server's accept callback on `lp` and runs the loop until a callback
/// calls [`EventLoop::stop`].
pub fn serve_on(lp: &mut EventLoop, listener: TcpListener, stats: Arc<EchoStats>) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let scratch = RefCell::new(vec![0; READ_CHUNK]);
    let server = Rc::new(Server { listener, stats, backoff: AcceptBackoff::default(), scratch });
    watch_listener(lp, &server)?;
    // The loop has no timers: while accepting is paused, the back-off bounds its sleep.
    while !lp.stop_requested() {
        lp.run_once_for(server.backoff.timeout())?;
        if server.backoff.take_due(&server.stats) {
            resume_accepting(lp, &server);
        }
    }
    Ok(())
}

fn watch_listener(lp: &mut EventLoop, server: &Rc<Server>) -> io::Result<()> {
    let fd = server.listener.as_raw_fd();
    let server = server.clone();
    lp.register_reader(fd, move |lp| on_acceptable(lp, &server))
}
// ANCHOR_END: serve

// ANCHOR: accept
/// The listener is readable: accept every pending connection, not just one.
fn on_acceptable(lp: &mut EventLoop, server: &Rc<Server>) {
    loop {
        match accept_nonblocking(&server.listener) {
            Ok((stream, peer)) => start_connection(lp, server, stream, peer),
            Err(e) => match classify_accept_error(&e) {
                AcceptError::Drained => return server.backoff.drained(),
                AcceptError::TryNext => continue,
                AcceptError::OutOfDescriptors => {
                    // Stop watching the listener; a close or the timer starts it again.
                    server.backoff.ran_out(&e, &server.stats, "stage2-echo");
                    if let Err(e) = lp.unregister_reader(server.listener.as_raw_fd()) {
                        eprintln!("stage2-echo: cannot pause the listener: {e}");
                    }
                    return;
                }
                AcceptError::Other => {
                    eprintln!("stage2-echo: accept: {e}");
                    return;
                }
            },
        }
    }
}

/// Watches the listener again after a pause (a connection closed, or the back-off ran out).
fn resume_accepting(lp: &mut EventLoop, server: &Rc<Server>) {
    crate::trace!("echo: trying to accept again");
    if let Err(e) = watch_listener(lp, server) {
        eprintln!("stage2-echo: cannot watch the listener again: {e}");
    }
}

fn start_connection(lp: &mut EventLoop, server: &Rc<Server>, stream: TcpStream, peer: SocketAddr) {
    let fd = stream.as_raw_fd();
    let conn = Rc::new(RefCell::new(Conn {
        server: server.clone(),
        stream,
        fd,
        peer,
        out: WriteBuffer::with_water_marks(HIGH_WATER, LOW_WATER),
        held: 0,
        eof: false,
        reading: true,
        writing: false,
        closed: false,
    }));
    let reader = conn.clone();
    if let Err(e) = lp.register_reader(fd, move |lp| on_readable(lp, &reader)) {
        eprintln!("stage2-echo: {peer}: cannot watch the socket: {e}");
        return; // `conn` (and the socket) is dropped here
    }
    server.stats.count_accepted();
    crate::trace!("echo: accepted {peer} on fd {fd}");
}
// ANCHOR_END: accept

// ANCHOR: readable
/// Readable: read while the buffer has room, send what the socket takes, then decide what
/// to wait for next.
fn on_readable(lp: &mut EventLoop, shared: &Shared) {
    let mut guard = shared.borrow_mut();
    let conn = &mut *guard; // borrow the buffer and the stream separately
    let server = Rc::clone(&conn.server);
    let mut scratch = server.scratch.borrow_mut();
    // Stop at WouldBlock (nothing more for now), EOF, or a full buffer (back-pressure).
    while conn.out.pending() < HIGH_WATER {
        match read_into(&conn.stream, &mut scratch) {
            Ok(0) => {
                crate::trace!("echo: {} sent EOF, {} bytes left to send", conn.peer, conn.out.pending());
                conn.eof = true;
                break;
            }
            Ok(n) => {
                server.stats.note_buffered(conn.out.pending() + n);
                // Straight back from the scratch buffer; only what the socket refuses is kept.
                match conn.out.send_or_keep(&conn.stream, &scratch[..n]) {
                    Ok(sent) => server.stats.count_echoed(sent),
                    Err(e) => return close(lp, conn, Some(e)),
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return close(lp, conn, Some(e)),
        }
    }
    settle(lp, shared, conn);
}

/// One `read` into `buf`, retried on `EINTR`. `Ok(0)` is EOF.
fn read_into(mut stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Writable: send more of the buffer, then decide what to wait for next.
fn on_writable(lp: &mut EventLoop, shared: &Shared) {
    let mut conn = shared.borrow_mut();
    if let Err(e) = conn.flush() {
        return close(lp, &mut conn, Some(e));
    }
    settle(lp, shared, &mut conn);
}
// ANCHOR_END: readable

// ANCHOR: settle
/// Makes the registered callbacks match the connection's state: the heart of back-pressure.
fn settle(lp: &mut EventLoop, shared: &Shared, conn: &mut Conn) {
    conn.report_memory();
    let pending = conn.out.pending();
    if conn.eof && pending == 0 {
        return close(lp, conn, None); // everything the client sent went back: done
    }
    // The buffer's water marks decide: stop reading at HIGH_WATER, read again below LOW_WATER.
    let want_read = !conn.eof && conn.out.has_room();
    let want_write = pending > 0;
    let fd = conn.fd;

    if want_read != conn.reading {
        let result = if want_read {
            crate::trace!("echo: {} drained to {pending} bytes: read again", conn.peer);
            let reader = shared.clone();
            lp.register_reader(fd, move |lp| on_readable(lp, &reader))
        } else {
            if !conn.eof {
                crate::trace!("echo: {} has {pending} bytes buffered: stop reading", conn.peer);
                conn.server.stats.count_read_pause();
            }
            lp.unregister_reader(fd)
        };
        if let Err(e) = result {
            return close(lp, conn, Some(e));
        }
        conn.reading = want_read;
    }
    if want_write != conn.writing {
        let result = if want_write {
            let writer = shared.clone();
            lp.register_writer(fd, move |lp| on_writable(lp, &writer))
        } else {
            lp.unregister_writer(fd)
        };
        if let Err(e) = result {
            return close(lp, conn, Some(e));
        }
        conn.writing = want_write;
    }
}
// ANCHOR_END: settle

// ANCHOR: close
/// Ends a connection: out of the loop first, then the socket closes when the last callback
/// holding it is dropped (right after the one running now returns).
fn close(lp: &mut EventLoop, conn: &mut Conn, error: Option<io::Error>) {
    if conn.closed {
        return;
    }
    conn.closed = true;
    if let Err(e) = lp.unregister(conn.fd) {
        crate::trace!("echo: {}: unregister: {e}", conn.peer);
    }
    match error {
        None => crate::trace!("echo: {} done, closing", conn.peer),
        // The client went away mid-transfer: normal life for a server, not worth a log line.
        Some(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
            crate::trace!("echo: {} went away: {e}", conn.peer);
        }
        Some(e) => eprintln!("stage2-echo: {}: {e}", conn.peer),
    }
    // Shut the socket now: our Rc may outlive this call by a little, the connection should not.
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    conn.out = WriteBuffer::new(); // its memory goes now, with the connection
    conn.report_memory();
    let server = conn.server.clone();
    server.stats.count_closed();
    if server.backoff.resume() {
        resume_accepting(lp, &server); // a descriptor came back
    }
}
// ANCHOR_END: close

/// An echo server running on its own thread, for tests and the bench. Dropping it stops it.
///
/// Stopping uses a socketpair registered in the loop like any other socket: closing our end
/// makes the loop's end readable (EOF), its callback calls [`EventLoop::stop`], and the loop
/// thread ends, closing every connection. The loop never needs a timeout to notice.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stats: Arc<EchoStats>,
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl EchoServer {
    /// Starts serving `listener` on a new thread.
    pub fn start(listener: TcpListener) -> io::Result<EchoServer> {
        let addr = listener.local_addr()?;
        let stats = Arc::new(EchoStats::default());
        let (stop, stop_in_loop) = UnixStream::pair()?;
        stop_in_loop.set_nonblocking(true)?;
        let server_stats = stats.clone();
        let thread = std::thread::Builder::new().name("stage2-echo".to_string()).spawn(move || {
            let mut lp = EventLoop::new()?;
            let stop_fd = stop_in_loop.as_raw_fd();
            lp.register_reader(stop_fd, move |lp| {
                let _keep_open = &stop_in_loop;
                lp.stop();
            })?;
            serve_on(&mut lp, listener, server_stats)
        })?;
        Ok(EchoServer { addr, stats, stop: Some(stop), thread: Some(thread) })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its counters.
    pub fn stats(&self) -> &Arc<EchoStats> {
        &self.stats
    }

    /// Stops the loop and waits for its thread; returns the loop's error, if it had one.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        drop(self.stop.take()); // EOF on the loop's end of the pair
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the echo server thread panicked")),
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("stage2-echo: {e}");
        }
    }
}
