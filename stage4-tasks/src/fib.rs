//! Recursive Fibonacci as coroutines: what `yield from` (and `.await`) is for.
//!
//! This is the classic Python puzzle of generator-based coroutines: make this run.
//!
//! ```text
//! def fibonacci(n):            # a generator
//!     if n <= 1: return 1
//!     c1 = yield fibonacci(n-1)
//!     c2 = yield fibonacci(n-2)
//!     return c1 + c2
//! ```
//!
//! A driver that only knows how to step *one* generator receives a generator object from the
//! first `yield` and has no idea what to do with it. The child must be *run to completion on
//! the parent's behalf*: every time the child stops, the parent stops too and passes the
//! child's wait up to its own driver; when the child completes, its value becomes the value
//! of the parent's expression. That forwarding is `yield from` in Python and `.await` in Rust,
//! and [`Fib`] does it by hand: the child coroutine is boxed inside the parent's state.
//!
//! Ours counts from fib(0) = 0, fib(1) = 1 (so fib(25) = 75025), and every leaf yields once
//! ([`Scheduler::yield_now`]) so that the task really is stepped, once per leaf.

use anyhow::anyhow;

use crate::coroutine::{AnyFuture, Coroutine, Sent, Step};
use crate::scheduler::Scheduler;

// ANCHOR: fib
/// `fib(n)` computed by sub-coroutines: `fib(n - 1).await + fib(n - 2).await`.
///
/// ```text
/// async fn fib(n: u32) -> Result<u64> {
///     if n < 2 {
///         yield_now().await;                  // Leaf: give the others a turn
///         return Ok(n as u64);
///     }
///     let left = fib(n - 1).await?;           // Left: delegating to fib(n - 1)
///     let right = fib(n - 2).await?;          // Right: delegating to fib(n - 2)
///     left.checked_add(right).ok_or(overflow)
/// }
/// ```
pub struct Fib {
    scheduler: Scheduler,
    n: u32,
    state: FibState,
}

enum FibState {
    /// Created, not resumed yet.
    Start,
    /// A leaf (n < 2) parked on its `yield_now` future.
    Leaf,
    /// Delegating to `fib(n - 1)`.
    Left(Box<Fib>),
    /// Delegating to `fib(n - 2)`, with the left value kept for the sum.
    Right { left: u64, child: Box<Fib> },
    /// Completed.
    Done,
}
// ANCHOR_END: fib

impl Fib {
    /// The coroutine for `fib(n)`.
    pub fn new(scheduler: &Scheduler, n: u32) -> Fib {
        Fib { scheduler: scheduler.clone(), n, state: FibState::Start }
    }

    fn child(&self, n: u32) -> Box<Fib> {
        Box::new(Fib::new(&self.scheduler, n))
    }
}

// ANCHOR: fib_resume
impl Coroutine for Fib {
    type Output = anyhow::Result<u64>;

    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        if let Err(err) = sent {
            self.state = FibState::Done;
            return Step::Complete(Err(err.into()));
        }
        // `sent` now only matters to the child we delegate to; each arm passes it on (or the
        // fresh `Ok(())` a new child starts with).
        let mut sent: Sent = Ok(());
        loop {
            match std::mem::replace(&mut self.state, FibState::Done) {
                // Start -> Leaf (yield once) or -> Left (start the first child).
                FibState::Start if self.n < 2 => {
                    self.state = FibState::Leaf;
                    return Step::Yielded(AnyFuture::new(&self.scheduler.yield_now()));
                }
                FibState::Start => self.state = FibState::Left(self.child(self.n - 1)),
                // Leaf -> Done: the value of a leaf is n itself.
                FibState::Leaf => return Step::Complete(Ok(u64::from(self.n))),
                // Left: run the child one step; pass its yield up, or keep its value and go on.
                FibState::Left(mut child) => match child.resume(std::mem::replace(&mut sent, Ok(()))) {
                    Step::Yielded(future) => {
                        self.state = FibState::Left(child);
                        return Step::Yielded(future);
                    }
                    Step::Complete(Err(err)) => return Step::Complete(Err(err)),
                    Step::Complete(Ok(left)) => {
                        self.state = FibState::Right { left, child: self.child(self.n - 2) };
                    }
                },
                // Right: the same with the second child, then the sum.
                FibState::Right { left, mut child } => {
                    match child.resume(std::mem::replace(&mut sent, Ok(()))) {
                        Step::Yielded(future) => {
                            self.state = FibState::Right { left, child };
                            return Step::Yielded(future);
                        }
                        Step::Complete(Err(err)) => return Step::Complete(Err(err)),
                        Step::Complete(Ok(right)) => {
                            return Step::Complete(
                                left.checked_add(right)
                                    .ok_or_else(|| anyhow!("fib({}) overflows u64", self.n)),
                            );
                        }
                    }
                }
                FibState::Done => {
                    return Step::Complete(Err(anyhow!("fib coroutine resumed after it completed")));
                }
            }
        }
    }

    fn state(&self) -> &'static str {
        match self.state {
            FibState::Start => "Start",
            FibState::Leaf => "Leaf",
            FibState::Left(_) => "Left",
            FibState::Right { .. } => "Right",
            FibState::Done => "Done",
        }
    }

    fn state_path(&self) -> String {
        match &self.state {
            FibState::Left(child) | FibState::Right { child, .. } => {
                format!("{} > {}", self.state(), child.state_path())
            }
            _ => self.state().to_string(),
        }
    }
}
// ANCHOR_END: fib_resume

/// The largest `n` whose fib(n) fits in a u64: fib(93) = 12200160415121876738, fib(94) does not.
///
/// `stage4-fib` refuses a larger N as a usage error. Without that check a huge N would nest
/// `Left` children N deep before the first step (one `resume` frame each: the stack overflows
/// and the process dies), and a merely large one would run for ever before it reported the
/// overflow. Even below the bound the work grows like fib(N) itself: 30 takes a second.
pub const MAX_N: u32 = 93;

/// fib(n) by a plain loop, to check the coroutines against; None if it does not fit a u64.
pub fn fib_iterative(n: u32) -> Option<u64> {
    // u128 so that computing one term ahead cannot overflow before the answer does.
    let (mut a, mut b) = (0u128, 1u128);
    for _ in 0..n {
        (a, b) = (b, a.checked_add(b)?);
    }
    u64::try_from(a).ok()
}
