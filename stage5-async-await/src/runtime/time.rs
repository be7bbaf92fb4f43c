//! Time for tasks: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`], each a future
//! over the current runtime's timer heap (`timers.rs`).

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime::executor::{Core, current};
use crate::runtime::slab::Key;
use crate::runtime::timers::{TimerEntry, deadline_after};

// ANCHOR: sleep
/// Future returned by [`sleep`] and [`sleep_until`]. Arms its timer on first poll, disarms it
/// if dropped early (that is how `timeout` cancels the loser).
pub struct Sleep {
    core: Rc<Core>,
    /// `None`: never (`sleep(Duration::MAX)`); such a sleep arms no timer and stays pending.
    deadline: Option<Instant>,
    key: Option<Key>,
}

impl Sleep {
    /// When this sleep completes. A sleep that never does (`sleep(Duration::MAX)`) says a
    /// century after the program first asked: later than any deadline it computes for real.
    #[inline] // a field load for callers in other crates (stage 6 asks once per request)
    pub fn deadline(&self) -> Instant {
        self.deadline.unwrap_or_else(far_future)
    }

    /// Moves the deadline (disarming the current timer; the next poll re-arms it).
    pub fn reset(&mut self, deadline: Instant) {
        self.disarm();
        self.deadline = Some(deadline);
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
        let Some(deadline) = this.deadline else {
            return Poll::Pending; // never: no timer, nothing will wake us for it
        };
        let mut timers = this.core.timers.borrow_mut();
        match this.key {
            None => {
                if Instant::now() >= deadline {
                    return Poll::Ready(());
                }
                this.key = Some(timers.insert(deadline, TimerEntry::Wake(cx.waker().clone())));
                Poll::Pending
            }
            Some(key) => match timers.get_mut(key) {
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
/// `Duration::MAX` (or any span past what an `Instant` can hold) never completes.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep { core: current(), deadline: deadline_after(Instant::now(), duration), key: None }
}

/// Completes at `deadline` on the loop's clock.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { core: current(), deadline: Some(deadline), key: None }
}
// ANCHOR_END: sleep

/// What [`Sleep::deadline`] says for a sleep that never ends: a century after the first time
/// it is asked, the same instant for the whole process (so comparisons stay consistent).
#[cold]
fn far_future() -> Instant {
    static FAR: OnceLock<Instant> = OnceLock::new();
    *FAR.get_or_init(|| {
        let now = Instant::now();
        deadline_after(now, Duration::from_secs(100 * 365 * 24 * 3600)).unwrap_or(now)
    })
}

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
/// The future is polled first, so one that is already complete wins even at duration zero;
/// `Duration::MAX` is no limit at all.
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
    /// `None`: the next tick is past what an `Instant` can hold (a period of `Duration::MAX`).
    next: Option<Instant>,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time. The first tick is immediate.
    /// A tick that comes late does not cause a burst of catch-up ticks: the schedule skips
    /// ahead to the next multiple of `period` after now.
    pub async fn tick(&mut self) -> Instant {
        let Some(due) = self.next else {
            return std::future::pending().await; // never
        };
        self.sleep.reset(due);
        (&mut self.sleep).await;
        let now = Instant::now();
        self.next = match deadline_after(due, self.period) {
            // Skip every tick already missed: the next one is the first on the schedule after
            // now. (In nanoseconds, so billions of missed ticks of a tiny period still count.)
            Some(next) if next <= now => {
                let (behind, period) = ((now - next).as_nanos(), self.period.as_nanos());
                let skip = (behind / period + 1) * period;
                deadline_after(next, Duration::from_nanos(u64::try_from(skip).unwrap_or(u64::MAX)))
            }
            next => next,
        };
        due
    }
}

/// A ticker: `interval.tick().await` completes every `period` (first tick at once; a period
/// of `Duration::MAX` ticks once). Panics if `period` is zero.
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be non-zero");
    let now = Instant::now();
    Interval { period, next: Some(now), sleep: sleep_until(now) }
}
