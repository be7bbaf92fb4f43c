//! Synchronisation primitives for tasks: the `asyncio.Queue`, `asyncio.Semaphore`, `asyncio.Event`
//! and `asyncio.Lock` of this course, built only on [`std::future::Future`] and [`std::task::Waker`].
//!
//! Nothing in here knows about our executor. A primitive that cannot make progress stores the
//! waker of the task that polled it and returns `Poll::Pending`; whoever makes progress possible
//! later (a `send`, a `release`, a `set`) calls `wake()` on it. Any executor that honours the
//! `Waker` contract can run these futures, and so can the tiny `block_on` in the tests.
//!
//! # Why `std::sync::Mutex` inside, on a single-threaded runtime?
//!
//! Our runtime runs all tasks on one thread, so a `RefCell` would do for task-to-task use. But
//! values also arrive from other threads: [`crate::blocking::spawn_blocking`] finishes on a pool
//! thread, a signal handler thread sends on a channel, a test sends from `std::thread::spawn`.
//! So every primitive here keeps its state behind a [`std::sync::Mutex`] and is `Send + Sync`.
//! The lock is only ever held for a few instructions (never across an `.await`, never while a
//! waker runs), so it is uncontended in the single-thread case and costs one atomic pair.
//!
//! # The three waker rules every primitive follows
//!
//! 1. **Store the latest waker.** A future may be polled by a different task (or moved between
//!    executors) between polls, so each `Pending` poll replaces the stored waker unless
//!    [`Waker::will_wake`](std::task::Waker::will_wake) says it is the same one (saves a clone).
//! 2. **Wake outside the lock.** `wake()` may run arbitrary executor code (push to a run queue,
//!    write to an eventfd, even poll the task inline). Calling it while holding our mutex invites
//!    deadlock, so we take the waker out under the lock and call it after unlocking.
//! 3. **A dropped waiter removes itself.** A pending future can be dropped at any `.await` point
//!    (a `select` that picked the other branch, a timeout, a cancelled task). If it stays in the
//!    waiter list, a later wake-up (or a whole permit) is handed to a waiter that will never run,
//!    and the next real waiter sleeps forever. Every waiting future here has a `Drop` that takes
//!    itself out of the queue and, if it had already been handed something, passes it on.

pub mod event;
pub mod mpsc;
pub mod mutex;
pub mod oneshot;
pub mod semaphore;

pub use event::Event;
pub use mutex::{Mutex, MutexGuard};
pub use semaphore::{AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError};

#[cfg(test)]
pub(crate) mod testutil;
