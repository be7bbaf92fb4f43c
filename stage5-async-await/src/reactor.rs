//! The reactor: stage 2's Selector underneath, a slab of I/O *sources* (one per fd), and
//! `turn`, which selects and turns readiness into `Waker::wake` calls.
//!
//! A source remembers, for its fd, which directions are ready (`readiness` bits) and who waits
//! for each direction (one reader waker, one writer waker). I/O goes through
//! [`Source::poll_io`]: if the direction is believed ready, try the syscall; `WouldBlock` means
//! it was not (any more), so clear the bit, park the waker, return `Pending`.
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

use stage2_select_callbacks::selector::{Backend, Events, Interest, Selector, Token};
use stage2_select_callbacks::trace;

use crate::executor::Core;
use crate::slab::{Key, Slab};
use crate::sys::WakeFd;

/// Token of the runtime's wake fd (never a slab key).
const WAKE_TOKEN: Token = Token(usize::MAX);

/// A direction of I/O, as a readiness bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading, accepting, recv_from, a pidfd's "exited".
    Read,
    /// Writing, send_to, connect completion.
    Write,
}

impl Direction {
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READ,
            Direction::Write => WRITE,
        }
    }
}

const READ: u8 = 1;
const WRITE: u8 = 2;
/// Sticky: the peer hung up (or the fd has an error). Set from an event, never cleared: once
/// the end of the stream has been announced, no further event will announce it again, so the
/// short-read shortcut below must never put the reader back to sleep.
const CLOSED: u8 = 4;

fn interest_of(bits: u8) -> Interest {
    match bits {
        READ => Interest::READABLE,
        WRITE => Interest::WRITABLE,
        _ => Interest::READABLE.add(Interest::WRITABLE),
    }
}

// ANCHOR: scheduled_io
/// Per-fd state the reactor and the I/O futures share.
pub(crate) struct ScheduledIo {
    fd: RawFd,
    /// READ/WRITE bits believed ready (set by events, cleared by `WouldBlock`).
    readiness: Cell<u8>,
    reader: RefCell<Option<Waker>>,
    writer: RefCell<Option<Waker>>,
    /// Level mode only: the interest currently registered (0 = not in the selector).
    registered: Cell<u8>,
    /// The selector token (the slab key) of this source.
    token: Cell<u64>,
}
// ANCHOR_END: scheduled_io

impl ScheduledIo {
    fn slot(&self, dir: Direction) -> &RefCell<Option<Waker>> {
        match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }
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
    sources: RefCell<Slab<Rc<ScheduledIo>>>,
    mode: Mode,
}

impl Reactor {
    /// The reactor over `selector`, with the wake fd registered in it.
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
        })
    }

    // ANCHOR: turn
    /// Waits for readiness (at most `timeout`), then wakes whoever waits on each ready fd.
    pub(crate) fn turn(&self, timeout: Option<Duration>, wake_fd: &WakeFd) -> io::Result<()> {
        let mut events = self.events.borrow_mut();
        self.selector.borrow_mut().select(&mut events, timeout)?;
        for event in events.iter() {
            if event.token() == WAKE_TOKEN {
                // Reset the fd *before* the caller drains the remote queue (see Shared).
                wake_fd.drain();
                trace!("woken through the wake fd");
                continue;
            }
            let key = Key::from_u64(event.token().0 as u64);
            let Some(io) = self.sources.borrow().get(key).cloned() else {
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
            io.readiness.set(io.readiness.get() | bits);
            trace!(
                "fd {} ready{}{}",
                io.fd,
                if bits & READ != 0 { " read" } else { "" },
                if bits & WRITE != 0 { " write" } else { "" }
            );
            if bits & READ != 0 {
                let waker = io.reader.borrow_mut().take();
                if let Some(w) = waker {
                    w.wake();
                }
            }
            if bits & WRITE != 0 {
                let waker = io.writer.borrow_mut().take();
                if let Some(w) = waker {
                    w.wake();
                }
            }
            if self.mode == Mode::Level {
                self.update_interest(&io);
            }
        }
        Ok(())
    }
    // ANCHOR_END: turn

    /// Level mode: make the registered interest match the wakers that wait.
    fn update_interest(&self, io: &ScheduledIo) {
        let mut want = 0;
        if io.reader.borrow().is_some() {
            want |= READ;
        }
        if io.writer.borrow().is_some() {
            want |= WRITE;
        }
        let have = io.registered.get();
        if want == have {
            return;
        }
        let key = self.token_of(io);
        let mut selector = self.selector.borrow_mut();
        let result = match (have, want) {
            (_, 0) => selector.deregister(io.fd),
            (0, _) => selector.register(io.fd, key, interest_of(want)),
            _ => selector.reregister(io.fd, key, interest_of(want)),
        };
        match result {
            Ok(()) => io.registered.set(want),
            Err(e) => {
                // Cannot watch the fd: wake the waiters so their next syscall reports the
                // problem instead of waiting forever.
                trace!("fd {} interest change failed: {e}", io.fd);
                drop(selector);
                io.readiness.set(READ | WRITE);
                for dir in [Direction::Read, Direction::Write] {
                    let waker = io.slot(dir).borrow_mut().take();
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
            }
        }
    }

    fn token_of(&self, io: &ScheduledIo) -> Token {
        Token(io.token.get() as usize)
    }
}

// ANCHOR: source
/// An fd registered with the current runtime's reactor. Owned by the I/O object (TcpStream,
/// pipe, pidfd...) that owns the fd, and declared *before* the fd in that struct, so it is
/// dropped first: the fd leaves the selector before it is closed (and before its number can
/// be reused by another socket).
pub(crate) struct Source {
    io: Rc<ScheduledIo>,
    key: Key,
    core: Rc<Core>,
}

impl Source {
    /// Registers `fd` with the current runtime. `ready` says which directions to believe
    /// ready at first: "both" for a fresh socket (try the syscall, learn from WouldBlock),
    /// "none" for a connect in progress or a pidfd (wait for the first event).
    pub(crate) fn new(fd: RawFd, ready: Readiness) -> io::Result<Source> {
        let core = crate::executor::current();
        let reactor = &core.reactor;
        let io = Rc::new(ScheduledIo {
            fd,
            readiness: Cell::new(ready.0),
            reader: RefCell::new(None),
            writer: RefCell::new(None),
            registered: Cell::new(0),
            token: Cell::new(0),
        });
        let key = reactor.sources.borrow_mut().insert(io.clone());
        io.token.set(key.to_u64());
        if reactor.mode == Mode::Edge {
            let interest = Interest::READABLE.add(Interest::WRITABLE).edge();
            let token = Token(key.to_u64() as usize);
            if let Err(e) = reactor.selector.borrow_mut().register(fd, token, interest) {
                reactor.sources.borrow_mut().remove(key);
                return Err(e);
            }
            io.registered.set(READ | WRITE);
        }
        trace!("fd {fd} registered");
        Ok(Source { io, key, core })
    }

    // ANCHOR: poll_ready
    /// Ready if `dir` is believed ready; otherwise parks the task's waker for `dir`.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        if self.io.readiness.get() & dir.bit() != 0 {
            return Poll::Ready(());
        }
        {
            let mut slot = self.io.slot(dir).borrow_mut();
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        if self.core.reactor.mode == Mode::Level {
            self.core.reactor.update_interest(&self.io);
        }
        Poll::Pending
    }

    /// Believes `dir` ready (the next operation tries the syscall).
    pub(crate) fn mark_ready(&self, dir: Direction) {
        self.io.readiness.set(self.io.readiness.get() | dir.bit());
    }

    /// Forgets that `dir` was ready: a syscall just said `WouldBlock`.
    pub(crate) fn clear_readiness(&self, dir: Direction) {
        self.io.readiness.set(self.io.readiness.get() & !dir.bit());
    }

    /// Is `dir` believed ready? (No syscall: this is what `try_read` asks first.)
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.io.readiness.get() & dir.bit() != 0
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
            Ok(n) if *n > 0 && *n < requested && self.io.readiness.get() & CLOSED == 0 => {
                self.clear_readiness(Direction::Read)
            }
            _ => {}
        }
    }
    // ANCHOR_END: short_read

    /// The heart of every I/O future: try `op` while `dir` is believed ready; on
    /// `WouldBlock` clear the bit and wait for the next event; retry on `EINTR`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if self.poll_ready(cx, dir).is_pending() {
                return Poll::Pending;
            }
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(dir),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }
    // ANCHOR_END: poll_ready
}

impl Drop for Source {
    fn drop(&mut self) {
        let reactor = &self.core.reactor;
        let removed = reactor.sources.borrow_mut().remove(self.key);
        if self.io.registered.get() != 0 {
            if let Err(e) = reactor.selector.borrow_mut().deregister(self.io.fd) {
                trace!("fd {} deregister failed: {e}", self.io.fd);
            }
        }
        trace!("fd {} deregistered", self.io.fd);
        // Wakers parked here belong to tasks that are going away with this source; drop
        // them outside the slab borrow.
        drop(removed);
    }
}

/// Which directions a new [`Source`] starts believing ready.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Readiness(u8);

impl Readiness {
    /// Try the syscall first (a fresh socket or pipe).
    pub(crate) const BOTH: Readiness = Readiness(READ | WRITE);
    /// Wait for the first event (connect in progress, pidfd).
    pub(crate) const NONE: Readiness = Readiness(0);
}
// ANCHOR_END: source
