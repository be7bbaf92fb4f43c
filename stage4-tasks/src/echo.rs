//! The echo server as coroutines: an accept loop that spawns one handler task per client
//! (seed 001's `echo_server` and `client_handler`, each a `Task` here).

use std::cell::RefCell;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use stage2_select_callbacks::buffer::WriteBuffer;
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
    /// Lives across yields: what was read and is not written back yet (stage 2's buffer; no
    /// water marks needed, since we only read into an empty one).
    out: WriteBuffer,
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
    /// A handler for an accepted, non-blocking `stream`.
    pub fn new(scheduler: &Scheduler, stream: TcpStream, stats: Arc<EchoStats>) -> EchoHandler {
        EchoHandler {
            scheduler: scheduler.clone(),
            stream,
            out: WriteBuffer::new(),
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
        self.stats.count_closed();
        Step::Complete(result)
    }

    /// Writes what `out` holds; parks on "writable" if the kernel takes only part of it.
    fn write_out(&mut self) -> Option<Step<anyhow::Result<()>>> {
        if let Err(err) = self.out.send_to(&self.stream) {
            return Some(self.finish(Err(anyhow!(err).context("echo: write"))));
        }
        if self.out.is_empty() {
            return None;
        }
        self.state = HandlerState::Writing;
        Some(Step::Yielded(AnyFuture::new(&self.scheduler.wait_writable(self.stream.as_raw_fd()))))
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
            HandlerState::Reading => {
                let n = match self.out.read_from(&self.stream, CHUNK) {
                    Ok(n) => n,
                    // Spurious readiness: wait again.
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => return self.wait_readable(),
                    Err(err) => return self.finish(Err(anyhow!(err).context("echo: read"))),
                };
                if n == 0 {
                    // The client is done sending and has everything back: close our side too.
                    let _ = self.stream.shutdown(Shutdown::Write);
                    return self.finish(Ok(()));
                }
                self.stats.note_buffered(n);
                self.write_out().unwrap_or_else(|| self.wait_readable())
            }
            // Writing -> Writing (still partial) or -> Reading (buffer empty again).
            HandlerState::Writing => self.write_out().unwrap_or_else(|| self.wait_readable()),
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
/// Accepts clients forever, spawning an [`EchoHandler`] task for each (seed 001's
/// `echo_server`: `client, addr = yield sock.accept(); scheduler.submit_task(...)`).
pub struct AcceptLoop {
    scheduler: Scheduler,
    listener: TcpListener,
    stats: Arc<EchoStats>,
    /// Set while out of file descriptors: the future the loop waits on instead of the
    /// listener, resolved by the next handler task that ends (and so gives a descriptor back).
    client_left: Rc<RefCell<Option<Future<()>>>>,
    state: AcceptState,
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
        let client_left = Rc::default();
        AcceptLoop { scheduler: scheduler.clone(), listener, stats, client_left, state: AcceptState::Start }
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
                        let handler = EchoHandler::new(&self.scheduler, stream, Arc::clone(&self.stats));
                        let done = self.scheduler.spawn(format!("echo {peer}"), handler);
                        // Nobody joins a handler: log its error, if any, when it ends, and wake
                        // the accept loop if it waits for a descriptor to come back.
                        let client_left = Rc::clone(&self.client_left);
                        done.add_done_callback(move |done| {
                            if let Err(err) = done.outcome() {
                                trace!("echo: {peer}: {err}");
                            }
                            if let Some(waiting) = client_left.borrow_mut().take() {
                                let _ = waiting.set_result(());
                            }
                        });
                    }
                    Err(err) => match classify_accept_error(&err) {
                        AcceptError::Drained => break,
                        AcceptError::TryNext => {}
                        AcceptError::OutOfDescriptors if self.stats.open() > 0 => {
                            // Waiting for readable would wake at once (the connection is still
                            // queued): wait for one of our clients to leave instead.
                            trace!("echo: accept failed: {err}; waiting for a client to leave");
                            let left = self.scheduler.event_loop().create_future("a client left");
                            *self.client_left.borrow_mut() = Some(left.clone());
                            self.state = AcceptState::Accepting;
                            return Step::Yielded(AnyFuture::new(&left));
                        }
                        AcceptError::OutOfDescriptors | AcceptError::Other => {
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
        let accept = scheduler.spawn("accept", AcceptLoop::new(&scheduler, listener, stats));
        scheduler.run()?;
        accept.take_result().context("the accept loop stopped")
    }
}
