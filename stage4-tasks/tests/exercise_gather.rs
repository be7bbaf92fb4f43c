//! Exercise 4.4 (the book's stage 4 exercises): `gather::Gather<T>`, a coroutine that waits
//! for every future it is given and completes with all their values, or the first error.
//! Judged with `scripts/exercise.sh check 4.4` (only compiled with the `exercises` feature).
#![cfg(feature = "exercises")]

#[path = "support/fail_after.rs"]
mod fail_after;

use fail_after::FailAfter;
use stage1_blocking::workshop::testkit;
use stage4_tasks::Scheduler;
use stage4_tasks::fib::Fib;
use stage4_tasks::gather::Gather;

/// What a test here that never ends most likely means, for the guard's message.
const SCHEDULER_HANG: &str = "the scheduler never finished: the gather task not queued again after \
    the child it waits on resolved, or a Gather that yields forever without taking its next child";

#[test]
fn gather_completes_with_every_value_in_the_order_given() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        // fib(15) finishes last, fib(1) first: the order of the values is still the order given.
        let children = [15, 1, 10].map(|n| scheduler.spawn(format!("fib({n})"), Fib::new(&scheduler, n)));
        let all = scheduler.spawn("gather", Gather::new(children.to_vec()));
        scheduler.run().unwrap();
        assert_eq!(all.take_result().unwrap(), [610, 1, 55]);
        assert_eq!(scheduler.alive(), 0);
    });
}

#[test]
fn gather_of_nothing_completes_with_an_empty_vec() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let all = scheduler.spawn("gather", Gather::<u64>::new(Vec::new()));
        scheduler.run().unwrap();
        assert_eq!(all.take_result().unwrap(), Vec::<u64>::new());
    });
}

#[test]
fn gather_fails_with_the_first_error() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let children = vec![
            scheduler.spawn("fib(12)", Fib::new(&scheduler, 12)),
            scheduler.spawn("fails", FailAfter::<u64>::new(&scheduler, 3)),
            scheduler.spawn("fib(5)", Fib::new(&scheduler, 5)),
        ];
        let all = scheduler.spawn("gather", Gather::new(children));
        scheduler.run().unwrap();
        let err = all.take_result().unwrap_err();
        assert!(format!("{err:#}").contains("boom"), "gather's error should be the child's: {err:#}");
    });
}
