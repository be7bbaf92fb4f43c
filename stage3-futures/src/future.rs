//! `Future<T>`: an object that stands for a result that is not there yet.
//!
//! This is **not** `std::future::Future`. Nothing ever *polls* this one: it sits passively until
//! somebody *pushes* a result into it with [`Future::set_result`] (or an error with
//! [`Future::set_exception`]), and then it schedules the callbacks that were waiting for it. It is
//! the object Python's `asyncio.Future` is, and the one the 500 Lines crawler introduces to replace the
//! callbacks that stage 2 stored in the selector: the selector now stores a *future*, and whoever
//! cares about the socket attaches a callback to that future.
//!
//! The handle is cheap to clone (`Rc<RefCell<..>>` inside): the code that will resolve the future
//! keeps one clone, the code waiting for it keeps another. It is single-threaded on purpose: the
//! whole loop runs on one thread, so there is nothing to lock.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use stage2_select_callbacks::trace;

// ANCHOR: ready_queue
/// A callback waiting in the ready queue, with the name of what scheduled it (for `TRACE=1`).
pub(crate) struct Handle {
    pub(crate) what: String,
    pub(crate) callback: Box<dyn FnOnce()>,
}

/// The loop's ready queue: callbacks to run on the next turn of the loop, first in first out.
///
/// Futures hold a clone of it so that `set_result` can *schedule* their callbacks instead of
/// calling them. The [`EventLoop`](crate::event_loop::EventLoop) owns the other end and drains it.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    queue: RefCell<VecDeque<Handle>>,
    next_future_id: std::cell::Cell<u64>,
}

impl ReadyQueue {
    /// Appends a callback; it runs after everything already queued.
    pub(crate) fn call_soon(&self, what: String, callback: Box<dyn FnOnce()>) {
        self.queue.borrow_mut().push_back(Handle { what, callback });
    }

    /// Takes the oldest callback out. The borrow ends before the caller runs it, so the callback
    /// is free to call `call_soon` itself.
    pub(crate) fn pop(&self) -> Option<Handle> {
        self.queue.borrow_mut().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    fn next_id(&self) -> u64 {
        let id = self.next_future_id.get() + 1;
        self.next_future_id.set(id);
        id
    }
}
// ANCHOR_END: ready_queue

// ANCHOR: error
/// Why a future has no value to give, or refused one.
#[derive(Debug, Clone)]
pub enum FutureError {
    /// `result()` was asked before the future was done (Python's `InvalidStateError`).
    Pending,
    /// The future was cancelled before anybody set its result.
    Cancelled,
    /// The future was done with an error (`set_exception`). `Arc` so every reader gets a copy.
    Failed(Arc<anyhow::Error>),
    /// The value was already moved out by [`Future::take_result`].
    Taken,
    /// `set_result`/`set_exception` on a future that is already done. The future keeps its
    /// first outcome: a second one is a bug in the caller, reported as a value, not a panic.
    AlreadyDone,
}

impl fmt::Display for FutureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FutureError::Pending => f.write_str("the future is not done yet"),
            FutureError::Cancelled => f.write_str("the future was cancelled"),
            // `{:#}` prints the whole anyhow chain ("connect to ...: Connection refused").
            FutureError::Failed(err) => write!(f, "{err:#}"),
            FutureError::Taken => f.write_str("the future's result was already taken"),
            FutureError::AlreadyDone => f.write_str("the future is already done"),
        }
    }
}

impl std::error::Error for FutureError {}
// ANCHOR_END: error

/// What a future holds.
enum State<T> {
    Pending,
    Finished(T),
    /// Finished, and the value was moved out by `take_result`.
    Taken,
    Failed(Arc<anyhow::Error>),
    Cancelled,
}

// ANCHOR: future
type DoneCallback<T> = Box<dyn FnOnce(&Future<T>)>;

/// A result that will be pushed in later; cloning gives another handle to the same future.
pub struct Future<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

struct Inner<T> {
    /// A number for `TRACE=1`, `fut#7`, unique per loop.
    id: u64,
    /// What the future stands for, for `TRACE=1` ("readable fd 7", "GET /3").
    label: String,
    state: State<T>,
    /// Run, in the order they were added, once the future is done.
    callbacks: Vec<DoneCallback<T>>,
    /// The loop's own clean-up, run (first) only if the future is cancelled.
    on_cancel: Option<DoneCallback<T>>,
    /// Where those callbacks go: the loop's ready queue.
    ready: Rc<ReadyQueue>,
}
// ANCHOR_END: future

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future { inner: Rc::clone(&self.inner) }
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Future({})", self.name())
    }
}

impl<T> Future<T> {
    /// `fut#7 (readable fd 5)`: how `TRACE=1` names this future.
    pub fn name(&self) -> String {
        let inner = self.inner.borrow();
        format!("fut#{} ({})", inner.id, inner.label)
    }

    /// Do these two handles point to the same future?
    pub fn same_as(&self, other: &Future<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T: 'static> Future<T> {
    /// A pending future whose callbacks will go through `ready` (use
    /// [`EventLoop::create_future`](crate::event_loop::EventLoop::create_future)).
    pub(crate) fn new(ready: &Rc<ReadyQueue>, label: String) -> Future<T> {
        let id = ready.next_id();
        trace!("future: fut#{id} ({label}) created");
        let inner = Inner {
            id,
            label,
            state: State::Pending,
            callbacks: Vec::new(),
            on_cancel: None,
            ready: Rc::clone(ready),
        };
        Future { inner: Rc::new(RefCell::new(inner)) }
    }

    // ANCHOR: set_result
    /// Finishes the future with `value` and schedules its callbacks on the loop's ready queue.
    ///
    /// The callbacks do **not** run here: `set_result` returns first, and they run on the loop's
    /// next turn (see the chapter for what goes wrong when they run inline). A future that is
    /// already done (finished, failed or cancelled) keeps its outcome and this returns
    /// [`FutureError::AlreadyDone`].
    pub fn set_result(&self, value: T) -> Result<(), FutureError> {
        self.finish(State::Finished(value))
    }

    /// Finishes the future with an error; readers of `result()` get [`FutureError::Failed`].
    pub fn set_exception(&self, error: anyhow::Error) -> Result<(), FutureError> {
        self.finish(State::Failed(Arc::new(error)))
    }

    fn finish(&self, outcome: State<T>) -> Result<(), FutureError> {
        let mut inner = self.inner.borrow_mut();
        if !matches!(inner.state, State::Pending) {
            trace!("future: fut#{} ({}) already done, second outcome refused", inner.id, inner.label);
            return Err(FutureError::AlreadyDone);
        }
        inner.state = outcome;
        let mut callbacks = std::mem::take(&mut inner.callbacks);
        if let Some(clean_up) = inner.on_cancel.take() {
            if matches!(inner.state, State::Cancelled) {
                callbacks.insert(0, clean_up);
            }
        }
        let ready = Rc::clone(&inner.ready);
        trace!(
            "future: fut#{} ({}) {}, {} callback(s) scheduled",
            inner.id,
            inner.label,
            describe(&inner.state),
            callbacks.len()
        );
        // Release the borrow before touching the queue: nothing below may see us half-updated.
        drop(inner);
        let count = callbacks.len();
        for (i, callback) in callbacks.into_iter().enumerate() {
            self.schedule(&ready, callback, i + 1, count);
        }
        Ok(())
    }

    /// Puts one done-callback on the ready queue, with a handle to this future as its argument.
    fn schedule(&self, ready: &ReadyQueue, callback: DoneCallback<T>, nth: usize, count: usize) {
        let me = self.clone();
        // The label is only for TRACE=1; skip the formatting when tracing is off.
        let what = if stage2_select_callbacks::trace::enabled() {
            format!("callback {nth}/{count} of {}", self.name())
        } else {
            String::new()
        };
        ready.call_soon(what, Box::new(move || callback(&me)));
    }
    // ANCHOR_END: set_result

    // ANCHOR: add_done_callback
    /// Runs `callback(&future)` once the future is done (finished, failed or cancelled).
    ///
    /// Callbacks run in the order they were added, each exactly once. A callback added to a
    /// future that is already done is scheduled at once: it still runs from the loop, never
    /// from inside this call, so the caller sees the same order of events either way.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + 'static) {
        let mut inner = self.inner.borrow_mut();
        if matches!(inner.state, State::Pending) {
            inner.callbacks.push(Box::new(callback));
            return;
        }
        let ready = Rc::clone(&inner.ready);
        drop(inner);
        self.schedule(&ready, Box::new(callback), 1, 1);
    }
    // ANCHOR_END: add_done_callback

    /// Sets what the loop must undo if the future is cancelled (forget the fd it watches).
    /// Unlike a done-callback, it costs nothing when the future resolves normally.
    pub(crate) fn on_cancel(&self, clean_up: impl FnOnce(&Future<T>) + 'static) {
        self.inner.borrow_mut().on_cancel = Some(Box::new(clean_up));
    }

    /// Is the future done: finished with a value, failed, or cancelled?
    pub fn done(&self) -> bool {
        !matches!(self.inner.borrow().state, State::Pending)
    }

    /// Was it cancelled?
    pub fn cancelled(&self) -> bool {
        matches!(self.inner.borrow().state, State::Cancelled)
    }

    /// Cancels a pending future: it becomes done, its callbacks are scheduled (they see
    /// `cancelled() == true`), and `result()` answers [`FutureError::Cancelled`].
    /// Returns false, changing nothing, if the future was already done.
    pub fn cancel(&self) -> bool {
        self.finish(State::Cancelled).is_ok()
    }

    /// `Ok(())` if the future finished with a value (still there or taken), otherwise why not:
    /// pending, cancelled or failed. Lets a waiter check the outcome without needing the value.
    pub fn outcome(&self) -> Result<(), FutureError> {
        match &self.inner.borrow().state {
            State::Finished(_) | State::Taken => Ok(()),
            State::Pending => Err(FutureError::Pending),
            State::Cancelled => Err(FutureError::Cancelled),
            State::Failed(err) => Err(FutureError::Failed(Arc::clone(err))),
        }
    }

    /// Moves the value out (for results that are not `Clone`, such as an HTTP response).
    /// A second call answers [`FutureError::Taken`].
    pub fn take_result(&self) -> Result<T, FutureError> {
        let mut inner = self.inner.borrow_mut();
        match std::mem::replace(&mut inner.state, State::Taken) {
            State::Finished(value) => Ok(value),
            other => {
                // Not a value: put the state back untouched and report it.
                inner.state = other;
                drop(inner);
                self.outcome().and(Err(FutureError::Taken))
            }
        }
    }
}

impl<T: Clone + 'static> Future<T> {
    /// The value (a clone of it), or why there is none: [`FutureError::Pending`],
    /// [`FutureError::Cancelled`], [`FutureError::Failed`] or [`FutureError::Taken`].
    pub fn result(&self) -> Result<T, FutureError> {
        match &self.inner.borrow().state {
            State::Finished(value) => Ok(value.clone()),
            State::Pending => Err(FutureError::Pending),
            State::Taken => Err(FutureError::Taken),
            State::Cancelled => Err(FutureError::Cancelled),
            State::Failed(err) => Err(FutureError::Failed(Arc::clone(err))),
        }
    }
}

fn describe<T>(state: &State<T>) -> &'static str {
    match state {
        State::Pending => "pending",
        State::Finished(_) | State::Taken => "resolved",
        State::Failed(_) => "failed",
        State::Cancelled => "cancelled",
    }
}
