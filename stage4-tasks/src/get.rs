//! `Get` and `ReadToEnd`: the crawler's request as hand-written coroutines.
//!
//! The straight-line code they stand for, in the `async fn` form stage 5 will let us write:
//!
//! ```text
//! async fn get(addr, path) -> Result<Response> {
//!     let stream = connect_nonblocking(addr)?;          // Start
//!     wait_writable(&stream).await?;                     // Connecting   (yield 1)
//!     take_connect_error(&stream)?;
//!     let request = request_bytes(host, path);
//!     let mut written = 0;
//!     while written < request.len() {                    // Sending
//!         match stream.write(&request[written..]) {
//!             Ok(n) => written += n,
//!             Err(WouldBlock) => wait_writable(&stream).await?,   // (yield 2)
//!             Err(e) => return Err(e),
//!         }
//!     }
//!     let bytes = read_to_end(stream).await?;            // Receiving    (yield from)
//!     parse_response(&bytes)
//! }
//! ```
//!
//! Each `.await` is a place where the function stops and later goes on, so each becomes a
//! variant of the state enum, holding the local variables that are still needed after it.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;

use anyhow::{Context, anyhow};
use stage1_blocking::http::{self, Response};
use stage2_select_callbacks::net::{connect_nonblocking, send_nosignal, take_connect_error};
use stage3_futures::crawler::{Outcome, collect_outcomes};

use crate::coroutine::{AnyFuture, Coroutine, Sent, Step};
use crate::scheduler::Scheduler;

/// How much one `read` asks for.
const CHUNK: usize = 4096;

// ANCHOR: read_to_end
/// Reads a socket until EOF; completes with every byte read.
///
/// ```text
/// async fn read_to_end(stream) -> io::Result<Vec<u8>> {
///     let mut received = Vec::new();
///     loop {
///         wait_readable(&stream).await?;                  // Waiting (yield)
///         match stream.read(&mut chunk) {
///             Ok(0) => return Ok(received),
///             Ok(n) => received.extend(&chunk[..n]),
///             Err(WouldBlock) => {}                       // spurious wake-up: wait again
///             Err(e) => return Err(e),
///         }
///     }
/// }
/// ```
pub struct ReadToEnd {
    scheduler: Scheduler,
    stream: TcpStream,
    /// Lives across every yield, so it is a field, not a local.
    received: Vec<u8>,
    state: ReadState,
}

enum ReadState {
    /// Created, not resumed yet.
    Start,
    /// Parked on a "readable" future.
    Waiting,
    /// Completed; resuming again is a bug.
    Done,
}

impl ReadToEnd {
    /// Will read `stream` (non-blocking) until EOF. The stream is closed when this is dropped.
    pub fn new(scheduler: &Scheduler, stream: TcpStream) -> ReadToEnd {
        ReadToEnd { scheduler: scheduler.clone(), stream, received: Vec::new(), state: ReadState::Start }
    }

    /// Waits for readable: the one `yield` of this coroutine.
    fn wait(&mut self) -> Step<io::Result<Vec<u8>>> {
        self.state = ReadState::Waiting;
        Step::Yielded(AnyFuture::new(&self.scheduler.wait_readable(self.stream.as_raw_fd())))
    }
}

impl Coroutine for ReadToEnd {
    type Output = io::Result<Vec<u8>>;

    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        match self.state {
            // Start -> Waiting: nothing to do before the first wait.
            ReadState::Start => self.wait(),
            // Waiting -> Waiting (a chunk, or a spurious wake-up) or -> Done (EOF or an error).
            ReadState::Waiting => {
                if let Err(err) = sent {
                    self.state = ReadState::Done;
                    return Step::Complete(Err(io::Error::other(err)));
                }
                let mut chunk = [0u8; CHUNK];
                loop {
                    match self.stream.read(&mut chunk) {
                        Ok(0) => {
                            self.state = ReadState::Done;
                            return Step::Complete(Ok(std::mem::take(&mut self.received)));
                        }
                        Ok(n) => {
                            self.received.extend_from_slice(&chunk[..n]);
                            if self.received.len() > http::MAX_RESPONSE {
                                self.state = ReadState::Done;
                                return Step::Complete(Err(http::too_large()));
                            }
                            return self.wait();
                        }
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => return self.wait(),
                        Err(err) => {
                            self.state = ReadState::Done;
                            return Step::Complete(Err(err));
                        }
                    }
                }
            }
            ReadState::Done => Step::Complete(Err(resumed_after_done())),
        }
    }

    fn state(&self) -> &'static str {
        match self.state {
            ReadState::Start => "Start",
            ReadState::Waiting => "Waiting",
            ReadState::Done => "Done",
        }
    }
}
// ANCHOR_END: read_to_end

// ANCHOR: get
/// `GET path` against `addr`, as a coroutine: completes with the parsed response.
pub struct Get {
    scheduler: Scheduler,
    addr: SocketAddr,
    path: String,
    state: GetState,
}

/// Where a `Get` stopped, and the locals still alive at that point.
enum GetState {
    /// Created, not resumed yet: not even the socket exists.
    Start,
    /// Parked on "writable" while the TCP handshake runs.
    Connecting { stream: TcpStream },
    /// Writing the request; parked on "writable" after a partial write.
    Sending { stream: TcpStream, request: Vec<u8>, written: usize },
    /// Delegating to the `ReadToEnd` sub-coroutine (`yield from` / `.await`): its waits are our
    /// waits, and its result is the value of the `.await`.
    Receiving { reader: ReadToEnd },
    /// Completed.
    Done,
}
// ANCHOR_END: get

impl Get {
    /// A request for `path` on `addr`; nothing happens until it is resumed (spawn it).
    pub fn new(scheduler: &Scheduler, addr: SocketAddr, path: &str) -> Get {
        Get { scheduler: scheduler.clone(), addr, path: path.to_string(), state: GetState::Start }
    }

    /// Ends the coroutine with `err`, saying what it was doing. The caller knows which request
    /// it spawned, so the message does not repeat the path.
    fn fail(&mut self, err: impl Into<anyhow::Error>, doing: &str) -> Step<anyhow::Result<Response>> {
        self.state = GetState::Done;
        Step::Complete(Err(err.into().context(doing.to_string())))
    }

    /// Parks on "writable" in `next` state.
    fn wait_writable(&mut self, next: GetState, fd: std::os::fd::RawFd) -> Step<anyhow::Result<Response>> {
        self.state = next;
        Step::Yielded(AnyFuture::new(&self.scheduler.wait_writable(fd)))
    }
}

// ANCHOR: get_resume
impl Coroutine for Get {
    type Output = anyhow::Result<Response>;

    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        // Each arm runs the code between two yields. Arms that move on to the next state
        // without yielding `continue` the loop, so one resume can cross several states.
        loop {
            match std::mem::replace(&mut self.state, GetState::Done) {
                // Start -> Connecting: open the socket, start the handshake, wait for writable.
                GetState::Start => match connect_nonblocking(self.addr) {
                    Ok(stream) => {
                        let fd = stream.as_raw_fd();
                        return self.wait_writable(GetState::Connecting { stream }, fd);
                    }
                    Err(err) => return self.fail(err, &format!("connect to {}", self.addr)),
                },
                // Connecting -> Sending: writable means the handshake is over; SO_ERROR says
                // whether it worked (a refused connect ends here, for this request only).
                GetState::Connecting { stream } => {
                    if let Err(err) = sent.as_ref() {
                        return self.fail(err.clone(), "waiting for the connect");
                    }
                    if let Err(err) = take_connect_error(&stream) {
                        return self.fail(err, &format!("connect to {}", self.addr));
                    }
                    let request = http::request_bytes(&self.addr.to_string(), &self.path);
                    self.state = GetState::Sending { stream, request, written: 0 };
                }
                // Sending -> Sending (partial write: wait for writable) or -> Receiving.
                GetState::Sending { stream, request, mut written } => {
                    if let Err(err) = sent.as_ref() {
                        return self.fail(err.clone(), "waiting to send");
                    }
                    while written < request.len() {
                        match send_nosignal(&stream, &request[written..]) {
                            Ok(0) => return self.fail(io::Error::from(io::ErrorKind::WriteZero), "send"),
                            Ok(n) => written += n,
                            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                                let fd = stream.as_raw_fd();
                                return self
                                    .wait_writable(GetState::Sending { stream, request, written }, fd);
                            }
                            Err(err) => return self.fail(err, "send"),
                        }
                    }
                    // The whole request is out: hand the stream to the sub-coroutine, which
                    // starts with a fresh `Ok(())` like any coroutine's first resume.
                    self.state = GetState::Receiving { reader: ReadToEnd::new(&self.scheduler, stream) };
                    return self.resume(Ok(()));
                }
                // Receiving: resume the child with what we were sent. Its yields are passed up
                // unchanged; its completion is the value of our `.await`.
                GetState::Receiving { mut reader } => match reader.resume(sent) {
                    Step::Yielded(future) => {
                        self.state = GetState::Receiving { reader };
                        return Step::Yielded(future);
                    }
                    Step::Complete(Err(err)) => return self.fail(err, "reading the response"),
                    Step::Complete(Ok(bytes)) => {
                        let len = bytes.len();
                        return match http::parse_response(&bytes) {
                            Ok(response) => Step::Complete(Ok(response)),
                            Err(err) => self.fail(err, &format!("bad response ({len} bytes)")),
                        };
                    }
                },
                GetState::Done => return Step::Complete(Err(anyhow!(resumed_after_done()))),
            }
        }
    }

    fn state(&self) -> &'static str {
        match self.state {
            GetState::Start => "Start",
            GetState::Connecting { .. } => "Connecting",
            GetState::Sending { .. } => "Sending",
            GetState::Receiving { .. } => "Receiving",
            GetState::Done => "Done",
        }
    }

    fn state_path(&self) -> String {
        match &self.state {
            GetState::Receiving { reader } => format!("Receiving > ReadToEnd::{}", reader.state()),
            _ => self.state().to_string(),
        }
    }
}
// ANCHOR_END: get_resume

fn resumed_after_done() -> io::Error {
    io::Error::other("coroutine resumed after it completed")
}

// ANCHOR: crawl
/// Spawns one `Get` task per path, runs the scheduler until all are done, and returns the
/// outcomes in the order of `paths`; `report` sees each as it completes. The collecting is
/// stage 3's [`collect_outcomes`]: a task's result is a stage 3 future like any other.
pub fn crawl(
    scheduler: &Scheduler,
    addr: SocketAddr,
    paths: &[String],
    report: impl FnMut(&Outcome) + 'static,
) -> anyhow::Result<Vec<Outcome>> {
    let responses = paths
        .iter()
        .map(|path| (path.clone(), scheduler.spawn(format!("GET {path}"), Get::new(scheduler, addr, path))))
        .collect();
    let collected = collect_outcomes(responses, report);
    scheduler.run().context("running the crawl")?;
    Ok(collected.outcomes())
}
// ANCHOR_END: crawl
