//! The `Coroutine` trait: a computation that can stop in the middle and be resumed.
//!
//! A Python generator is a function that can `yield`: it hands a value to whoever drives it,
//! its local variables stay alive, and `gen.send(x)` resumes it right after the `yield` with
//! `x` as the value of the `yield` expression. The 500 Lines crawler yields a future at every
//! wait, and a `Task` resumes it when that future is done.
//!
//! Rust (stable) has no generators we could use, so we write what a generator *is* by hand: a
//! value that remembers *where* it stopped (an enum, one variant per `yield` point) and *what*
//! it needs to go on (the live local variables, stored in that variant). [`Coroutine::resume`]
//! is `send()`: it runs from the current state to the next `yield` or to the end.

use std::fmt;

use stage3_futures::{Future, FutureError};

// ANCHOR: coroutine
/// What the driver sends into a coroutine when it resumes it: `Ok(())` if the future it
/// yielded finished with a value (or on the very first resume, Python's `send(None)`), or why
/// that future has no value (failed, cancelled). The value itself, if the coroutine needs it,
/// it reads from its own typed handle to the future.
pub type Sent = Result<(), FutureError>;

/// What one `resume` ended with.
#[derive(Debug)]
pub enum Step<T> {
    /// Stopped at a `yield`: resume me when this future is done.
    Yielded(AnyFuture),
    /// Ran to the end (Python's `StopIteration(value)`). Resuming again is a bug.
    Complete(T),
}

/// A computation that stops at each wait and is resumed from where it stopped.
pub trait Coroutine {
    /// What it produces when it completes.
    type Output;

    /// Runs until the next wait (`Step::Yielded`) or the end (`Step::Complete`).
    fn resume(&mut self, sent: Sent) -> Step<Self::Output>;

    /// The name of the state it is in now, for `TRACE=1` and for tests.
    fn state(&self) -> &'static str;

    /// The state with the states of the sub-coroutines it delegates to, outermost first
    /// (`Left > Left > Leaf`). Coroutines that delegate override it; `TRACE=1` prints it.
    fn state_path(&self) -> String {
        self.state().to_string()
    }
}
// ANCHOR_END: coroutine

// ANCHOR: any_future
/// A stage 3 `Future<T>` of any `T`, seen only as "something that will be done".
///
/// Different waits produce different result types (`Future<()>` for a readable socket,
/// `Future<u64>` for another task's result), but the task that steps a coroutine only needs to
/// know *when* it is done, so the type is erased here. The coroutine keeps the typed handle if
/// it wants the value.
pub struct AnyFuture {
    inner: Box<dyn Awaitable>,
}

trait Awaitable {
    fn name(&self) -> String;
    fn done(&self) -> bool;
    fn on_done(&self, callback: Box<dyn FnOnce(Sent)>);
}

impl<T: 'static> Awaitable for Future<T> {
    fn name(&self) -> String {
        Future::name(self)
    }
    fn done(&self) -> bool {
        Future::done(self)
    }
    fn on_done(&self, callback: Box<dyn FnOnce(Sent)>) {
        self.add_done_callback(move |future| callback(future.outcome()));
    }
}

impl AnyFuture {
    /// Erases the result type of `future` (another handle to the same future).
    pub fn new<T: 'static>(future: &Future<T>) -> AnyFuture {
        AnyFuture { inner: Box::new(future.clone()) }
    }

    /// The future's `TRACE=1` name, e.g. `fut#7 (readable fd 5)`.
    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// Is it done already?
    pub fn done(&self) -> bool {
        self.inner.done()
    }

    /// Runs `callback(outcome)` from the loop once the future is done.
    pub fn add_done_callback(&self, callback: impl FnOnce(Sent) + 'static) {
        self.inner.on_done(Box::new(callback));
    }
}

impl<T: 'static> From<&Future<T>> for AnyFuture {
    fn from(future: &Future<T>) -> AnyFuture {
        AnyFuture::new(future)
    }
}

impl fmt::Debug for AnyFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyFuture({})", self.name())
    }
}
// ANCHOR_END: any_future

impl<T> Step<T> {
    /// Did the coroutine stop at a wait?
    pub fn is_yielded(&self) -> bool {
        matches!(self, Step::Yielded(_))
    }
}
