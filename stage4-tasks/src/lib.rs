//! # Stage 4: coroutines, tasks and a scheduler
//!
//! Stage 3 chained futures and callbacks by hand: every step of a request was a separate
//! function, and the request's state travelled between them. Here the request is written as
//! *one* object that remembers where it stopped, a [`coroutine::Coroutine`], and a
//! [`task::Task`] resumes it each time the future it waits on is done. The
//! [`scheduler::Scheduler`] spawns tasks and runs the stage 3 loop until all are done.
//!
//! * [`coroutine`]: the `Coroutine` trait (`resume` = Python's `send`), `Step`, `AnyFuture`.
//! * [`task`]: `Task::step`, which parks the task on the future its coroutine yielded.
//! * [`scheduler`]: `Scheduler::spawn` and `run`, over stage 3's ready queue and selector.
//! * [`get`]: `Get` (connect, send, read to EOF) and `ReadToEnd`, hand-written state machines.
//! * [`echo`]: the echo server: an accept-loop coroutine that spawns a handler task per client.
//! * [`fib`]: recursive Fibonacci as coroutines delegating to sub-coroutines (`yield from`).

#![forbid(unsafe_code)]

pub mod coroutine;
pub mod echo;
pub mod fib;
pub mod get;
pub mod scheduler;
pub mod task;

pub use coroutine::{AnyFuture, Coroutine, Sent, Step};
pub use scheduler::Scheduler;
pub use task::Task;
