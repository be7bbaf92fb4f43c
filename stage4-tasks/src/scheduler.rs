//! The `Scheduler`: spawns tasks and runs the loop until every task is done (Python Cookbook recipe 12.12).
//!
//! Python Cookbook recipe 12.12's scheduler has a ready queue of tasks and a `select()` over the sockets they
//! wait on. Ours has the same two parts, taken from stage 3: the ready queue is the
//! [`EventLoop`]'s `call_soon` queue (a task step is one entry in it), and the selector is the
//! loop's stage 2 `Selector`, which resolves the futures tasks are parked on. What the
//! scheduler adds is the bookkeeping of tasks: numbering them, counting the ones still alive,
//! and knowing when to stop.

use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;

use anyhow::anyhow;
use stage2_select_callbacks::selector::Selector;
use stage2_select_callbacks::trace;
use stage3_futures::{EventLoop, Future};

use crate::coroutine::Coroutine;
use crate::task::{Task, TaskCounts};

// ANCHOR: scheduler
/// Runs tasks on one thread. Clone it freely (coroutines keep a clone to wait on sockets and
/// to spawn more tasks); clones share the same scheduler.
#[derive(Clone)]
pub struct Scheduler {
    inner: Rc<Inner>,
}

struct Inner {
    /// Ready queue + selector, from stage 3.
    lp: EventLoop,
    /// Tasks alive (`run` stops when none is left) and steps taken, shared with every task.
    counts: Rc<TaskCounts>,
    next_id: Cell<usize>,
}
// ANCHOR_END: scheduler

impl Scheduler {
    /// A scheduler over the platform's default selector.
    pub fn new() -> io::Result<Scheduler> {
        Ok(Scheduler::with_loop(EventLoop::new()?))
    }

    /// A scheduler over the given selector (tests run on both backends).
    pub fn with_selector(selector: Selector) -> Scheduler {
        Scheduler::with_loop(EventLoop::with_selector(selector))
    }

    fn with_loop(lp: EventLoop) -> Scheduler {
        Scheduler { inner: Rc::new(Inner { lp, counts: Rc::default(), next_id: Cell::new(0) }) }
    }

    /// The stage 3 loop underneath.
    pub fn event_loop(&self) -> &EventLoop {
        &self.inner.lp
    }

    // ANCHOR: spawn
    /// Wraps `coroutine` in a [`Task`] and schedules its first step; returns the future of the
    /// task's result. Works from inside a running task too: the first step is queued with
    /// `call_soon`, never run inline, so the spawning task finishes its own step first.
    pub fn spawn<C, T>(&self, name: impl Into<String>, coroutine: C) -> Future<T>
    where
        C: Coroutine<Output = anyhow::Result<T>> + 'static,
        T: 'static,
    {
        let id = self.inner.next_id.get() + 1;
        self.inner.next_id.set(id);
        self.inner.counts.spawned();
        let name = name.into();
        trace!("scheduler: spawn task {id} ({name}), {} alive", self.alive());
        let result = self.inner.lp.create_future(format!("task {id} {name}"));
        let task = Task::new(&self.inner.counts, id, name, coroutine, result.clone());
        // Python's Task.__init__: loop.call_soon(self._step). The first resume gets Ok(()).
        self.inner.lp.call_soon_named(&format!("first step of task {id}"), move || task.step(Ok(())));
        result
    }
    // ANCHOR_END: spawn

    // ANCHOR: run
    /// Runs until every spawned task (including tasks spawned meanwhile) is done, and the
    /// callbacks their results scheduled have run.
    ///
    /// If tasks are left but nothing can wake them (no callback queued, no fd watched), they
    /// wait on futures nobody will resolve: that is reported instead of sleeping forever.
    pub fn run(&self) -> anyhow::Result<()> {
        while self.alive() > 0 || self.inner.lp.ready_len() > 0 {
            if !self.inner.lp.has_work() {
                // Tasks are alive, yet nothing is queued and no fd is watched.
                return Err(anyhow!(
                    "{} task(s) wait for futures that nothing will ever resolve",
                    self.alive()
                ));
            }
            self.inner.lp.run_once()?;
        }
        trace!("scheduler: every task is done after {} steps", self.steps());
        Ok(())
    }
    // ANCHOR_END: run

    /// Runs until `future` is done (other tasks run meanwhile) and returns its value.
    pub fn run_until_complete<T: 'static>(&self, future: &Future<T>) -> anyhow::Result<T> {
        self.inner.lp.run_until_complete(future)
    }

    /// Tasks spawned and not yet finished.
    pub fn alive(&self) -> usize {
        self.inner.counts.alive()
    }

    /// Task steps taken so far, all tasks together.
    pub fn steps(&self) -> u64 {
        self.inner.counts.steps()
    }

    /// A future that resolves when `fd` is readable (see stage 3's `EventLoop::wait_readable`).
    pub fn wait_readable(&self, fd: RawFd) -> Future<()> {
        self.inner.lp.wait_readable(fd)
    }

    /// A future that resolves when `fd` is writable.
    pub fn wait_writable(&self, fd: RawFd) -> Future<()> {
        self.inner.lp.wait_writable(fd)
    }

    // ANCHOR: yield_now
    /// A future that is already done. Yielding it gives the other tasks a turn: the task's
    /// next step goes to the back of the ready queue (asyncio's `Task` does `call_soon(self.__step)`).
    pub fn yield_now(&self) -> Future<()> {
        let future = self.inner.lp.create_future("yield_now");
        let _ = future.set_result(());
        future
    }
    // ANCHOR_END: yield_now
}
