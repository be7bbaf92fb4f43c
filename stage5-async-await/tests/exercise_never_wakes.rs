//! Exercise 5m.4 (the book's page "The smallest executor"): `block_on` says when nothing can
//! ever wake its tasks (no task ready, no fd waited on) instead of sleeping in `select`
//! forever. Judged with `scripts/exercise.sh check 5m.4` (only compiled with the `exercises`
//! feature).
#![cfg(feature = "exercises")]

use std::sync::mpsc;
use std::thread;

use stage1_blocking::workshop::testkit::SAFETY_TIMEOUT;
use stage5_async_await::minimal_executor::{block_on, spawn};

/// Runs `block_on(..)` on a thread; its error message, or a failure naming the likely cause.
fn error_of(body: impl FnOnce() -> std::io::Result<()> + Send + 'static) -> String {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(body().map_err(|err| err.to_string()));
    });
    match finished.recv_timeout(SAFETY_TIMEOUT) {
        Ok(Err(message)) => message,
        Ok(Ok(())) => panic!("block_on returned Ok for a future that can never finish"),
        Err(_) => panic!(
            "block_on still sleeps after {SAFETY_TIMEOUT:?} with no task ready and no fd waited on: \
             it must say that nothing can ever wake its tasks"
        ),
    }
}

#[test]
fn a_main_future_that_nothing_will_wake_is_an_error() {
    let message = error_of(|| block_on(std::future::pending::<()>()));
    assert!(message.contains("can never finish"), "{message}");
}

#[test]
fn a_task_that_nothing_will_wake_is_an_error_too() {
    let message = error_of(|| block_on(async { spawn(std::future::pending::<()>()) }));
    assert!(message.contains("can never finish"), "{message}");
}
