//! # Stage 5: async/await on our own executor, reactor and timers
//!
//! Stage 4 wrote each coroutine by hand as a state machine and stepped it from a Task whose
//! callback the Future called. Here the compiler writes the state machine (`async fn`), and
//! a [`std::task::Waker`] replaces the callback: a future that cannot finish stores the waker
//! of the task polling it, and whoever makes progress possible (the reactor for an fd, the
//! timer heap for a deadline, another thread for a result) calls `wake()`, which puts the
//! task back on the executor's ready queue.
//!
//! * [`executor`]: [`Runtime`] (`block_on` = asyncio's `run_until_complete`), [`spawn`],
//!   [`JoinHandle`], `yield_now`, and the loop API `call_soon` / `call_later` / `call_at` / `time`.
//! * [`task`]: the task, its waker, its JoinHandle.
//! * `reactor` (internal): stage 2's Selector, one source per fd, readiness -> wakes.
//! * [`mod@time`]: the timer heap, `sleep`, `timeout`, `interval`.
//! * [`net`]: `TcpListener`, `TcpStream`, `UdpSocket`; [`io`]: read/write helpers, `BufReader`.
//! * [`echo`]: the echo server as tasks and as a Protocol (`stage5-echo`, `stage5-protocol`,
//!   the idle benchmark), counted in stage 2's `EchoStats`.
//! * [`http`]: an async HTTP/1.0 GET over stage 1's request/response code.
//! * [`process`]: children with piped output read line by line, exit awaited on a pidfd.
//! * [`signal`]: SIGINT/SIGTERM as futures (sigaction + self-pipe).
//! * [`protocol`]: asyncio-style Protocol/Transport callbacks served by a task.
//! * [`sync`], [`combinators`], [`blocking`]: runtime-agnostic channels, semaphores, join/select,
//!   and a thread pool for blocking calls.
//! * [`sys`]: the only `unsafe` code.

pub mod echo;
pub mod executor;
pub mod http;
pub mod io;
/// Read first: the smallest executor in one file, independent of the rest of this crate.
pub mod minimal_executor;
pub mod net;
pub mod process;
pub mod protocol;
mod reactor;
pub mod signal;
mod slab;
#[allow(unsafe_code)] // the crate's one syscall module: every block has a SAFETY comment
pub mod sys;
pub mod task;
pub mod time;

pub use executor::{
    Handle, Runtime, call_at, call_later, call_soon, iteration_time, run, spawn, time, yield_now,
};
pub use task::{JoinError, JoinHandle};

pub mod blocking;
pub mod combinators;
pub mod sync;
