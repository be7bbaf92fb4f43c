//! The echo server as coroutines: an accept loop that spawns one handler task per client
//! (seed 001's `echo_server` and `client_handler`, each a `Task` here).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, anyhow};
use stage2_select_callbacks::selector::Selector;
use stage2_select_callbacks::trace;
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
    /// Lives across yields: bytes `sent..len` of it are still to be written.
    buffer: Box<[u8; CHUNK]>,
    len: usize,
    sent: usize,
    stats: Arc<EchoStats>,
    state: HandlerState,
}

enum HandlerState {
    /// Created, not resumed yet.
    Start,
    /// Parked on "readable"; the buffer is empty.
    Reading,
    /// Parked on "writable" with `buffer[sent..len]` still to write.
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
            buffer: Box::new([0; CHUNK]),
            len: 0,
            sent: 0,
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
        self.stats.closed.fetch_add(1, Ordering::Relaxed);
        Step::Complete(result)
    }

    /// Writes `buffer[sent..len]`; parks on "writable" if the kernel takes only part of it.
    fn write_out(&mut self) -> Option<Step<anyhow::Result<()>>> {
        while self.sent < self.len {
            match self.stream.write(&self.buffer[self.sent..self.len]) {
                Ok(0) => return Some(self.finish(Err(io::Error::from(io::ErrorKind::WriteZero).into()))),
                Ok(n) => self.sent += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    self.state = HandlerState::Writing;
                    let fd = self.stream.as_raw_fd();
                    return Some(Step::Yielded(AnyFuture::new(&self.scheduler.wait_writable(fd))));
                }
                Err(err) => return Some(self.finish(Err(anyhow!(err).context("echo: write")))),
            }
        }
        None
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
                let n = loop {
                    match self.stream.read(&mut self.buffer[..]) {
                        Ok(n) => break n,
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        // Spurious readiness: wait again.
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => return self.wait_readable(),
                        Err(err) => return self.finish(Err(anyhow!(err).context("echo: read"))),
                    }
                };
                if n == 0 {
                    // The client is done sending and has everything back: close our side too.
                    let _ = self.stream.shutdown(Shutdown::Write);
                    return self.finish(Ok(()));
                }
                (self.len, self.sent) = (n, 0);
                self.stats.peak_buffered.fetch_max(n, Ordering::Relaxed);
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
    state: AcceptState,
}

enum AcceptState {
    /// Created, not resumed yet.
    Start,
    /// Parked on "the listener is readable" (a connection is queued).
    Accepting,
}

impl AcceptLoop {
    /// An accept loop over a bound, non-blocking `listener`.
    pub fn new(scheduler: &Scheduler, listener: TcpListener, stats: Arc<EchoStats>) -> AcceptLoop {
        AcceptLoop { scheduler: scheduler.clone(), listener, stats, state: AcceptState::Start }
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
                match self.listener.accept() {
                    Ok((stream, peer)) => {
                        if let Err(err) = stream.set_nonblocking(true) {
                            trace!("echo: dropping {peer}: {err}");
                            continue;
                        }
                        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                        // Spawning from inside a running task: the new task's first step is
                        // queued, and runs after this step has yielded.
                        let handler = EchoHandler::new(&self.scheduler, stream, Arc::clone(&self.stats));
                        let done = self.scheduler.spawn(format!("echo {peer}"), handler);
                        // Nobody joins a handler: log its error, if any, when it ends.
                        done.add_done_callback(move |done| {
                            if let Err(err) = done.outcome() {
                                trace!("echo: {peer}: {err}");
                            }
                        });
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err)
                        if matches!(
                            err.kind(),
                            io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                        ) => {}
                    Err(err) => {
                        // Out of fds, typically: keep the clients we have, retry on the next wake-up.
                        trace!("echo: accept failed: {err}");
                        break;
                    }
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

/// A bound echo server (same API as stage 3's): bind on one thread, `run` on another.
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

    /// The server's counters (shared with stage 3's server type).
    pub fn stats(&self) -> Arc<EchoStats> {
        Arc::clone(&self.stats)
    }

    /// Spawns the accept loop and runs the scheduler: normally forever.
    pub fn run(self) -> anyhow::Result<()> {
        self.run_with(Selector::new()?)
    }

    /// [`EchoServer::run`] on the given selector (tests run both backends).
    pub fn run_with(self, selector: Selector) -> anyhow::Result<()> {
        let scheduler = Scheduler::with_selector(selector);
        let accept = scheduler.spawn("accept", AcceptLoop::new(&scheduler, self.listener, self.stats));
        scheduler.run()?;
        accept.take_result().context("the accept loop stopped")
    }
}
