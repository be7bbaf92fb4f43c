//! [`Registered<T>`]: an I/O object (a socket, a pipe, a pidfd) together with its
//! registration in the current runtime's reactor. It is the only owner of both, so the one
//! rule that matters when they go away is written once, in its `Drop`: **deregister, then
//! close.** (smol's `async_io::Async<T>` plays the same part.)
//!
//! Every I/O type of the crate (`TcpStream`, `TcpListener`, `UdpSocket`, a child's pipes and
//! its pidfd) is a `Registered<...>` plus the methods that make sense for it, each a
//! [`Registered::poll_io`] around the plain non-blocking syscall.

use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use stage2_select_callbacks::selector::Direction;

use crate::runtime::executor::current;
use crate::runtime::reactor::{ANONYMOUS, Reactor, Source};

// ANCHOR: registered
/// An I/O object registered with the current runtime's reactor.
pub(crate) struct Registered<T: AsRawFd> {
    io: T,
    source: Rc<Source>,
    reactor: Rc<Reactor>,
}

impl<T: AsRawFd> Registered<T> {
    /// Registers `io` (already non-blocking) with the current runtime, believing both
    /// directions ready: the first operation tries the syscall and learns from `WouldBlock`.
    /// Panics outside `block_on`.
    pub(crate) fn new(io: T) -> io::Result<Registered<T>> {
        Registered::with_readiness(io, true)
    }

    /// Registers `io` believing nothing ready: the first event is the news we wait for (a
    /// connect in progress becomes writable, a pidfd becomes readable when the child exits).
    pub(crate) fn waiting_for_first_event(io: T) -> io::Result<Registered<T>> {
        Registered::with_readiness(io, false)
    }

    fn with_readiness(io: T, believe_ready: bool) -> io::Result<Registered<T>> {
        let reactor = current().reactor.clone();
        // If registering fails, `io` is dropped (closed) here, never having been watched.
        let source = reactor.register(io.as_raw_fd(), believe_ready)?;
        Ok(Registered { io, source, reactor })
    }
}

impl<T: AsRawFd> Drop for Registered<T> {
    /// Deregisters, *then* the fields drop and `io` closes: `drop` runs before any field is
    /// dropped, whatever order the fields are declared in. Closing first would be a bug twice
    /// over: epoll forgets an fd only when every duplicate of it is closed (a forked child
    /// holding a copy keeps the registration alive), and the fd number is reused by the next
    /// `socket()` at once, so a stale registration could report that socket's events.
    fn drop(&mut self) {
        self.reactor.deregister(&self.source);
    }
}
// ANCHOR_END: registered

impl<T: AsRawFd> Registered<T> {
    /// The I/O object, for the syscalls.
    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    /// Ready if `dir` is believed ready; otherwise parks the task's waker for `dir`.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, dir: Direction) -> Poll<()> {
        self.reactor.poll_ready(&self.source, cx, dir, ANONYMOUS)
    }

    // ANCHOR: poll_io
    /// The heart of every I/O future: try `op` while `dir` is believed ready; on
    /// `WouldBlock` clear the bit and wait for the next event; retry on `EINTR`.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_as(cx, dir, ANONYMOUS, op)
    }

    /// [`Registered::poll_io`] for the waiter `id` (see [`Registered::io`]). Inlined into
    /// each `poll_read`/`poll_write`, as `poll_io` was before it took an id.
    #[inline]
    fn poll_io_as<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        id: u64,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if self.reactor.poll_ready(&self.source, cx, dir, id).is_pending() {
                return Poll::Pending;
            }
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.source.clear_readiness(dir),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }
    // ANCHOR_END: poll_io

    /// Believes `dir` ready (the next operation tries the syscall).
    pub(crate) fn mark_ready(&self, dir: Direction) {
        self.source.mark_ready(dir);
    }

    /// Forgets that `dir` was ready: a syscall just said `WouldBlock`.
    pub(crate) fn clear_readiness(&self, dir: Direction) {
        self.source.clear_readiness(dir);
    }

    /// Is `dir` believed ready? (No syscall.)
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.source.is_ready(dir)
    }

    /// Learns from a finished read of up to `requested` bytes (see `Source::note_read`).
    pub(crate) fn note_read(&self, result: &io::Result<usize>, requested: usize) {
        self.source.note_read(result, requested);
    }
}

// ANCHOR: io_future
impl<T: AsRawFd> Registered<T> {
    /// `op` on `dir` as a future (`UdpSocket::recv_from`, `TcpListener::accept`...): the same
    /// loop as [`Registered::poll_io`], under a waiter id of its own, so that if the future is
    /// dropped while it waits (a `timeout` gave up, a `select` chose another branch, its task
    /// was aborted) its waker leaves the source's list at once.
    pub(crate) fn io<R, F: FnMut(&T) -> io::Result<R> + Unpin>(&self, dir: Direction, op: F) -> Io<'_, T, F> {
        Io { registered: self, dir, op, id: ANONYMOUS, parked: false }
    }
}

/// The future of [`Registered::io`].
pub(crate) struct Io<'a, T: AsRawFd, F> {
    registered: &'a Registered<T>,
    dir: Direction,
    op: F,
    /// Our waiter id, taken at the first poll.
    id: u64,
    /// True while our waker may be in the source's list (we last answered `Pending`).
    parked: bool,
}

impl<T: AsRawFd, R, F: FnMut(&T) -> io::Result<R> + Unpin> Future for Io<'_, T, F> {
    type Output = io::Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let this = self.get_mut();
        if this.id == ANONYMOUS {
            this.id = this.registered.reactor.waiter_id();
        }
        let poll = this.registered.poll_io_as(cx, this.dir, this.id, &mut this.op);
        if poll.is_ready() {
            this.leave(); // woken by readiness our entry is already gone; otherwise take it out
        } else {
            this.parked = true;
        }
        poll
    }
}

impl<T: AsRawFd, F> Io<'_, T, F> {
    fn leave(&mut self) {
        if std::mem::take(&mut self.parked) {
            self.registered.reactor.unpark(&self.registered.source, self.dir, self.id);
        }
    }
}

impl<T: AsRawFd, F> Drop for Io<'_, T, F> {
    fn drop(&mut self) {
        self.leave();
    }
}
// ANCHOR_END: io_future
