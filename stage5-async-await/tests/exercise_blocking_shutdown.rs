//! Exercise 5b.3 (the blocking page): `BlockingPool::shutdown(&self)` refuses new jobs (their
//! handle gives `Err(BlockingError::Lost)`), lets the queued ones finish, and returns only once
//! every worker has exited. `scripts/exercise.sh check 5b.3` runs these with
//! `--features exercises`.
#![cfg(feature = "exercises")]

mod guard;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use stage5_async_await::blocking::{BlockingError, BlockingPool};
use stage5_async_await::combinators::join_all;
use stage5_async_await::run;
use stage5_async_await::time::timeout;

/// Idle workers would stay an hour: only the shutdown can make them leave within a test.
const LONG: Duration = Duration::from_secs(3600);

#[test]
fn shutdown_lets_the_queued_jobs_finish_and_waits_for_every_worker() {
    let _guard = guard::watchdog();
    let pool = BlockingPool::new(2, LONG);
    let ran = Arc::new(AtomicUsize::new(0));
    let (go, gate) = mpsc::channel::<()>();
    // The first job holds its worker until `go`; the others queue up behind the two workers.
    let first = pool.spawn({
        let ran = ran.clone();
        move || {
            gate.recv().unwrap();
            ran.fetch_add(1, Ordering::SeqCst);
        }
    });
    let rest: Vec<_> = (0..5)
        .map(|_| {
            let ran = ran.clone();
            pool.spawn(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Released from another thread: shutdown must wait for it, whenever it comes.
    let releaser = std::thread::spawn(move || go.send(()).unwrap());
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 6, "shutdown returned before the queued jobs had all run");
    assert_eq!(pool.threads(), 0, "shutdown returned while workers were still alive");
    releaser.join().unwrap();
    // Every handle has its result.
    run(async {
        timeout(guard::WAIT, first).await.expect("the first job's handle never woke").unwrap();
        let results = timeout(guard::WAIT, join_all(rest)).await.expect("a queued job's handle never woke");
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    });
}

#[test]
fn a_job_spawned_after_shutdown_is_refused() {
    let _guard = guard::watchdog();
    let pool = BlockingPool::new(2, LONG);
    run(async {
        assert_eq!(pool.spawn(|| 1).await, Ok(1));
    });
    pool.shutdown();
    assert_eq!(pool.threads(), 0);
    let ran = Arc::new(AtomicUsize::new(0));
    let refused = pool.spawn({
        let ran = ran.clone();
        move || ran.fetch_add(1, Ordering::SeqCst)
    });
    let result =
        run(async { timeout(guard::WAIT, refused).await.expect("a refused job's handle never woke") });
    assert_eq!(result, Err(BlockingError::Lost), "a job spawned after shutdown must be refused");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the refused job ran anyway");
    assert_eq!(pool.threads(), 0, "a refused job started a worker");
}

#[test]
fn shutdown_of_a_pool_that_never_ran_a_job_returns_at_once() {
    let _guard = guard::watchdog();
    let pool = BlockingPool::new(4, LONG);
    pool.shutdown();
    assert_eq!(pool.threads(), 0);
}
