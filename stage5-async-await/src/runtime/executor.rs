//! The executor: a ready queue of task ids, a slab of tasks, and `block_on`, the loop that
//! ties them to the reactor and the timer heap. One runtime per thread: `block_on` makes it
//! the thread's *current* runtime, which is what the free functions ([`spawn`], `sleep`,
//! `TcpStream::connect`...) use. Stage 6 runs one of these per worker thread.
//!
//! It is the smallest executor (`minimal_executor.rs`) grown by one thing per page of the
//! chapter: a slab of tasks and a `JoinHandle` (`task.rs`), a waker that is never lost
//! (`waker.rs`), one reactor for every fd (`reactor.rs`), the timer heap (`timers.rs`), and
//! the remote queue for wakes from other threads (`remote.rs`). Everything here depends on
//! those files; none of them depends on this one.
//!
//! asyncio's `base_events.py` runs `run_until_complete -> run_forever -> _run_once`. Our
//! [`Runtime::block_on`] is `run_until_complete`, and `Core::run_once` follows `_run_once`
//! step by step: compute the selector timeout from the ready queue and the timer heap,
//! select, move due timers to ready, then run what was ready when the iteration began.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use stage2_select_callbacks::selector::{Backend, Selector};
use stage2_select_callbacks::trace;

use crate::runtime::reactor::Reactor;
use crate::runtime::remote::Remote;
use crate::runtime::slab::{Key, Slab};
use crate::runtime::task::{self, JoinHandle, Runnable};
use crate::runtime::timers::{TimerEntry, Timers};
use crate::runtime::waker::{Schedule, TaskWaker};

/// Ready-queue id of `block_on`'s own future (never a slab key: index u32::MAX).
const MAIN_ID: u64 = u32::MAX as u64;

fn fmt_id(id: u64) -> String {
    if id == MAIN_ID { "main".to_string() } else { format!("#{}", id as u32) }
}

// ANCHOR: scheduler
/// The [`Schedule`] handle every task of a runtime is given at spawn: it puts a woken task's
/// id on the ready queue directly when called on the thread that is running that runtime,
/// and through the [`Remote`] queue + wake fd from anywhere else.
#[derive(Clone)]
pub(crate) struct Scheduler {
    remote: Arc<Remote>,
}

impl Schedule for Scheduler {
    fn schedule(&self, id: u64) {
        let local = CURRENT
            .try_with(|current| match &*current.borrow() {
                Some(core) if Arc::ptr_eq(&core.scheduler.remote, &self.remote) => {
                    core.ready.borrow_mut().push_back(id);
                    true
                }
                _ => false,
            })
            .unwrap_or(false);
        if local {
            trace!("task {} woken", fmt_id(id));
        } else {
            trace!("task {} woken from another thread", fmt_id(id));
            self.remote.push(id);
        }
    }
}
// ANCHOR_END: scheduler

/// A callback queued by `call_soon` (or by a fired `call_later` timer).
pub(crate) struct Callback {
    pub(crate) cancelled: Rc<Cell<bool>>,
    pub(crate) f: Box<dyn FnOnce()>,
}

// ANCHOR: core
/// Everything a runtime owns. Shared (as `Rc`) by the runtime and by the timers and
/// handles that must find it again (`Sleep`, `call_later`'s `Handle`).
pub(crate) struct Core {
    scheduler: Scheduler,
    tasks: RefCell<Slab<Rc<dyn Runnable>>>,
    ready: RefCell<VecDeque<u64>>,
    callbacks: RefCell<VecDeque<Callback>>,
    /// Shared with every registered I/O object, which deregisters itself when dropped.
    pub(crate) reactor: Rc<Reactor>,
    pub(crate) timers: RefCell<Timers<Callback>>,
    /// The clock as read once per iteration, right after the selector returned (step 3 of
    /// `run_once` needs it for the timers anyway); see `iteration_time`.
    pub(crate) now: Cell<Instant>,
}
// ANCHOR_END: core

thread_local! {
    /// The runtime whose `block_on` is running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// The current thread's runtime. Panics with a clear message outside `block_on`.
pub(crate) fn current() -> Rc<Core> {
    try_current().expect("no stage5 runtime on this thread: call this inside Runtime::block_on")
}

/// The current thread's runtime, if `block_on` (or the runtime's `Drop`) is running here.
pub(crate) fn try_current() -> Option<Rc<Core>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Sets CURRENT for the duration of a `block_on`, restoring the previous value after.
struct Enter {
    previous: Option<Rc<Core>>,
}

impl Enter {
    fn new(core: &Rc<Core>) -> Enter {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(core.clone()));
        if let Some(p) = &previous {
            if Rc::ptr_eq(p, core) {
                CURRENT.with(|c| *c.borrow_mut() = previous);
                panic!("block_on called from inside the same runtime (a task cannot block its own loop)");
            }
        }
        Enter { previous }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

// ANCHOR: runtime
/// A single-threaded runtime: executor + reactor + timers. Create one per thread.
pub struct Runtime {
    core: Rc<Core>,
}

impl Runtime {
    /// Creates the selector (epoll, or poll(2) with `SELECTOR=poll`), the wake fd, the queues.
    pub fn new() -> io::Result<Runtime> {
        Runtime::with_selector(Selector::new()?)
    }

    /// A runtime on the given selector backend, whatever `SELECTOR` says (tests run on both).
    pub fn with_backend(backend: Backend) -> io::Result<Runtime> {
        Runtime::with_selector(Selector::with_backend(backend)?)
    }

    fn with_selector(selector: Selector) -> io::Result<Runtime> {
        let remote = Arc::new(Remote::new()?);
        let reactor = Reactor::new(selector, remote.wake_fd())?;
        Ok(Runtime {
            core: Rc::new(Core {
                scheduler: Scheduler { remote },
                tasks: RefCell::new(Slab::default()),
                ready: RefCell::new(VecDeque::new()),
                callbacks: RefCell::new(VecDeque::new()),
                reactor: Rc::new(reactor),
                timers: RefCell::new(Timers::default()),
                now: Cell::new(Instant::now()),
            }),
        })
    }

    /// asyncio's `run_until_complete`: runs the loop until `future` completes, and returns
    /// its output. Spawned tasks run meanwhile; those still pending when it returns stay
    /// in the runtime (a later `block_on` continues them; dropping the runtime cancels them).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = Enter::new(&self.core);
        let core = &self.core;
        let mut future = pin!(future);
        core.now.set(Instant::now());
        let main = Arc::new(TaskWaker::new(MAIN_ID, core.scheduler.clone()));
        let waker = Waker::from(main.clone());
        core.ready.borrow_mut().push_back(MAIN_ID);
        loop {
            if let Some(output) = core.run_once(&main, &waker, future.as_mut()) {
                return output;
            }
        }
    }

    /// Spawns a task on this runtime (it runs during `block_on`). See [`spawn`].
    pub fn spawn<F: Future + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        self.core.spawn(future)
    }
}

/// Convenience: a fresh [`Runtime`] running `future` to completion (panics if the runtime
/// cannot be created, e.g. out of fds).
pub fn run<F: Future>(future: F) -> F::Output {
    Runtime::new().expect("cannot create the stage5 runtime").block_on(future)
}
// ANCHOR_END: runtime

impl Drop for Runtime {
    fn drop(&mut self) {
        // Tasks hold Rc<Core> (through timers and handles): drop them explicitly, or the
        // cycle Core -> task -> Sleep -> Core would leak them and their fds. Dropping a
        // future may wake or even spawn, so repeat until nothing is left.
        let _enter = Enter::new(&self.core);
        loop {
            let tasks = self.core.tasks.borrow_mut().take_all();
            let callbacks: Vec<Callback> = self.core.callbacks.borrow_mut().drain(..).collect();
            let timers = self.core.timers.borrow_mut().take_all();
            if tasks.is_empty() && callbacks.is_empty() && timers.is_empty() {
                break;
            }
            for t in &tasks {
                t.shutdown();
            }
            drop((tasks, callbacks, timers));
        }
    }
}

impl Core {
    // ANCHOR: spawn
    pub(crate) fn spawn<F: Future + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        let mut tasks = self.tasks.borrow_mut();
        let id = tasks.next_key().to_u64();
        let (runnable, handle) = task::spawn(id, future, self.scheduler.clone());
        let key = tasks.insert(runnable);
        debug_assert_eq!(key.to_u64(), id);
        drop(tasks);
        self.ready.borrow_mut().push_back(id);
        trace!("task {} spawned", fmt_id(id));
        handle
    }
    // ANCHOR_END: spawn

    // ANCHOR: run_once
    /// One loop iteration, in the order of asyncio's `_run_once`.
    fn run_once<F: Future>(
        &self,
        main: &TaskWaker<Scheduler>,
        main_waker: &Waker,
        mut future: Pin<&mut F>,
    ) -> Option<F::Output> {
        // 1. How long may we sleep? Not at all if something is ready; until the earliest
        //    timer otherwise; forever if there is neither (only I/O or another thread can
        //    wake us then).
        let timeout = if !self.ready.borrow().is_empty() || !self.callbacks.borrow().is_empty() {
            Some(Duration::ZERO)
        } else {
            self.timers.borrow_mut().next_deadline().map(|deadline| {
                let left = deadline.saturating_duration_since(Instant::now());
                // Round up to the selector's millisecond resolution so we never wake a
                // hair early and spin until the deadline (a deadline centuries away is
                // capped, not truncated: we just wake up then and look again).
                let ms = left.as_nanos().div_ceil(1_000_000);
                Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
            })
        };

        // 2. Select, and turn readiness into wakes (the reactor).
        let mut asleep_since = None;
        if timeout != Some(Duration::ZERO) {
            match timeout {
                Some(t) => trace!("select: nothing ready, sleeping for at most {t:?}"),
                None => trace!("select: nothing ready, no timer, sleeping until an fd is ready"),
            }
            // Only look at the clock when someone will read the answer (TRACE=1, --timeline).
            asleep_since = trace::enabled().then(Instant::now);
        }
        let wake_fd_reported = match self.reactor.turn(timeout) {
            Ok(reported) => reported,
            Err(e) => panic!("selector failed: {e}"),
        };
        if let Some(since) = asleep_since {
            trace!("select: woke after {:.1} ms", since.elapsed().as_secs_f64() * 1000.0);
        }
        //    Wakes that other threads left for us since the last iteration.
        let remote = self.scheduler.remote.take(wake_fd_reported);
        self.ready.borrow_mut().extend(remote);

        // 3. Due timers: wake their tasks, queue their callbacks.
        let now = Instant::now();
        self.now.set(now);
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                Some(TimerEntry::Wake(waker)) => {
                    trace!("timer fired");
                    waker.wake();
                }
                Some(TimerEntry::Call(callback)) => {
                    trace!("timer fired (callback)");
                    self.callbacks.borrow_mut().push_back(callback);
                }
                None => break,
            }
        }

        // 4. Run what is ready *now*; whatever these polls wake waits for the next
        //    iteration, so a task that keeps waking itself cannot starve the selector.
        let ncallbacks = self.callbacks.borrow().len();
        for _ in 0..ncallbacks {
            let Some(cb) = self.callbacks.borrow_mut().pop_front() else { break };
            if !cb.cancelled.get() {
                trace!("callback run");
                if catch_unwind(AssertUnwindSafe(cb.f)).is_err() {
                    eprintln!("stage5: a call_soon/call_later callback panicked; the loop goes on");
                }
            }
        }
        let ntasks = self.ready.borrow().len();
        for _ in 0..ntasks {
            let Some(id) = self.ready.borrow_mut().pop_front() else { break };
            if id == MAIN_ID {
                main.dequeued();
                trace!("task main polled");
                let mut cx = Context::from_waker(main_waker);
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    trace!("task main completed");
                    return Some(output);
                }
            } else {
                self.run_task(id);
            }
        }
        None
    }
    // ANCHOR_END: run_once

    fn run_task(&self, id: u64) {
        let key = Key::from_u64(id);
        // Clone the Rc out so the slab is not borrowed while the task runs (it may spawn).
        let Some(task) = self.tasks.borrow().get(key).cloned() else {
            return; // a stale id: the task finished after this wake was queued
        };
        trace!("task {} polled", fmt_id(id));
        if task.run() {
            let removed = self.tasks.borrow_mut().remove(key);
            trace!("task {} completed", fmt_id(id));
            drop(removed);
        }
    }

    /// Queues a `call_soon` callback for the next iteration.
    pub(crate) fn push_callback(&self, cb: Callback) {
        self.callbacks.borrow_mut().push_back(cb);
    }
}

/// Spawns a task on the current thread's runtime and returns its [`JoinHandle`]. The
/// future need not be `Send`: it never leaves this thread. Panics outside `block_on`.
pub fn spawn<F: Future + 'static>(future: F) -> JoinHandle<F::Output> {
    current().spawn(future)
}

/// Lets every other ready task run before this one continues (it goes to the back of the
/// FIFO ready queue).
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// The fds the current runtime's reactor watches right now, in no particular order (the
/// runtime's own wake fd is not among them). For tests and the curious: after a socket is
/// dropped its fd is gone from this list before the fd is closed. Panics outside `block_on`.
pub fn registered_fds() -> Vec<RawFd> {
    current().reactor.fds()
}

/// How many wakers wait on `fd` in the current runtime's reactor, reads and writes together.
/// For tests and the curious: a waiting I/O future that is dropped takes its waker out, so
/// this goes back to 0 once nobody waits. Panics outside `block_on`.
pub fn waiters_on(fd: RawFd) -> usize {
    current().reactor.waiters_on(fd)
}
