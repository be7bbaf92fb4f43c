//! The runtime core, in the order the chapter adds it to the smallest executor
//! (`minimal_executor.rs`). Each file depends only on files above it in this list:
//!
//! 1. `slab`: a generational slab (tasks, fds and timers each live in one).
//! 2. `sys`: the crate's only `unsafe` (the wake fd, `sigaction`, pipes, pidfd).
//! 3. `waker`: a task's waker, its "queued" flag and the `waker::Schedule` handle.
//! 4. `task`: a spawned future, its `task::JoinHandle`; knows nothing of the executor.
//! 5. `reactor`: stage 2's Selector, one source per fd, readiness -> `wake()`.
//! 6. `timers`: the timer heap; hands what is due back to the executor.
//! 7. `remote`: the remote queue and wake fd, for wakes from other threads.
//! 8. `executor`: `Runtime`, `block_on`, `spawn`: the loop that ties 3 to 7 together.
//! 9. `registered`, `time`, `loop_api`: what tasks use, on top of the executor: an fd
//!    registered for its whole life, `sleep`/`timeout`/`interval`, `call_soon`/`call_later`.

pub mod executor;
pub mod loop_api;
pub(crate) mod reactor;
pub(crate) mod registered;
pub(crate) mod remote;
pub(crate) mod slab;
#[allow(unsafe_code)] // the crate's one syscall module: every block has a SAFETY comment
pub mod sys;
pub mod task;
pub mod time;
pub(crate) mod timers;
pub(crate) mod waker;
