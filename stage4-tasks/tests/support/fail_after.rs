//! A coroutine for tests that need a task to fail (`tests/tasks.rs` and the gather exercise
//! include this file).

use std::marker::PhantomData;

use anyhow::anyhow;
use stage4_tasks::{AnyFuture, Coroutine, Scheduler, Sent, Step};

/// Yields `turns` times, then fails with "boom".
pub struct FailAfter<T> {
    scheduler: Scheduler,
    turns: u32,
    output: PhantomData<T>,
}

impl<T> FailAfter<T> {
    /// A coroutine on `scheduler` that fails after yielding `turns` times.
    pub fn new(scheduler: &Scheduler, turns: u32) -> FailAfter<T> {
        FailAfter { scheduler: scheduler.clone(), turns, output: PhantomData }
    }
}

impl<T: 'static> Coroutine for FailAfter<T> {
    type Output = anyhow::Result<T>;
    fn resume(&mut self, _sent: Sent) -> Step<Self::Output> {
        if self.turns == 0 {
            return Step::Complete(Err(anyhow!("boom")));
        }
        self.turns -= 1;
        Step::Yielded(AnyFuture::new(&self.scheduler.yield_now()))
    }
    fn state(&self) -> &'static str {
        "Turning"
    }
}
