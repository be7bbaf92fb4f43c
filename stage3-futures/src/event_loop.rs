//! The `EventLoop`: the stage 2 `Selector` plus a ready queue of callbacks.
//!
//! Stage 2 stored a *callback* for each registered socket and called it when the socket was
//! ready. Here the loop stores a *future* instead: [`EventLoop::wait_readable`] registers the fd
//! and hands back a `Future<()>`; when the selector says the fd is ready, the loop resolves that
//! future, and the future schedules whatever callbacks were attached to it on the ready queue
//! ([`EventLoop::call_soon`]). One turn of the loop ([`EventLoop::run_once`]) is:
//!
//! 1. ask the selector which fds are ready (without sleeping if callbacks are already queued),
//!    and resolve their futures;
//! 2. run the callbacks that were in the ready queue at that point, in order.
//!
//! The loop is a cloneable handle (`Rc` inside), so callbacks can capture it and wait for the
//! next socket themselves, exactly like the 500 Lines crawler's module-level `selector`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use stage2_select_callbacks::selector::{Direction, Events, Interest, Selector, Token};
use stage2_select_callbacks::trace;

use crate::future::{Future, ReadyQueue};

// ANCHOR: waiters
/// One fd's waiters: at most one future for "readable" and one for "writable".
#[derive(Default)]
struct Waiters {
    reader: Option<Future<()>>,
    writer: Option<Future<()>>,
}

impl Waiters {
    /// The interest the selector should watch for, or None when nobody waits any more.
    fn interest(&self) -> Option<Interest> {
        Interest::of_waiters(self.reader.is_some(), self.writer.is_some())
    }

    fn slot(&mut self, direction: Direction) -> &mut Option<Future<()>> {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}
// ANCHOR_END: waiters

// ANCHOR: event_loop
/// A single-threaded event loop: a ready queue of callbacks and a selector whose registered
/// fds each map to the futures waiting for them. Clone it freely; clones share the loop.
#[derive(Clone)]
pub struct EventLoop {
    inner: Rc<Inner>,
}

struct Inner {
    /// Callbacks to run on the next turn (`call_soon`), shared with every future of this loop.
    ready: Rc<ReadyQueue>,
    /// Stage 2's selector, unchanged.
    selector: RefCell<Selector>,
    /// fd -> the futures waiting for it. The selector's token for an fd is the fd itself.
    waiting: RefCell<HashMap<RawFd, Waiters>>,
    /// Reused by every `select`.
    events: RefCell<Events>,
}
// ANCHOR_END: event_loop

impl EventLoop {
    /// A loop over the platform's default selector (epoll on Linux unless `SELECTOR=poll`).
    pub fn new() -> io::Result<EventLoop> {
        Ok(EventLoop::with_selector(Selector::new()?))
    }

    /// A loop over the given selector (tests use it to run on both backends).
    pub fn with_selector(selector: Selector) -> EventLoop {
        EventLoop {
            inner: Rc::new(Inner {
                ready: Rc::new(ReadyQueue::default()),
                selector: RefCell::new(selector),
                waiting: RefCell::new(HashMap::new()),
                events: RefCell::new(Events::with_capacity(256)),
            }),
        }
    }

    /// A new pending future tied to this loop; `label` names it in `TRACE=1` output.
    pub fn create_future<T: 'static>(&self, label: impl Into<String>) -> Future<T> {
        Future::new(&self.inner.ready, label.into())
    }

    /// Schedules `callback` to run on the loop's next turn, after everything already queued.
    pub fn call_soon(&self, callback: impl FnOnce() + 'static) {
        self.call_soon_named("a call_soon callback", callback);
    }

    /// [`EventLoop::call_soon`] with a name for `TRACE=1` ("task 3 first step").
    pub fn call_soon_named(&self, what: &str, callback: impl FnOnce() + 'static) {
        let what = if trace::enabled() { what.to_string() } else { String::new() };
        self.inner.ready.call_soon(what, Box::new(callback));
    }

    /// How many callbacks wait in the ready queue.
    pub fn ready_len(&self) -> usize {
        self.inner.ready.len()
    }

    /// How many fds the selector watches for somebody.
    pub fn watched(&self) -> usize {
        self.inner.waiting.borrow().len()
    }

    /// Is there anything left that could make progress: a queued callback or a watched fd?
    pub fn has_work(&self) -> bool {
        self.ready_len() > 0 || self.watched() > 0
    }

    // ANCHOR: wait_readable
    /// A future that resolves once `fd` is readable (data, EOF or an error is waiting).
    ///
    /// The fd is registered now and deregistered when the future is resolved or cancelled:
    /// every wait is one-shot, as in the 500 Lines crawler (`register` ... `unregister`). If registering
    /// fails, or somebody already waits to read this fd, the future is returned *failed*: errors
    /// travel through futures like results do.
    pub fn wait_readable(&self, fd: RawFd) -> Future<()> {
        self.wait(fd, Direction::Read)
    }

    /// A future that resolves once `fd` is writable (buffer space, a finished connect, or an
    /// error). See [`EventLoop::wait_readable`].
    pub fn wait_writable(&self, fd: RawFd) -> Future<()> {
        self.wait(fd, Direction::Write)
    }

    fn wait(&self, fd: RawFd, direction: Direction) -> Future<()> {
        let label = match direction {
            Direction::Read => format!("readable fd {fd}"),
            Direction::Write => format!("writable fd {fd}"),
        };
        let future = self.create_future(label);
        if let Err(err) = self.add_waiter(fd, direction, &future) {
            let _ = future.set_exception(anyhow!(err).context(format!("watching fd {fd}")));
            return future;
        }
        // asyncio's sock_recv adds a done-callback that removes the reader whatever happened.
        // After a normal wake-up the loop has already removed it, so we only need that when the
        // owner cancels the wait: then the selector must forget the fd.
        let lp = self.clone();
        future.on_cancel(move |f| lp.remove_waiter(fd, direction, f));
        future
    }

    fn add_waiter(&self, fd: RawFd, direction: Direction, future: &Future<()>) -> io::Result<()> {
        let mut waiting = self.inner.waiting.borrow_mut();
        let is_new = !waiting.contains_key(&fd);
        let waiters = waiting.entry(fd).or_default();
        if waiters.slot(direction).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("something already waits for fd {fd} to be {direction:?}-ready"),
            ));
        }
        *waiters.slot(direction) = Some(future.clone());
        let interest = waiters.interest().expect("a waiter was just added");
        let mut selector = self.inner.selector.borrow_mut();
        let token = Token(fd as usize);
        let registered = if is_new {
            selector.register(fd, token, interest)
        } else {
            selector.reregister(fd, token, interest)
        };
        if registered.is_err() {
            // Undo, so the map never claims a registration the selector does not have.
            *waiters.slot(direction) = None;
            if is_new {
                waiting.remove(&fd);
            }
        }
        registered
    }

    /// Forgets `future` as the waiter of `fd` (if it still is) and updates the selector.
    fn remove_waiter(&self, fd: RawFd, direction: Direction, future: &Future<()>) {
        let mut waiting = self.inner.waiting.borrow_mut();
        let Some(waiters) = waiting.get_mut(&fd) else { return };
        let slot = waiters.slot(direction);
        if !slot.as_ref().is_some_and(|f| f.same_as(future)) {
            return;
        }
        *slot = None;
        let interest = waiters.interest();
        self.update_selector(&mut waiting, fd, interest);
    }

    /// Makes the selector watch `interest` for `fd`, or forget it when `interest` is None.
    fn update_selector(&self, waiting: &mut HashMap<RawFd, Waiters>, fd: RawFd, interest: Option<Interest>) {
        let mut selector = self.inner.selector.borrow_mut();
        let result = match interest {
            Some(interest) => selector.reregister(fd, Token(fd as usize), interest),
            None => {
                waiting.remove(&fd);
                selector.deregister(fd)
            }
        };
        // The fd may already be closed (its owner gave up): the kernel forgot it then, and there
        // is nothing left to undo. Say so in the trace rather than fail the loop.
        if let Err(err) = result {
            trace!("loop: updating fd {fd} failed ({err}), forgetting it");
            waiting.remove(&fd);
        }
    }

    // ANCHOR_END: wait_readable

    // ANCHOR: run_once
    /// One turn of the loop: wait for ready fds and resolve their futures, then run the
    /// callbacks that were queued at that point (the ones they queue run on the next turn, so a
    /// callback that keeps rescheduling itself cannot starve the sockets).
    pub fn run_once(&self) -> io::Result<()> {
        self.run_once_for(None)
    }

    /// [`EventLoop::run_once`], sleeping in `select` at most `limit` (even with no fd watched).
    /// The loop has no timers; a caller that must act after a while whatever the fds do (the
    /// echo server waiting out `EMFILE`) runs it this way and checks the clock after each turn.
    pub fn run_once_for(&self, limit: Option<Duration>) -> io::Result<()> {
        if self.watched() > 0 || limit.is_some() {
            // Sleep in select only if there is nothing else to do.
            let timeout = if self.ready_len() > 0 { Some(Duration::ZERO) } else { limit };
            trace!("loop: select on {} fd(s), timeout {:?}", self.watched(), timeout);
            let mut events = self.inner.events.borrow_mut();
            // Only look at the clock when someone will read the answer (TRACE=1, --timeline).
            let asleep_since = trace::enabled().then(Instant::now);
            self.inner.selector.borrow_mut().select(&mut events, timeout)?;
            if let Some(since) = asleep_since {
                let ms = since.elapsed().as_secs_f64() * 1000.0;
                trace!("loop: woke after {ms:.1} ms with {} events", events.len());
            }
            for event in events.iter() {
                self.resolve_ready(event.token().0 as RawFd, event.is_readable(), event.is_writable());
            }
        }
        let batch = self.ready_len();
        for _ in 0..batch {
            let Some(handle) = self.inner.ready.pop() else { break };
            trace!("loop: run {}", handle.what);
            (handle.callback)();
        }
        Ok(())
    }

    /// The selector says `fd` is ready: take its waiting futures out and resolve them.
    fn resolve_ready(&self, fd: RawFd, readable: bool, writable: bool) {
        let (reader, writer) = {
            let mut waiting = self.inner.waiting.borrow_mut();
            let Some(waiters) = waiting.get_mut(&fd) else { return };
            let reader = if readable { waiters.reader.take() } else { None };
            let writer = if writable { waiters.writer.take() } else { None };
            let interest = waiters.interest();
            self.update_selector(&mut waiting, fd, interest);
            (reader, writer)
        };
        // The map is released before resolving: set_result only queues callbacks anyway, but
        // the loop's own bookkeeping is finished before anybody else can look at it.
        for future in [reader, writer].into_iter().flatten() {
            trace!("loop: fd {fd} ready -> resolve {}", future.name());
            // A waiter cancelled in this same turn is already done; that is fine.
            let _ = future.set_result(());
        }
    }
    // ANCHOR_END: run_once

    // ANCHOR: run_until_complete
    /// Runs the loop until `future` is done, then returns its value (or its error).
    ///
    /// If the loop runs out of work first (no callback queued, no fd watched), nothing can ever
    /// resolve the future, and this says so instead of sleeping forever.
    pub fn run_until_complete<T: 'static>(&self, future: &Future<T>) -> anyhow::Result<T> {
        while !future.done() {
            if !self.has_work() {
                return Err(anyhow!(
                    "{} can never finish: no callback is queued and no fd is watched",
                    future.name()
                ));
            }
            self.run_once()?;
        }
        Ok(future.take_result()?)
    }

    /// Runs the loop while there is work: queued callbacks or watched fds ("while n_jobs").
    pub fn run(&self) -> io::Result<()> {
        while self.has_work() {
            self.run_once()?;
        }
        trace!("loop: nothing queued, nothing watched: done");
        Ok(())
    }
    // ANCHOR_END: run_until_complete
}
