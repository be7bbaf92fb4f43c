//! What one worker thread holds for all its connections: the routes and settings, the buffers
//! and parsers it lends out, its counters, and the `Date` text it refreshes once a second.

use crate::date::DateCache;
use crate::parser::Parser;
use crate::router::Router;
use crate::server::access_log::AccessLog;
use crate::server::config::ServerConfig;
use stage5_async_await::time::sleep;
use std::cell::{Cell, RefCell};
use std::fs::File;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes per read: one such buffer per worker, shared by all its connections.
pub(super) const SCRATCH_LEN: usize = 64 * 1024;
/// Output is written once it reaches this size even in the middle of a burst or a stream,
/// which also gives a streaming body back-pressure: the next piece is produced only after
/// the previous ones were accepted by the kernel.
pub(super) const FLUSH_AT: usize = 64 * 1024;

/// What a server did, reported when it stops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Connections accepted and served.
    pub connections: u64,
    /// Requests answered (error answers to bad requests included).
    pub requests: u64,
    /// Connections answered `503` because `max_connections` were open, or because the process
    /// was out of file descriptors (answered from the worker's spare one).
    pub turned_away: u64,
    /// Connections still in the middle of a request when the shutdown deadline (or a second
    /// signal) cut them off. Zero after a clean shutdown.
    pub abandoned: u64,
    /// Requests refused with `503` because the bodies arriving on all connections together
    /// would have gone past `body_budget`.
    pub over_budget: u64,
    /// The most bytes one connection held at once for one request whose body was arriving
    /// (its unparsed bytes and its de-chunked body, as allocated): the figure the memory
    /// bound of the chapter is about.
    pub peak_request_bytes: u64,
}

impl std::ops::AddAssign for ServeStats {
    /// Adds one worker's figures to the server's totals.
    fn add_assign(&mut self, other: ServeStats) {
        self.connections += other.connections;
        self.requests += other.requests;
        self.turned_away += other.turned_away;
        self.abandoned += other.abandoned;
        self.over_budget += other.over_budget;
        self.peak_request_bytes = self.peak_request_bytes.max(other.peak_request_bytes);
    }
}

/// What every connection on one worker shares. Single-threaded, hence `Rc`/`RefCell`/`Cell`;
/// a `RefCell` is only ever borrowed between two `.await`s, never across one.
pub(super) struct Worker {
    pub(super) router: Arc<Router>,
    pub(super) config: ServerConfig,
    pub(super) dates: RefCell<DateCache>,
    pub(super) scratch: RefCell<Vec<u8>>,
    /// Output buffers lent to connections while they have responses to write.
    pub(super) buffers: RefCell<Vec<Vec<u8>>>,
    /// This worker's share of `max_connections`.
    pub(super) max_open: usize,
    /// Connections open now, and how many of them are being turned away with a 503.
    pub(super) open: Cell<usize>,
    pub(super) turning_away: Cell<usize>,
    /// Connections in the middle of a request (head received, not yet answered): what a
    /// graceful shutdown waits for. Idle keep-alive connections are not counted.
    pub(super) busy: Cell<usize>,
    /// True once shutdown began: answers say `Connection: close`, idle connections end.
    pub(super) draining: Cell<bool>,
    /// The shutdown's waiter, woken when `busy` drops to zero.
    pub(super) drained: RefCell<Option<Waker>>,
    /// Parsers lent to connections while they have a request to parse. Boxed on purpose: a
    /// loan moves one pointer, and a connection holds 8 bytes (`Option<Box<Parser>>`).
    #[allow(clippy::vec_box)]
    pub(super) parsers: RefCell<Vec<Box<Parser>>>,
    /// Access log lines not written yet (`config.access_log`).
    pub(super) log: AccessLog,
    pub(super) stats: Cell<ServeStats>,
    /// Bytes held for arriving request bodies by every connection of every worker of the
    /// server: what `body_budget` bounds.
    pub(super) body_bytes: Arc<AtomicUsize>,
    /// A descriptor held in reserve, libuv's answer to `EMFILE`: closed when `accept` fails
    /// for want of one, so that the waiting client can be accepted and told `503`. Opened
    /// with the worker; `None` while used, or if it could not be opened.
    pub(super) spare: RefCell<Option<File>>,
}

impl Worker {
    pub(super) fn new(router: Arc<Router>, config: ServerConfig, body_bytes: Arc<AtomicUsize>) -> Worker {
        let workers = config.workers.max(1);
        Worker {
            router,
            config,
            dates: RefCell::new(DateCache::new()),
            scratch: RefCell::new(vec![0; SCRATCH_LEN]),
            buffers: RefCell::new(Vec::new()),
            parsers: RefCell::new(Vec::new()),
            max_open: config.max_connections.div_ceil(workers).max(1),
            open: Cell::new(0),
            turning_away: Cell::new(0),
            busy: Cell::new(0),
            draining: Cell::new(false),
            drained: RefCell::new(None),
            log: AccessLog::default(),
            stats: Cell::new(ServeStats::default()),
            body_bytes,
            spare: RefCell::new(File::open("/dev/null").ok()),
        }
    }

    // ANCHOR: hold
    /// A connection now holds `now` bytes for its arriving body instead of `before`. Returns
    /// false, with nothing taken, if the growth would put the server past `body_budget`.
    pub(super) fn hold(&self, before: usize, now: usize) -> bool {
        if now <= before {
            self.body_bytes.fetch_sub(before - now, Ordering::Relaxed);
            return true;
        }
        let more = now - before;
        let total = self.body_bytes.fetch_add(more, Ordering::Relaxed) + more;
        if total > self.config.body_budget {
            self.body_bytes.fetch_sub(more, Ordering::Relaxed);
            return false;
        }
        self.count(|s| s.peak_request_bytes = s.peak_request_bytes.max(now as u64));
        true
    }
    // ANCHOR_END: hold

    /// Opens the spare descriptor again if it was used (or could not be opened). `/dev/null`
    /// because opening it costs nothing but the descriptor; if even that cannot be had, the
    /// spare stays empty and the next attempt is at the next accept.
    pub(super) fn refill_spare(&self) {
        let mut spare = self.spare.borrow_mut();
        if spare.is_none() {
            *spare = File::open("/dev/null").ok();
        }
    }

    pub(super) fn count(&self, update: impl FnOnce(&mut ServeStats)) {
        let mut stats = self.stats.get();
        update(&mut stats);
        self.stats.set(stats);
    }

    /// An output buffer from the worker's pool (connections hold one only while answering).
    pub(super) fn lend(&self) -> Vec<u8> {
        self.buffers.borrow_mut().pop().unwrap_or_else(|| Vec::with_capacity(4096))
    }

    /// Returns an output buffer to the pool (dropped if it grew large or the pool is full).
    pub(super) fn give_back(&self, mut buffer: Vec<u8>) {
        let mut pool = self.buffers.borrow_mut();
        if buffer.capacity() > 0 && buffer.capacity() <= 4 * FLUSH_AT && pool.len() < 64 {
            buffer.clear();
            pool.push(buffer);
        }
    }

    /// A parser from the worker's pool. A parser between two requests holds nothing but
    /// its limits and some spare capacity, so connections borrow one only while a request
    /// is being parsed: an idle connection does not carry 224 bytes of parser around.
    pub(super) fn lend_parser(&self) -> Box<Parser> {
        self.parsers.borrow_mut().pop().unwrap_or_else(|| Box::new(Parser::new(self.config.limits)))
    }

    /// Returns a parser that finished a request (so it is back at its initial state).
    pub(super) fn give_back_parser(&self, parser: Box<Parser>) {
        let mut pool = self.parsers.borrow_mut();
        if pool.len() < 64 {
            pool.push(parser);
        }
    }
}

// ANCHOR: tick_date
/// Refreshes the worker's `Date` text just after each second boundary, so responses copy 29
/// cached bytes instead of each reading the clock (that read was 3% of a pipelined request).
/// The access log, if on, is written on the same tick.
pub(super) async fn tick_date(worker: Rc<Worker>) {
    loop {
        let now = SystemTime::now();
        worker.dates.borrow_mut().at(now);
        worker.log.flush();
        let into_second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        sleep(Duration::from_nanos(u64::from(1_000_000_000 - into_second))).await;
    }
}
// ANCHOR_END: tick_date
