//! One client connection: the loop that reads bytes, parses one request at a time, awaits its
//! handler, writes the response, and goes round again while the connection is kept alive.

use crate::deadline::ReadDeadline;
use crate::message::Version;
use crate::parser::{Parsed, Parser};
use crate::request::Request;
use crate::response::{Body, CONTINUE, Response, Streaming, WriteContext, Written};
use crate::router::HandlerFuture;
use crate::server::access_log::LogEntry;
use crate::server::worker::{FLUSH_AT, SCRATCH_LEN, Worker};
use stage2_select_callbacks::trace;
use stage5_async_await::io::AsyncWrite;
use stage5_async_await::net::TcpStream;
use stage5_async_await::time::{Sleep, sleep, timeout};
use std::future::{Future, poll_fn};
use std::io;
use std::net::Shutdown;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// One client connection.
pub(super) struct Connection {
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
    pub(super) out: Vec<u8>,
    /// `100 Continue` already sent for the request being received.
    sent_continue: bool,
    /// When the head of the request being received must be complete.
    header_deadline: Option<Instant>,
    /// When the body of the request being received began to arrive, and how many bytes of it
    /// (as sent: chunk framing included) have been read since: the minimum body rate's clock.
    /// (32 bits each, like the parser's body offsets: every connection's task carries them.)
    body_start: Option<Instant>,
    body_received: u32,
    /// Bytes this connection holds for an arriving body, as counted in the worker's
    /// `body_bytes` (see [`Worker::hold`]).
    held: u32,
    /// The timer bounding reads (idle, header and body timeouts), kept armed between requests.
    read_deadline: ReadDeadline,
    /// Counted in the worker's `busy`: a request is in flight on this connection.
    busy: bool,
    /// The client's EOF was read while a handler ran (see `client_gone`).
    client_eof: bool,
}

/// What the connection loop awaits next.
enum Step {
    /// The handler's future, what answering needs to know of the request, and its access
    /// log entry if the log is on.
    Respond(RequestMeta, HandlerFuture, Option<Box<LogEntry>>),
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

/// What answering a request needs to know about it once the request itself has moved into
/// its handler's future.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequestMeta {
    version: Version,
    /// A HEAD request: the response gets its headers but no body.
    head: bool,
    /// The client wants the connection kept open after the response.
    keep_alive: bool,
}

impl Connection {
    pub(super) fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            parser: None,
            unparsed: Vec::new(),
            start: 0,
            out: Vec::new(),
            sent_continue: false,
            header_deadline: None,
            body_start: None,
            body_received: 0,
            held: 0,
            read_deadline: ReadDeadline::default(),
            busy: false,
            client_eof: false,
        }
    }

    /// Keeps the worker's count of connections with a request in flight, which a graceful
    /// shutdown waits on, and wakes that wait when the count reaches zero.
    pub(super) fn set_busy(&mut self, worker: &Worker, busy: bool) {
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
    pub(super) async fn run(&mut self, worker: &Worker) -> io::Result<()> {
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
                let meta = RequestMeta {
                    version: request.version(),
                    head: request.is_head(),
                    keep_alive: request.keep_alive(),
                };
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
                    let entry =
                        LogEntry { request_line: "- (unreadable request)".into(), start: Instant::now() };
                    self.log(worker, &entry, status, None);
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
                if self.client_eof {
                    return Ok(Next::Quiet);
                }
                match self.stream.try_read(&mut scratch) {
                    Ok(0) => return Ok(Next::Quiet),
                    Ok(n) => {
                        if self.in_body() {
                            self.body_received = self.body_received.saturating_add(n as u32);
                        }
                        match self.ingest(&scratch[..n], worker) {
                            Some(next) => return Ok(next),
                            None => continue,
                        }
                    }
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
                // A stall timer and a rate: whichever ends first.
                let stalled = Instant::now() + worker.config.body_timeout;
                let paced =
                    self.body_start.and_then(|s| worker.config.body_deadline(s, self.body_received.into()));
                paced.map_or(stalled, |paced| paced.min(stalled))
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
            let rest = &bytes[consumed..];
            // Keep what the parser still needs: not the chunks it has already used up.
            match self.parser.as_mut().and_then(|p| p.release_chunk_bytes()) {
                Some(used) => {
                    self.append(&rest[..used.start]);
                    self.append(&rest[used.end..]);
                }
                None => self.append(rest),
            }
            next
        } else {
            if self.start > 0 {
                // The parser's offsets are relative to `start`, so moving the bytes is safe.
                self.unparsed.drain(..self.start);
                self.start = 0;
            }
            self.append(bytes);
            return self.next_buffered(worker);
        };
        self.settle(worker, next)
    }

    /// Appends received bytes to `unparsed`. A `Vec` doubles as it grows, which would let a
    /// body at the limit hold up to twice the limit. So once a body is arriving, growth is
    /// exact: a Content-Length body's end is known, and that much is allocated once; a chunked
    /// body's buffer only ever holds the head and about one read, as chunks are released.
    fn append(&mut self, bytes: &[u8]) {
        let (len, capacity) = (self.unparsed.len(), self.unparsed.capacity());
        let needed = len + bytes.len();
        if needed > capacity {
            let target = match &self.parser {
                Some(parser) if parser.in_body() => {
                    parser.fixed_body_end().map_or(needed, |end| (self.start + end).max(needed))
                }
                _ => (capacity * 2).max(needed),
            };
            self.unparsed.reserve_exact(target - len);
        }
        self.unparsed.extend_from_slice(bytes);
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
        if let Some(used) = self.parser.as_mut().and_then(|p| p.release_chunk_bytes()) {
            self.unparsed.drain(self.start + used.start..self.start + used.end);
        }
        if self.start == self.unparsed.len() {
            self.unparsed.clear();
            self.start = 0;
            if self.unparsed.capacity() > SCRATCH_LEN {
                self.unparsed = Vec::new(); // a big body passed through: give the memory back
            }
        }
        self.settle(worker, next)
    }

    // ANCHOR: settle
    /// After parsing: start the head's deadline or the body's clock, and count what this
    /// connection now holds for an arriving body against the server's `body_budget`. Past
    /// the budget the request gets `503` and its bytes are let go at once.
    fn settle(&mut self, worker: &Worker, next: Option<Next>) -> Option<Next> {
        self.note_deadline(worker);
        let holding = match (&next, &self.parser) {
            (None, Some(parser)) if parser.in_body() => self.unparsed.capacity() + parser.body_capacity(),
            _ => 0,
        };
        // At most `max_body_bytes` (1 GiB at most) and a little more: a `u32` holds it.
        let holding = u32::try_from(holding).unwrap_or(u32::MAX);
        if holding != self.held {
            if !worker.hold(self.held as usize, holding as usize) {
                trace!("http: body budget spent, {holding} bytes refused");
                worker.count(|s| s.over_budget += 1);
                self.release_body(worker);
                self.parser = None;
                self.unparsed = Vec::new();
                self.start = 0;
                return Some(Next::Answer(Response::error(503).header("Retry-After", "1").close()));
            }
            self.held = holding;
        }
        next
    }

    /// Gives back what this connection counted in the body budget (at the end of a body, or
    /// of the connection).
    pub(super) fn release_body(&mut self, worker: &Worker) {
        worker.hold(std::mem::take(&mut self.held) as usize, 0);
    }
    // ANCHOR_END: settle

    /// Parses at most one request from `buf`. Returns the bytes a complete request used (0
    /// while incomplete: the parser still needs those bytes, from the same offset, next time)
    /// and what to do next. After an error everything is consumed: nothing more is read.
    fn parse_from(&mut self, worker: &Worker, buf: &[u8]) -> (usize, Option<Next>) {
        let parser = self.parser.get_or_insert_with(|| worker.lend_parser());
        match parser.parse(buf) {
            Ok(Parsed::Complete { request, consumed }) => {
                self.sent_continue = false;
                self.header_deadline = None;
                self.body_start = None;
                self.body_received = 0;
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
        if self.body_start.is_none() && self.in_body() {
            self.body_start = Some(Instant::now());
        }
    }
    // ANCHOR_END: ingest

    // ANCHOR: respond
    /// Awaits the handler of one request and appends its response. Returns whether the connection must close afterwards.
    async fn respond(
        &mut self,
        worker: &Worker,
        meta: RequestMeta,
        handler: HandlerFuture,
        log: Option<Box<LogEntry>>,
    ) -> io::Result<bool> {
        let Some(result) = self.run_handler(worker, handler).await else {
            // Returning drops the handler's future, and with it whatever it was waiting for:
            // the connection's place and descriptor are free now, not when it would have ended.
            trace!("http: client gone while its handler ran; handler dropped");
            return Err(io::ErrorKind::ConnectionReset.into());
        };
        let response = result.unwrap_or_else(|_| Response::error(500).close());
        let close = match self.answer(worker, response, meta, log) {
            Written::Done { close } => close,
            Written::Streaming(body) => Box::pin(self.pump(worker, body)).await?,
        };
        // (A big `out` is flushed by the caller: awaiting `flush` here would nest its state
        // inside this future's, and every connection's task is as big as its largest state.)
        Ok(close)
    }

    // ANCHOR: run_handler
    /// Runs a handler until it answers (`Some`; `Err` if it panicked: that costs its request
    /// a 500, not the worker its other connections) or its client is gone (`None`). Raced by
    /// hand rather than with stage 5's `select`, which boxes both futures: two allocations
    /// per request, for a race the handler almost always wins on its first poll (the socket is
    /// not even looked at then). A plain `fn` returning a `poll_fn` that owns the handler, as
    /// `flush` is, so each connection's task grows by a few words only.
    fn run_handler<'a>(
        &'a mut self,
        worker: &'a Worker,
        handler: HandlerFuture,
    ) -> impl Future<Output = Option<Result<Response, ()>>> + 'a {
        let mut handler = CatchUnwind(handler);
        let mut watching = true;
        poll_fn(move |cx| {
            if let Poll::Ready(result) = Pin::new(&mut handler).poll(cx) {
                return Poll::Ready(Some(result));
            }
            if watching && self.client_gone(worker, cx, &mut watching) {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
    }
    // ANCHOR_END: run_handler

    // ANCHOR: client_gone
    /// Whether the client is gone, asked while its handler runs. Epoll says "hang-up" both for
    /// a client that reset the connection and for one that only half-closed it (sent FIN after
    /// its request, and still waits for the answer, as `curl` with a request on stdin does),
    /// so the socket itself is asked: a read that fails means reset (gone: drop the handler);
    /// a read of 0 means half-closed (keep the handler, stop watching, and remember the EOF:
    /// after an edge-triggered EOF no new edge comes); bytes are the next pipelined request
    /// (kept for later; stop watching, so a client that sends more is not read without end).
    fn client_gone(&mut self, worker: &Worker, cx: &mut Context<'_>, watching: &mut bool) -> bool {
        loop {
            if self.stream.poll_readable(cx).is_pending() {
                return false;
            }
            let mut scratch = worker.scratch.borrow_mut();
            match self.stream.try_read(&mut scratch) {
                Ok(0) => {
                    self.client_eof = true;
                    *watching = false;
                    return false;
                }
                Ok(n) => {
                    self.append(&scratch[..n]);
                    *watching = false;
                    return false;
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                Err(_) => return true,
            }
        }
    }
    // ANCHOR_END: client_gone

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

    /// Serializes the handler's answer to a request and logs it. Apart from `respond` on purpose: a response borrowed inside
    /// an `async fn` is kept in the future's state across its later `.await`s (the compiler
    /// cannot tell the borrow has ended), which made every connection 96 bytes bigger.
    fn answer(
        &mut self,
        worker: &Worker,
        response: Response,
        meta: RequestMeta,
        log: Option<Box<LogEntry>>,
    ) -> Written {
        let head = meta.head;
        if let Some(entry) = log {
            let body_len = match response.body_ref() {
                Body::Full(bytes) if !head => Some(bytes.len() as u64),
                Body::SizedStream { len, .. } if !head => Some(*len),
                Body::Stream(_) if !head => None,
                _ => Some(0),
            };
            self.log(worker, &entry, response.status_code(), body_len);
        }
        // Shutting down: this answer is the connection's last, and says so.
        let keep_alive = meta.keep_alive && !worker.draining.get();
        self.write_response(worker, response, Some(RequestMeta { keep_alive, ..meta }))
    }

    /// Adds the access log line of a request (see `AccessLog::write`).
    fn log(&self, worker: &Worker, entry: &LogEntry, status: u16, body: Option<u64>) {
        let peer = self.stream.peer_addr().ok();
        worker.log.write(peer, worker.dates.borrow().current(), entry, status, body);
    }

    /// Serializes `response` into `out`; `request` is `None` for error answers, which always
    /// close.
    pub(super) fn write_response(
        &mut self,
        worker: &Worker,
        response: Response,
        request: Option<RequestMeta>,
    ) -> Written {
        let RequestMeta { version, head: head_request, keep_alive } =
            request.unwrap_or(RequestMeta { version: Version::Http11, head: false, keep_alive: false });
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
    pub(super) async fn close(&mut self, worker: &Worker) -> io::Result<()> {
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
