//! A task's waker: what `wake()` does for a task of our runtime.
//!
//! The smallest executor (`minimal_executor.rs`) woke its one future by setting a flag. A
//! runtime with many tasks must say *which* task to run again, from whatever thread `wake()`
//! is called on, and must never lose a wake nor queue a task twice. That is this file: a
//! task id, a "queued" flag, and the [`Schedule`] handle the task was given at spawn.
//!
//! This file knows nothing of the executor: the executor hands every task a `Schedule`
//! value (its own [`crate::runtime::executor::Scheduler`]), and the waker only calls it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Wake;

// ANCHOR: schedule
/// How a woken task gets back on a ready queue. The executor implements it; a task is given
/// one at spawn (smol's async-task takes a `schedule` closure the same way) and never needs
/// to know what is behind it. `Send + Sync`: a waker may be called from any thread.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Puts task `id` on its runtime's ready queue.
    fn schedule(&self, id: u64);
}
// ANCHOR_END: schedule

// ANCHOR: waker
/// What a task's `Waker` points at. It must be `Send + Sync` (a `Waker` may be cloned to any
/// thread), so it holds no `Rc`: only the task's id, a "queued" flag, and the handle that
/// schedules it.
pub(crate) struct TaskWaker<S> {
    /// Slab key of the task in its runtime (or `MAIN_ID` for `block_on`'s own future).
    id: u64,
    /// True while the id sits in a ready queue: a second `wake` before the task runs is a
    /// no-op, so a task is never queued twice. Cleared just *before* the task is polled, so
    /// a wake that happens during the poll (even from the task itself) queues it again.
    queued: AtomicBool,
    /// Where the id goes when the task is woken.
    schedule: S,
}

impl<S: Schedule> TaskWaker<S> {
    /// The waker of task `id`, which its spawner has just put on the ready queue (so it
    /// starts "queued": a wake before the first poll changes nothing).
    pub(crate) fn new(id: u64, schedule: S) -> TaskWaker<S> {
        TaskWaker { id, queued: AtomicBool::new(true), schedule }
    }

    /// The executor took the id off the ready queue and is about to poll the task: from
    /// now on a wake, even one from inside this very poll, queues it again.
    pub(crate) fn dequeued(&self) {
        self.queued.store(false, Ordering::Release);
    }

    /// The task is finished: later wakes become no-ops (it is never queued again).
    pub(crate) fn retire(&self) {
        self.queued.store(true, Ordering::Release);
    }
}

impl<S: Schedule> Wake for TaskWaker<S> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.schedule.schedule(self.id);
        }
    }
}
// ANCHOR_END: waker
