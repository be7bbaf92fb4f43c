//! An echo server on the future loop, with a bounded write buffer.
//!
//! The echo server in Python's `selectors` documentation does `conn.send(data)  # Hope it won't block`. On a
//! non-blocking socket the send does not block: it writes *part* of the data (or nothing) when
//! the peer reads slowly, and the rest is silently lost. The fix is a write buffer per
//! connection: what was read but not yet written waits there, and the loop waits for
//! *writable* to send it. The buffer must also be *bounded*, or a client that sends a lot and
//! never reads makes the server buffer everything: when it holds [`BUFFER_LIMIT`] bytes the
//! connection stops asking to read, the kernel's receive buffer fills, TCP's window closes, and
//! the client's own writes block. That chain is called back-pressure. The buffer is stage 2's
//! [`WriteBuffer`]; what is new here is only *how* the connection waits: on futures.

use std::cell::RefCell;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::anyhow;
use stage2_select_callbacks::buffer::WriteBuffer;
use stage2_select_callbacks::echo::AcceptBackoff;
use stage2_select_callbacks::net::{AcceptError, accept_nonblocking, classify_accept_error};
use stage2_select_callbacks::selector::Selector;
use stage2_select_callbacks::trace;

use crate::event_loop::EventLoop;
use crate::future::Future;

/// Most bytes a connection holds (read, not yet echoed) before it stops reading.
pub const BUFFER_LIMIT: usize = 64 * 1024;

/// The server's counters: stage 2's type (accepted, closed, largest buffer...), so stage 2's
/// `check` and `wait_until` work on this server too.
pub use stage2_select_callbacks::echo::EchoStats;

/// A bound echo server, ready to [`run`](EchoServer::run). It is `Send`: bind it on one thread,
/// run it on another (the loop itself is created inside `run`).
#[derive(Debug)]
pub struct EchoServer {
    listener: TcpListener,
    stats: Arc<EchoStats>,
}

impl EchoServer {
    /// Binds `addr` (port 0 picks a free port) with stage 1's listener set-up.
    pub fn bind(addr: SocketAddr) -> io::Result<EchoServer> {
        EchoServer::from_listener(stage1_blocking::net::bind_listener(addr)?)
    }

    /// Serves on an already bound listener (made non-blocking here).
    pub fn from_listener(listener: TcpListener) -> io::Result<EchoServer> {
        listener.set_nonblocking(true)?;
        Ok(EchoServer { listener, stats: Arc::default() })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The server's counters.
    pub fn stats(&self) -> Arc<EchoStats> {
        Arc::clone(&self.stats)
    }

    /// Runs the server on a new thread with the given selector; returns its address. The
    /// thread serves until the process exits (tests and benches start servers this way).
    pub fn spawn(self, selector: Selector) -> io::Result<SocketAddr> {
        let addr = self.local_addr()?;
        std::thread::Builder::new().name("stage3-echo".into()).spawn(move || {
            if let Err(err) = self.run_with(selector) {
                eprintln!("stage3-echo: {err:#}");
            }
        })?;
        Ok(addr)
    }

    /// The non-blocking listener and the counters, for a server that runs them its own way
    /// (stage 4's runs them with tasks).
    pub fn into_parts(self) -> (TcpListener, Arc<EchoStats>) {
        (self.listener, self.stats)
    }

    // ANCHOR: run
    /// Serves until the listener fails (it normally never returns).
    pub fn run(self) -> anyhow::Result<()> {
        self.run_with(Selector::new()?)
    }

    /// [`EchoServer::run`] on the given selector (tests run both backends).
    pub fn run_with(self, selector: Selector) -> anyhow::Result<()> {
        let lp = EventLoop::with_selector(selector);
        // The accept chain resolves this only if it cannot go on; running "until complete"
        // on it is running forever in the normal case.
        let stopped = lp.create_future::<()>("echo server stopped");
        let server = Rc::new(Listening {
            lp: lp.clone(),
            listener: self.listener,
            stats: self.stats,
            stopped: stopped.clone(),
            backoff: AcceptBackoff::default(),
            scratch: RefCell::new(vec![0; BUFFER_LIMIT]),
        });
        Rc::clone(&server).accept_soon();
        // `run_until_complete`, plus the one timer this loop lacks: while accepting is paused
        // for lack of descriptors, the back-off bounds the sleep in `select`.
        while !stopped.done() {
            if !lp.has_work() && server.backoff.timeout().is_none() {
                return Err(anyhow!("the echo server waits for nothing: no callback queued, no fd watched"));
            }
            lp.run_once_for(server.backoff.timeout())?;
            if server.backoff.take_due(&server.stats) {
                Rc::clone(&server).accept_soon();
            }
        }
        Ok(stopped.take_result()?)
    }
    // ANCHOR_END: run
}

struct Listening {
    lp: EventLoop,
    listener: TcpListener,
    stats: Arc<EchoStats>,
    stopped: Future<()>,
    /// Out of file descriptors: not waiting on the listener until a connection closes or the
    /// back-off runs out (stage 2's [`AcceptBackoff`]).
    backoff: AcceptBackoff,
    /// What every `read` of every connection goes into, one at a time (one thread).
    scratch: RefCell<Vec<u8>>,
}

// ANCHOR: accept
impl Listening {
    /// Waits for the listener to be readable (a connection is queued), then accepts.
    fn accept_soon(self: Rc<Self>) {
        let ready = self.lp.wait_readable(self.listener.as_raw_fd());
        ready.add_done_callback(move |ready| self.accept(ready));
    }

    /// Accepts every queued connection, starts a [`Connection`] for each, and waits again.
    fn accept(self: Rc<Self>, ready: &Future<()>) {
        if let Err(err) = ready.outcome() {
            let _ = self.stopped.set_exception(anyhow!(err).context("waiting on the listener"));
            return;
        }
        loop {
            match accept_nonblocking(&self.listener) {
                Ok((stream, peer)) => {
                    trace!("echo: accepted {peer} as fd {}", stream.as_raw_fd());
                    self.stats.count_accepted();
                    Connection::start(&self, stream);
                }
                Err(err) => match classify_accept_error(&err) {
                    AcceptError::Drained => {
                        self.backoff.drained();
                        break;
                    }
                    AcceptError::TryNext => {}
                    AcceptError::OutOfDescriptors => {
                        // Waiting for readable again would wake at once (the connection is
                        // still queued): wait for one of ours to close (see `resume`), or for
                        // the back-off to run out (see `run_with`).
                        self.backoff.ran_out(&err, &self.stats, "stage3-echo");
                        return;
                    }
                    AcceptError::Other => {
                        trace!("echo: accept failed: {err}");
                        break;
                    }
                },
            }
        }
        self.accept_soon();
    }

    /// A connection closed: if accepting was paused for lack of descriptors, start again.
    fn resume(self: &Rc<Self>) {
        if self.backoff.resume() {
            trace!("echo: a connection closed, accepting again");
            let this = Rc::clone(self);
            // On the next turn: by then the closing connection's socket is really closed.
            self.lp.call_soon(move || this.accept_soon());
        }
    }
}
// ANCHOR_END: accept

// ANCHOR: connection
/// One client. Shared (`Rc<RefCell<..>>`) by the callbacks of the two futures it may wait for
/// at the same time: "readable" (when the buffer has room) and "writable" (when it holds bytes).
struct Connection {
    lp: EventLoop,
    /// The listening side, told when this connection closes (it may be waiting for that).
    server: Rc<Listening>,
    stream: TcpStream,
    /// Bytes read and not yet written back; no reading while it holds [`BUFFER_LIMIT`].
    out: WriteBuffer,
    /// The memory `out` held when last reported to the stats (its capacity).
    held: usize,
    /// The client shut down its writing side; echo what is left, then close ours.
    eof: bool,
    /// The futures we wait on, so a fatal error can cancel the other one.
    reading: Option<Future<()>>,
    writing: Option<Future<()>>,
    closed: bool,
    stats: Arc<EchoStats>,
}

impl Connection {
    fn start(server: &Rc<Listening>, stream: TcpStream) {
        let conn = Connection {
            lp: server.lp.clone(),
            server: Rc::clone(server),
            stream,
            // One limit, no hysteresis: read again as soon as there is room.
            out: WriteBuffer::with_water_marks(BUFFER_LIMIT, BUFFER_LIMIT),
            held: 0,
            eof: false,
            reading: None,
            writing: None,
            closed: false,
            stats: Arc::clone(&server.stats),
        };
        Connection::pump(&Rc::new(RefCell::new(conn)));
    }

    /// Decides what to wait for next. This is where back-pressure lives: no room, no reading.
    fn pump(this: &Rc<RefCell<Connection>>) {
        let mut conn = this.borrow_mut();
        if conn.closed {
            return;
        }
        if conn.eof && conn.out.is_empty() {
            // Everything echoed: tell the client we are done too. The socket closes when the
            // last callback holding this connection is dropped.
            let _ = conn.stream.shutdown(Shutdown::Write);
            return conn.close("done");
        }
        let fd = conn.stream.as_raw_fd();
        if !conn.eof && conn.out.has_room() && conn.reading.is_none() {
            let ready = conn.lp.wait_readable(fd);
            conn.reading = Some(ready.clone());
            let this = Rc::clone(this);
            ready.add_done_callback(move |ready| Connection::on_readable(&this, ready));
        }
        if !conn.out.is_empty() && conn.writing.is_none() {
            let ready = conn.lp.wait_writable(fd);
            conn.writing = Some(ready.clone());
            let this = Rc::clone(this);
            ready.add_done_callback(move |ready| Connection::on_writable(&this, ready));
        }
    }

    fn on_readable(this: &Rc<RefCell<Connection>>, ready: &Future<()>) {
        {
            let mut conn = this.borrow_mut();
            conn.reading = None;
            if conn.closed || ready.cancelled() {
                return;
            }
            // Reads, and echoes at once: the socket is almost always writable.
            if let Err(err) = ready.outcome().map_err(io::Error::other).and_then(|()| conn.read_and_echo()) {
                return conn.close(&format!("read: {err}"));
            }
            conn.report_memory();
        }
        Connection::pump(this);
    }

    fn on_writable(this: &Rc<RefCell<Connection>>, ready: &Future<()>) {
        {
            let mut conn = this.borrow_mut();
            conn.writing = None;
            if conn.closed || ready.cancelled() {
                return;
            }
            if let Err(err) = ready.outcome().map_err(io::Error::other).and_then(|()| conn.write_some()) {
                return conn.close(&format!("write: {err}"));
            }
            conn.report_memory();
        }
        Connection::pump(this);
    }

    /// One `read` of at most the buffer's free room (so it never passes [`BUFFER_LIMIT`]),
    /// into the loop's scratch buffer; what was read goes straight back to the client, and
    /// only what the socket does not take stays in `out`.
    fn read_and_echo(&mut self) -> io::Result<()> {
        let room = BUFFER_LIMIT.saturating_sub(self.out.pending());
        if room == 0 {
            return Ok(()); // full: a zero-byte read would return 0, which looks like EOF
        }
        let server = Rc::clone(&self.server);
        let mut scratch = server.scratch.borrow_mut();
        let n = loop {
            match (&self.stream).read(&mut scratch[..room]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => break n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // Readiness was a hint, not a promise: nothing to read after all.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) => return Err(err),
            }
        };
        self.stats.note_buffered(self.out.pending() + n);
        self.out.send_or_keep(&self.stream, &scratch[..n]).map(drop)
    }

    /// Tells the stats how much memory this connection's buffer holds now.
    fn report_memory(&mut self) {
        let now = self.out.capacity();
        self.stats.note_buffer_memory(self.held, now);
        self.held = now;
    }

    /// Writes buffered bytes until the buffer is empty or the kernel says `WouldBlock`.
    fn write_some(&mut self) -> io::Result<()> {
        self.out.send_to(&self.stream).map(drop)
    }

    /// Stops the connection: cancel whatever we still wait for, so the loop deregisters the fd
    /// before the socket is closed (when the last callback holding us is dropped).
    fn close(&mut self, why: &str) {
        trace!("echo: closing fd {} ({why})", self.stream.as_raw_fd());
        self.closed = true;
        self.out = WriteBuffer::new(); // its memory goes now, with the connection
        self.report_memory();
        self.stats.count_closed();
        for waiting in [self.reading.take(), self.writing.take()].into_iter().flatten() {
            waiting.cancel();
        }
        self.server.resume();
    }
}
// ANCHOR_END: connection
