//! The `Selector`: one call that waits on many sockets at once.
//!
//! The 500 Lines crawler hands every socket to Python's `selectors.DefaultSelector` and then sits
//! in `selector.select()`. This is that object. You *register* a file descriptor with a
//! [`Token`] (your name for it) and an [`Interest`] (readable, writable or both); [`Selector::select`]
//! sleeps until at least one registered descriptor is *ready* and reports which, as
//! [`Readiness`]s carrying your tokens back.
//!
//! Two backends sit behind the one API, picked at run time:
//!
//! * **poll(2)**, on every Unix. The whole interest list is passed to the kernel on every call
//!   and scanned on return, so each `select` costs O(registered fds).
//! * **epoll(7)**, on Linux, the default there. The interest list lives in the kernel; `select`
//!   costs O(ready fds). Set `SELECTOR=poll` to switch to poll(2) and compare.
//!
//! Readiness is *level-triggered* by default on both: as long as a socket has unread bytes,
//! every `select` reports it again. Epoll can also be asked for *edge-triggered* readiness
//! ([`Interest::edge`]): it reports a socket once when it *becomes* ready, and not again until
//! new bytes arrive, so the reader must drain it until `WouldBlock`. Stage 5's reactor uses
//! that to register each socket once and never touch the interest list again.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::sys;

// ANCHOR: types
/// The caller's name for a registered descriptor, handed back in each [`Readiness`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub usize);

/// What readiness to wait for: readable, writable or both, optionally edge-triggered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u8);

const READ: u8 = 0b0001;
const WRITE: u8 = 0b0010;
const EDGE: u8 = 0b0100;

impl Interest {
    /// Wake me when a read would not block (data, EOF or an error is waiting).
    pub const READABLE: Interest = Interest(READ);
    /// Wake me when a write would not block (buffer space, a finished connect, or an error).
    pub const WRITABLE: Interest = Interest(WRITE);

    /// Both interests: `Interest::READABLE.add(Interest::WRITABLE)`.
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// The same interest, edge-triggered: reported once per change of state (epoll only).
    pub const fn edge(self) -> Interest {
        Interest(self.0 | EDGE)
    }

    /// Does this interest include readability?
    pub const fn is_readable(self) -> bool {
        self.0 & READ != 0
    }

    /// Does this interest include writability?
    pub const fn is_writable(self) -> bool {
        self.0 & WRITE != 0
    }

    /// Was edge-triggered readiness asked for?
    pub const fn is_edge(self) -> bool {
        self.0 & EDGE != 0
    }

    /// The interest of a descriptor that has a reader waiting, a writer waiting, both, or
    /// neither (`None`: nobody waits, so it need not be watched). Every event loop of the
    /// course keeps a reader and a writer per descriptor and asks the selector for this.
    pub const fn of_waiters(reader: bool, writer: bool) -> Option<Interest> {
        match (reader, writer) {
            (true, true) => Some(Interest(READ | WRITE)),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }
}

/// Which way a waiter on a descriptor is going: reading (also accepting, `recv_from`, a
/// child's exit) or writing (also a finished `connect`). Every event loop of the course keeps
/// one reader and one writer per descriptor; [`Interest::of_waiters`] turns them into what to
/// ask the selector for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Waiting until a read would not block.
    Read,
    /// Waiting until a write would not block.
    Write,
}

impl Direction {
    /// The readiness this direction waits for.
    pub const fn interest(self) -> Interest {
        match self {
            Direction::Read => Interest::READABLE,
            Direction::Write => Interest::WRITABLE,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Read => "reader",
            Direction::Write => "writer",
        })
    }
}

/// One readiness report from [`Selector::select`].
///
/// A hang-up (the peer closed) or a socket error is reported as *both* readable and writable:
/// whatever the owner of the descriptor was waiting for, its next `read` or `write` will not
/// block, and will return the EOF or the error that explains what happened. [`Readiness::is_hup`]
/// and [`Readiness::is_error`] tell the two cases apart for tracing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    token: Token,
    flags: u8,
}

const HUP: u8 = 0b0100;
const ERROR: u8 = 0b1000;

impl Readiness {
    /// The token the descriptor was registered with.
    pub fn token(&self) -> Token {
        self.token
    }
    /// A read would not block.
    pub fn is_readable(&self) -> bool {
        self.flags & READ != 0
    }
    /// A write would not block.
    pub fn is_writable(&self) -> bool {
        self.flags & WRITE != 0
    }
    /// The peer hung up (both directions, or its write side for readers).
    pub fn is_hup(&self) -> bool {
        self.flags & HUP != 0
    }
    /// The descriptor has a pending error (for sockets: `SO_ERROR` is set).
    pub fn is_error(&self) -> bool {
        self.flags & ERROR != 0
    }
}

/// A reusable list of events, filled by [`Selector::select`].
///
/// Its capacity bounds how many events one `select` returns; the rest wait for the next call
/// (level-triggered readiness does not forget them, and epoll rotates through ready fds).
#[derive(Debug)]
pub struct Events {
    list: Vec<Readiness>,
    capacity: usize,
}

impl Events {
    /// Room for at most `capacity` events per `select` (at least 1).
    pub fn with_capacity(capacity: usize) -> Events {
        let capacity = capacity.max(1);
        Events { list: Vec::with_capacity(capacity), capacity }
    }
    /// The events of the last `select`, in the order the kernel gave them.
    pub fn iter(&self) -> impl Iterator<Item = Readiness> + '_ {
        self.list.iter().copied()
    }
    /// How many events the last `select` returned.
    pub fn len(&self) -> usize {
        self.list.len()
    }
    /// Did the last `select` return nothing (a timeout)?
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// How many events one `select` may return.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Which system call a [`Selector`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// epoll(7): Linux only, O(ready) per wait.
    Epoll,
    /// poll(2): every Unix, O(registered) per wait.
    Poll,
}
// ANCHOR_END: types

impl Backend {
    /// Every backend this system has: epoll and poll on Linux, poll elsewhere. Tests loop over
    /// it, because the point of the `Selector` is that callers cannot tell them apart.
    pub fn available() -> Vec<Backend> {
        if cfg!(target_os = "linux") { vec![Backend::Epoll, Backend::Poll] } else { vec![Backend::Poll] }
    }
}

/// Waits for readiness on many descriptors at once. See the [module docs](self).
#[derive(Debug)]
pub struct Selector {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    #[cfg(target_os = "linux")]
    Epoll(EpollSelector),
    Poll(PollSelector),
}

impl Selector {
    /// The platform's best backend: epoll on Linux, unless the environment says `SELECTOR=poll`.
    pub fn new() -> io::Result<Selector> {
        let wants_poll = std::env::var("SELECTOR").is_ok_and(|v| v.eq_ignore_ascii_case("poll"));
        if wants_poll || !cfg!(target_os = "linux") {
            Selector::with_backend(Backend::Poll)
        } else {
            Selector::with_backend(Backend::Epoll)
        }
    }

    /// A selector over the given backend; asking for epoll off Linux is `Unsupported`.
    pub fn with_backend(backend: Backend) -> io::Result<Selector> {
        let inner = match backend {
            #[cfg(target_os = "linux")]
            Backend::Epoll => Inner::Epoll(EpollSelector::new()?),
            #[cfg(not(target_os = "linux"))]
            Backend::Epoll => {
                return Err(io::Error::new(io::ErrorKind::Unsupported, "epoll is Linux-only"));
            }
            Backend::Poll => Inner::Poll(PollSelector::default()),
        };
        crate::trace!("selector: using {backend:?}");
        Ok(Selector { inner })
    }

    /// Which backend this selector runs on.
    pub fn backend(&self) -> Backend {
        match self.inner {
            #[cfg(target_os = "linux")]
            Inner::Epoll(_) => Backend::Epoll,
            Inner::Poll(_) => Backend::Poll,
        }
    }

    /// Starts watching `fd` for `interest`; events for it will carry `token`.
    ///
    /// Registering the same fd twice is an error (`AlreadyExists`): use [`Selector::reregister`].
    pub fn register(&mut self, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        crate::trace!("selector: register fd {fd} as {token:?} for {}", describe(interest));
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Epoll(ep) => ep.ctl(libc::EPOLL_CTL_ADD, fd, token, interest),
            Inner::Poll(p) => p.register(fd, token, interest),
        }
    }

    /// Changes the token and interest of an already registered `fd`.
    pub fn reregister(&mut self, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        crate::trace!("selector: reregister fd {fd} as {token:?} for {}", describe(interest));
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Epoll(ep) => ep.ctl(libc::EPOLL_CTL_MOD, fd, token, interest),
            Inner::Poll(p) => p.reregister(fd, token, interest),
        }
    }

    /// Stops watching `fd`. Do this *before* closing it: epoll forgets a closed fd only when
    /// every duplicate of it is closed, and poll(2) would report it as invalid forever.
    pub fn deregister(&mut self, fd: RawFd) -> io::Result<()> {
        crate::trace!("selector: deregister fd {fd}");
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Epoll(ep) => sys::epoll_ctl(&ep.epoll, libc::EPOLL_CTL_DEL, fd, None),
            Inner::Poll(p) => p.deregister(fd),
        }
    }

    // ANCHOR: select
    /// Sleeps until a registered fd is ready or `timeout` passes (`None`: no timeout), then
    /// fills `events` (cleared first). An empty `events` on return means the timeout passed.
    ///
    /// A signal that interrupts the wait (`EINTR`) is not an error: the wait resumes with
    /// whatever time is left, so a timer is neither cut short nor stretched.
    pub fn select(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.list.clear();
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut timeout_ms = to_millis(timeout);
        loop {
            let result = match &mut self.inner {
                #[cfg(target_os = "linux")]
                Inner::Epoll(ep) => ep.wait(events, timeout_ms),
                Inner::Poll(p) => p.wait(events, timeout_ms),
            };
            match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    timeout_ms = to_millis(deadline.map(|d| d.saturating_duration_since(Instant::now())));
                }
                other => return other,
            }
        }
    }
    // ANCHOR_END: select
}

/// A timeout in whole milliseconds as poll/epoll take it, rounded *up*: rounding down would
/// wake the loop just before a timer is due, find nothing to do, and spin until it is.
fn to_millis(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) => t.as_nanos().div_ceil(1_000_000).min(libc::c_int::MAX as u128) as libc::c_int,
    }
}

fn describe(interest: Interest) -> &'static str {
    match (interest.is_readable(), interest.is_writable(), interest.is_edge()) {
        (true, true, false) => "read+write",
        (true, false, false) => "read",
        (false, true, false) => "write",
        (true, true, true) => "read+write (edge)",
        (true, false, true) => "read (edge)",
        (false, true, true) => "write (edge)",
        (false, false, _) => "nothing",
    }
}

// ANCHOR: epoll
/// epoll: the kernel keeps the interest list; a wait returns only the ready descriptors.
#[cfg(target_os = "linux")]
#[derive(Debug)]
struct EpollSelector {
    epoll: std::os::fd::OwnedFd,
    /// Scratch space for `epoll_wait`, sized to the caller's `Events` capacity.
    buffer: Vec<libc::epoll_event>,
}

#[cfg(target_os = "linux")]
impl EpollSelector {
    fn new() -> io::Result<EpollSelector> {
        Ok(EpollSelector { epoll: sys::epoll_create()?, buffer: Vec::new() })
    }

    fn ctl(&mut self, op: libc::c_int, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        let mut flags = 0;
        if interest.is_readable() {
            // RDHUP: the peer shut down its write side. Without it, a half-closed peer shows up
            // only as "readable", and an edge-triggered reader that already drained would miss it.
            flags |= libc::EPOLLIN | libc::EPOLLRDHUP;
        }
        if interest.is_writable() {
            flags |= libc::EPOLLOUT;
        }
        if interest.is_edge() {
            flags |= libc::EPOLLET;
        }
        let event = libc::epoll_event { events: flags as u32, u64: token.0 as u64 };
        sys::epoll_ctl(&self.epoll, op, fd, Some(event))
    }

    fn wait(&mut self, events: &mut Events, timeout_ms: libc::c_int) -> io::Result<()> {
        let empty = libc::epoll_event { events: 0, u64: 0 };
        self.buffer.resize(events.capacity, empty);
        let n = sys::epoll_wait(&self.epoll, &mut self.buffer, timeout_ms)?;
        for raw in &self.buffer[..n] {
            // Copy the fields out first: on x86_64 epoll_event is packed, and references to
            // its fields would be unaligned.
            let (bits, data) = (raw.events as libc::c_int, raw.u64);
            events.list.push(Readiness { token: Token(data as usize), flags: epoll_flags(bits) });
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn epoll_flags(bits: libc::c_int) -> u8 {
    let mut flags = 0;
    if bits & (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP) != 0 {
        flags |= READ;
    }
    if bits & libc::EPOLLOUT != 0 {
        flags |= WRITE;
    }
    if bits & (libc::EPOLLHUP | libc::EPOLLRDHUP) != 0 {
        flags |= HUP;
    }
    if bits & libc::EPOLLERR != 0 {
        flags |= ERROR;
    }
    if bits & (libc::EPOLLHUP | libc::EPOLLERR) != 0 {
        // A full hang-up or an error: both directions will answer at once.
        flags |= READ | WRITE;
    }
    flags
}
// ANCHOR_END: epoll

// ANCHOR: poll
/// poll(2): we keep the interest list ourselves and hand all of it to the kernel each time.
#[derive(Debug, Default)]
struct PollSelector {
    /// What poll(2) reads: one entry per registered fd.
    fds: Vec<libc::pollfd>,
    /// `tokens[i]` belongs to `fds[i]`.
    tokens: Vec<Token>,
    /// fd -> its index in `fds`, so reregister and deregister need no scan.
    index: HashMap<RawFd, usize>,
}

impl PollSelector {
    fn register(&mut self, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        let events = poll_events(interest)?;
        if self.index.contains_key(&fd) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("fd {fd} is already registered"),
            ));
        }
        self.index.insert(fd, self.fds.len());
        self.fds.push(libc::pollfd { fd, events, revents: 0 });
        self.tokens.push(token);
        Ok(())
    }

    fn reregister(&mut self, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        let events = poll_events(interest)?;
        let i = *self.index.get(&fd).ok_or_else(|| not_registered(fd))?;
        self.fds[i].events = events;
        self.tokens[i] = token;
        Ok(())
    }

    fn deregister(&mut self, fd: RawFd) -> io::Result<()> {
        let i = self.index.remove(&fd).ok_or_else(|| not_registered(fd))?;
        // swap_remove keeps removal O(1); the entry moved into slot i needs its index fixed.
        self.fds.swap_remove(i);
        self.tokens.swap_remove(i);
        if let Some(moved) = self.fds.get(i) {
            self.index.insert(moved.fd, i);
        }
        Ok(())
    }

    fn wait(&mut self, events: &mut Events, timeout_ms: libc::c_int) -> io::Result<()> {
        let ready = sys::poll(&mut self.fds, timeout_ms)?;
        let mut found = 0;
        for (pfd, &token) in self.fds.iter_mut().zip(&self.tokens) {
            if found == ready || events.list.len() == events.capacity {
                break;
            }
            if pfd.revents == 0 {
                continue;
            }
            found += 1;
            events.list.push(Readiness { token, flags: poll_flags(pfd.revents) });
            pfd.revents = 0;
        }
        Ok(())
    }
}

fn poll_events(interest: Interest) -> io::Result<libc::c_short> {
    if interest.is_edge() {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "poll(2) has no edge-triggered mode"));
    }
    let mut events = 0;
    if interest.is_readable() {
        events |= libc::POLLIN;
    }
    if interest.is_writable() {
        events |= libc::POLLOUT;
    }
    Ok(events)
}

fn poll_flags(revents: libc::c_short) -> u8 {
    let mut flags = 0;
    if revents & (libc::POLLIN | libc::POLLPRI) != 0 {
        flags |= READ;
    }
    if revents & libc::POLLOUT != 0 {
        flags |= WRITE;
    }
    if revents & libc::POLLHUP != 0 {
        flags |= HUP | READ | WRITE;
    }
    // POLLNVAL: the fd was closed while still registered, a bug in the caller; report it as an
    // error so the owner's next call fails loudly instead of the loop spinning silently.
    if revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
        flags |= ERROR | READ | WRITE;
    }
    flags
}
// ANCHOR_END: poll

fn not_registered(fd: RawFd) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("fd {fd} is not registered"))
}
