//! The callback `EventLoop`: "when this fd is ready, run that function".
//!
//! The 500 Lines crawler hands `selector.register` a callback as the `data` of each socket and then
//! loops `while n_jobs: for key, mask in selector.select(): key.data()`. This module is that loop
//! with the bookkeeping done once, properly:
//!
//! * callbacks are kept *per fd and per direction*: a socket may have a reader callback, a writer
//!   callback, or both. The [`Selector`] only knows one registration per fd, so the loop asks it
//!   for the union of what the callbacks want and re-registers whenever that union changes;
//! * a callback gets `&mut EventLoop`, so it can register the next step of its job (the 500 Lines crawler's
//!   `connected` registering `readable`) or unregister itself;
//! * [`EventLoop::run`] runs while *any* callback is registered. That is the 500 Lines crawler's `n_jobs`,
//!   counted for us: in this stage a job that waits for no fd can never be woken again (there
//!   are no timers yet), so "jobs left" and "callbacks registered" are the same number, and the
//!   loop cannot get it wrong the way a forgotten `n_jobs -= 1` on an error path does.
//!
//! Callbacks stay registered until they are unregistered (like asyncio's `add_reader`): with
//! level-triggered readiness a reader that did not drain its socket is simply called again.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::selector::{Direction, Events, Interest, Readiness, Selector, Token};

// ANCHOR: callback
/// What the loop runs when an fd is ready. It receives the loop itself so it can register the
/// next step (or unregister itself); `FnMut` so a callback may keep state between calls.
pub type Callback = Box<dyn FnMut(&mut EventLoop)>;

/// One of an fd's two callback slots.
enum Slot {
    /// No callback for this direction.
    Empty,
    /// A callback waiting for readiness.
    Waiting(Callback),
    /// The callback is running right now: the loop holds it on its stack. If it unregisters or
    /// replaces itself meanwhile, the slot changes and the loop will not put the old one back.
    Running,
}

/// Everything the loop knows about one registered fd.
struct Watched {
    fd: RawFd,
    reader: Slot,
    writer: Slot,
    /// What the selector was last told for this fd (`None`: not registered with it yet).
    registered: Option<Interest>,
}
// ANCHOR_END: callback

impl Slot {
    fn is_set(&self) -> bool {
        !matches!(self, Slot::Empty)
    }
}

impl Watched {
    fn slot(&mut self, direction: Direction) -> &mut Slot {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }

    /// The union of what the callbacks wait for, or `None` when no callback is left.
    fn wanted(&self) -> Option<Interest> {
        Interest::of_waiters(self.reader.is_set(), self.writer.is_set())
    }
}

/// How many events one `select` may return; the rest are reported by the next one.
const EVENTS_PER_SELECT: usize = 1024;

/// A single-threaded loop that runs callbacks when their fds are ready. See the [module docs](self).
pub struct EventLoop {
    selector: Selector,
    events: Events,
    /// The events of the current batch, copied out so callbacks can borrow the loop mutably.
    batch: Vec<Readiness>,
    /// Registered fds by token. A token is never reused, so an event carrying the token of a
    /// registration that is gone (or was replaced) finds nothing here and is skipped.
    watched: HashMap<Token, Watched>,
    /// fd -> its current token.
    tokens: HashMap<RawFd, Token>,
    next_token: usize,
    stop_requested: bool,
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("backend", &self.selector.backend())
            .field("fds", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    /// A loop over [`Selector::new`] (epoll on Linux unless `SELECTOR=poll`).
    pub fn new() -> io::Result<EventLoop> {
        Ok(EventLoop::with_selector(Selector::new()?))
    }

    /// A loop over the given selector (tests use this to run on both backends).
    pub fn with_selector(selector: Selector) -> EventLoop {
        EventLoop {
            selector,
            events: Events::with_capacity(EVENTS_PER_SELECT),
            batch: Vec::new(),
            watched: HashMap::new(),
            tokens: HashMap::new(),
            next_token: 0,
            stop_requested: false,
        }
    }

    /// The selector backend this loop sleeps in.
    pub fn backend(&self) -> crate::selector::Backend {
        self.selector.backend()
    }

    // ANCHOR: register
    /// Runs `callback` each time `fd` is readable, until [`EventLoop::unregister_reader`].
    ///
    /// Replaces any reader callback `fd` already has (a running callback may replace itself
    /// with the next step of its job). The fd must stay open while registered.
    pub fn register_reader(
        &mut self,
        fd: RawFd,
        callback: impl FnMut(&mut EventLoop) + 'static,
    ) -> io::Result<()> {
        self.set_slot(fd, Direction::Read, Slot::Waiting(Box::new(callback)))
    }

    /// Runs `callback` each time `fd` is writable, until [`EventLoop::unregister_writer`].
    pub fn register_writer(
        &mut self,
        fd: RawFd,
        callback: impl FnMut(&mut EventLoop) + 'static,
    ) -> io::Result<()> {
        self.set_slot(fd, Direction::Write, Slot::Waiting(Box::new(callback)))
    }

    /// Drops `fd`'s reader callback (if any). Call it *before* closing the fd.
    pub fn unregister_reader(&mut self, fd: RawFd) -> io::Result<()> {
        self.set_slot(fd, Direction::Read, Slot::Empty)
    }

    /// Drops `fd`'s writer callback (if any). Call it *before* closing the fd.
    pub fn unregister_writer(&mut self, fd: RawFd) -> io::Result<()> {
        self.set_slot(fd, Direction::Write, Slot::Empty)
    }

    /// Drops both callbacks of `fd`: what a connection does just before it closes its socket.
    pub fn unregister(&mut self, fd: RawFd) -> io::Result<()> {
        let reader = self.unregister_reader(fd);
        let writer = self.unregister_writer(fd);
        reader.and(writer)
    }

    fn set_slot(&mut self, fd: RawFd, direction: Direction, slot: Slot) -> io::Result<()> {
        let token = match self.tokens.get(&fd) {
            Some(&token) => token,
            None if !slot.is_set() => return Ok(()), // unregistering what was never there
            None => {
                let token = Token(self.next_token);
                self.next_token += 1;
                self.tokens.insert(fd, token);
                let watched = Watched { fd, reader: Slot::Empty, writer: Slot::Empty, registered: None };
                self.watched.insert(token, watched);
                token
            }
        };
        let Some(watched) = self.watched.get_mut(&token) else {
            return Err(io::Error::other(format!("event loop lost track of fd {fd}")));
        };
        crate::trace!(
            "loop: {} {direction} of fd {fd}",
            if slot.is_set() { "register" } else { "unregister" }
        );
        let old = std::mem::replace(watched.slot(direction), slot);
        let result = self.sync(token);
        if result.is_err() {
            // The selector refused (say, a regular file with epoll): leave things as they were.
            if let Some(watched) = self.watched.get_mut(&token) {
                *watched.slot(direction) = old;
                if watched.wanted().is_none() && watched.registered.is_none() {
                    self.forget(token);
                }
            }
        }
        result
    }

    /// Tells the selector what the fd's callbacks now want: register on the first callback,
    /// reregister when the union changes, deregister (and forget the fd) after the last one.
    ///
    /// This happens at once, not lazily before the next `select`, because the caller may
    /// close the fd right after unregistering it, and the number may be reused at once.
    fn sync(&mut self, token: Token) -> io::Result<()> {
        let Some(watched) = self.watched.get_mut(&token) else { return Ok(()) };
        let fd = watched.fd;
        match (watched.registered, watched.wanted()) {
            (None, None) => {
                self.forget(token);
                Ok(())
            }
            (None, Some(wanted)) => {
                self.selector.register(fd, token, wanted)?;
                watched.registered = Some(wanted);
                Ok(())
            }
            (Some(now), Some(wanted)) if now == wanted => Ok(()),
            (Some(_), Some(wanted)) => {
                self.selector.reregister(fd, token, wanted)?;
                watched.registered = Some(wanted);
                Ok(())
            }
            (Some(_), None) => {
                // Forget it even if the selector complains (it would only complain if the fd
                // was closed too early, and then the kernel has already forgotten it too).
                self.forget(token);
                self.selector.deregister(fd)
            }
        }
    }
    // ANCHOR_END: register

    fn forget(&mut self, token: Token) {
        if let Some(watched) = self.watched.remove(&token) {
            self.tokens.remove(&watched.fd);
        }
    }

    /// How many fds have at least one callback: the loop's `n_jobs`.
    pub fn registered_fds(&self) -> usize {
        self.tokens.len()
    }

    /// Does `fd` have a reader callback (waiting or running)?
    pub fn has_reader(&self, fd: RawFd) -> bool {
        self.watched_fd(fd).is_some_and(|s| s.reader.is_set())
    }

    /// Does `fd` have a writer callback (waiting or running)?
    pub fn has_writer(&self, fd: RawFd) -> bool {
        self.watched_fd(fd).is_some_and(|s| s.writer.is_set())
    }

    fn watched_fd(&self, fd: RawFd) -> Option<&Watched> {
        self.tokens.get(&fd).and_then(|token| self.watched.get(token))
    }

    /// Makes [`EventLoop::run`] return after the callback that calls this.
    pub fn stop(&mut self) {
        crate::trace!("loop: stop requested");
        self.stop_requested = true;
    }

    /// Has a callback called [`EventLoop::stop`] (since [`EventLoop::run`] last started)?
    pub fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    // ANCHOR: run
    /// Runs callbacks as their fds become ready, until no callback is registered (every job is
    /// done) or a callback calls [`EventLoop::stop`].
    pub fn run(&mut self) -> io::Result<()> {
        self.stop_requested = false;
        while !self.tokens.is_empty() && !self.stop_requested {
            self.run_once()?;
        }
        crate::trace!("loop: done ({} fds still registered)", self.tokens.len());
        Ok(())
    }

    /// One turn: sleep in `select` until something is ready, then run the callbacks of this batch.
    pub fn run_once(&mut self) -> io::Result<()> {
        self.run_once_for(None)
    }

    /// [`EventLoop::run_once`], sleeping at most `timeout` (`None`: until an fd is ready). The
    /// loop has no timers of its own; a caller that must act after a while even if no fd
    /// becomes ready (stage 2's echo server, waiting out `EMFILE`) runs the loop with this.
    pub fn run_once_for(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        crate::trace!("loop: select on {} fds", self.tokens.len());
        // Only look at the clock when someone will read the answer.
        let asleep_since = crate::trace::enabled().then(Instant::now);
        self.selector.select(&mut self.events, timeout)?;
        if let Some(since) = asleep_since {
            let ms = since.elapsed().as_secs_f64() * 1000.0;
            crate::trace!("loop: woke after {ms:.1} ms with {} events", self.events.len());
        }
        self.batch.clear();
        self.batch.extend(self.events.iter());
        for i in 0..self.batch.len() {
            if self.stop_requested {
                break;
            }
            let event = self.batch[i];
            if event.is_readable() {
                self.dispatch(event.token(), Direction::Read);
            }
            if event.is_writable() {
                self.dispatch(event.token(), Direction::Write);
            }
        }
        Ok(())
    }

    /// Runs one callback of the fd behind `token`, if it is still registered.
    fn dispatch(&mut self, token: Token, direction: Direction) {
        // An earlier callback of this batch may have unregistered this fd (and even closed it,
        // and a new socket may have got the same number, under a new token): then the event is
        // stale and must not run anything.
        let Some(watched) = self.watched.get_mut(&token) else {
            crate::trace!("loop: stale event for {token:?} skipped");
            return;
        };
        let fd = watched.fd;
        let slot = watched.slot(direction);
        let mut callback = match std::mem::replace(slot, Slot::Running) {
            Slot::Waiting(callback) => callback,
            other => {
                // Nobody waits in this direction (a hang-up is reported as readable *and*
                // writable, and a reader-only fd has no writer to run). Undo the swap.
                *slot = other;
                return;
            }
        };
        crate::trace!("loop: fd {fd} ready, run its {direction}");
        callback(self);
        // Put the callback back, unless it unregistered or replaced itself while it ran.
        if let Some(watched) = self.watched.get_mut(&token) {
            let slot = watched.slot(direction);
            if matches!(slot, Slot::Running) {
                *slot = Slot::Waiting(callback);
            }
        }
    }
    // ANCHOR_END: run
}
