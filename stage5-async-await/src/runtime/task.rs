//! A task: one spawned future, its waker, and the slot its output (or its panic, or its
//! cancellation) waits in until the [`JoinHandle`] takes it.
//!
//! This is stage 4's `Task` again, minus the hand-written state machine: `Task::step` was
//! "resume the coroutine, see what it yields"; here `Runnable::run` is "poll the future the
//! compiler generated, with a `Context` whose `Waker` re-queues us".
//!
//! A task knows nothing of the executor. `spawn` takes the future, the id the executor
//! chose for it and a `Schedule` handle, and gives back two views of one allocation: the
//! `Runnable` the executor keeps (it only ever asks "poll it once") and the [`JoinHandle`]
//! the caller keeps (typed by the output). smol's async-task splits a task the same way.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::runtime::waker::{Schedule, TaskWaker};

/// Why awaiting a [`JoinHandle`] gave no value.
pub enum JoinError {
    /// The task was aborted ([`JoinHandle::abort`]) or its runtime was dropped first.
    Cancelled,
    /// The task panicked; the payload is what `panic!` was given.
    Panicked(Box<dyn Any + Send + 'static>),
    /// A destructor panicked while the task's future was being dropped: most often when the
    /// task was cancelled (aborted, or its runtime dropped) and a value it held across an
    /// `.await` panicked in `Drop`. The payload is that panic's.
    PanickedOnDrop(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    /// True for [`JoinError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// True for [`JoinError::Panicked`] and [`JoinError::PanickedOnDrop`].
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_) | JoinError::PanickedOnDrop(_))
    }

    /// The panic message when it was a string (as `panic!("...")` makes), if any.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JoinError::Panicked(p) | JoinError::PanickedOnDrop(p) => {
                p.downcast_ref::<&str>().copied().or_else(|| p.downcast_ref::<String>().map(String::as_str))
            }
            JoinError::Cancelled => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("JoinError::Cancelled"),
            JoinError::Panicked(_) => write!(f, "JoinError::Panicked({:?})", self.panic_message()),
            JoinError::PanickedOnDrop(_) => {
                write!(f, "JoinError::PanickedOnDrop({:?})", self.panic_message())
            }
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task was cancelled"),
            JoinError::Panicked(_) => match self.panic_message() {
                Some(m) => write!(f, "task panicked: {m}"),
                None => f.write_str("task panicked"),
            },
            JoinError::PanickedOnDrop(_) => match self.panic_message() {
                Some(m) => write!(f, "task panicked while its future was being dropped: {m}"),
                None => f.write_str("task panicked while its future was being dropped"),
            },
        }
    }
}

impl std::error::Error for JoinError {}

enum Stage<F: Future> {
    Running(Pin<Box<F>>),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

// ANCHOR: task
/// One spawned future. Lives in the runtime's task slab (as `Rc<dyn Runnable>`) and in its
/// JoinHandle (as `Rc<dyn Joinable<T>>`): two views of the same allocation. `S` is the
/// schedule handle its waker calls (see [`Schedule`]).
struct Task<F: Future, S> {
    header: Arc<TaskWaker<S>>,
    /// Built once from `header`; every poll lends it to the `Context` (no clone per poll).
    waker: Waker,
    stage: RefCell<Stage<F>>,
    /// Who awaits the JoinHandle.
    join_waker: RefCell<Option<Waker>>,
    aborted: Cell<bool>,
    finished: Cell<bool>,
}

/// The executor's view of a task: "poll it once".
pub(crate) trait Runnable {
    /// Polls the future once (or cancels it if it was aborted). True when the task is done
    /// and can leave the slab.
    fn run(&self) -> bool;
    /// Drops the future without finishing it (runtime shutdown): destructors run, fds close.
    fn shutdown(&self);
}

/// Makes task `id` out of `future`: the executor keeps the [`Runnable`] (and has already
/// put, or is about to put, `id` on its ready queue), the caller gets the [`JoinHandle`].
/// `schedule` is how the task's waker puts it back on the queue later.
pub(crate) fn spawn<F, S>(id: u64, future: F, schedule: S) -> (Rc<dyn Runnable>, JoinHandle<F::Output>)
where
    F: Future + 'static,
    S: Schedule,
{
    let header = Arc::new(TaskWaker::new(id, schedule));
    let task = Rc::new(Task {
        waker: Waker::from(header.clone()),
        header,
        stage: RefCell::new(Stage::Running(Box::pin(future))),
        join_waker: RefCell::new(None),
        aborted: Cell::new(false),
        finished: Cell::new(false),
    });
    (task.clone(), JoinHandle::new(task))
}

impl<F: Future + 'static, S: Schedule> Task<F, S> {
    /// Stores the outcome, wakes the joiner. The future (if any) is dropped *after* the
    /// borrow ends, so a destructor that touches the runtime cannot trip over it.
    fn finish(&self, outcome: Result<F::Output, JoinError>) {
        let old = std::mem::replace(&mut *self.stage.borrow_mut(), Stage::Finished(outcome));
        self.finished.set(true);
        // Never queue a finished task again: later wakes become no-ops.
        self.header.retire();
        self.drop_future(old);
        let joiner = self.join_waker.borrow_mut().take();
        if let Some(w) = joiner {
            w.wake();
        }
    }
}

impl<F: Future + 'static, S: Schedule> Task<F, S> {
    // ANCHOR: drop_future
    /// Drops what the stage held before `finish` (the future, when it is cancelled). That
    /// runs the destructors of everything the future held across an `.await`: code we do not
    /// control, which may panic. A poll that panics is caught in `run`; a destructor that
    /// panics must be too, or an `abort` (or dropping the runtime) would unwind through the
    /// loop and take every other task down with it. The panic becomes the task's outcome,
    /// unless the task had already panicked (the first panic is the one worth reporting).
    fn drop_future(&self, old: Stage<F>) {
        let Err(payload) = catch_unwind(AssertUnwindSafe(|| drop(old))) else { return };
        let mut stage = self.stage.borrow_mut();
        if matches!(&*stage, Stage::Finished(Err(JoinError::Panicked(_)))) {
            return;
        }
        let replaced =
            std::mem::replace(&mut *stage, Stage::Finished(Err(JoinError::PanickedOnDrop(payload))));
        drop(stage);
        // What it replaces may be the future's output, whose own destructor may panic too.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(replaced)));
    }
    // ANCHOR_END: drop_future
}

impl<F: Future + 'static, S: Schedule> Runnable for Task<F, S> {
    fn run(&self) -> bool {
        if self.finished.get() {
            return true;
        }
        if self.aborted.get() {
            self.finish(Err(JoinError::Cancelled));
            return true;
        }
        // Clear the flag first: a wake from now on (even from inside this poll) re-queues us.
        self.header.dequeued();
        let mut cx = Context::from_waker(&self.waker);
        let polled = {
            let mut stage = self.stage.borrow_mut();
            let Stage::Running(future) = &mut *stage else { return true };
            // A panic inside the task must not unwind through the loop: catch it here and
            // hand it to whoever awaits the JoinHandle, like asyncio's set_exception.
            catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)))
        };
        match polled {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(value)) => {
                self.finish(Ok(value));
                true
            }
            Err(payload) => {
                self.finish(Err(JoinError::Panicked(payload)));
                true
            }
        }
    }

    fn shutdown(&self) {
        if !self.finished.get() {
            self.finish(Err(JoinError::Cancelled));
        }
    }
}
// ANCHOR_END: task

/// The JoinHandle's view of a task, typed by the output only.
trait Joinable<T> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;
    fn abort(&self);
    fn is_finished(&self) -> bool;
}

impl<F: Future + 'static, S: Schedule> Joinable<F::Output> for Task<F, S> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        if !self.finished.get() {
            let mut slot = self.join_waker.borrow_mut();
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        match std::mem::replace(&mut *self.stage.borrow_mut(), Stage::Consumed) {
            Stage::Finished(outcome) => Poll::Ready(outcome),
            _ => panic!("JoinHandle polled after it returned Ready"),
        }
    }

    fn abort(&self) {
        if !self.finished.get() && !self.aborted.replace(true) {
            // Cancellation happens when the executor next runs the task, never in the
            // middle of someone else's poll (the task might be the one calling abort).
            self.header.wake_by_ref();
        }
    }

    fn is_finished(&self) -> bool {
        self.finished.get()
    }
}

// ANCHOR: joinhandle
/// Awaiting it gives the task's output, or a [`JoinError`] if the task panicked or was
/// cancelled.
///
/// **Dropping a JoinHandle detaches the task**: it keeps running to completion and its output
/// is dropped (tokio does the same; asyncio keeps a task alive only while it is referenced,
/// a classic source of "my task vanished" bugs). To stop a task, call [`JoinHandle::abort`].
pub struct JoinHandle<T> {
    raw: Rc<dyn Joinable<T>>,
}
// ANCHOR_END: joinhandle

impl<T> JoinHandle<T> {
    fn new(raw: Rc<dyn Joinable<T>>) -> JoinHandle<T> {
        JoinHandle { raw }
    }

    /// Asks the task to stop. The next time the executor reaches it, its future is dropped
    /// (destructors run, its sockets close and leave the reactor) and awaiting this handle
    /// gives `Err(JoinError::Cancelled)`. No effect on a task that already finished.
    pub fn abort(&self) {
        self.raw.abort();
    }

    /// True once the task has an outcome (value, panic or cancellation).
    pub fn is_finished(&self) -> bool {
        self.raw.is_finished()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.raw.poll_join(cx)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("finished", &self.is_finished()).finish()
    }
}
