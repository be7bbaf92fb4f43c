//! The callback crawler: the 500 Lines crawler's `get(path)` -> `connected` -> `readable` chain.
//!
//! Stage 1's `get` was one function that slept three times (in `connect`, `write`, `read`).
//! Here every place where it slept becomes the *end* of a function: the function registers the
//! next step as a callback and returns to the loop, and the loop calls that step when the
//! socket is ready. One request is therefore spread over four functions:
//!
//! ```text
//!  get ──register writer──> connected ──> send_request ──register reader──> readable ──> done
//!                                          │   ^                              │   ^
//!                                          └───┘ (partial write: wait again)  └───┘ (WouldBlock: wait again)
//! ```
//!
//! Whatever `get` kept in local variables (the socket, the request, how much was sent, the
//! bytes received so far) now has to travel from step to step in a `Fetch` value: that is
//! the price of callbacks, and what stage 3 and 4 set out to remove.

use std::cell::{Cell, RefCell};
use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use anyhow::{Context, anyhow};
use stage1_blocking::http::{self, Response};

use crate::event_loop::EventLoop;
use crate::net::{connect_nonblocking, send_nosignal, take_connect_error};

/// What one request ends with: the parsed response, or why there is none. The error says what
/// failed ("connecting to 127.0.0.1:8000: Connection refused"), not which path: the caller
/// knows the path, and prints it in front.
pub type Outcome = anyhow::Result<Response>;

/// A response larger than this is an error rather than a way to fill our memory (stage 1's
/// bound, shared by every stage's crawler).
pub use stage1_blocking::http::MAX_RESPONSE;

/// How many bytes one `read` asks for (the 500 Lines crawler asked for 1000).
const READ_CHUNK: usize = 4096;

// ANCHOR: fetch
/// Everything one request needs between two callbacks: what `get`'s local variables were.
struct Fetch {
    addr: SocketAddr,
    path: String,
    stream: TcpStream,
    request: Vec<u8>,
    /// How much of `request` the kernel has taken so far (a write may take only part of it).
    sent: usize,
    response: Vec<u8>,
    /// Where the outcome goes (the 500 Lines crawler printed it and did `n_jobs -= 1`).
    on_done: Box<dyn FnOnce(Outcome)>,
}
// ANCHOR_END: fetch

impl Fetch {
    fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Ends the request: no callback of ours stays registered, the socket is closed (dropped
    /// here, *after* it left the selector), and the outcome is handed on.
    fn finish(self, lp: &mut EventLoop, outcome: Outcome) {
        if let Err(e) = lp.unregister(self.fd()) {
            // Only possible if the fd was closed behind our back; the kernel forgot it then.
            crate::trace!("crawler: GET {}: unregister failed: {e}", self.path);
        }
        match &outcome {
            Ok(r) => crate::trace!("crawler: GET {} done: {} {}", self.path, r.status, r.reason),
            Err(e) => crate::trace!("crawler: GET {} failed: {e:#}", self.path),
        }
        let Fetch { on_done, stream, .. } = self;
        drop(stream);
        on_done(outcome);
    }
}

/// Which readiness a step waits for.
#[derive(Clone, Copy)]
enum Wait {
    Readable,
    Writable,
}

/// A step of the chain: runs when the fd is ready, with the request's state.
type Step = fn(&mut EventLoop, Fetch);

// ANCHOR: wait
/// Parks `fetch` until its socket is ready, then runs `step` with it.
///
/// The 500 Lines crawler wrote `selector.register(fd, EVENT_READ, callback)` with a new closure for each
/// step; so do we. Registering in the direction the running callback was registered for
/// *replaces* it, so a step can wait again for the same readiness (partial write, WouldBlock).
fn wait(lp: &mut EventLoop, fetch: Fetch, readiness: Wait, step: Step) {
    let fd = fetch.fd();
    // The fetch sits in a shared cell rather than inside the closure, so that if registering
    // fails we can take it back out and report the failure.
    let parked = Rc::new(Cell::new(Some(fetch)));
    let inside = parked.clone();
    let callback = move |lp: &mut EventLoop| {
        if let Some(fetch) = inside.take() {
            step(lp, fetch);
        }
    };
    let registered = match readiness {
        Wait::Readable => lp.register_reader(fd, callback),
        Wait::Writable => lp.register_writer(fd, callback),
    };
    if let Err(e) = registered {
        if let Some(fetch) = parked.take() {
            fetch.finish(lp, Err(anyhow!(e).context("cannot watch the socket")));
        }
    }
}
// ANCHOR_END: wait

// ANCHOR: get
/// Starts `GET path` on `addr` and returns at once; `on_done` receives the outcome later,
/// from inside [`EventLoop::run`]. This is the 500 Lines crawler's `get(path)`.
pub fn get(lp: &mut EventLoop, addr: SocketAddr, path: &str, on_done: impl FnOnce(Outcome) + 'static) {
    let stream = match connect_nonblocking(addr) {
        Ok(stream) => stream,
        Err(e) => return on_done(Err(anyhow!(e).context(format!("connecting to {addr}")))),
    };
    crate::trace!("crawler: GET {path}: connect started on fd {}", stream.as_raw_fd());
    let fetch = Fetch {
        addr,
        path: path.to_string(),
        stream,
        request: http::request_bytes(&addr.to_string(), path),
        sent: 0,
        response: Vec::new(),
        on_done: Box::new(on_done),
    };
    // The handshake is over (one way or the other) when the socket turns writable.
    wait(lp, fetch, Wait::Writable, connected);
}

/// Writable after a non-blocking connect: did the handshake work?
fn connected(lp: &mut EventLoop, fetch: Fetch) {
    // "Writable" only says the connect *finished*; SO_ERROR says how. Without this check, a
    // refused connection would show up later as a confusing error from send or read.
    if let Err(e) = take_connect_error(&fetch.stream) {
        let context = format!("connecting to {}", fetch.addr);
        return fetch.finish(lp, Err(anyhow!(e).context(context)));
    }
    send_request(lp, fetch);
}

/// Sends what is left of the request; waits for writable again if the kernel took only part.
fn send_request(lp: &mut EventLoop, mut fetch: Fetch) {
    while fetch.sent < fetch.request.len() {
        match send_nosignal(&fetch.stream, &fetch.request[fetch.sent..]) {
            Ok(n) => fetch.sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                crate::trace!(
                    "crawler: GET {}: sent {} of {} bytes, wait",
                    fetch.path,
                    fetch.sent,
                    fetch.request.len()
                );
                return wait(lp, fetch, Wait::Writable, send_request);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let context = "sending the request";
                return fetch.finish(lp, Err(anyhow!(e).context(context)));
            }
        }
    }
    crate::trace!("crawler: GET {}: request sent ({} bytes)", fetch.path, fetch.sent);
    // All sent: stop watching writability (a connected socket is nearly always writable, so
    // leaving it registered would wake the loop on every turn) and wait for the answer.
    if let Err(e) = lp.unregister_writer(fetch.fd()) {
        let context = "unregistering the writer";
        return fetch.finish(lp, Err(anyhow!(e).context(context)));
    }
    wait(lp, fetch, Wait::Readable, readable);
}

/// Readable: take everything that is there; at EOF the response is complete.
fn readable(lp: &mut EventLoop, mut fetch: Fetch) {
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match (&fetch.stream).read(&mut chunk) {
            // EOF: an HTTP/1.0 server closes the connection after the response.
            Ok(0) => {
                let parsed = http::parse_response(&fetch.response)
                    .with_context(|| format!("bad response ({} bytes)", fetch.response.len()));
                return fetch.finish(lp, parsed);
            }
            Ok(n) => {
                fetch.response.extend_from_slice(&chunk[..n]);
                if fetch.response.len() > MAX_RESPONSE {
                    return fetch.finish(lp, Err(http::too_large().into()));
                }
            }
            // Nothing more for now (also what a spurious wake-up looks like): wait again.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                crate::trace!(
                    "crawler: GET {}: read {} bytes so far, wait",
                    fetch.path,
                    fetch.response.len()
                );
                return wait(lp, fetch, Wait::Readable, readable);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let context = "reading the response";
                return fetch.finish(lp, Err(anyhow!(e).context(context)));
            }
        }
    }
}
// ANCHOR_END: get

// ANCHOR: crawl
/// Fetches every path from `addr` at once on a new [`EventLoop`]; returns `(path, outcome)`
/// in the order the requests *finished*. Errors only if the loop itself fails.
pub fn crawl(addr: SocketAddr, paths: &[String]) -> io::Result<Vec<(String, Outcome)>> {
    crawl_on(&mut EventLoop::new()?, addr, paths)
}

/// [`crawl`] on a loop you made (tests pass one per selector backend).
pub fn crawl_on(
    lp: &mut EventLoop,
    addr: SocketAddr,
    paths: &[String],
) -> io::Result<Vec<(String, Outcome)>> {
    let finished: Rc<RefCell<Vec<(String, Outcome)>>> = Rc::new(RefCell::new(Vec::new()));
    for path in paths {
        let (finished, name) = (finished.clone(), path.clone());
        get(lp, addr, path, move |outcome| finished.borrow_mut().push((name, outcome)));
    }
    // The 500 Lines crawler: `while n_jobs: select()`. Here run() loops while any callback is registered,
    // and every unfinished request has one.
    lp.run()?;
    let mut results = std::mem::take(&mut *finished.borrow_mut());
    // Cannot happen unless a callback was lost; say so rather than return fewer results.
    let mut missing: Vec<&String> = paths.iter().collect();
    for (path, _) in &results {
        if let Some(i) = missing.iter().position(|m| *m == path) {
            missing.swap_remove(i);
        }
    }
    for path in missing {
        results.push((path.clone(), Err(anyhow!("the loop ended before the request did"))));
    }
    Ok(results)
}
// ANCHOR_END: crawl
