//! `spawn_blocking`: run blocking code on a thread pool and `.await` its result
//! (asyncio's `loop.run_in_executor(ThreadPoolExecutor(), f)`).
//!
//! An event loop has one thread. Anything that blocks it (a `std::fs` call, a DNS lookup with
//! `getaddrinfo`, a CPU-heavy hash, `std::thread::sleep`) stops *every* task until it returns.
//! So blocking work goes to another thread, and the task awaits a [`BlockingHandle`] instead:
//!
//! ```text
//!  event-loop thread                        pool thread
//!  ─────────────────                        ───────────
//!  task: spawn_blocking(f) ──push job──▶    queue ──▶ worker: r = catch_unwind(f)
//!  task: handle.await -> Pending            │                  tx.send(r)  (oneshot)
//!        (waker stored in the oneshot)      │                     │
//!  loop: sleeps in epoll_wait   ◀───── waker.wake() ──────────────┘
//!  loop: polls task -> Ready(r)        (the runtime turns a cross-thread wake
//!                                        into an eventfd write that ends the sleep)
//! ```
//!
//! The pool starts no thread until the first job, grows one thread at a time while jobs are
//! queued and no worker is idle (up to a maximum), and a worker that has been idle for the
//! keep-alive time exits. A panic inside the job is caught and handed to the awaiting task as
//! [`BlockingError::Panicked`]; the pool thread lives on.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex as StdMutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::sync::oneshot;
use stage1_blocking::workshop::lock;

/// Threads the shared pool may start at most.
pub const DEFAULT_MAX_THREADS: usize = 8;
/// How long an idle worker of the shared pool waits for a job before it exits.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A pool of threads for blocking work. Most code uses the shared one through
/// [`spawn_blocking`]; a separate pool is useful to cap one kind of work separately.
pub struct BlockingPool {
    shared: Arc<Shared>,
}

struct Shared {
    state: StdMutex<PoolState>,
    /// Signalled when a job is queued (wakes one idle worker).
    job_queued: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

// ANCHOR: pool_state
struct PoolState {
    queue: VecDeque<Job>,
    /// Worker threads alive (busy or idle).
    threads: usize,
    /// Workers waiting on `job_queued` for a job.
    idle: usize,
    /// The `BlockingPool` was dropped: workers finish the queue, then exit without waiting
    /// out their keep-alive.
    shutdown: bool,
}
// ANCHOR_END: pool_state

/// Why a [`BlockingHandle`] has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockingError {
    /// The function panicked; the panic message, when it was a string.
    Panicked(String),
    /// The job was dropped without running (no pool thread could be started).
    Lost,
}

impl fmt::Display for BlockingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingError::Panicked(message) => write!(f, "blocking task panicked: {message}"),
            BlockingError::Lost => f.write_str("blocking task was dropped before it ran"),
        }
    }
}

impl std::error::Error for BlockingError {}

/// The result of a job on the pool, as a future. Dropping it does not stop the job (a
/// running thread cannot be cancelled); the result is simply thrown away.
#[must_use = "futures do nothing unless awaited"]
pub struct BlockingHandle<T> {
    rx: oneshot::Receiver<Result<T, BlockingError>>,
}

impl<T> Future for BlockingHandle<T> {
    type Output = Result<T, BlockingError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The oneshot stores our waker and is woken by the pool thread's `send`; a sender that
        // vanished without sending means the job was dropped unrun.
        Pin::new(&mut self.rx).poll(cx).map(|sent| sent.unwrap_or(Err(BlockingError::Lost)))
    }
}

impl<T> fmt::Debug for BlockingHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlockingHandle")
    }
}

/// Runs `f` on the shared blocking pool (started on first use, [`DEFAULT_MAX_THREADS`]
/// threads at most) and returns a future of its result.
///
/// ```
/// # use stage5_async_await::blocking::spawn_blocking;
/// # async fn demo() -> std::io::Result<()> {
/// let text = spawn_blocking(|| std::fs::read_to_string("Cargo.toml")).await.expect("no panic")?;
/// # Ok(()) }
/// ```
pub fn spawn_blocking<T, F>(f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    static SHARED: OnceLock<BlockingPool> = OnceLock::new();
    SHARED.get_or_init(|| BlockingPool::new(DEFAULT_MAX_THREADS, DEFAULT_KEEP_ALIVE)).spawn(f)
}

impl BlockingPool {
    /// A pool of at most `max_threads` threads (at least 1); idle workers exit after
    /// `keep_alive`. No thread starts until the first job.
    pub fn new(max_threads: usize, keep_alive: Duration) -> BlockingPool {
        BlockingPool {
            shared: Arc::new(Shared {
                state: StdMutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    shutdown: false,
                }),
                job_queued: Condvar::new(),
                max_threads: max_threads.max(1),
                keep_alive,
            }),
        }
    }

    /// Worker threads alive right now.
    pub fn threads(&self) -> usize {
        lock(&self.shared.state).threads
    }

    // ANCHOR: spawn
    /// Queues `f` and returns a future of its result; see [`spawn_blocking`].
    pub fn spawn<T, F>(&self, f: F) -> BlockingHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // catch_unwind keeps the worker alive and turns the panic into a value the task
            // can see. (The default panic hook still prints the message to stderr.)
            let result =
                catch_unwind(AssertUnwindSafe(f)).map_err(|p| BlockingError::Panicked(panic_message(&*p)));
            // If the handle was dropped nobody wants the result; that is fine.
            let _ = tx.send(result);
        });

        let start_worker = {
            let mut state = lock(&self.shared.state);
            state.queue.push_back(job);
            // More queued jobs than idle workers to take them: grow, if allowed.
            let grow = state.queue.len() > state.idle && state.threads < self.shared.max_threads;
            if grow {
                state.threads += 1;
            }
            grow
        };
        self.shared.job_queued.notify_one();
        if start_worker {
            self.start_worker();
        }
        BlockingHandle { rx }
    }
    // ANCHOR_END: spawn

    fn start_worker(&self) {
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new().name("blocking-pool".into()).spawn(move || shared.work());
        if spawned.is_err() {
            // Out of threads (ulimit, memory). The queued jobs still run if another worker
            // exists; if none does, drop them so their handles report `Lost` instead of
            // waiting forever.
            let orphans = {
                let mut state = lock(&self.shared.state);
                state.threads -= 1;
                if state.threads == 0 { std::mem::take(&mut state.queue) } else { VecDeque::new() }
            };
            drop(orphans);
        }
    }
}

impl Drop for BlockingPool {
    fn drop(&mut self) {
        // Queued jobs still run (their handles are waiting for them); idle workers are told
        // to leave now instead of after keep_alive.
        lock(&self.shared.state).shutdown = true;
        self.shared.job_queued.notify_all();
    }
}

// ANCHOR: worker
impl Shared {
    /// A worker's life: run queued jobs; when there are none, wait up to `keep_alive` for one,
    /// then exit.
    fn work(&self) {
        let mut state = lock(&self.state);
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state); // never run a job while holding the pool lock
                job();
                state = lock(&self.state);
                continue;
            }
            if state.shutdown {
                // The pool is gone and the queue is empty: nothing can arrive any more.
                state.threads -= 1;
                return;
            }
            state.idle += 1;
            let (guard, timeout) = self
                .job_queued
                .wait_timeout(state, self.keep_alive)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state = guard;
            state.idle -= 1;
            // Woken spuriously or by a notify: loop and look at the queue. Timed out with an
            // empty queue: this worker has been idle for keep_alive, so it leaves.
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}
// ANCHOR_END: worker

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("BlockingPool")
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .field("queued", &state.queue.len())
            .field("max_threads", &self.shared.max_threads)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combinators::join_all;
    use crate::sync::testutil::block_on;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, mpsc};

    /// Test pools keep idle workers for an hour, so no assertion depends on how fast a loaded
    /// machine runs (only the keep-alive test uses zero on purpose).
    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn result_comes_back_through_the_handle() {
        let handle = spawn_blocking(|| (1..=10).product::<u64>());
        assert_eq!(block_on(handle), Ok(3_628_800));
    }

    #[test]
    fn a_panic_is_reported_as_an_error_and_the_pool_survives() {
        let pool = BlockingPool::new(1, LONG);
        let failed = block_on(pool.spawn(|| -> u8 { panic!("boom {}", 42) }));
        assert_eq!(failed, Err(BlockingError::Panicked("boom 42".into())));
        // Same single thread, still working.
        assert_eq!(block_on(pool.spawn(|| 7)), Ok(7));
    }

    #[test]
    fn grows_on_demand_so_jobs_that_need_each_other_both_run() {
        // Both jobs wait on the same barrier: this only finishes if the pool starts a
        // second thread while the first is blocked.
        let pool = BlockingPool::new(4, LONG);
        let barrier = Arc::new(Barrier::new(2));
        let jobs: Vec<_> = (0..2)
            .map(|i| {
                let barrier = barrier.clone();
                pool.spawn(move || {
                    barrier.wait();
                    i
                })
            })
            .collect();
        assert_eq!(block_on(join_all(jobs)), vec![Ok(0), Ok(1)]);
        assert_eq!(pool.threads(), 2);
    }

    #[test]
    fn never_runs_more_jobs_at_once_than_max_threads() {
        const MAX: usize = 2;
        let pool = BlockingPool::new(MAX, LONG);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(StdMutex::new(gate));
        let jobs: Vec<_> = (0..6)
            .map(|_| {
                let (running, most, gate) = (running.clone(), most.clone(), gate.clone());
                pool.spawn(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    lock(&gate).recv().unwrap(); // hold the thread until the test says go
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        assert!(pool.threads() <= MAX);
        for _ in 0..6 {
            release.send(()).unwrap();
        }
        assert!(block_on(join_all(jobs)).iter().all(Result::is_ok));
        assert!(most.load(Ordering::SeqCst) <= MAX);
        assert!(pool.threads() <= MAX);
    }

    #[test]
    fn idle_workers_exit_after_keep_alive() {
        let pool = BlockingPool::new(2, Duration::ZERO);
        assert_eq!(pool.threads(), 0, "lazily started");
        assert_eq!(block_on(pool.spawn(|| "done")), Ok("done"));
        // With a zero keep-alive the worker leaves as soon as the queue is empty. We wait for
        // that event (no sleep, no deadline): yield until the count drops.
        while pool.threads() != 0 {
            std::thread::yield_now();
        }
        // And the pool starts a fresh worker for the next job.
        assert_eq!(block_on(pool.spawn(|| 5)), Ok(5));
    }

    #[test]
    fn dropping_the_pool_lets_queued_jobs_finish_and_workers_leave() {
        let pool = BlockingPool::new(1, LONG);
        let (go, gate) = mpsc::channel::<()>();
        let first = pool.spawn(move || gate.recv().unwrap());
        let second = pool.spawn(|| "queued behind the first");
        let shared = Arc::downgrade(&pool.shared);
        drop(pool);
        go.send(()).unwrap();
        assert_eq!(block_on(first), Ok(()));
        assert_eq!(block_on(second), Ok("queued behind the first"));
        // Each worker holds the pool's shared state until it exits; wait for that event (no
        // sleep): with an hour-long keep-alive this only ends because of the shutdown flag.
        while shared.upgrade().is_some() {
            std::thread::yield_now();
        }
    }

    #[test]
    fn dropping_the_handle_does_not_stop_the_job() {
        let pool = BlockingPool::new(1, LONG);
        let (tx, rx) = mpsc::channel();
        drop(pool.spawn(move || tx.send("ran anyway").unwrap()));
        assert_eq!(rx.recv().unwrap(), "ran anyway");
    }
}
