//! Timers: a binary heap of deadlines (asyncio's `_scheduled`), [`sleep`], [`sleep_until`],
//! [`timeout`] and [`interval`] on top of it.
//!
//! Each armed timer is an entry in a generational slab; the heap holds `(deadline, seq, key)`.
//! Cancelling a timer (dropping a `Sleep`, cancelling a `call_later` handle, a `timeout`
//! whose future won) removes only the slab entry. The heap entry stays until its deadline
//! comes, is popped, finds its key dead (generation moved on) and is skipped: *lazy
//! deletion*, the trick asyncio uses too (`handle._cancelled`), with no search in the heap.
//! When dead entries outnumber live ones the heap is rebuilt, so a server that arms and
//! cancels a timeout per request does not grow it without bound.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use stage2_select_callbacks::trace;

use crate::executor::{Callback, Core, current};
use crate::slab::{Key, Slab};

/// What happens when a timer fires.
pub(crate) enum TimerEntry {
    /// A `Sleep`: wake its task.
    Wake(Waker),
    /// A `call_later`/`call_at`: queue the callback for this iteration.
    Call(Callback),
}

impl TimerEntry {
    pub(crate) fn fire(self, core: &Core) {
        match self {
            TimerEntry::Wake(w) => {
                trace!("timer fired");
                w.wake();
            }
            TimerEntry::Call(cb) => {
                trace!("timer fired (callback)");
                core.push_callback(cb);
            }
        }
    }
}

// ANCHOR: timers
/// The timer heap with lazy deletion.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    entries: Slab<TimerEntry>,
    /// Tie-breaker: equal deadlines fire in the order they were armed.
    seq: u64,
}

impl Timers {
    fn insert(&mut self, deadline: Instant, entry: TimerEntry) -> Key {
        let key = self.entries.insert(entry);
        self.seq += 1;
        self.heap.push(Reverse((deadline, self.seq, key.to_u64())));
        trace!("timer armed, due in {:?}", deadline.saturating_duration_since(Instant::now()));
        key
    }

    pub(crate) fn insert_callback(&mut self, deadline: Instant, cb: Callback) -> Key {
        self.insert(deadline, TimerEntry::Call(cb))
    }

    /// Cancels a timer: O(1), the heap entry becomes dead weight skipped later.
    pub(crate) fn remove(&mut self, key: Key) -> Option<TimerEntry> {
        let entry = self.entries.remove(key);
        if self.heap.len() > 64 && self.heap.len() > 2 * self.entries.len() {
            // Mostly dead entries: rebuild with the live ones only (O(n), amortised).
            let entries = &self.entries;
            self.heap.retain(|Reverse((_, _, k))| entries.get(Key::from_u64(*k)).is_some());
        }
        entry
    }

    /// The earliest live deadline (dropping dead entries found on top).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, _, key))) = self.heap.peek() {
            if self.entries.get(Key::from_u64(*key)).is_some() {
                return Some(*deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// Pops one live timer due at `now`, if any.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerEntry> {
        while let Some(Reverse((deadline, _, key))) = self.heap.peek() {
            if *deadline > now {
                return None;
            }
            let key = Key::from_u64(*key);
            self.heap.pop();
            if let Some(entry) = self.entries.remove(key) {
                return Some(entry);
            }
        }
        None
    }

    /// Everything armed (runtime shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<TimerEntry> {
        self.heap.clear();
        self.entries.take_all()
    }
}
// ANCHOR_END: timers

// ANCHOR: sleep
/// Future returned by [`sleep`] and [`sleep_until`]. Arms its timer on first poll, disarms it
/// if dropped early (that is how `timeout` cancels the loser).
pub struct Sleep {
    core: Rc<Core>,
    deadline: Instant,
    key: Option<Key>,
}

impl Sleep {
    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline (disarming the current timer; the next poll re-arms it).
    pub fn reset(&mut self, deadline: Instant) {
        self.disarm();
        self.deadline = deadline;
    }

    fn disarm(&mut self) {
        if let Some(key) = self.key.take() {
            let entry = self.core.timers.borrow_mut().remove(key);
            drop(entry);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut timers = this.core.timers.borrow_mut();
        match this.key {
            None => {
                if Instant::now() >= this.deadline {
                    return Poll::Ready(());
                }
                this.key = Some(timers.insert(this.deadline, TimerEntry::Wake(cx.waker().clone())));
                Poll::Pending
            }
            Some(key) => match timers.entries.get_mut(key) {
                // Gone from the slab: it fired.
                None => Poll::Ready(()),
                Some(TimerEntry::Wake(w)) => {
                    if !w.will_wake(cx.waker()) {
                        *w = cx.waker().clone();
                    }
                    Poll::Pending
                }
                Some(TimerEntry::Call(_)) => unreachable!("a Sleep key always names a Wake entry"),
            },
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Completes after `duration` (asyncio's `sleep`, built on the loop's timer heap).
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Completes at `deadline` on the loop's clock.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { core: current(), deadline, key: None }
}
// ANCHOR_END: sleep

/// The error of a [`timeout`] whose duration passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl std::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")
    }
}

// ANCHOR: timeout
/// Runs `future` for at most `duration`. `Ok(output)` if it finished first; `Err(Elapsed)`
/// otherwise, and then the future is dropped (cancelled) right here, destructors included.
/// The future is polled first, so one that is already complete wins even at duration zero.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = pin!(future);
    let mut timer = sleep(duration);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
// ANCHOR_END: timeout

/// Ticks every `period`; see [`interval`].
pub struct Interval {
    period: Duration,
    next: Instant,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time. The first tick is immediate.
    /// A tick that comes late does not cause a burst of catch-up ticks: the schedule skips
    /// ahead to the next multiple of `period` after now.
    pub async fn tick(&mut self) -> Instant {
        self.sleep.reset(self.next);
        (&mut self.sleep).await;
        let due = self.next;
        self.next += self.period;
        let now = Instant::now();
        if self.next <= now {
            // Skip every tick already missed: the next one is the first on the schedule after
            // now. (In nanoseconds, so billions of missed ticks of a tiny period still count.)
            let (behind, period) = ((now - self.next).as_nanos(), self.period.as_nanos());
            let skip = (behind / period + 1) * period;
            self.next += Duration::from_nanos(u64::try_from(skip).unwrap_or(u64::MAX));
        }
        due
    }
}

/// A ticker: `interval.tick().await` completes every `period` (first tick at once).
/// Panics if `period` is zero.
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    let now = Instant::now();
    Interval { period, next: now, sleep: sleep_until(now) }
}
