//! Test-only helpers: a `block_on` that parks the thread, and a waker that counts its wakes.
//!
//! The tests of `sync`, `combinators` and `blocking` use these instead of the crate's executor,
//! so they check the primitives against nothing but the `Waker` contract.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Wakes a parked thread. The flag makes a wake that arrives before `park` not get lost.
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// How long [`block_on`] lets a future go without finishing before it fails the test. A
/// failure detector, never a wait: every test here finishes in milliseconds.
const GUARD: Duration = Duration::from_secs(10);

/// Runs a future to completion on the current thread, sleeping in `park` while it is pending.
///
/// A future that returns `Pending` without arranging a wake-up is exactly the bug these tests
/// want to expose: it would sleep here for ever, so after [`GUARD`] the test fails instead and
/// names the lost wake-up. A future that keeps waking itself without finishing fails the same
/// way after [`GUARD`].
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let signal = Arc::new(ThreadWaker { thread: thread::current(), woken: AtomicBool::new(false) });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + GUARD;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // park() may return spuriously; only a real wake ends the wait.
        while !signal.woken.swap(false, Ordering::Acquire) {
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "block_on: the future is still Pending after {GUARD:?} and nothing woke it: a \
                     LOST WAKE-UP (a Pending returned without its waker stored where the event \
                     will find it, or a waker dropped with its waiter)"
                );
            }
            thread::park_timeout(deadline - now);
        }
        assert!(
            Instant::now() < deadline,
            "block_on: the future keeps waking itself without finishing after {GUARD:?} (a busy loop)"
        );
    }
}

/// A waker that only counts how often it was woken, for step-by-step tests.
#[derive(Clone, Default)]
pub(crate) struct CountingWaker {
    count: Arc<AtomicUsize>,
}

struct Counter(Arc<AtomicUsize>);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    pub(crate) fn new() -> CountingWaker {
        CountingWaker::default()
    }

    /// A fresh `Waker` feeding this counter (each call gives a distinct waker).
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(Arc::new(Counter(self.count.clone())))
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// Polls a pinned future exactly once with the given waker.
pub(crate) fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}
