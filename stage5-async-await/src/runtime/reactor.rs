//! The reactor: stage 2's Selector underneath, a slab of [`Source`]s (the reactor's record
//! of one fd), and [`Reactor::turn`], which selects and turns readiness into `Waker::wake`.
//!
//! The reactor knows wakers, not tasks nor the executor: whoever waits on an fd leaves a
//! waker in its source, and an event for the fd wakes it. What the waker does (put a task
//! back on a ready queue) is the executor's business.
//!
//! A source remembers, for its fd, which directions are ready (`readiness` bits) and who waits
//! for each direction (a list of wakers: usually one, but several tasks may accept on one
//! listener or receive on one UDP socket, and readiness wakes them all). I/O goes through
//! [`Reactor::poll_ready`]: if the direction is believed ready, the caller tries the syscall;
//! `WouldBlock` means it was not (any more), so it clears the bit and comes back here to park
//! its waker (`Registered::poll_io` in `registered.rs` is that loop).
//!
//! **Edge-triggered on epoll, on purpose.** Each fd is registered once, for
//! READABLE|WRITABLE, edge-triggered (as mio does). epoll then reports a direction only when
//! it *becomes* ready, so there are no `epoll_ctl` calls per read or write and no storm of
//! repeated events for a socket nobody reads. The price: after an edge you must consume until
//! `WouldBlock`, or no new edge comes. Our bits do exactly that: a bit is cleared only when
//! a syscall said `WouldBlock`, so we never go back to sleep while believing an fd is drained
//! when it is not.
//!
//! **Level-triggered on the poll(2) backend** (`SELECTOR=poll`, and every non-Linux
//! system), which has no edge mode. There the registered interest follows the waiting wakers:
//! a direction is in the interest set only while a waker waits for it, and the fd leaves the
//! selector when nobody waits, so a readable socket nobody reads does not wake the loop forever.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use stage2_select_callbacks::selector::{Backend, Direction, Events, Interest, Selector, Token};
use stage2_select_callbacks::trace;

use crate::runtime::slab::{Key, Slab};

/// Token of the runtime's wake fd (never a slab key).
const WAKE_TOKEN: Token = Token(usize::MAX);

const READ: u8 = 1;
const WRITE: u8 = 2;
/// Sticky: the peer hung up (or the fd has an error). Set from an event, never cleared: once
/// the end of the stream has been announced, no further event will announce it again, so the
/// short-read shortcut (`Source::note_read`) must never put the reader back to sleep.
const CLOSED: u8 = 4;

/// The readiness bit of a direction.
fn bit(dir: Direction) -> u8 {
    match dir {
        Direction::Read => READ,
        Direction::Write => WRITE,
    }
}

// ANCHOR: source
/// The reactor's record of one registered fd, shared (as `Rc`) by the reactor and by the
/// [`Registered`](crate::runtime::registered::Registered) object that owns the fd.
pub(crate) struct Source {
    fd: RawFd,
    /// READ/WRITE bits believed ready (set by events, cleared by `WouldBlock`), and CLOSED.
    readiness: Cell<u8>,
    /// Who waits until a read would not block.
    readers: RefCell<Waiters>,
    /// Who waits until a write would not block.
    writers: RefCell<Waiters>,
    /// The interest currently registered in the selector (`None`: not in it). Fixed at
    /// READABLE|WRITABLE, edge-triggered, on epoll; follows the waiters on poll(2).
    registered: Cell<Option<Interest>>,
    /// The slab key of this source, which is also its selector token.
    key: Key,
}
// ANCHOR_END: source

// ANCHOR: waiters
/// Who waits for one direction of a source. Most often one task (a stream read by one task
/// and written by another), so the first waiter lives inline and costs no allocation; more
/// (several tasks accepting on one listener, receiving on one UDP socket, writing to one
/// stream) go in `rest`. Readiness wakes them all: each retries its syscall, and those that
/// find nothing left (`WouldBlock`) park again. Invariant: `first` is empty only if `rest` is.
#[derive(Default)]
struct Waiters {
    first: Option<Waiter>,
    rest: Vec<Waiter>,
}

/// One parked waker, and who parked it: [`ANONYMOUS`] for a caller of the poll API
/// (`poll_read`, `poll_readable`...), which stays until readiness wakes it; otherwise the id
/// of one I/O future (`Registered::io`), which takes its waker out if dropped while waiting.
struct Waiter {
    id: u64,
    waker: Waker,
}

/// The id of waiters parked through the poll API: one entry per task (a task that polls again
/// with a waker that `will_wake` the stored one refreshes it instead of adding one).
pub(crate) const ANONYMOUS: u64 = 0;

impl Waiters {
    /// Leaves `waker` for `id`: the same waiter polled again refreshes its entry; anyone
    /// else is added. Inlined, with the rare cases in `park_more`: parking the one waiter of a
    /// direction is on every request's path.
    #[inline]
    fn park(&mut self, id: u64, waker: &Waker) {
        match &self.first {
            None => self.first = Some(Waiter { id, waker: waker.clone() }),
            Some(first) if first.id == id && first.waker.will_wake(waker) => {}
            Some(_) => self.park_more(id, waker),
        }
    }

    /// `park` when `first` is someone else's, or ours with another waker.
    fn park_more(&mut self, id: u64, waker: &Waker) {
        let same = |w: &Waiter| w.id == id && (id != ANONYMOUS || w.waker.will_wake(waker));
        let first = self.first.iter_mut();
        match first.chain(self.rest.iter_mut()).find(|w| same(w)) {
            Some(w) => w.waker = waker.clone(),
            None => self.rest.push(Waiter { id, waker: waker.clone() }),
        }
    }

    /// Takes out the entry of `id` (an I/O future dropped while waiting), if it is still in.
    fn unpark(&mut self, id: u64) -> Option<Waiter> {
        if self.first.as_ref().is_some_and(|w| w.id == id) {
            let removed = self.first.take();
            self.first = self.rest.pop();
            return removed;
        }
        let at = self.rest.iter().position(|w| w.id == id)?;
        Some(self.rest.swap_remove(at))
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }
}
// ANCHOR_END: waiters

impl Source {
    fn waiters(&self, dir: Direction) -> &RefCell<Waiters> {
        match dir {
            Direction::Read => &self.readers,
            Direction::Write => &self.writers,
        }
    }

    /// Wakes everyone who waits on `dir`. The wakers are taken out first, so the `RefCell` is
    /// no longer borrowed when `wake` runs (a waker may do anything). Inlined into `turn`, with
    /// the rare second waiter and beyond in `wake_rest`.
    #[inline]
    fn wake(&self, dir: Direction) {
        let (first, more) = {
            let mut waiters = self.waiters(dir).borrow_mut();
            (waiters.first.take(), !waiters.rest.is_empty())
        };
        if more {
            self.wake_rest(dir);
        }
        if let Some(w) = first {
            w.waker.wake();
        }
    }

    /// The waiters of `dir` beyond the first.
    fn wake_rest(&self, dir: Direction) {
        let rest = std::mem::take(&mut self.waiters(dir).borrow_mut().rest);
        for w in rest {
            w.waker.wake();
        }
    }

    /// Is anybody waiting on `dir`?
    fn has_waiter(&self, dir: Direction) -> bool {
        !self.waiters(dir).borrow().is_empty()
    }

    /// Is `dir` believed ready? (No syscall: this is what `try_read` asks first.)
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.readiness.get() & bit(dir) != 0
    }

    /// Believes `dir` ready (the next operation tries the syscall).
    pub(crate) fn mark_ready(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() | bit(dir));
    }

    /// Forgets that `dir` was ready: a syscall just said `WouldBlock`.
    pub(crate) fn clear_readiness(&self, dir: Direction) {
        self.readiness.set(self.readiness.get() & !bit(dir));
    }

    // ANCHOR: short_read
    /// Learns from a finished read of up to `requested` bytes.
    ///
    /// `WouldBlock` clears the read bit, as for every operation. A *short* read (some bytes,
    /// fewer than asked for) clears it too: the socket's receive queue was emptied, so the next
    /// read would almost surely say `WouldBlock`, and that syscall costs as much as a small
    /// read. Skipping it is safe only because of two facts:
    ///
    /// * This loop is single-threaded and collects events only in [`Reactor::turn`]. Bytes
    ///   that arrive after our read raise a new edge that waits in the kernel for the next
    ///   `epoll_wait`, so the bit will be set again; in level mode poll(2) simply reports the
    ///   fd again.
    /// * A hang-up is announced once. If the FIN came with the very event we are consuming, no
    ///   later edge will repeat it, so the sticky `CLOSED` bit keeps the reader awake until it
    ///   reads the EOF.
    ///
    /// tokio makes the same bet (its `poll_read` clears readiness after a short read).
    pub(crate) fn note_read(&self, result: &io::Result<usize>, requested: usize) {
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(Direction::Read),
            Ok(n) if *n > 0 && *n < requested && self.readiness.get() & CLOSED == 0 => {
                self.clear_readiness(Direction::Read)
            }
            _ => {}
        }
    }
    // ANCHOR_END: short_read
}

/// Whether the selector reports edges (epoll) or levels (poll).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Edge,
    Level,
}

/// The selector, the sources, and the event buffer.
pub(crate) struct Reactor {
    selector: RefCell<Selector>,
    events: RefCell<Events>,
    sources: RefCell<Slab<Rc<Source>>>,
    mode: Mode,
    /// The last id handed to an I/O future by [`Reactor::waiter_id`].
    next_waiter_id: Cell<u64>,
}

impl Reactor {
    /// The reactor over `selector`, with the runtime's wake fd registered in it: when that fd
    /// is reported, [`Reactor::turn`] says so, and the caller drains it.
    pub(crate) fn new(mut selector: Selector, wake_fd: RawFd) -> io::Result<Reactor> {
        let mode = match selector.backend() {
            Backend::Epoll => Mode::Edge,
            Backend::Poll => Mode::Level,
        };
        // The wake fd stays level-triggered in both modes: it is drained on every report.
        selector.register(wake_fd, WAKE_TOKEN, Interest::READABLE)?;
        trace!("fd {wake_fd} registered (wake fd), {:?} mode", mode);
        Ok(Reactor {
            selector: RefCell::new(selector),
            events: RefCell::new(Events::with_capacity(1024)),
            sources: RefCell::new(Slab::default()),
            mode,
            next_waiter_id: Cell::new(ANONYMOUS),
        })
    }

    // ANCHOR: register
    /// Adds `fd` to the reactor. `believe_ready` says whether to try the syscall first (a
    /// fresh socket or pipe) or to wait for the first event (a connect in progress, a pidfd).
    pub(crate) fn register(&self, fd: RawFd, believe_ready: bool) -> io::Result<Rc<Source>> {
        let mut sources = self.sources.borrow_mut();
        let key = sources.next_key();
        let source = Rc::new(Source {
            fd,
            readiness: Cell::new(if believe_ready { READ | WRITE } else { 0 }),
            readers: RefCell::default(),
            writers: RefCell::default(),
            registered: Cell::new(None),
            key,
        });
        if self.mode == Mode::Edge {
            // Once, for both directions, for the fd's whole life.
            let interest = Interest::READABLE.add(Interest::WRITABLE).edge();
            self.selector.borrow_mut().register(fd, token_of(key), interest)?;
            source.registered.set(Some(interest));
        }
        sources.insert(source.clone());
        trace!("fd {fd} registered");
        Ok(source)
    }

    /// Removes `source` from the reactor and from the selector. Called *before* its fd is
    /// closed (see `Registered`'s `Drop`). Wakers still parked in it are dropped.
    pub(crate) fn deregister(&self, source: &Source) {
        let removed = self.sources.borrow_mut().remove(source.key);
        if source.registered.take().is_some() {
            if let Err(e) = self.selector.borrow_mut().deregister(source.fd) {
                trace!("fd {} deregister failed: {e}", source.fd);
            }
        }
        trace!("fd {} deregistered", source.fd);
        // Drop the reactor's `Rc` (and through it any parked waker) outside the slab borrow.
        drop(removed);
    }
    // ANCHOR_END: register

    /// The fds registered right now (tests and curious readers use it through
    /// `executor::registered_fds`).
    pub(crate) fn fds(&self) -> Vec<RawFd> {
        let sources = self.sources.borrow();
        sources.iter().map(|source| source.fd).collect()
    }

    /// How many wakers wait on `fd`, both directions together (for tests and the curious,
    /// through `executor::waiters_on`).
    pub(crate) fn waiters_on(&self, fd: RawFd) -> usize {
        let sources = self.sources.borrow();
        let count = |w: &RefCell<Waiters>| {
            let w = w.borrow();
            usize::from(w.first.is_some()) + w.rest.len()
        };
        sources.iter().filter(|s| s.fd == fd).map(|s| count(&s.readers) + count(&s.writers)).sum()
    }

    // ANCHOR: poll_ready
    /// Ready if `dir` is believed ready; otherwise parks the task's waker for `dir` under
    /// `id` (and, on poll(2), makes sure the selector watches that direction).
    #[inline] // every read and write asks: mostly one bit test, cheaper than the call
    pub(crate) fn poll_ready(
        &self,
        source: &Source,
        cx: &mut Context<'_>,
        dir: Direction,
        id: u64,
    ) -> Poll<()> {
        if source.is_ready(dir) {
            return Poll::Ready(());
        }
        source.waiters(dir).borrow_mut().park(id, cx.waker());
        if self.mode == Mode::Level {
            self.update_interest(source);
        }
        Poll::Pending
    }
    // ANCHOR_END: poll_ready

    /// A fresh id for an I/O future that may park a waker (never [`ANONYMOUS`]).
    pub(crate) fn waiter_id(&self) -> u64 {
        let id = self.next_waiter_id.get() + 1;
        self.next_waiter_id.set(id);
        id
    }

    /// Takes the waker of the I/O future `id` out of `source` (the future is being dropped
    /// while it waits), so waiters that went away cannot pile up in a busy socket's list.
    pub(crate) fn unpark(&self, source: &Source, dir: Direction, id: u64) {
        let removed = source.waiters(dir).borrow_mut().unpark(id);
        if removed.is_some() && self.mode == Mode::Level {
            self.update_interest(source);
        }
        drop(removed); // outside the borrow: dropping a waker runs its owner's code
    }

    // ANCHOR: turn
    /// Waits for readiness (at most `timeout`), then wakes whoever waits on each ready fd.
    /// Returns true when the wake fd was among the reports: another thread wants the loop's
    /// attention, and the caller must drain that fd before it looks at its remote queue.
    pub(crate) fn turn(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut events = self.events.borrow_mut();
        self.selector.borrow_mut().select(&mut events, timeout)?;
        let mut woken_remotely = false;
        for event in events.iter() {
            if event.token() == WAKE_TOKEN {
                woken_remotely = true;
                continue;
            }
            let key = Key::from_u64(event.token().0 as u64);
            let Some(source) = self.sources.borrow().get(key).cloned() else {
                continue; // the source was dropped after this event was reported
            };
            let mut bits = 0;
            if event.is_readable() {
                bits |= READ;
            }
            if event.is_writable() {
                bits |= WRITE;
            }
            if event.is_hup() || event.is_error() {
                bits |= CLOSED;
            }
            source.readiness.set(source.readiness.get() | bits);
            trace!(
                "fd {} ready{}{}",
                source.fd,
                if bits & READ != 0 { " read" } else { "" },
                if bits & WRITE != 0 { " write" } else { "" }
            );
            if bits & READ != 0 {
                source.wake(Direction::Read);
            }
            if bits & WRITE != 0 {
                source.wake(Direction::Write);
            }
            if self.mode == Mode::Level {
                self.update_interest(&source);
            }
        }
        Ok(woken_remotely)
    }
    // ANCHOR_END: turn

    /// Level mode: make the registered interest match the wakers that wait.
    fn update_interest(&self, source: &Source) {
        let want =
            Interest::of_waiters(source.has_waiter(Direction::Read), source.has_waiter(Direction::Write));
        let have = source.registered.get();
        if want == have {
            return;
        }
        let (fd, token) = (source.fd, token_of(source.key));
        let mut selector = self.selector.borrow_mut();
        let result = match (have, want) {
            (_, None) => selector.deregister(fd),
            (None, Some(interest)) => selector.register(fd, token, interest),
            (Some(_), Some(interest)) => selector.reregister(fd, token, interest),
        };
        drop(selector);
        match result {
            Ok(()) => source.registered.set(want),
            Err(e) => {
                // Cannot watch the fd: wake the waiters so their next syscall reports the
                // problem instead of waiting forever.
                trace!("fd {fd} interest change failed: {e}");
                source.readiness.set(source.readiness.get() | READ | WRITE);
                source.wake(Direction::Read);
                source.wake(Direction::Write);
            }
        }
    }
}

/// The selector token of the source under `key`.
fn token_of(key: Key) -> Token {
    Token(key.to_u64() as usize)
}
