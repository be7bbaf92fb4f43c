//! Time for tasks: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`], each a future
//! over the current runtime's timer heap (`timers.rs`).

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::runtime::executor::{Core, current};
use crate::runtime::slab::Key;
use crate::runtime::timers::TimerEntry;

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
