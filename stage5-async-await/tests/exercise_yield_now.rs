//! Exercise 5m.2 (the book's page "The smallest executor"): `minimal_executor::yield_now()`,
//! a future that is `Pending` once (after waking its own task) and then `Ready`. Judged with
//! `scripts/exercise.sh check 5m.2` (only compiled with the `exercises` feature).
#![cfg(feature = "exercises")]

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use stage1_blocking::workshop::testkit::SAFETY_TIMEOUT;
use stage5_async_await::minimal_executor::{block_on, spawn, yield_now};

/// A waker that counts its wakes.
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn yield_now_is_pending_once_after_waking_its_task_then_ready() {
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(yield_now());
    assert!(future.as_mut().poll(&mut cx).is_pending(), "the first poll must say Pending");
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        1,
        "the first poll must wake the task once: a Pending that wakes nobody is a lost wake-up"
    );
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(()), "the second poll must say Ready");
}

#[test]
fn a_task_that_yields_goes_to_the_back_of_the_ready_queue() {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (a, b) = (Rc::clone(&log), Rc::clone(&log));
        block_on(async move {
            spawn(async move {
                a.borrow_mut().push("a: before yield_now");
                yield_now().await;
                a.borrow_mut().push("a: after yield_now");
            });
            spawn(async move {
                b.borrow_mut().push("b: runs while a waits at the back");
            });
        })
        .unwrap();
        let _ = done.send(log.take());
    });
    let log = finished.recv_timeout(SAFETY_TIMEOUT).unwrap_or_else(|_| {
        panic!("block_on still running after {SAFETY_TIMEOUT:?}: yield_now returned Pending without waking its task")
    });
    assert_eq!(log, ["a: before yield_now", "b: runs while a waits at the back", "a: after yield_now"]);
}
