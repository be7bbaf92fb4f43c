//! Exercise 2.6 (the book's stage 2 exercises): `EventLoop::call_later(delay, callback)`, a
//! timer on the callback loop, and with it a read that gives up after a while. Judged with
//! `scripts/exercise.sh check 2.6` (these tests only compile with the `exercises` feature).
#![cfg(feature = "exercises")]

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::event_loop::EventLoop;

type Log = Rc<RefCell<Vec<String>>>;

/// What a hang most likely means, for the guard's message: a loop that sleeps past its
/// timers never returns.
const SLEEPS_PAST_TIMERS: &str = "select sleeps without a timeout for the earliest deadline, or \
    run() forgets to stop once no fd and no timer is left";

/// Runs `body` under the test kit's guard, which fails with [`SLEEPS_PAST_TIMERS`] if it has
/// not returned after the safety timeout.
fn guarded(body: impl FnOnce() + Send + 'static) {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SLEEPS_PAST_TIMERS, body)
}

fn note(log: &Log, what: &str) -> impl FnOnce(&mut EventLoop) + 'static {
    let (log, what) = (Rc::clone(log), what.to_string());
    move |_| log.borrow_mut().push(what)
}

#[test]
fn timers_fire_in_deadline_order_never_early_and_run_waits_for_them() {
    guarded(|| {
        let mut lp = EventLoop::new().unwrap();
        let log: Log = Rc::default();
        let start = Instant::now();
        let at = Rc::new(RefCell::new(Vec::new()));
        for (ms, name) in [(30, "30 ms"), (10, "10 ms"), (20, "20 ms"), (0, "0 ms")] {
            let (log, at) = (Rc::clone(&log), Rc::clone(&at));
            lp.call_later(Duration::from_millis(ms), move |_| {
                at.borrow_mut().push((ms, start.elapsed()));
                log.borrow_mut().push(name.to_string());
            });
        }
        // No fd is registered: run() must still wait for the timers, then return.
        lp.run().unwrap();
        assert_eq!(*log.borrow(), ["0 ms", "10 ms", "20 ms", "30 ms"], "timers must fire by deadline");
        for (ms, elapsed) in at.borrow().iter() {
            assert!(
                *elapsed >= Duration::from_millis(*ms),
                "the {ms} ms timer fired after only {elapsed:?}: a timer ran before its deadline"
            );
        }
    });
}

#[test]
fn a_timer_callback_can_set_another_timer() {
    guarded(|| {
        let mut lp = EventLoop::new().unwrap();
        let log: Log = Rc::default();
        let inner = Rc::clone(&log);
        lp.call_later(Duration::from_millis(5), move |lp| {
            inner.borrow_mut().push("first".to_string());
            lp.call_later(Duration::from_millis(5), note(&inner, "second"));
        });
        lp.run().unwrap();
        assert_eq!(*log.borrow(), ["first", "second"]);
    });
}

#[test]
fn a_timer_gives_up_on_a_read_that_never_comes() {
    // The per-request timeout: a reader waits on a socket whose peer never writes; a timer
    // unregisters it, and the loop, with nothing left to wait for, returns.
    guarded(|| {
        let (quiet, _peer) = testkit::tcp_pair().unwrap();
        let fd = quiet.as_raw_fd();
        let mut lp = EventLoop::new().unwrap();
        let log: Log = Rc::default();
        let reader = Rc::clone(&log);
        lp.register_reader(fd, move |_| reader.borrow_mut().push("readable".to_string())).unwrap();
        let timer = Rc::clone(&log);
        lp.call_later(Duration::from_millis(20), move |lp| {
            timer.borrow_mut().push("timed out".to_string());
            lp.unregister_reader(fd).unwrap();
        });
        lp.run().unwrap();
        assert_eq!(*log.borrow(), ["timed out"]);
        assert_eq!(lp.registered_fds(), 0);
    });
}
