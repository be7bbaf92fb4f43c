//! Exercise 5.4 (the stage 5 chapter): `Runtime::spawn_at_most(n)` gives a group whose tasks
//! run at most `n` at a time, built on `sync::Semaphore`.
//! `scripts/exercise.sh check 5.4` runs these with `--features exercises`.
#![cfg(feature = "exercises")]

mod guard;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use stage5_async_await::time::timeout;
use stage5_async_await::{Runtime, yield_now};

/// Counts the tasks inside their body right now, and the most there ever were.
#[derive(Clone, Default)]
struct Inside {
    now: Rc<Cell<usize>>,
    most: Rc<Cell<usize>>,
}

impl Inside {
    /// A task body: enter, let the loop run a few turns (so the others get their chance to
    /// enter too), leave, and give `value` back.
    async fn visit(self, value: usize) -> usize {
        self.now.set(self.now.get() + 1);
        self.most.set(self.most.get().max(self.now.get()));
        for _ in 0..3 {
            yield_now().await;
        }
        self.now.set(self.now.get() - 1);
        value
    }
}

#[test]
fn spawn_at_most_runs_no_more_than_n_tasks_of_the_group_at_once() {
    let _guard = guard::watchdog();
    let runtime = Runtime::new().unwrap();
    let group = runtime.spawn_at_most(2);
    let inside = Inside::default();
    let handles: Vec<_> = (0..6).map(|i| group.spawn(inside.clone().visit(i * 10))).collect();
    let outputs = runtime.block_on(async {
        let mut outputs = Vec::new();
        for handle in handles {
            let joined = timeout(guard::WAIT, handle)
                .await
                .expect("a task of the group never finished: a permit was never given back (lost wake-up?)");
            outputs.push(joined.expect("the task failed"));
        }
        outputs
    });
    assert_eq!(outputs, [0, 10, 20, 30, 40, 50], "every task of the group ran, and gave its output back");
    assert_eq!(inside.most.get(), 2, "at most 2 (and, with 6 waiting, exactly 2) tasks of the group at once");
}

#[test]
fn a_group_of_one_runs_its_tasks_one_after_the_other_in_spawn_order() {
    let _guard = guard::watchdog();
    let runtime = Runtime::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    runtime.block_on(async {
        // spawned from inside a task this time
        let group = runtime.spawn_at_most(1);
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let log = log.clone();
                group.spawn(async move {
                    log.borrow_mut().push(format!("start {i}"));
                    yield_now().await;
                    log.borrow_mut().push(format!("end {i}"));
                })
            })
            .collect();
        for handle in handles {
            timeout(guard::WAIT, handle).await.expect("a task of the group never finished").unwrap();
        }
    });
    let expected: Vec<String> = (0..4).flat_map(|i| [format!("start {i}"), format!("end {i}")]).collect();
    assert_eq!(*log.borrow(), expected, "one at a time, first come first served (the semaphore is fair)");
}

#[test]
fn tasks_outside_the_group_are_not_held_back() {
    let _guard = guard::watchdog();
    let runtime = Runtime::new().unwrap();
    let group = runtime.spawn_at_most(1);
    let inside = Inside::default();
    let (grouped, free): (Vec<_>, Vec<_>) = (
        (0..3).map(|i| group.spawn(inside.clone().visit(i))).collect(),
        (0..3).map(|i| runtime.spawn(inside.clone().visit(100 + i))).collect(),
    );
    runtime.block_on(async {
        for handle in grouped.into_iter().chain(free) {
            timeout(guard::WAIT, handle).await.expect("a task never finished").unwrap();
        }
    });
    // One of the group plus the three free tasks were inside together.
    assert_eq!(inside.most.get(), 4, "the limit applies to the group's tasks only");
}
