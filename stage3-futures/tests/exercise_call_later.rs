//! Exercise 3.3 (the book's stage 3 exercises): `EventLoop::call_later`, and with it a fetch
//! cancelled after 50 ms that leaves no fd behind. Judged with `scripts/exercise.sh check 3.3`
//! (these tests only compile with the `exercises` feature).
#![cfg(feature = "exercises")]

use std::cell::RefCell;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use stage1_blocking::workshop::testkit;
use stage3_futures::EventLoop;
use stage3_futures::crawler::fetch;

/// Runs `body` under the test kit's guard, which fails, naming the likely `cause`, if it is
/// still running after the safety timeout (a loop that never runs out of work never returns).
fn guarded(cause: &'static str, body: impl FnOnce() + Send + 'static) {
    testkit::guarded(testkit::SAFETY_TIMEOUT, cause, body)
}

#[test]
fn timers_fire_in_deadline_order_never_early_and_run_waits_for_them() {
    guarded("select sleeps past the earliest deadline, or has_work() ignores timers", || {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let start = Instant::now();
        for ms in [30u64, 10, 20, 0] {
            let log = Rc::clone(&log);
            lp.call_later(Duration::from_millis(ms), move || log.borrow_mut().push((ms, start.elapsed())));
        }
        assert!(lp.has_work(), "a pending timer is work: run() must not return before it fires");
        // No fd is watched: run() must still wait for the timers, then return.
        lp.run().unwrap();
        let order: Vec<u64> = log.borrow().iter().map(|(ms, _)| *ms).collect();
        assert_eq!(order, [0, 10, 20, 30], "timers must fire by deadline");
        for (ms, elapsed) in log.borrow().iter() {
            assert!(
                *elapsed >= Duration::from_millis(*ms),
                "the {ms} ms timer fired after only {elapsed:?}: a timer ran before its deadline"
            );
        }
    });
}

#[test]
fn a_fetch_cancelled_by_a_timer_leaves_no_fd_watched() {
    guarded(
        "the cancelled fetch left its fd watched: cancelling the result must cancel the wait it is in",
        || {
            // A server that completes the handshake (the kernel does that) and never answers.
            let silent = TcpListener::bind("127.0.0.1:0").unwrap();
            let lp = EventLoop::new().unwrap();
            let response = fetch(&lp, silent.local_addr().unwrap(), "/1");
            let timeout = response.clone();
            lp.call_later(Duration::from_millis(50), move || {
                timeout.cancel();
            });
            lp.run().unwrap();
            assert!(response.cancelled());
            assert_eq!(lp.watched(), 0, "the selector still watches the cancelled fetch's fd");
        },
    );
}
