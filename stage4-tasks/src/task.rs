//! `Task`: the object that drives one coroutine (the 500 Lines crawler's `Task` and its `step`).
//!
//! A coroutine cannot run itself: something must call `resume`, and call it again when the
//! future it yielded is done. A task does exactly that, and nothing else:
//!
//! * [`Task::step`] resumes the coroutine once;
//! * if the coroutine yielded a future, the task adds *its own `step`* as that future's
//!   done-callback, and returns: the task is now parked inside the future's callback list, and
//!   nothing in the program points at it except that future;
//! * when the coroutine completes, the task sets its own result future (a stage 3 `Future`),
//!   so other code (or other tasks) can wait for the task like for anything else.
//!
//! asyncio's `Task` keeps a reference to its loop. Ours needs only two numbers from the
//! scheduler (steps taken, tasks alive), so it holds a [`TaskCounts`] that the scheduler shares
//! with every task, not the scheduler itself: the scheduler knows tasks, tasks do not know the
//! scheduler, and the files depend one way (`scheduler.rs` -> `task.rs`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use stage2_select_callbacks::trace;
use stage3_futures::Future;

use crate::coroutine::{Coroutine, Sent, Step};

// ANCHOR: task_counts
/// The two counters a scheduler and all its tasks share: tasks still alive (the scheduler's
/// `run` stops at zero) and steps taken, all tasks together.
#[derive(Debug, Default)]
pub struct TaskCounts {
    alive: Cell<usize>,
    steps: Cell<u64>,
}
// ANCHOR_END: task_counts

impl TaskCounts {
    /// Tasks spawned and not finished yet.
    pub fn alive(&self) -> usize {
        self.alive.get()
    }

    /// Task steps taken so far, all tasks together.
    pub fn steps(&self) -> u64 {
        self.steps.get()
    }

    /// One more task is alive (the scheduler calls this when it spawns one).
    pub(crate) fn spawned(&self) {
        self.alive.set(self.alive.get() + 1);
    }

    fn stepped(&self) {
        self.steps.set(self.steps.get() + 1);
    }

    fn finished(&self) {
        self.alive.set(self.alive.get() - 1);
    }
}

// ANCHOR: task
/// One coroutine being driven, and the future of its result.
pub struct Task<C, T> {
    /// Number given by the scheduler, for `TRACE=1`.
    id: usize,
    /// What it does ("GET /3"), for `TRACE=1`.
    name: String,
    coroutine: RefCell<C>,
    /// Set once, when the coroutine completes (its value) or fails (its error).
    result: Future<T>,
    /// How many times `step` has run.
    steps: Cell<u64>,
    /// Shared with the scheduler and every other task: `step` counts itself there, and says
    /// when the task is finished.
    counts: Rc<TaskCounts>,
}
// ANCHOR_END: task

/// A coroutine's output is `anyhow::Result<T>`: an `Err` makes the task's future failed, so a
/// failing coroutine ends only its own task.
impl<C, T> Task<C, T>
where
    C: Coroutine<Output = anyhow::Result<T>> + 'static,
    T: 'static,
{
    /// A task for `coroutine` whose outcome will be `result`. Use
    /// [`Scheduler::spawn`](crate::scheduler::Scheduler::spawn).
    pub(crate) fn new(
        counts: &Rc<TaskCounts>,
        id: usize,
        name: String,
        coroutine: C,
        result: Future<T>,
    ) -> Rc<Task<C, T>> {
        Rc::new(Task {
            id,
            name,
            coroutine: RefCell::new(coroutine),
            result,
            steps: Cell::new(0),
            counts: Rc::clone(counts),
        })
    }

    // ANCHOR: step
    /// Resumes the coroutine once with `sent`, then parks the task on the future it yielded
    /// or finishes the task.
    pub fn step(self: Rc<Self>, sent: Sent) {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        self.counts.stepped();
        let before = if trace::enabled() { self.coroutine.borrow().state_path() } else { String::new() };
        // The borrow lasts only for this call: the coroutine may spawn other tasks, which is
        // fine (they are scheduled, not run), but it can never reach back into its own task.
        let step = self.coroutine.borrow_mut().resume(sent);
        let after = if trace::enabled() { self.coroutine.borrow().state_path() } else { String::new() };
        match step {
            Step::Yielded(future) => {
                trace!(
                    "task {} ({}) step {n}: {before} -> {after}, yields {}",
                    self.id,
                    self.name,
                    future.name()
                );
                // "f.callbacks.append(self.step)": when the future is done, step again.
                let task = Rc::clone(&self);
                future.add_done_callback(move |sent| task.step(sent));
            }
            Step::Complete(outcome) => {
                trace!(
                    "task {} ({}) step {n}: {before} -> {after}, {}",
                    self.id,
                    self.name,
                    if outcome.is_ok() { "complete" } else { "failed" }
                );
                // A cancelled task result refuses the value; nobody wants it then.
                let _ = match outcome {
                    Ok(value) => self.result.set_result(value),
                    Err(err) => self.result.set_exception(err),
                };
                self.counts.finished();
            }
        }
    }
    // ANCHOR_END: step
}
