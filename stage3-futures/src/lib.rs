//! # Stage 3: futures
//!
//! Stage 2's crawler kept its state in a chain of callbacks that the selector called. This
//! stage puts an object between the selector and the callbacks: a [`future::Future`], which
//! stands for a result that is not there yet. The selector now stores futures
//! ([`event_loop::EventLoop::wait_readable`] registers an fd and returns the future that resolves
//! when it is ready), the code that wants the result attaches a callback to the future, and the
//! loop runs those callbacks from its ready queue ([`event_loop::EventLoop::call_soon`]).
//!
//! * [`future`]: `Future<T>`, `set_result`, `add_done_callback`, `cancel`, `result`.
//! * [`event_loop`]: the `EventLoop`: stage 2's `Selector` plus a ready queue.
//! * [`crawler`]: the seed's crawler, its steps now chained through futures.
//! * [`echo`]: an echo server with a bounded write buffer (back-pressure).

#![forbid(unsafe_code)]

pub mod crawler;
pub mod echo;
pub mod event_loop;
pub mod future;

pub use event_loop::EventLoop;
pub use future::{Future, FutureError};
