//! # Stage 4: coroutines, tasks and a scheduler
//!
//! Stage 3 chained futures and callbacks by hand: every step of a request was a separate
//! function, and the request's state travelled between them. Here the request is written as
//! *one* object that remembers where it stopped, a [`coroutine::Coroutine`], and a
//! [`task::Task`] resumes it each time the future it waits on is done. The
//! [`scheduler::Scheduler`] spawns tasks and runs the stage 3 loop until all are done.
//!
//! ## Reading order (the core path)
//!
//! 1. [`coroutine`]: the `Coroutine` trait (`resume` = Python's `send`), `Step`, `AnyFuture`.
//! 2. [`get`]: `Get` (connect, send, read to EOF) and `ReadToEnd`, hand-written state
//!    machines; `Get` delegates to `ReadToEnd` the way `yield from` does.
//! 3. [`task`]: `Task::step`, which parks the task on the future its coroutine yielded, and
//!    `TaskCounts`, the counters it shares with the scheduler.
//! 4. [`scheduler`]: `Scheduler::spawn` and `run`, over stage 3's ready queue and selector;
//!    `get::crawl` and `src/bin/stage4-client.rs` put the four together.
//! 5. The server half: [`echo`], an accept-loop coroutine that spawns a handler task per
//!    client (front end: `src/bin/stage4-echo.rs`).
//!
//! ## Going further
//!
//! [`fib`] and `src/bin/stage4-fib.rs`: the classic recursive Fibonacci, coroutines delegating
//! to sub-coroutines all the way down: one task, stepped once per leaf (121,394 steps for
//! fib(25)), without a single socket.
//!
//! ## Example
//!
//! ```
//! use stage1_blocking::workshop::demo::{DemoConfig, DemoServer, expected_body};
//! use stage4_tasks::get::Get;
//! use stage4_tasks::scheduler::Scheduler;
//! # std::thread::spawn(|| {
//! #     std::thread::sleep(stage1_blocking::workshop::testkit::SAFETY_TIMEOUT);
//! #     eprintln!("the scheduler never stopped: a task parked on a future nothing resolves");
//! #     std::process::exit(1);
//! # });
//!
//! let server = DemoServer::start(DemoConfig::instant())?;
//! let scheduler = Scheduler::new()?;
//! // One request, written as one coroutine; a task steps it each time its future is done.
//! let response = scheduler.spawn("GET /2", Get::new(&scheduler, server.addr(), "/2"));
//! scheduler.run()?;
//! assert_eq!(Some(response.take_result()?.body), expected_body("/2"));
//! assert!(scheduler.steps() >= 3); // the first step, then one per wait: writable, readable...
//! # Ok::<(), anyhow::Error>(())
//! ```

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
