//! # Stage 5: async/await on our own executor, reactor and timers
//!
//! Stage 4 wrote each coroutine by hand as a state machine and stepped it from a Task whose
//! callback the Future called. Here the compiler writes the state machine (`async fn`), and
//! a [`std::task::Waker`] replaces the callback: a future that cannot finish stores the waker
//! of the task polling it, and whoever makes progress possible (the reactor for an fd, the
//! timer heap for a deadline, another thread for a result) calls `wake()`, which puts the
//! task back on the executor's ready queue.
//!
//! ```
//! use std::time::Duration;
//! use stage5_async_await::time::sleep;
//! use stage5_async_await::{Runtime, spawn};
//!
//! # fn main() -> std::io::Result<()> {
//! // Two tasks sleep at the same time on one thread: 30 ms in all, not 50.
//! let total = Runtime::new()?.block_on(async {
//!     let a = spawn(async { sleep(Duration::from_millis(30)).await; 1 });
//!     let b = spawn(async { sleep(Duration::from_millis(20)).await; 2 });
//!     a.await.unwrap() + b.await.unwrap()
//! });
//! assert_eq!(total, 3);
//! # Ok(())
//! # }
//! ```
//!
//! ## Reading order
//!
//! 1. `minimal_executor.rs`, alone: `Future`, `poll`, `Context`, `Waker` and the smallest
//!    executor that can run a socket, on `std` and stage 2's Selector only.
//! 2. `runtime/`, the real core, in the order the chapter adds each piece to that executor
//!    (its files depend one way, each only on the ones before it):
//!    * `runtime/task.rs` + `runtime/executor.rs`: a slab of tasks, a ready queue, `spawn`,
//!      [`JoinHandle`]; [`Runtime`] and `block_on` (asyncio's `run_until_complete`);
//!    * `runtime/waker.rs`: a waker per task that is never lost nor counted twice;
//!    * `runtime/reactor.rs` + `runtime/registered.rs`: one Selector for all tasks, a
//!      source per fd, readiness -> wake; an fd and its registration owned together;
//!    * `runtime/timers.rs` + [`mod@time`]: the timer heap, `sleep`, `timeout`, `interval`;
//!      `runtime/loop_api.rs`: `call_soon`/`call_later`/`call_at`/`time`;
//!    * `runtime/slab.rs`: the generational slab behind tasks, sources and timers;
//!    * `runtime/remote.rs` + [`sys`]: waking from another thread (the remote queue and the
//!      wake fd); `sys` is the crate's only `unsafe`.
//! 3. Going further, the libraries on top (each uses the runtime, none is used by it):
//!    [`net`] (`TcpListener`, `TcpStream`, `UdpSocket`), [`io`] (read/write helpers,
//!    `BufReader`), [`sync`] (channels, semaphore, mutex, event), [`combinators`] (join,
//!    select), [`blocking`] (`spawn_blocking`), [`process`] (children, a pidfd),
//!    [`signal`] (SIGINT/SIGTERM as futures), [`protocol`] (asyncio's Protocol/Transport),
//!    [`echo`] (the echo server as tasks and as a Protocol), [`http`] (an async GET over
//!    stage 1's request/response code).
//!
//! The public paths below are the ones other crates and the tests use; inside the crate,
//! every file imports from the module that defines a name.

pub mod runtime;

pub use runtime::executor::{Runtime, registered_fds, run, spawn, waiters_on, yield_now};
pub use runtime::loop_api::{Handle, call_at, call_later, call_soon, iteration_time, time};
pub use runtime::task::{JoinError, JoinHandle};
pub use runtime::{executor, sys, task, time};

// Going further: the libraries on top of the runtime.
pub mod blocking;
pub mod combinators;
pub mod echo;
pub mod http;
pub mod io;
/// Read first: the smallest executor in one file, independent of the rest of this crate.
pub mod minimal_executor;
pub mod net;
pub mod process;
pub mod protocol;
pub mod signal;
pub mod sync;
