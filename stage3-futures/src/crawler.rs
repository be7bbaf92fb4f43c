//! The 500 Lines crawler, second step: every wait is a `Future`.
//!
//! The steps of one GET are the same as in stage 2 (connect, send, read until EOF, parse), and
//! they are still separate functions: the state of a request (its socket, how much of the
//! request is written, the bytes read so far) travels from one step to the next in a `Fetch`
//! value moved into each callback. What changed is *how* a step waits: it asks the loop for a
//! future ("tell me when fd 7 is writable") and attaches the next step to it as a done-callback.
//! And the outcome of the whole request is itself a `Future<Response>`, so whoever started the
//! request learns the result the same way, by a callback, or by `run_until_complete`.

use std::cell::RefCell;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use anyhow::{Context, anyhow};
use stage1_blocking::http::{self, Response};
use stage2_select_callbacks::net::{connect_nonblocking, send_nosignal, take_connect_error};
use stage2_select_callbacks::trace;

use crate::event_loop::EventLoop;
use crate::future::{Future, FutureError};

/// How much one `read` asks for. Small enough that a trickling server shows several reads.
const CHUNK: usize = 4096;

// ANCHOR: fetch
/// Starts `GET path` against `addr` on `lp` and returns the future of its response.
///
/// Nothing happens until the loop runs. A connect that fails at once (or later, as reported by
/// `SO_ERROR`), a reset, or a response that does not parse make the future *failed*; other
/// requests on the same loop are not affected.
pub fn fetch(lp: &EventLoop, addr: SocketAddr, path: &str) -> Future<Response> {
    let result = lp.create_future(format!("GET {path}"));
    match connect_nonblocking(addr) {
        Ok(stream) => {
            trace!("crawler: GET {path}: connect started on fd {}", stream.as_raw_fd());
            let fetch = Fetch {
                lp: lp.clone(),
                stream,
                addr,
                request: http::request_bytes(&addr.to_string(), path),
                written: 0,
                received: Vec::new(),
                result: result.clone(),
            };
            fetch.wait_connected();
        }
        Err(err) => {
            let _ = result.set_exception(anyhow!(err).context(format!("connect to {addr}")));
        }
    }
    result
}

/// Everything one request needs between two steps. Each step takes it by value and either
/// finishes the request or moves it into the callback of the next future it waits for.
struct Fetch {
    lp: EventLoop,
    stream: TcpStream,
    /// For error messages; the caller knows the path (errors name only what went wrong).
    addr: SocketAddr,
    request: Vec<u8>,
    /// How many bytes of `request` the kernel has accepted so far.
    written: usize,
    received: Vec<u8>,
    /// The future the caller holds; resolved once, at the end.
    result: Future<Response>,
}
// ANCHOR_END: fetch

// ANCHOR: steps
impl Fetch {
    /// Step 1: the connect is in flight; it is over (one way or the other) when writable.
    fn wait_connected(self) {
        let ready = self.lp.wait_writable(self.stream.as_raw_fd());
        ready.add_done_callback(move |ready| self.connected(ready));
    }

    /// Step 2: writable. "Writable" only says the handshake is *over*: SO_ERROR says how it went.
    fn connected(self, ready: &Future<()>) {
        if let Err(err) = self.still_wanted(ready) {
            return self.fail(err);
        }
        if let Err(err) = take_connect_error(&self.stream) {
            let context = format!("connect to {}", self.addr);
            return self.fail(anyhow!(err).context(context));
        }
        self.send();
    }

    /// Step 3: write as much of the request as the kernel takes; wait for writable if it
    /// did not take all of it (a partial write), then come back here.
    fn send(mut self) {
        while self.written < self.request.len() {
            // MSG_NOSIGNAL: a server that hung up is an EPIPE error here, never a SIGPIPE.
            match send_nosignal(&self.stream, &self.request[self.written..]) {
                Ok(0) => return self.fail(anyhow!(io::Error::from(io::ErrorKind::WriteZero))),
                Ok(n) => self.written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    let ready = self.lp.wait_writable(self.stream.as_raw_fd());
                    ready.add_done_callback(move |ready| match self.still_wanted(ready) {
                        Ok(()) => self.send(),
                        Err(err) => self.fail(err),
                    });
                    return;
                }
                Err(err) => return self.fail(anyhow!(err).context("sending the request")),
            }
        }
        self.wait_readable();
    }

    /// Step 4: wait for the response's next bytes (or EOF).
    fn wait_readable(self) {
        let ready = self.lp.wait_readable(self.stream.as_raw_fd());
        ready.add_done_callback(move |ready| self.readable(ready));
    }

    /// Step 5: readable. Read one chunk and wait again, until EOF ends the response (HTTP/1.0:
    /// the server closes the connection after the body).
    fn readable(mut self, ready: &Future<()>) {
        if let Err(err) = self.still_wanted(ready) {
            return self.fail(err);
        }
        let mut chunk = [0u8; CHUNK];
        loop {
            match (&self.stream).read(&mut chunk) {
                Ok(0) => return self.finish(),
                Ok(n) => {
                    self.received.extend_from_slice(&chunk[..n]);
                    if self.received.len() > http::MAX_RESPONSE {
                        return self.fail(http::too_large().into());
                    }
                    return self.wait_readable();
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                // "Readable" was a hint, not a promise (a spurious wake-up): just wait again.
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return self.wait_readable(),
                Err(err) => return self.fail(anyhow!(err).context("reading the response")),
            }
        }
    }

    /// Step 6: EOF. Parse what arrived and resolve the caller's future.
    fn finish(self) {
        match http::parse_response(&self.received) {
            Ok(response) => {
                // Fails only if the caller cancelled the request meanwhile: then nobody wants it.
                let _ = self.result.set_result(response);
            }
            Err(err) => {
                let context = format!("bad response ({} bytes)", self.received.len());
                self.fail(anyhow!(err).context(context));
            }
        }
    }

    /// Ends the request with `err`. Dropping `self` closes the socket; the loop already forgot
    /// its fd (every wait is one-shot).
    fn fail(self, err: anyhow::Error) {
        let _ = self.result.set_exception(err);
    }

    /// Did the wait succeed, and does the caller still want the response (not cancelled)?
    fn still_wanted(&self, ready: &Future<()>) -> anyhow::Result<()> {
        if self.result.cancelled() {
            return Err(anyhow!("cancelled"));
        }
        ready.outcome().context("waiting for the socket")
    }
}
// ANCHOR_END: steps

/// One finished request of a crawl.
#[derive(Debug)]
pub struct Outcome {
    /// The path that was fetched.
    pub path: String,
    /// The response, or why there is none.
    pub result: Result<Response, FutureError>,
}

// ANCHOR: crawl
/// Fetches every path concurrently on `lp` and returns the outcomes in the order of `paths`.
/// `report` sees each outcome as it completes (completion order), which is how the demo prints
/// a line per response.
pub fn crawl(
    lp: &EventLoop,
    addr: SocketAddr,
    paths: &[String],
    report: impl FnMut(&Outcome) + 'static,
) -> io::Result<Vec<Outcome>> {
    let responses = paths.iter().map(|path| (path.clone(), fetch(lp, addr, path))).collect();
    let collected = collect_outcomes(responses, report);
    // "while n_jobs: select()": run until no callback is queued and no fd is watched.
    lp.run()?;
    Ok(collected.outcomes())
}
// ANCHOR_END: crawl

// ANCHOR: collect_outcomes
/// Outcomes being collected by [`collect_outcomes`]; read them with [`Collected::outcomes`]
/// once the loop has run.
#[derive(Debug)]
pub struct Collected {
    paths: Vec<String>,
    outcomes: Rc<RefCell<Vec<Option<Outcome>>>>,
}

/// Attaches to every `(path, future)` a done-callback that hands its outcome to `report` as
/// it completes (completion order) and keeps it, in the order given, for
/// [`Collected::outcomes`]. Nothing waits here: the caller runs the loop. (asyncio's `gather`
/// would return one future of all the results instead; exercise 3.2 of the chapter writes it.)
///
/// Stage 4's crawler collects the futures of its tasks with it, exactly as this stage collects
/// the futures of its callback chains.
pub fn collect_outcomes(
    responses: Vec<(String, Future<Response>)>,
    report: impl FnMut(&Outcome) + 'static,
) -> Collected {
    let report = Rc::new(RefCell::new(report));
    let outcomes: Rc<RefCell<Vec<Option<Outcome>>>> = Rc::new(RefCell::new(Vec::new()));
    outcomes.borrow_mut().resize_with(responses.len(), || None);
    let mut paths = Vec::with_capacity(responses.len());
    for (i, (path, response)) in responses.into_iter().enumerate() {
        paths.push(path.clone());
        let (report, outcomes) = (Rc::clone(&report), Rc::clone(&outcomes));
        response.add_done_callback(move |response| {
            let outcome = Outcome { path, result: response.take_result() };
            (report.borrow_mut())(&outcome);
            outcomes.borrow_mut()[i] = Some(outcome);
        });
    }
    Collected { paths, outcomes }
}

impl Collected {
    /// Every outcome, in the order the futures were given. Call it after the loop ran out of
    /// work: then every future is done and its callback has run. A future that is somehow not
    /// done is reported as [`FutureError::Pending`] rather than a panic.
    pub fn outcomes(self) -> Vec<Outcome> {
        let outcomes = self.outcomes.take().into_iter().zip(self.paths);
        outcomes
            .map(|(outcome, path)| outcome.unwrap_or(Outcome { path, result: Err(FutureError::Pending) }))
            .collect()
    }
}
// ANCHOR_END: collect_outcomes
