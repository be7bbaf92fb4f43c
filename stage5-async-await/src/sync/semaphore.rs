//! A fair (FIFO) counting semaphore: `asyncio.Semaphore`.
//!
//! It is the workhorse of this module: [`Mutex`](super::Mutex) is a semaphore with one permit, and
//! the bounded [`mpsc`](super::mpsc) channel counts its free slots with one.
//!
//! ```text
//!   permits: 0                       release()
//!   waiters: [#3 granted] [#4] [#5]  ---------->  [#3 granted] [#4 granted] [#5]   wake #4
//!             ^ waiting to be polled               the permit goes straight to #4,
//!                                                   nobody can barge in with try_acquire
//! ```
//!
//! A released permit is handed directly to the oldest waiter (marked `granted`) instead of being
//! put back in the pool for whoever polls first. That is what makes it fair: a task calling
//! `try_acquire` or `acquire` in a loop cannot overtake a task that has been waiting longer.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};

use stage1_blocking::workshop::lock;

/// A counting semaphore whose waiters are served first come, first served.
///
/// ```
/// # use stage5_async_await::sync::Semaphore;
/// let sem = Semaphore::new(2);
/// let a = sem.try_acquire().unwrap();
/// let _b = sem.try_acquire().unwrap();
/// assert!(sem.try_acquire().is_err()); // both permits are out
/// drop(a);                             // RAII: dropping the permit gives it back
/// assert_eq!(sem.available_permits(), 1);
/// ```
pub struct Semaphore {
    state: StdMutex<State>,
}

// ANCHOR: state
struct State {
    /// Permits nobody holds and nobody has been granted. Invariant: if `permits > 0`, every
    /// waiter in the queue is already granted (otherwise we would have handed it one).
    permits: usize,
    /// After `close()`, waiters that were not granted a permit get `AcquireError`.
    closed: bool,
    /// Waiting `Acquire` futures, oldest first.
    waiters: VecDeque<Waiter>,
    /// Gives every waiter a unique name so its future can find (and remove) it later.
    next_id: u64,
}

struct Waiter {
    id: u64,
    /// The waker from the latest poll; taken (set to None) when the waiter is woken.
    waker: Option<Waker>,
    /// A permit has been reserved for this waiter; it only has to poll to collect it.
    granted: bool,
}
// ANCHOR_END: state

impl State {
    /// Hands free permits to the oldest waiters that have none yet and returns their wakers,
    /// so the caller can wake them after dropping the lock.
    fn grant(&mut self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        if self.closed {
            // After close() a waiter that has no permit yet must fail, not be served by a
            // permit that comes back later.
            return wakers;
        }
        for waiter in self.waiters.iter_mut().filter(|w| !w.granted) {
            if self.permits == 0 {
                break;
            }
            self.permits -= 1;
            waiter.granted = true;
            wakers.extend(waiter.waker.take());
        }
        wakers
    }

    fn position(&self, id: u64) -> Option<usize> {
        // A linear scan: the queue is short in practice, and an intrusive linked list (what
        // tokio uses for O(1) removal) needs unsafe pointer juggling this course keeps out.
        self.waiters.iter().position(|w| w.id == id)
    }
}

fn wake_all(wakers: Vec<Waker>) {
    for waker in wakers {
        waker.wake();
    }
}

/// Error from [`Semaphore::acquire`]: the semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError;

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Error from [`Semaphore::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// No permit is free right now (or older waiters are queued for it).
    NoPermits,
    /// The semaphore was closed.
    Closed,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("no permits available"),
            TryAcquireError::Closed => f.write_str("semaphore closed"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// A semaphore holding `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: StdMutex::new(State { permits, closed: false, waiters: VecDeque::new(), next_id: 0 }),
        }
    }

    /// Permits free right now.
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Waits for a permit, in FIFO order with the other waiters.
    ///
    /// Cancel-safe: dropping the returned future before it completes gives back any permit
    /// that was already reserved for it, and removes it from the queue.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire { semaphore: self, id: None, done: false }
    }

    /// Like [`acquire`](Self::acquire), but the permit owns an `Arc` of the semaphore, so it can
    /// be moved into a spawned task (`'static`).
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire().await?.forget();
        Ok(OwnedSemaphorePermit { semaphore: self })
    }

    /// Takes a permit if one is free and nobody is queued ahead; never waits.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(TryAcquireError::Closed);
        }
        // By the invariant on `permits`, a free permit means no un-granted waiter is queued,
        // so taking it cannot overtake anyone.
        if state.permits == 0 {
            return Err(TryAcquireError::NoPermits);
        }
        state.permits -= 1;
        Ok(SemaphorePermit { semaphore: self })
    }

    /// Adds `n` permits (handing them to waiters first).
    pub fn add_permits(&self, n: usize) {
        let wakers = {
            let mut state = lock(&self.state);
            state.permits += n;
            state.grant()
        };
        wake_all(wakers);
    }

    /// Closes the semaphore: every waiter that has not been granted a permit, and every later
    /// `acquire`, fails with [`AcquireError`]. Permits already held stay valid.
    pub fn close(&self) {
        let wakers: Vec<Waker> = {
            let mut state = lock(&self.state);
            state.closed = true;
            let pending = state.waiters.iter_mut().filter(|w| !w.granted);
            pending.filter_map(|w| w.waker.take()).collect()
        };
        wake_all(wakers);
    }

    /// True once [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiters", &state.waiters.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// The future returned by [`Semaphore::acquire`].
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    /// Our place in the queue once we had to wait; `None` before the first poll and after
    /// completion (so `Drop` knows whether there is anything to undo).
    id: Option<u64>,
    /// Set when we returned `Ready`: a second poll must not quietly take a second permit.
    done: bool,
}

// ANCHOR: acquire_poll
impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.done, "Acquire polled after it completed");
        let semaphore = self.semaphore;
        let mut state = lock(&semaphore.state);
        let Some(id) = self.id else {
            // First poll: take a free permit, or join the back of the queue.
            if state.closed {
                self.done = true;
                return Poll::Ready(Err(AcquireError));
            }
            if state.permits > 0 {
                state.permits -= 1;
                self.done = true;
                return Poll::Ready(Ok(SemaphorePermit { semaphore }));
            }
            let id = state.next_id;
            state.next_id += 1;
            state.waiters.push_back(Waiter { id, waker: Some(cx.waker().clone()), granted: false });
            self.id = Some(id);
            return Poll::Pending;
        };
        let index = state.position(id).expect("a queued waiter stays queued until it completes");
        if state.waiters[index].granted {
            // A releaser reserved a permit for us: collect it and leave the queue.
            state.waiters.remove(index);
            self.id = None;
            self.done = true;
            return Poll::Ready(Ok(SemaphorePermit { semaphore }));
        }
        if state.closed {
            state.waiters.remove(index);
            self.id = None;
            self.done = true;
            return Poll::Ready(Err(AcquireError));
        }
        // Still waiting (a spurious poll, or the task was polled for another reason):
        // remember the newest waker, the task may have moved since the last poll.
        match &mut state.waiters[index].waker {
            Some(old) if old.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let wakers = {
            let mut state = lock(&self.semaphore.state);
            let Some(index) = state.position(id) else { return };
            let waiter = state.waiters.remove(index).expect("index from position()");
            if !waiter.granted {
                return; // we held nothing; leaving the queue is all there is to do
            }
            // We were handed a permit but will never collect it: pass it to the next waiter,
            // or the permit is lost and that waiter sleeps forever.
            state.permits += 1;
            state.grant()
        };
        wake_all(wakers);
    }
}
// ANCHOR_END: acquire_poll

/// A permit borrowed from a [`Semaphore`]; dropping it gives the permit back.
#[must_use = "the permit is released as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Consumes the permit without giving it back (the semaphore shrinks by one). The channel
    /// uses this: a permit turns into a queued message, and `recv` adds it back.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.add_permits(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphorePermit")
    }
}

/// A permit that keeps its [`Semaphore`] alive through an `Arc`; see
/// [`Semaphore::acquire_owned`].
#[must_use = "the permit is released as soon as it is dropped"]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.semaphore.add_permits(1);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnedSemaphorePermit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::testutil::{CountingWaker, block_on, poll_once};
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn try_acquire_counts_permits_and_permit_drop_returns_them() {
        let sem = Semaphore::new(2);
        let a = sem.try_acquire().unwrap();
        let b = sem.try_acquire().unwrap();
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(a);
        assert_eq!(sem.available_permits(), 1);
        drop(b);
        assert_eq!(sem.available_permits(), 2);
    }

    #[test]
    fn waiters_are_served_in_fifo_order_and_woken_once() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (w1, w2) = (CountingWaker::new(), CountingWaker::new());
        let mut first = pin!(sem.acquire());
        let mut second = pin!(sem.acquire());
        assert!(poll_once(first.as_mut(), &w1.waker()).is_pending());
        assert!(poll_once(second.as_mut(), &w2.waker()).is_pending());

        drop(held);
        // The permit went to the first waiter, not back into the pool...
        assert_eq!((w1.count(), w2.count()), (1, 0));
        assert_eq!(
            sem.available_permits(),
            0,
            "a released permit must be handed to the first waiter, not put back where a newcomer can BARGE in"
        );
        // ...so a newcomer cannot barge ahead of the second waiter.
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        // Polling the second waiter first does not steal the first waiter's permit.
        assert!(poll_once(second.as_mut(), &w2.waker()).is_pending());
        let permit = match poll_once(first.as_mut(), &w1.waker()) {
            Poll::Ready(Ok(permit)) => permit,
            other => panic!("first waiter should hold the permit, got {other:?}"),
        };
        drop(permit);
        assert_eq!(w2.count(), 1);
        assert!(matches!(poll_once(second.as_mut(), &w2.waker()), Poll::Ready(Ok(_))));
        assert_eq!(sem.available_permits(), 1);
    }

    #[test]
    fn a_repoll_with_a_new_waker_replaces_the_stored_one() {
        let sem = Semaphore::new(0);
        let (old, new) = (CountingWaker::new(), CountingWaker::new());
        let mut acquire = pin!(sem.acquire());
        assert!(poll_once(acquire.as_mut(), &old.waker()).is_pending());
        assert!(poll_once(acquire.as_mut(), &new.waker()).is_pending());
        sem.add_permits(1);
        assert_eq!((old.count(), new.count()), (0, 1));
    }

    #[test]
    fn dropping_a_granted_but_unpolled_acquire_passes_the_permit_on() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let (w1, w2) = (CountingWaker::new(), CountingWaker::new());
        let mut first = Box::pin(sem.acquire());
        let mut second = pin!(sem.acquire());
        assert!(poll_once(first.as_mut(), &w1.waker()).is_pending());
        assert!(poll_once(second.as_mut(), &w2.waker()).is_pending());
        drop(held); // granted to `first`...
        assert_eq!(w1.count(), 1);
        drop(first); // ...which is cancelled before it could collect it
        assert_eq!(w2.count(), 1, "the permit must move on to the next waiter");
        assert!(matches!(poll_once(second.as_mut(), &w2.waker()), Poll::Ready(Ok(_))));
    }

    #[test]
    fn dropping_a_waiting_acquire_leaves_no_dangling_waiter() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let w = CountingWaker::new();
        let mut waiting = Box::pin(sem.acquire());
        assert!(poll_once(waiting.as_mut(), &w.waker()).is_pending());
        drop(waiting);
        drop(held);
        // Nobody is queued any more, so the permit goes back to the pool and nobody was woken.
        assert_eq!(w.count(), 0);
        assert_eq!(sem.available_permits(), 1);
        assert!(sem.try_acquire().is_ok());
    }

    #[test]
    fn close_fails_waiters_and_later_acquires() {
        let sem = Semaphore::new(0);
        let w = CountingWaker::new();
        let mut waiting = pin!(sem.acquire());
        assert!(poll_once(waiting.as_mut(), &w.waker()).is_pending());
        sem.close();
        assert_eq!(w.count(), 1);
        assert!(matches!(poll_once(waiting.as_mut(), &w.waker()), Poll::Ready(Err(AcquireError))));
        assert_eq!(block_on(sem.acquire()).unwrap_err(), AcquireError);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    }

    #[test]
    fn a_permit_returned_after_close_is_not_handed_to_a_waiter() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let w = CountingWaker::new();
        let mut waiting = pin!(sem.acquire());
        assert!(poll_once(waiting.as_mut(), &w.waker()).is_pending());
        sem.close();
        drop(held);
        assert!(matches!(poll_once(waiting.as_mut(), &w.waker()), Poll::Ready(Err(AcquireError))));
    }

    #[test]
    fn limit_is_never_exceeded_by_threads_hammering_it() {
        const LIMIT: usize = 3;
        let sem = Arc::new(Semaphore::new(LIMIT));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let permit = block_on(sem.acquire()).unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= LIMIT);
        assert_eq!(sem.available_permits(), LIMIT, "no permit was lost");
    }

    #[test]
    fn owned_permits_move_into_threads() {
        let sem = Arc::new(Semaphore::new(1));
        let permit = block_on(sem.clone().acquire_owned()).unwrap();
        assert_eq!(sem.available_permits(), 0);
        std::thread::spawn(move || drop(permit)).join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    }
}
