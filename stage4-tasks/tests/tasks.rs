//! Tasks and the scheduler: failures stay in their task, tasks spawn and join tasks, fib is
//! right, the crawler fetches every page, a refused connect fails one request only.

use std::net::SocketAddr;

#[path = "support/fail_after.rs"]
mod fail_after;

use fail_after::FailAfter;
use stage1_blocking::workshop::demo::{DemoConfig, DemoServer};
use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::selector::{Backend, Selector};
use stage3_futures::{Future, FutureError};
use stage4_tasks::fib::{Fib, MAX_N, fib_iterative};
use stage4_tasks::get::{Get, crawl};
use stage4_tasks::{AnyFuture, Coroutine, Scheduler, Sent, Step};

/// What a test of the scheduler that never ends most likely means, for the guard's message.
const SCHEDULER_HANG: &str = "the scheduler never finished: a task not queued again after the \
    future it waits on resolved, a coroutine that yields forever without getting anywhere (its \
    state not put back after a yield?), or a readiness event the selector lost";

#[test]
fn a_failing_coroutine_ends_only_its_own_task() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let before = scheduler.spawn("fib(10)", Fib::new(&scheduler, 10));
        let failing = scheduler.spawn("fails", FailAfter::<u32>::new(&scheduler, 3));
        let after = scheduler.spawn("fib(11)", Fib::new(&scheduler, 11));
        scheduler.run().unwrap();
        match failing.take_result() {
            Err(FutureError::Failed(err)) => assert_eq!(err.to_string(), "boom"),
            other => panic!("expected the task to fail, got {other:?}"),
        }
        assert_eq!(before.take_result().unwrap(), 55);
        assert_eq!(after.take_result().unwrap(), 89);
        assert_eq!(scheduler.alive(), 0);
    });
}

/// Spawns a fib task per `n` from inside its first step, then waits for each child's result
/// future in turn (a task joining tasks) and sums them.
struct SumOfFibs {
    scheduler: Scheduler,
    ns: Vec<u32>,
    children: Vec<Future<u64>>,
    next: usize,
}

impl Coroutine for SumOfFibs {
    type Output = anyhow::Result<u64>;
    fn resume(&mut self, sent: Sent) -> Step<Self::Output> {
        if let Err(err) = sent {
            return Step::Complete(Err(err.into()));
        }
        if self.children.is_empty() {
            for &n in &self.ns {
                self.children.push(self.scheduler.spawn(format!("fib({n})"), Fib::new(&self.scheduler, n)));
            }
        }
        if self.next < self.children.len() {
            self.next += 1;
            return Step::Yielded(AnyFuture::new(&self.children[self.next - 1]));
        }
        // Every child is done: read the typed results we kept.
        let values: Result<Vec<u64>, FutureError> = self.children.iter().map(Future::result).collect();
        Step::Complete(values.map(|v| v.iter().sum()).map_err(Into::into))
    }
    fn state(&self) -> &'static str {
        if self.children.is_empty() { "Start" } else { "Joining" }
    }
}

#[test]
fn a_task_can_spawn_tasks_and_wait_for_their_results() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let ns = vec![5, 10, 15];
        let sum =
            scheduler.spawn("sum", SumOfFibs { scheduler: scheduler.clone(), ns, children: vec![], next: 0 });
        scheduler.run().unwrap();
        assert_eq!(sum.take_result().unwrap(), 5 + 55 + 610);
        assert_eq!(scheduler.alive(), 0);
    });
}

/// Waits on a future that nobody will ever resolve.
struct Stuck {
    future: Future<()>,
}

impl Coroutine for Stuck {
    type Output = anyhow::Result<()>;
    fn resume(&mut self, _sent: Sent) -> Step<Self::Output> {
        Step::Yielded(AnyFuture::new(&self.future))
    }
    fn state(&self) -> &'static str {
        "Stuck"
    }
}

#[test]
fn a_task_that_can_never_wake_is_reported_not_waited_for_forever() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let future = scheduler.event_loop().create_future("never resolved");
        let _ = scheduler.spawn("stuck", Stuck { future });
        let err = scheduler.run().unwrap_err();
        assert!(err.to_string().contains("nothing will ever resolve"), "{err}");
    });
}

#[test]
fn fib_by_coroutines_matches_the_loop_and_binet() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let phi = (1.0 + 5f64.sqrt()) / 2.0;
        for n in 0..=20u32 {
            let steps_before = scheduler.steps();
            let result = scheduler.spawn(format!("fib({n})"), Fib::new(&scheduler, n));
            let value = scheduler.run_until_complete(&result).unwrap();
            assert_eq!(Some(value), fib_iterative(n), "fib({n})");
            let binet = (phi.powi(n as i32) / 5f64.sqrt()).round() as u64;
            assert_eq!(value, binet, "fib({n}) by Binet's formula");
            // One step per leaf (fib(n + 1) of them) plus the step that completes the task.
            assert_eq!(
                Some(scheduler.steps() - steps_before),
                fib_iterative(n + 1).map(|l| l + 1),
                "fib({n})"
            );
        }
    });
}

#[test]
fn max_n_is_the_last_fib_that_fits_in_a_u64() {
    // stage4-fib refuses N above MAX_N as a usage error; this is where that bound comes from.
    assert_eq!(fib_iterative(MAX_N), Some(12_200_160_415_121_876_738));
    assert_eq!(fib_iterative(MAX_N + 1), None);
}

fn paths(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("/{i}")).collect()
}

#[test]
fn the_crawler_passes_the_crawler_exam_on_every_backend() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        // Stage 1's exam: every page (whole and trickled), a 404, garbage, truncated and endless
        // responses. Afterwards no task is alive and no fd is registered.
        for backend in Backend::available() {
            let scheduler = Scheduler::with_selector(Selector::with_backend(backend).unwrap());
            testkit::check_crawler(|addr, paths| {
                let outcomes = crawl(&scheduler, addr, paths, |_| {}).unwrap();
                assert_eq!(scheduler.alive(), 0, "{backend:?}");
                assert_eq!(scheduler.event_loop().watched(), 0, "{backend:?}: no fd left registered");
                outcomes.into_iter().map(|o| (o.path, o.result)).collect()
            })
            .unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
        }
    });
}

fn refused_addr() -> SocketAddr {
    testkit::refused_addr().unwrap()
}

#[test]
fn a_refused_connect_fails_only_that_request() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, SCHEDULER_HANG, || {
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        let closed = refused_addr();
        for backend in Backend::available() {
            let scheduler = Scheduler::with_selector(Selector::with_backend(backend).unwrap());
            let good: Vec<_> = paths(4)
                .into_iter()
                .map(|p| {
                    let fut = scheduler.spawn(p.clone(), Get::new(&scheduler, server.addr(), &p));
                    (p, fut)
                })
                .collect();
            let refused = scheduler.spawn("refused", Get::new(&scheduler, closed, "/1"));
            scheduler.run().unwrap();
            match refused.take_result() {
                Err(FutureError::Failed(err)) => testkit::check_refused(&err).unwrap(),
                other => panic!("{backend:?}: expected a refused connect, got {other:?}"),
            }
            for (path, fut) in good {
                testkit::check_page(&path, &fut.take_result())
                    .unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
            }
        }
    });
}
