//! The echo server as coroutines: an accept loop that spawns one handler task per client
//! (Python Cookbook recipe 12.12's `echo_server` and `client_handler`, each a `Task` here).

use std::cell::RefCell;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use stage2_select_callbacks::buffer::WriteBuffer;
use stage2_select_callbacks::echo::AcceptBackoff;
use stage2_select_callbacks::net::{AcceptError, accept_nonblocking, classify_accept_error};
use stage2_select_callbacks::selector::Selector;
use stage2_select_callbacks::trace;
use stage3_futures::Future;
use stage3_futures::echo::EchoStats;

use crate::coroutine::{AnyFuture, Coroutine, Sent, Step};
use crate::scheduler::Scheduler;

/// Most bytes a handler reads before it has written them all back. It reads again only when
/// the buffer is empty, so a client that does not read stops the server from reading it:
/// back-pressure, with a buffer that can never grow.
pub const CHUNK: usize = 16 * 1024;

// ANCHOR: handler
/// One client, echoed until it closes its side.
///
/// ```text
/// async fn handle(stream) -> Result<()> {
///     let mut buf = [0; CHUNK];
///     loop {
///         wait_readable(&stream).await?;                   // Reading (yield)
///         let n = match stream.read(&mut buf) {
///             Ok(0) => { stream.shutdown(Write); return Ok(()) }
///             Ok(n) => n,
///             Err(WouldBlock) => continue,
///             Err(e) => return Err(e),
///         };
///         let mut sent = 0;
///         while sent < n {
///             match stream.write(&buf[sent..n]) {
///                 Ok(k) => sent += k,
///                 Err(WouldBlock) => wait_writable(&stream).await?,   // Writing (yield)
///                 Err(e) => return Err(e),
///             }
///         }
///     }
/// }
/// ```
pub struct EchoHandler {
    scheduler: Scheduler,
    stream: TcpStream,
    /// Lives across yields: what was read and the socket did not take yet (stage 2's buffer;
    /// no water marks needed, since we only read when it is empty). Empty, it holds no memory.
    out: WriteBuffer,
    /// Where every `read` goes: one buffer shared by all the handlers of a server (they run
    /// one at a time, on one thread), so an idle handler owns no read buffer.
    scratch: Rc<RefCell<Vec<u8>>>,
    /// The memory `out` held when last reported to the stats (its capacity).
    held: usize,
    stats: Arc<EchoStats>,
    state: HandlerState,
}

enum HandlerState {
    /// Created, not resumed yet.
    Start,
    /// Parked on "readable"; the buffer is empty.
    Reading,
    /// Parked on "writable" with bytes still in `out`.
    Writing,
    /// The client closed and everything was echoed (or an error ended it).
    Done,
}
// ANCHOR_END: handler

impl EchoHandler {
    /// A handler for an accepted, non-blocking `stream`, with a read buffer of its own.
    pub fn new(scheduler: &Scheduler, stream: TcpStream, stats: Arc<EchoStats>) -> EchoHandler {
        EchoHandler::sharing(scheduler, stream, stats, &Rc::new(RefCell::new(vec![0; CHUNK])))
    }

    /// A handler that reads into `scratch` (at most [`CHUNK`] bytes at a time), a buffer the
    /// accept loop shares between all its handlers.
    pub fn sharing(
        scheduler: &Scheduler,
        stream: TcpStream,
        stats: Arc<EchoStats>,
        scratch: &Rc<RefCell<Vec<u8>>>,
    ) -> EchoHandler {
        EchoHandler {
            scheduler: scheduler.clone(),
            stream,
            out: WriteBuffer::new(),
            scratch: Rc::clone(scratch),
            held: 0,
            stats,
            state: HandlerState::Start,
        }
    }

    fn wait_readable(&mut self) -> Step<anyhow::Result<()>> {
        self.state = HandlerState::Reading;
        Step::Yielded(AnyFuture::new(&self.scheduler.wait_readable(self.stream.as_raw_fd())))
    }

    fn finish(&mut self, result: anyhow::Result<()>) -> Step<anyhow::Result<()>> {
        self.state = HandlerState::Done;
        self.out = WriteBuffer::new(); // its memory goes now, with the connection
        self.report_memory();
        self.stats.count_closed();
        Step::Complete(result)
    }

    /// One `read` of at most [`CHUNK`] bytes into the shared scratch buffer, and the bytes
    /// straight back: only what the socket does not take now is kept, in `out`. Returns the
    /// bytes read (0: EOF).
    fn read_and_echo(&mut self) -> io::Result<usize> {
        let scratch = Rc::clone(&self.scratch);
        let mut buf = scratch.borrow_mut();
        let len = buf.len().min(CHUNK);
        let n = loop {
            match (&self.stream).read(&mut buf[..len]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n > 0 {
            self.stats.note_buffered(n);
            self.out.send_or_keep(&self.stream, &buf[..n])?;
        }
        Ok(n)
    }

    /// After a send: park on "writable" if bytes are left (Writing), else on "readable".
    fn park_after_send(&mut self) -> Step<anyhow::Result<()>> {
        self.report_memory();
        if self.out.is_empty() {
            return self.wait_readable();
        }
        self.state = HandlerState::Writing;
        Step::Yielded(AnyFuture::new(&self.scheduler.wait_writable(self.stream.as_raw_fd())))
    }

    /// Tells the stats how much memory this handler's buffer holds now.
    fn report_memory(&mut self) {
        let now = self.out.capacity();
        self.stats.note_buffer_memory(self.held, now);
        self.held = now;
    }
}

// ANCHOR: handler_resume
impl Coroutine for EchoHandler {
    type Output = anyhow::Result<()>;

    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        if let Err(err) = sent {
            return self.finish(Err(anyhow!(err).context("echo: waiting on the socket")));
        }
        match self.state {
            // Start -> Reading.
            HandlerState::Start => self.wait_readable(),
            // Reading -> Reading (all echoed at once), -> Writing (partial write), -> Done (EOF).
            HandlerState::Reading => match self.read_and_echo() {
                Ok(0) => {
                    // The client is done sending and has everything back: close our side too.
                    let _ = self.stream.shutdown(Shutdown::Write);
                    self.finish(Ok(()))
                }
                Ok(_) => self.park_after_send(),
                // Spurious readiness: wait again.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.wait_readable(),
                Err(err) => self.finish(Err(anyhow!(err).context("echo: read or write"))),
            },
            // Writing -> Writing (still partial) or -> Reading (buffer empty again).
            HandlerState::Writing => match self.out.send_to(&self.stream) {
                Ok(_) => self.park_after_send(),
                Err(err) => self.finish(Err(anyhow!(err).context("echo: write"))),
            },
            HandlerState::Done => Step::Complete(Err(anyhow!("echo handler resumed after it completed"))),
        }
    }

    fn state(&self) -> &'static str {
        match self.state {
            HandlerState::Start => "Start",
            HandlerState::Reading => "Reading",
            HandlerState::Writing => "Writing",
            HandlerState::Done => "Done",
        }
    }
}
// ANCHOR_END: handler_resume

// ANCHOR: accept_loop
/// Accepts clients forever, spawning an [`EchoHandler`] task for each (Python Cookbook recipe 12.12's
/// `echo_server`: `client, addr = yield sock.accept(); scheduler.submit_task(...)`).
pub struct AcceptLoop {
    scheduler: Scheduler,
    listener: TcpListener,
    stats: Arc<EchoStats>,
    /// Out of file descriptors: the back-off, and the future the loop waits on meanwhile.
    paused: Rc<Paused>,
    /// The read buffer all its handlers share.
    scratch: Rc<RefCell<Vec<u8>>>,
    state: AcceptState,
}

/// While out of file descriptors, the accept loop waits on `wake` instead of the listener.
/// The next handler task that ends (giving a descriptor back) resolves it, or the server's
/// driver when the back-off (stage 2's [`AcceptBackoff`]) runs out, whichever comes first.
#[derive(Default)]
struct Paused {
    backoff: AcceptBackoff,
    wake: RefCell<Option<Future<()>>>,
}

impl Paused {
    fn wake_up(&self) {
        if let Some(waiting) = self.wake.borrow_mut().take() {
            let _ = waiting.set_result(());
        }
    }
}

enum AcceptState {
    /// Created, not resumed yet.
    Start,
    /// Parked on "the listener is readable" (a connection is queued), or, when out of file
    /// descriptors, on "a client left".
    Accepting,
}

impl AcceptLoop {
    /// An accept loop over a bound, non-blocking `listener`.
    pub fn new(scheduler: &Scheduler, listener: TcpListener, stats: Arc<EchoStats>) -> AcceptLoop {
        AcceptLoop {
            scheduler: scheduler.clone(),
            listener,
            stats,
            paused: Rc::default(),
            scratch: Rc::new(RefCell::new(vec![0; CHUNK])),
            state: AcceptState::Start,
        }
    }
}

impl Coroutine for AcceptLoop {
    type Output = anyhow::Result<()>;

    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        if let Err(err) = sent {
            return Step::Complete(Err(anyhow!(err).context("echo: waiting on the listener")));
        }
        // Start -> Accepting: nothing to accept yet, just wait.
        // Accepting -> Accepting: take every queued connection, spawn a task each, wait again.
        if let AcceptState::Accepting = self.state {
            loop {
                match accept_nonblocking(&self.listener) {
                    Ok((stream, peer)) => {
                        self.stats.count_accepted();
                        // Spawning from inside a running task: the new task's first step is
                        // queued, and runs after this step has yielded.
                        let stats = Arc::clone(&self.stats);
                        let handler = EchoHandler::sharing(&self.scheduler, stream, stats, &self.scratch);
                        let done = self.scheduler.spawn(format!("echo {peer}"), handler);
                        // Nobody joins a handler: log its error, if any, when it ends, and wake
                        // the accept loop if it waits for a descriptor to come back.
                        let paused = Rc::clone(&self.paused);
                        done.add_done_callback(move |done| {
                            if let Err(err) = done.outcome() {
                                trace!("echo: {peer}: {err}");
                            }
                            if paused.backoff.resume() {
                                paused.wake_up();
                            }
                        });
                    }
                    Err(err) => match classify_accept_error(&err) {
                        AcceptError::Drained => {
                            self.paused.backoff.drained();
                            break;
                        }
                        AcceptError::TryNext => {}
                        AcceptError::OutOfDescriptors => {
                            // Waiting for readable would wake at once (the connection is still
                            // queued): wait for a client to leave, or for the back-off to pass.
                            self.paused.backoff.ran_out(&err, &self.stats, "stage4-echo");
                            let wake = self.scheduler.event_loop().create_future("a descriptor back");
                            *self.paused.wake.borrow_mut() = Some(wake.clone());
                            self.state = AcceptState::Accepting;
                            return Step::Yielded(AnyFuture::new(&wake));
                        }
                        AcceptError::Other => {
                            trace!("echo: accept failed: {err}");
                            break;
                        }
                    },
                }
            }
        }
        self.state = AcceptState::Accepting;
        Step::Yielded(AnyFuture::new(&self.scheduler.wait_readable(self.listener.as_raw_fd())))
    }

    fn state(&self) -> &'static str {
        match self.state {
            AcceptState::Start => "Start",
            AcceptState::Accepting => "Accepting",
        }
    }
}
// ANCHOR_END: accept_loop

/// A bound echo server: stage 3's (same `bind`, address and counters), run by tasks.
#[derive(Debug)]
pub struct EchoServer(stage3_futures::echo::EchoServer);

impl EchoServer {
    /// Binds `addr` (port 0 picks a free port) with stage 1's listener set-up.
    pub fn bind(addr: SocketAddr) -> io::Result<EchoServer> {
        stage3_futures::echo::EchoServer::bind(addr).map(EchoServer)
    }

    /// Serves on an already bound listener (made non-blocking here).
    pub fn from_listener(listener: TcpListener) -> io::Result<EchoServer> {
        stage3_futures::echo::EchoServer::from_listener(listener).map(EchoServer)
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    /// The server's counters (stage 3's type).
    pub fn stats(&self) -> Arc<EchoStats> {
        self.0.stats()
    }

    /// Spawns the accept loop and runs the scheduler: normally forever.
    pub fn run(self) -> anyhow::Result<()> {
        self.run_with(Selector::new()?)
    }

    /// [`EchoServer::run`] on the given selector (tests run both backends).
    pub fn run_with(self, selector: Selector) -> anyhow::Result<()> {
        let (listener, stats) = self.0.into_parts();
        let scheduler = Scheduler::with_selector(selector);
        let accept_loop = AcceptLoop::new(&scheduler, listener, Arc::clone(&stats));
        let paused = Rc::clone(&accept_loop.paused);
        let accept = scheduler.spawn("accept", accept_loop);
        // `Scheduler::run`, plus the one timer the loop lacks: while accepting is paused for
        // lack of descriptors, the back-off bounds the sleep in `select`.
        let lp = scheduler.event_loop();
        while scheduler.alive() > 0 || lp.ready_len() > 0 {
            let timeout = paused.backoff.timeout();
            if !lp.has_work() && timeout.is_none() {
                return Err(anyhow!("{} task(s) wait for futures nothing will resolve", scheduler.alive()));
            }
            lp.run_once_for(timeout)?;
            if paused.backoff.take_due(&stats) {
                paused.wake_up();
            }
        }
        accept.take_result().context("the accept loop stopped")
    }
}
