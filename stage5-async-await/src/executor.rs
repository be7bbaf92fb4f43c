//! The executor: a ready queue of task ids, a slab of tasks, and `block_on`, the loop that
//! ties them to the reactor and the timer heap. One runtime per thread: `block_on` makes it
//! the thread's *current* runtime, which is what the free functions ([`spawn`], `sleep`,
//! `TcpStream::connect`...) use. Stage 6 runs one of these per worker thread.
//!
//! Seed 002 traced asyncio's `run_until_complete -> run_forever -> _run_once`. Our
//! [`Runtime::block_on`] is `run_until_complete`, and `Core::run_once` follows `_run_once`
//! step by step: compute the selector timeout from the ready queue and the timer heap,
//! select, move due timers to ready, then run what was ready when the iteration began.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use stage2_select_callbacks::selector::{Backend, Selector};
use stage2_select_callbacks::trace;

use crate::reactor::Reactor;
use crate::slab::{Key, Slab};
use crate::sys::WakeFd;
use crate::task::{JoinHandle, Runnable, Task, TaskWaker};
use crate::time::Timers;

/// Ready-queue id of `block_on`'s own future (never a slab key: index u32::MAX).
const MAIN_ID: u64 = u32::MAX as u64;

// ANCHOR: shared
/// The part of a runtime other threads may touch: wakes that arrive from a thread that is
/// not running this loop are pushed here, then the wake fd is poked so a loop asleep in the
/// selector returns at once.
pub(crate) struct Shared {
    id: u64,
    remote: Mutex<Vec<u64>>,
    pub(crate) wake_fd: WakeFd,
}

impl Shared {
    fn push_remote(&self, task: u64) {
        let was_empty = {
            let mut q = self.remote.lock().unwrap_or_else(|e| e.into_inner());
            q.push(task);
            q.len() == 1
        };
        // Only the push that makes the queue non-empty needs to poke the fd: the loop drains
        // the whole queue *after* it resets the fd, so later pushes are picked up by that
        // same drain, or they find the queue empty again and poke it themselves.
        if was_empty {
            self.wake_fd.notify();
        }
    }
}

/// Puts task `id` on its runtime's ready queue: directly when called on the thread that is
/// running that runtime, through [`Shared`]'s remote queue + wake fd from anywhere else.
pub(crate) fn schedule(shared: &Arc<Shared>, id: u64) {
    let local = CURRENT
        .try_with(|current| match &*current.borrow() {
            Some(core) if core.shared.id == shared.id => {
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
        shared.push_remote(id);
    }
}
// ANCHOR_END: shared

fn fmt_id(id: u64) -> String {
    if id == MAIN_ID { "main".to_string() } else { format!("#{}", id as u32) }
}

/// A callback queued by [`call_soon`] (or by a fired [`call_later`] timer).
pub(crate) struct Callback {
    pub(crate) cancelled: Rc<Cell<bool>>,
    pub(crate) f: Box<dyn FnOnce()>,
}

/// Everything a runtime owns. Shared (as `Rc`) by the runtime, by I/O sources and timers
/// that must unregister themselves when dropped.
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    tasks: RefCell<Slab<Rc<dyn Runnable>>>,
    ready: RefCell<VecDeque<u64>>,
    callbacks: RefCell<VecDeque<Callback>>,
    pub(crate) reactor: Reactor,
    pub(crate) timers: RefCell<Timers>,
    /// The clock as read once per iteration, right after the selector returned (step 3 of
    /// `run_once` needs it for the timers anyway); see [`iteration_time`].
    now: Cell<Instant>,
}

thread_local! {
    /// The runtime whose `block_on` is running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// The current thread's runtime. Panics with a clear message outside `block_on`.
pub(crate) fn current() -> Rc<Core> {
    try_current().expect("no stage5 runtime on this thread: call this inside Runtime::block_on")
}

fn try_current() -> Option<Rc<Core>> {
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
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            remote: Mutex::new(Vec::new()),
            wake_fd: WakeFd::new()?,
        });
        let reactor = Reactor::new(selector, shared.wake_fd.fd())?;
        Ok(Runtime {
            core: Rc::new(Core {
                shared,
                tasks: RefCell::new(Slab::default()),
                ready: RefCell::new(VecDeque::new()),
                callbacks: RefCell::new(VecDeque::new()),
                reactor,
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
        let main =
            Arc::new(TaskWaker { id: MAIN_ID, queued: AtomicBool::new(true), shared: core.shared.clone() });
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
        // Tasks hold Rc<Core> (through sockets and timers): drop them explicitly, or the
        // cycle Core -> task -> socket -> Core would leak them and their fds. Dropping a
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
    pub(crate) fn spawn<F: Future + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        let mut tasks = self.tasks.borrow_mut();
        let id = tasks.next_key().to_u64();
        let header = Arc::new(TaskWaker { id, queued: AtomicBool::new(true), shared: self.shared.clone() });
        let task = Rc::new(Task::new(header, future));
        let key = tasks.insert(task.clone());
        debug_assert_eq!(key.to_u64(), id);
        drop(tasks);
        self.ready.borrow_mut().push_back(id);
        trace!("task {} spawned", fmt_id(id));
        JoinHandle::new(task)
    }

    // ANCHOR: run_once
    /// One loop iteration, in the order of asyncio's `_run_once`.
    fn run_once<F: Future>(
        &self,
        main: &TaskWaker,
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
                // hair early and spin until the deadline.
                let ms = left.as_nanos().div_ceil(1_000_000) as u64;
                Duration::from_millis(ms)
            })
        };

        // 2. Select, and turn readiness into wakes (the reactor).
        if timeout != Some(Duration::ZERO) {
            match timeout {
                Some(t) => trace!("select: nothing ready, sleeping for at most {t:?}"),
                None => trace!("select: nothing ready, no timer, sleeping until an fd is ready"),
            }
        }
        if let Err(e) = self.reactor.turn(timeout, &self.shared.wake_fd) {
            panic!("selector failed: {e}");
        }
        //    Wakes that other threads left for us since the last iteration.
        let remote = std::mem::take(&mut *self.shared.remote.lock().unwrap_or_else(|e| e.into_inner()));
        self.ready.borrow_mut().extend(remote);

        // 3. Due timers: wake their tasks, queue their callbacks.
        let now = Instant::now();
        self.now.set(now);
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                Some(entry) => entry.fire(self),
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
                main.queued.store(false, Ordering::Release);
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

// ANCHOR: handles
/// A scheduled callback ([`call_soon`], [`call_later`], [`call_at`]); asyncio's
/// `Handle`/`TimerHandle`. [`Handle::cancel`] before it runs and it never runs.
pub struct Handle {
    cancelled: Rc<Cell<bool>>,
    timer: Option<Key>,
    core: Weak<Core>,
}

impl Handle {
    /// Cancels the callback. A timer's heap entry stays where it is and is skipped (at no
    /// cost beyond the pop) when its deadline comes: lazy deletion.
    pub fn cancel(&self) {
        self.cancelled.set(true);
        if let (Some(key), Some(core)) = (self.timer, self.core.upgrade()) {
            // Drop the callback only once the heap's borrow has ended: what it captured may
            // touch the timers when dropped (an armed Sleep disarms itself).
            let removed = core.timers.borrow_mut().remove(key);
            drop(removed);
        }
    }

    /// True once [`Handle::cancel`] was called.
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

/// Runs `f` on the loop's next iteration (asyncio's `call_soon`).
pub fn call_soon(f: impl FnOnce() + 'static) -> Handle {
    let core = current();
    let cancelled = Rc::new(Cell::new(false));
    core.push_callback(Callback { cancelled: cancelled.clone(), f: Box::new(f) });
    Handle { cancelled, timer: None, core: Rc::downgrade(&core) }
}

/// Runs `f` once `delay` has passed on the loop's clock (asyncio's `call_later`).
pub fn call_later(delay: Duration, f: impl FnOnce() + 'static) -> Handle {
    call_at(time() + delay, f)
}

/// Runs `f` at `when` on the loop's clock (asyncio's `call_at`).
pub fn call_at(when: Instant, f: impl FnOnce() + 'static) -> Handle {
    let core = current();
    let cancelled = Rc::new(Cell::new(false));
    let cb = Callback { cancelled: cancelled.clone(), f: Box::new(f) };
    let key = core.timers.borrow_mut().insert_callback(when, cb);
    Handle { cancelled, timer: Some(key), core: Rc::downgrade(&core) }
}

/// The loop's own clock (asyncio's `loop.time()`): monotonic, so deadlines never move when
/// someone changes the wall clock.
pub fn time() -> Instant {
    Instant::now()
}

/// The loop's clock as it read it when the current iteration began (just after the selector
/// returned), without reading it again. [`time`] reads the clock, which costs about as much as
/// parsing a small HTTP request on a virtual machine; this is a field load. It lags the real
/// time by however long the iteration has run so far (microseconds, unless a task hogs the
/// loop), so it suits deadlines of seconds computed over and over, such as a server's idle
/// timeout per request, not the measurement of short durations. Panics outside `block_on`.
pub fn iteration_time() -> Instant {
    current().now.get()
}
// ANCHOR_END: handles
