//! Exercise 5s.4 (the sync page): `sync::notify::Notify`, tokio's name. `notified().await`
//! waits, `notify_one()` wakes one waiter (the one waiting longest), and a `notify_one()` with
//! nobody waiting is stored, once, for the next `notified()`.
//! `scripts/exercise.sh check 5s.4` runs these with `--features exercises`.
#![cfg(feature = "exercises")]

mod guard;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use stage5_async_await::sync::notify::Notify;
use stage5_async_await::time::timeout;
use stage5_async_await::{run, spawn, yield_now};

/// Lets every task the last step woke run (FIFO ready queue: a few turns are plenty).
async fn let_the_woken_run() {
    for _ in 0..3 {
        yield_now().await;
    }
}

#[test]
fn a_notify_with_nobody_waiting_is_kept_for_the_next_notified_but_only_one() {
    let _guard = guard::watchdog();
    run(async {
        let notify = Notify::new();
        notify.notify_one();
        notify.notify_one(); // stored once, not counted
        timeout(Duration::ZERO, notify.notified())
            .await
            .expect("the stored notify_one() did not let the next notified() through at once");
        assert!(
            timeout(Duration::ZERO, notify.notified()).await.is_err(),
            "a second notified() went through: two notify_one() with nobody waiting store one permit, not two"
        );
    });
}

#[test]
fn notify_one_wakes_exactly_one_waiter_the_one_waiting_longest() {
    let _guard = guard::watchdog();
    run(async {
        let notify = Rc::new(Notify::new());
        let woken = Rc::new(RefCell::new(Vec::new()));
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let (notify, woken) = (notify.clone(), woken.clone());
                spawn(async move {
                    notify.notified().await;
                    woken.borrow_mut().push(i);
                })
            })
            .collect();
        let_the_woken_run().await; // all three wait now
        assert!(woken.borrow().is_empty(), "a notified() finished before any notify_one()");
        notify.notify_one();
        let_the_woken_run().await;
        assert_eq!(*woken.borrow(), [0], "one notify_one() wakes exactly one waiter, the first");
        notify.notify_one();
        notify.notify_one();
        for waiter in waiters {
            timeout(guard::WAIT, waiter)
                .await
                .expect("a waiter was never woken: LOST WAKE-UP (is the waker stored on Pending?)")
                .unwrap();
        }
        assert_eq!(*woken.borrow(), [0, 1, 2], "waiters are woken in the order they started waiting");
    });
}

#[test]
fn a_dropped_waiter_does_not_swallow_a_notify() {
    let _guard = guard::watchdog();
    run(async {
        let notify = Rc::new(Notify::new());
        let quitter = spawn({
            let notify = notify.clone();
            async move { notify.notified().await }
        });
        let_the_woken_run().await; // it waits now
        quitter.abort();
        assert!(quitter.await.unwrap_err().is_cancelled());
        // Nobody waits any more, so this one is stored...
        notify.notify_one();
        // ...and the next notified() gets it at once.
        timeout(Duration::ZERO, notify.notified())
            .await
            .expect("the notify_one() went to a waiter that had been dropped (it stayed in the list)");
    });
}

#[test]
fn notify_one_from_another_thread_wakes_the_loop() {
    let _guard = guard::watchdog();
    run(async {
        let notify = Arc::new(Notify::new());
        let waiter = spawn({
            let notify = notify.clone();
            async move { notify.notified().await }
        });
        let_the_woken_run().await;
        let thread = std::thread::spawn({
            let notify = notify.clone();
            move || notify.notify_one()
        });
        timeout(guard::WAIT, waiter)
            .await
            .expect("a notify_one() from another thread never woke the waiter (lost wake-up)")
            .unwrap();
        thread.join().unwrap();
    });
}
