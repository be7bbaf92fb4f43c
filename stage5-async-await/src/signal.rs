//! Unix signals as futures: `ctrl_c().await`, `Signal::new(SIGTERM)?.recv().await`.
//!
//! A signal handler interrupts whatever the thread was doing, possibly in the middle of
//! `malloc` holding its lock, so it may only do async-signal-safe things. Ours
//! ([`crate::runtime::sys`]) writes one byte, the signal number, into a pipe: the *self-pipe trick*.
//! A small dispatcher thread, started the first time a signal is watched, blocks reading that
//! pipe; for each byte it bumps the signal's counter and wakes every task waiting for it.
//! Those wakes come from another thread, so they reach each runtime through its wake fd
//! (eventfd): any number of runtimes, on any threads, can wait for the same signal.
//!
//! ```text
//!  kernel --SIGTERM--> on_signal(): write(pipe, [15])          (async-signal-safe only)
//!                            |
//!                 dispatcher thread: read(pipe) -> count[15] += 1 -> waker.wake()
//!                            |                                  (std::task::Waker, any thread)
//!            runtime: remote queue + eventfd -> epoll_wait returns -> task polled -> Ready
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use stage1_blocking::workshop::lock;
use stage2_select_callbacks::trace;

use crate::runtime::sys;

pub use libc::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

#[derive(Default)]
struct SignalState {
    /// How many times the dispatcher has seen this signal.
    count: u64,
    /// The `recv` futures waiting for the next delivery, each under its own id so that one
    /// dropped early can take its waker out again (see [`Recv`]).
    waiters: Vec<(u64, Waker)>,
    /// Whether our handler is installed for it.
    installed: bool,
}

/// Process-wide: signal dispositions are per process, not per thread or runtime.
struct Registry {
    signals: Mutex<HashMap<libc::c_int, SignalState>>,
}

/// The registry, creating the pipe and the dispatcher thread on first use.
fn registry() -> io::Result<&'static Registry> {
    static REGISTRY: OnceLock<io::Result<Registry>> = OnceLock::new();
    let result = REGISTRY.get_or_init(|| {
        let (read, write) = sys::pipe()?;
        sys::set_signal_pipe(write);
        // Both ends are non-blocking (a full pipe must never block a handler); the
        // dispatcher waits for the read end with a private poll(2) selector.
        let read = File::from(read);
        std::thread::Builder::new().name("stage5-signals".into()).spawn(move || dispatch(read))?;
        Ok(Registry { signals: Mutex::new(HashMap::new()) })
    });
    result.as_ref().map_err(|e| io::Error::new(e.kind(), e.to_string()))
}

// ANCHOR: dispatch
/// The dispatcher thread: turns bytes from the handler into counter bumps and wakes.
fn dispatch(mut pipe: File) {
    let mut buf = [0u8; 64];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => return, // write end closed: cannot happen, it is never closed
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_readable(&pipe);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let Ok(registry) = registry() else { return };
        let mut wake = Vec::new();
        {
            let mut signals = lock(&registry.signals);
            for &signum in &buf[..n] {
                let state = signals.entry(libc::c_int::from(signum)).or_default();
                state.count += 1;
                wake.extend(state.waiters.drain(..).map(|(_, waker)| waker));
            }
        }
        // Rule: wake outside the lock (a waker may do anything).
        for w in wake {
            w.wake();
        }
    }
}
// ANCHOR_END: dispatch

/// Blocks the dispatcher thread until the pipe is readable, with a private Selector (a
/// blocking poll(2) on one fd; this thread runs no event loop of its own).
fn wait_readable(pipe: &File) {
    use stage2_select_callbacks::selector::{Backend, Events, Interest, Selector, Token};
    use std::os::fd::AsRawFd;
    thread_local! {
        static SELECTOR: std::cell::RefCell<Option<Selector>> = const { std::cell::RefCell::new(None) };
    }
    SELECTOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut selector = match Selector::with_backend(Backend::Poll) {
                Ok(s) => s,
                Err(_) => return,
            };
            if selector.register(pipe.as_raw_fd(), Token(0), Interest::READABLE).is_err() {
                return;
            }
            *slot = Some(selector);
        }
        let mut events = Events::with_capacity(1);
        if let Some(selector) = slot.as_mut() {
            let _ = selector.select(&mut events, None);
        }
    });
}

// ANCHOR: signal
/// A stream of deliveries of one signal to this process.
pub struct Signal {
    signum: libc::c_int,
    /// The counter value already reported by `recv`.
    seen: u64,
}

impl Signal {
    /// Installs the handler for `signum` (once per process) and starts listening. Deliveries
    /// from this point on are reported; earlier ones are not.
    pub fn new(signum: libc::c_int) -> io::Result<Signal> {
        let registry = registry()?;
        let mut signals = lock(&registry.signals);
        let state = signals.entry(signum).or_default();
        if !state.installed {
            sys::install_signal_handler(signum)?;
            state.installed = true;
            trace!("signal {signum}: handler installed");
        }
        Ok(Signal { signum, seen: state.count })
    }

    /// Completes at the next delivery (several deliveries before this call are merged into
    /// one, as the kernel itself merges pending signals).
    pub fn recv(&mut self) -> Recv<'_> {
        Recv { signal: self, id: None }
    }
}

/// The future of [`Signal::recv`]. While it waits, its waker sits in the process-wide list
/// under an id of its own; if it is dropped before the signal comes (a `timeout`, a `select`
/// that another branch won, an aborted task), its `Drop` takes the waker out. Without that,
/// every abandoned wait would stay in the list until the next delivery of the signal, which
/// for SIGTERM may be never.
pub struct Recv<'a> {
    signal: &'a mut Signal,
    /// Our entry in the signal's `waiters`, once we have parked one.
    id: Option<u64>,
}

impl Future for Recv<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Ok(registry) = registry() else { return Poll::Ready(()) };
        let mut signals = lock(&registry.signals);
        let state = signals.entry(this.signal.signum).or_default();
        if state.count > this.signal.seen {
            this.signal.seen = state.count;
            // The dispatcher took our entry out when it counted the delivery.
            this.id = None;
            trace!("signal {} received", this.signal.signum);
            return Poll::Ready(());
        }
        let id = *this.id.get_or_insert_with(|| NEXT_WAIT.fetch_add(1, Ordering::Relaxed));
        match state.waiters.iter_mut().find(|(entry, _)| *entry == id) {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((_, waker)) => *waker = cx.waker().clone(),
            None => state.waiters.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Recv<'_> {
    fn drop(&mut self) {
        let (Some(id), Ok(registry)) = (self.id, registry()) else { return };
        let mut signals = lock(&registry.signals);
        if let Some(state) = signals.get_mut(&self.signal.signum) {
            state.waiters.retain(|(entry, _)| *entry != id);
        }
    }
}

/// Ids of `recv` waits, unique in the process.
static NEXT_WAIT: AtomicU64 = AtomicU64::new(0);
// ANCHOR_END: signal

/// How many `recv` futures wait for `signum` right now, across all runtimes (for tests and
/// the curious: it goes back to 0 when they complete or are dropped).
pub fn waiting(signum: libc::c_int) -> usize {
    let Ok(registry) = registry() else { return 0 };
    lock(&registry.signals).get(&signum).map_or(0, |state| state.waiters.len())
}

/// Completes when the process receives SIGINT (Ctrl-C). Error if the handler cannot be
/// installed.
pub async fn ctrl_c() -> io::Result<()> {
    let mut signal = Signal::new(SIGINT)?;
    signal.recv().await;
    Ok(())
}

/// Completes at SIGINT or SIGTERM, whichever comes first, and says which: the usual
/// "graceful shutdown" trigger of a server.
pub async fn shutdown_signal() -> io::Result<libc::c_int> {
    let mut int = Signal::new(SIGINT)?;
    let mut term = Signal::new(SIGTERM)?;
    let mut int_recv = std::pin::pin!(int.recv());
    let mut term_recv = std::pin::pin!(term.recv());
    poll_fn(|cx| {
        if int_recv.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(SIGINT));
        }
        if term_recv.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(SIGTERM));
        }
        Poll::Pending
    })
    .await
}
