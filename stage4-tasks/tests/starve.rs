//! Cooperative scheduling, shown by the order of events (the book's stage 4, exercise 4.1):
//! a `Fib` that yields at every leaf lets reads on other tasks finish long before it does;
//! remove the yield and every read waits until fib is done. No clock is read: the test
//! records *what happened before what* in a shared log.

use std::cell::RefCell;
use std::io::Write;
use std::net::Shutdown;
use std::rc::Rc;

use stage1_blocking::workshop::testkit;
use stage4_tasks::fib::Fib;
use stage4_tasks::get::ReadToEnd;
use stage4_tasks::{Coroutine, Scheduler, Sent, Step};

/// What a test of the scheduler that never ends most likely means, for the guard's message.
const SCHEDULER_HANG: &str = "the scheduler never finished: a task not queued again after the \
    future it waits on resolved, a coroutine that yields forever without getting anywhere (its \
    state not put back after a yield?), or a readiness event the selector lost";

/// fib(22) takes 28,657 task steps when every leaf yields: each one is a turn of the loop.
const N: u32 = 22;
const READERS: usize = 10;

/// `ReadToEnd` as a task of its own (a task's output is an `anyhow::Result`).
struct Read(ReadToEnd);

impl Coroutine for Read {
    type Output = anyhow::Result<Vec<u8>>;
    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        match self.0.resume(sent) {
            Step::Yielded(future) => Step::Yielded(future),
            Step::Complete(result) => Step::Complete(result.map_err(Into::into)),
        }
    }
    fn state(&self) -> &'static str {
        self.0.state()
    }
}

#[test]
fn a_fib_that_yields_lets_every_read_finish_first() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let log: Rc<RefCell<Vec<String>>> = Rc::default();
        // Spawned first, so it also runs first.
        let fib = scheduler.spawn(format!("fib({N})"), Fib::new(&scheduler, N));
        let done = Rc::clone(&log);
        fib.add_done_callback(move |_| done.borrow_mut().push("fib done".to_string()));
        // Each reader's bytes are in its socket before the loop starts, so a read completes on
        // the first turn of the loop that looks at the selector.
        let mut peers = Vec::new();
        for i in 0..READERS {
            let (reader, mut peer) = testkit::tcp_pair().unwrap();
            peer.set_nonblocking(false).unwrap();
            peer.write_all(format!("response {i}").as_bytes()).unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            peers.push(peer);
            let read = scheduler.spawn(format!("read {i}"), Read(ReadToEnd::new(&scheduler, reader)));
            let arrived = Rc::clone(&log);
            read.add_done_callback(move |read| {
                let bytes = read.take_result().unwrap();
                arrived.borrow_mut().push(String::from_utf8_lossy(&bytes).into_owned());
            });
        }
        scheduler.run().unwrap();
        assert_eq!(fib.take_result().unwrap(), 17_711);
        let log = log.borrow();
        assert_eq!(log.len(), READERS + 1, "{log:?}");
        let fib_at = log.iter().position(|event| event == "fib done").unwrap();
        assert_eq!(
            fib_at, READERS,
            "every read waited for fib({N}) to finish (events: {log:?}): a task that never yields \
             starves the loop (does Fib complete its leaves without yield_now?)"
        );
    });
}
