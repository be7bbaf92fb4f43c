//! Exercise 4.5 (the book's stage 4 exercises): cancelling a task. Cancelling the future
//! `spawn` returned cancels the task: the future it waits on is cancelled (so the selector
//! forgets its fd), and the coroutine is resumed once with `Err(FutureError::Cancelled)` so it
//! can clean up. Judged with `scripts/exercise.sh check 4.5` (only compiled with the
//! `exercises` feature).
#![cfg(feature = "exercises")]

use std::cell::RefCell;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use stage1_blocking::workshop::testkit;
use stage3_futures::FutureError;
use stage4_tasks::get::Get;
use stage4_tasks::{AnyFuture, Coroutine, Scheduler, Sent, Step};

/// What a test here that never ends most likely means, for the guard's message.
const SCHEDULER_HANG: &str = "the loop never resolved the future: a callback never scheduled, or \
    a readiness event lost (the Get's connect or send never completed, so it never reached its wait)";

/// Waits for a socket that never becomes readable; says how it was resumed.
struct WaitsForever {
    scheduler: Scheduler,
    fd: i32,
    log: Rc<RefCell<Vec<String>>>,
}

impl Coroutine for WaitsForever {
    type Output = anyhow::Result<()>;
    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        match sent {
            Err(FutureError::Cancelled) if !self.log.borrow().is_empty() => {
                self.log.borrow_mut().push("resumed with Cancelled: cleaned up".to_string());
                Step::Complete(Err(FutureError::Cancelled.into()))
            }
            Err(err) => Step::Complete(Err(err.into())),
            Ok(()) if self.log.borrow().is_empty() => {
                self.log.borrow_mut().push("waiting".to_string());
                Step::Yielded(AnyFuture::new(&self.scheduler.wait_readable(self.fd)))
            }
            Ok(()) => Step::Complete(Ok(())),
        }
    }
    fn state(&self) -> &'static str {
        "Waiting"
    }
}

/// Runs the queued callbacks (no sleeping in select), as far as they go.
fn settle(scheduler: &Scheduler) {
    let lp = scheduler.event_loop();
    while lp.ready_len() > 0 {
        lp.run_once().unwrap();
    }
}

#[test]
fn a_cancelled_task_is_resumed_once_with_cancelled_and_its_fd_is_forgotten() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let (quiet, _peer) = testkit::tcp_pair().unwrap();
        let scheduler = Scheduler::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let task = scheduler.spawn(
            "waits forever",
            WaitsForever { scheduler: scheduler.clone(), fd: quiet.as_raw_fd(), log: Rc::clone(&log) },
        );
        settle(&scheduler);
        assert_eq!(scheduler.event_loop().watched(), 1, "the task should be waiting for its socket");
        assert!(task.cancel());
        settle(&scheduler);
        assert_eq!(
            scheduler.event_loop().watched(),
            0,
            "the cancelled task's fd is still watched: cancelling the task must cancel the future it \
             waits on (and the loop then forgets the fd)"
        );
        assert_eq!(*log.borrow(), ["waiting", "resumed with Cancelled: cleaned up"]);
        assert_eq!(scheduler.alive(), 0, "the cancelled task still counts as alive");
        scheduler.run().unwrap();
    });
}

#[test]
fn a_cancelled_get_closes_its_request() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        // A server that completes the handshake (the kernel does) and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let scheduler = Scheduler::new().unwrap();
        let get = scheduler.spawn("GET /1", Get::new(&scheduler, silent.local_addr().unwrap(), "/1"));
        // Connect, send, then wait for the response that never comes.
        while scheduler.steps() < 2 {
            scheduler.event_loop().run_once().unwrap();
        }
        settle(&scheduler);
        assert_eq!(scheduler.event_loop().watched(), 1, "the Get should be waiting for its response");
        assert!(get.cancel());
        settle(&scheduler);
        assert_eq!(scheduler.event_loop().watched(), 0, "the cancelled Get's fd is still watched");
        assert_eq!(scheduler.alive(), 0, "the cancelled Get still counts as alive");
        assert!(matches!(get.take_result(), Err(FutureError::Cancelled)));
    });
}
