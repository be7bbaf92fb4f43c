//! `Future` on its own: results, callbacks, double set, cancel; and the loop's fd waits.

use std::cell::RefCell;
use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::selector::{Backend, Selector};
use stage3_futures::{EventLoop, Future, FutureError};

/// What a test here that never ends most likely means, for the guard's message.
const LOOP_HANG: &str = "the loop never resolved the future: a callback never \
    scheduled, or a readiness event lost";

fn new_loop() -> EventLoop {
    EventLoop::new().unwrap()
}

/// A log the callbacks write into, so the test can see what ran and in which order.
fn log() -> Rc<RefCell<Vec<String>>> {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn result_is_pending_until_set_and_callbacks_wait_for_the_loop() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        let lp = new_loop();
        let fut: Future<u32> = lp.create_future("answer");
        assert!(!fut.done());
        assert!(matches!(fut.result(), Err(FutureError::Pending)));

        let seen = log();
        let s = Rc::clone(&seen);
        fut.add_done_callback(move |f| s.borrow_mut().push(format!("before: {:?}", f.result().unwrap())));
        fut.set_result(42).unwrap();

        // set_result returned, the result is there, but no callback ran yet: they are queued.
        assert!(fut.done());
        assert_eq!(fut.result().unwrap(), 42);
        assert!(seen.borrow().is_empty(), "callbacks must not run inside set_result");
        assert_eq!(lp.ready_len(), 1);

        lp.run().unwrap();
        assert_eq!(*seen.borrow(), ["before: 42"]);

        // A callback added after the result still runs, from the loop, not from add_done_callback.
        let s = Rc::clone(&seen);
        fut.add_done_callback(move |f| s.borrow_mut().push(format!("after: {:?}", f.result().unwrap())));
        assert_eq!(seen.borrow().len(), 1, "added to a done future: scheduled, not run inline");
        lp.run().unwrap();
        assert_eq!(*seen.borrow(), ["before: 42", "after: 42"]);
        assert_eq!(fut.result().unwrap(), 42, "result() can be read any number of times");
    });
}

#[test]
fn callbacks_run_once_each_in_the_order_they_were_added() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        let lp = new_loop();
        let fut: Future<&'static str> = lp.create_future("order");
        let seen = log();
        for i in 1..=5 {
            let s = Rc::clone(&seen);
            fut.add_done_callback(move |_| s.borrow_mut().push(i.to_string()));
        }
        fut.set_result("x").unwrap();
        lp.run().unwrap();
        lp.run().unwrap();
        assert_eq!(*seen.borrow(), ["1", "2", "3", "4", "5"]);
    });
}

#[test]
fn setting_a_result_twice_is_an_error_and_keeps_the_first() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        let lp = new_loop();
        let fut: Future<u32> = lp.create_future("twice");
        let runs = Rc::new(RefCell::new(0));
        let r = Rc::clone(&runs);
        fut.add_done_callback(move |_| *r.borrow_mut() += 1);
        fut.set_result(1).unwrap();
        assert!(matches!(fut.set_result(2), Err(FutureError::AlreadyDone)));
        assert!(matches!(fut.set_exception(anyhow::anyhow!("late")), Err(FutureError::AlreadyDone)));
        lp.run().unwrap();
        assert_eq!(fut.result().unwrap(), 1);
        assert_eq!(*runs.borrow(), 1, "a refused second result schedules nothing");
    });
}

#[test]
fn an_exception_is_the_result_error() {
    let lp = new_loop();
    let fut: Future<u32> = lp.create_future("fails");
    fut.set_exception(anyhow::anyhow!("disk on fire")).unwrap();
    match fut.result() {
        Err(FutureError::Failed(err)) => assert_eq!(err.to_string(), "disk on fire"),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(fut.done() && !fut.cancelled());
    assert!(matches!(fut.set_result(3), Err(FutureError::AlreadyDone)));
}

#[test]
fn cancel_runs_the_callbacks_and_result_says_cancelled() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        let lp = new_loop();
        let fut: Future<u32> = lp.create_future("cancel me");
        let seen = log();
        let s = Rc::clone(&seen);
        fut.add_done_callback(move |f| s.borrow_mut().push(format!("cancelled={}", f.cancelled())));
        assert!(fut.cancel());
        assert!(fut.done() && fut.cancelled());
        assert!(!fut.cancel(), "a second cancel changes nothing");
        assert!(matches!(fut.set_result(1), Err(FutureError::AlreadyDone)));
        lp.run().unwrap();
        assert_eq!(*seen.borrow(), ["cancelled=true"]);
        assert!(matches!(fut.result(), Err(FutureError::Cancelled)));
        assert!(matches!(fut.take_result(), Err(FutureError::Cancelled)));
    });
}

#[test]
fn cancel_after_the_result_is_refused() {
    let lp = new_loop();
    let fut: Future<u32> = lp.create_future("done first");
    fut.set_result(7).unwrap();
    assert!(!fut.cancel());
    assert!(!fut.cancelled());
    assert_eq!(fut.result().unwrap(), 7);
}

#[test]
fn take_result_moves_the_value_out_once() {
    let lp = new_loop();
    let fut: Future<Vec<u8>> = lp.create_future("bytes");
    assert!(matches!(fut.take_result(), Err(FutureError::Pending)));
    fut.set_result(b"abc".to_vec()).unwrap();
    assert_eq!(fut.take_result().unwrap(), b"abc");
    assert!(matches!(fut.take_result(), Err(FutureError::Taken)));
    assert!(fut.outcome().is_ok(), "it did finish with a value");
}

#[test]
fn call_soon_runs_in_order_and_new_callbacks_wait_for_the_next_turn() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        let lp = new_loop();
        let seen = log();
        for name in ["a", "b"] {
            let (s, lp2) = (Rc::clone(&seen), lp.clone());
            lp.call_soon(move || {
                s.borrow_mut().push(name.to_string());
                let s = Rc::clone(&s);
                lp2.call_soon(move || s.borrow_mut().push(format!("{name} again")));
            });
        }
        lp.run_once().unwrap();
        assert_eq!(*seen.borrow(), ["a", "b"], "callbacks queued during a turn run on the next one");
        lp.run_once().unwrap();
        assert_eq!(*seen.borrow(), ["a", "b", "a again", "b again"]);
        assert!(!lp.has_work());
    });
}

#[test]
fn run_until_complete_returns_the_value_or_says_it_can_never_finish() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        let lp = new_loop();
        let fut: Future<u32> = lp.create_future("later");
        let f = fut.clone();
        lp.call_soon(move || f.set_result(9).unwrap());
        assert_eq!(lp.run_until_complete(&fut).unwrap(), 9);

        let orphan: Future<u32> = lp.create_future("orphan");
        let err = lp.run_until_complete(&orphan).unwrap_err();
        assert!(err.to_string().contains("can never finish"), "{err}");
    });
}

/// A connected pair of non-blocking loopback sockets (stage 1's test kit).
fn tcp_pair() -> (TcpStream, TcpStream) {
    testkit::tcp_pair().unwrap()
}

#[test]
fn wait_readable_resolves_when_bytes_arrive_on_both_backends() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for backend in Backend::available() {
            let lp = EventLoop::with_selector(Selector::with_backend(backend).unwrap());
            let (mut client, server) = tcp_pair();
            let readable = lp.wait_readable(server.as_raw_fd());
            let writable = lp.wait_writable(server.as_raw_fd());
            assert_eq!(lp.watched(), 1, "{backend:?}: one fd, two waiters");
            // Writable at once (empty send buffer); readable only after the client writes.
            lp.run_until_complete(&writable).unwrap();
            assert!(!readable.done(), "{backend:?}: nothing was sent yet");
            client.write_all(b"ping").unwrap();
            lp.run_until_complete(&readable).unwrap();
            assert_eq!(lp.watched(), 0, "{backend:?}: one-shot waits leave nothing registered");
        }
    });
}

#[test]
fn a_second_reader_on_the_same_fd_gets_a_failed_future() {
    let lp = new_loop();
    let (_client, server) = tcp_pair();
    let first = lp.wait_readable(server.as_raw_fd());
    let second = lp.wait_readable(server.as_raw_fd());
    assert!(!first.done());
    match second.outcome() {
        Err(FutureError::Failed(err)) => assert!(format!("{err:#}").contains("already waits"), "{err:#}"),
        other => panic!("expected a failed future, got {other:?}"),
    }
}

#[test]
fn cancelling_a_wait_unregisters_the_fd() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for backend in Backend::available() {
            let lp = EventLoop::with_selector(Selector::with_backend(backend).unwrap());
            let (_client, server) = tcp_pair();
            let readable = lp.wait_readable(server.as_raw_fd());
            assert_eq!(lp.watched(), 1);
            assert!(readable.cancel());
            // The loop's cleanup callback runs on the next turn; then nothing is left to wait for,
            // so run() returns instead of sleeping forever on a socket nobody cares about.
            lp.run().unwrap();
            assert_eq!(lp.watched(), 0, "{backend:?}");
            assert!(matches!(readable.outcome(), Err(FutureError::Cancelled)));
        }
    });
}

// ANCHOR: reentrancy
/// The caller of `set_result` may hold a borrow of its own state; a callback that needs the
/// same state must not run inside `set_result`, or the second `borrow_mut` would panic.
#[test]
fn set_result_never_reenters_the_caller() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        let lp = new_loop();
        let fut: Future<()> = lp.create_future("re-entrancy");
        let state = log();
        let s = Rc::clone(&state);
        fut.add_done_callback(move |_| s.borrow_mut().push("callback".to_string()));
        {
            let mut state = state.borrow_mut(); // held across set_result
            state.push("before".to_string());
            fut.set_result(()).unwrap(); // an inline callback would panic here: already borrowed
            state.push("after".to_string());
        }
        lp.run().unwrap();
        assert_eq!(*state.borrow(), ["before", "after", "callback"]);
    });
}

/// Each callback resolves the next future. Run inline, that is one nested call per link and
/// 200 000 links overflow the stack; through the ready queue the stack stays flat.
#[test]
fn a_long_chain_of_futures_does_not_grow_the_stack() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        fn link(lp: &EventLoop, i: u32, last: u32, reached: Rc<RefCell<u32>>) {
            let fut: Future<u32> = lp.create_future("link");
            let lp2 = lp.clone();
            fut.add_done_callback(move |f| {
                let i = f.result().unwrap();
                *reached.borrow_mut() = i;
                if i < last {
                    link(&lp2, i + 1, last, reached);
                }
            });
            fut.set_result(i).unwrap();
        }
        let lp = new_loop();
        let reached = Rc::new(RefCell::new(0));
        link(&lp, 1, 200_000, Rc::clone(&reached));
        lp.run().unwrap();
        assert_eq!(*reached.borrow(), 200_000);
    });
}
// ANCHOR_END: reentrancy
