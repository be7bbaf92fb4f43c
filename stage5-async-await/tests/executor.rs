//! Executor, wakers and timers: tasks, JoinHandles, panics, aborts, cross-thread wakes.
//! Timeouts below are *failure detectors* (a lost wake-up fails the test instead of hanging
//! it), never synchronisation: each test passes as soon as the event it waits for happens.

mod guard;

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use stage5_async_await::time::{Elapsed, interval, sleep, sleep_until, timeout};
use stage5_async_await::{JoinError, Runtime, call_at, call_later, call_soon, run, spawn, yield_now};

/// A failure detector, never a wait: shorter than the watchdog, so this message comes first.
const GUARD: Duration = guard::WAIT;

#[test]
fn block_on_returns_the_output() {
    let _guard = guard::watchdog();
    assert_eq!(run(async { 6 * 7 }), 42);
}

#[test]
fn spawned_tasks_run_in_fifo_order_and_join() {
    let _guard = guard::watchdog();
    let order = Rc::new(RefCell::new(Vec::new()));
    let out = run({
        let order = order.clone();
        async move {
            let handles: Vec<_> = (0..5)
                .map(|i| {
                    let order = order.clone();
                    spawn(async move {
                        order.borrow_mut().push(i);
                        i * 10
                    })
                })
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        }
    });
    assert_eq!(out, 100);
    assert_eq!(
        *order.borrow(),
        vec![0, 1, 2, 3, 4],
        "tasks ran out of spawn order: the ready queue is not FIFO"
    );
}

#[test]
fn yield_now_lets_the_others_run_first() {
    let _guard = guard::watchdog();
    let log = Rc::new(RefCell::new(Vec::new()));
    run({
        let log = log.clone();
        async move {
            let a = {
                let log = log.clone();
                spawn(async move {
                    for i in 0..3 {
                        log.borrow_mut().push(format!("a{i}"));
                        yield_now().await;
                    }
                })
            };
            let b = {
                let log = log.clone();
                spawn(async move {
                    for i in 0..3 {
                        log.borrow_mut().push(format!("b{i}"));
                        yield_now().await;
                    }
                })
            };
            a.await.unwrap();
            b.await.unwrap();
        }
    });
    assert_eq!(
        *log.borrow(),
        ["a0", "b0", "a1", "b1", "a2", "b2"],
        "tasks did not take turns at yield_now: a yielding task must go to the back of a FIFO ready queue"
    );
}

#[test]
fn a_panicking_task_is_reported_and_the_others_go_on() {
    let _guard = guard::watchdog();
    let (panicked, other) = run(async {
        let bad = spawn(async {
            yield_now().await;
            panic!("boom in a task");
        });
        let good = spawn(async {
            for _ in 0..3 {
                yield_now().await;
            }
            "still running"
        });
        (bad.await, good.await)
    });
    let err = panicked.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("boom in a task"));
    assert_eq!(other.unwrap(), "still running");
}

/// Sets a flag when dropped: proves a future's destructors ran.
struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn abort_cancels_and_runs_destructors() {
    let _guard = guard::watchdog();
    let dropped = Rc::new(Cell::new(false));
    let result = run({
        let dropped = dropped.clone();
        async move {
            let handle = spawn(async move {
                let _flag = DropFlag(dropped);
                std::future::pending::<()>().await;
            });
            yield_now().await; // let it start and park
            handle.abort();
            handle.await
        }
    });
    assert!(matches!(result, Err(JoinError::Cancelled)));
    assert!(dropped.get());
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    let _guard = guard::watchdog();
    let done = Rc::new(Cell::new(false));
    run({
        let done = done.clone();
        async move {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            drop(spawn(async move {
                yield_now().await;
                yield_now().await;
                done.set(true);
                tx.send(()).unwrap();
            }));
            // The task still runs without its handle. It needs three turns, each of which
            // comes after one of ours on a FIFO ready queue: a thousand is a bound, not a wait.
            let mut turns = 0;
            while rx.try_recv().is_err() {
                turns += 1;
                assert!(
                    turns < 1000,
                    "the main future yielded {turns} times and the detached task never finished: \
                     a task that keeps yielding STARVES the other ready tasks (the ready queue must \
                     be FIFO: a woken task goes to the back), or the detached task's wake was lost"
                );
                yield_now().await;
            }
        }
    });
    assert!(done.get());
}

#[test]
fn dropping_the_runtime_cancels_pending_tasks() {
    let _guard = guard::watchdog();
    let dropped = Rc::new(Cell::new(false));
    let rt = Runtime::new().unwrap();
    let handle = rt.spawn({
        let dropped = dropped.clone();
        async move {
            let _flag = DropFlag(dropped);
            std::future::pending::<()>().await;
        }
    });
    rt.block_on(yield_now());
    assert!(!dropped.get());
    drop(rt);
    assert!(dropped.get());
    assert!(handle.is_finished());
}

#[test]
fn a_future_that_wakes_itself_during_poll_is_polled_again() {
    let _guard = guard::watchdog();
    let mut polls = 0;
    run(poll_fn(|cx| {
        polls += 1;
        if polls == 1000 {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }));
    assert_eq!(polls, 1000);
}

#[test]
fn a_spawned_task_that_wakes_itself_during_its_poll_is_polled_again() {
    let _guard = guard::watchdog();
    // `yield_now` wakes the task from *inside* its own poll: the wake must queue it again, so
    // the task's "queued" flag has to be cleared before the poll, not after.
    let polls = run(async {
        let task = spawn(async {
            let mut polls = 1;
            for _ in 0..100 {
                yield_now().await;
                polls += 1;
            }
            polls
        });
        timeout(GUARD, task).await.unwrap_or_else(|_| {
            panic!(
                "a spawned task that called yield_now() was never polled again (LOST WAKE-UP): its \
                 wake came during its poll while it still counted as queued, and was dropped \
                 (clear the queued flag before the poll)"
            )
        })
    });
    assert_eq!(polls.unwrap(), 101);
}

/// The loop thread's scheduler state from /proc ('S' = asleep in a syscall such as epoll_wait).
fn thread_state(tid: u64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // "tid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn a_waker_sent_to_another_thread_wakes_the_loop_asleep_in_the_selector() {
    let _guard = guard::watchdog();
    let tid = stage5_async_await::sys::thread_id();
    let (tx, rx) = mpsc::channel::<Waker>();
    let helper = std::thread::spawn(move || {
        let waker = rx.recv().unwrap();
        // Wait until the loop thread really sleeps in the selector (no timers are armed,
        // so it waits with no timeout: only the wake fd can get it out).
        if std::path::Path::new("/proc/self/task").exists() {
            while thread_state(tid) != Some('S') {
                std::thread::yield_now();
            }
        }
        waker.wake();
    });
    let mut sent = false;
    run(poll_fn(move |cx| {
        if sent {
            return Poll::Ready(());
        }
        sent = true;
        tx.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }));
    helper.join().unwrap();
}

#[test]
fn wakes_racing_with_the_loop_going_to_sleep_are_never_lost() {
    let _guard = guard::watchdog();
    // Each round hands a waker to a fresh thread that wakes it at once: sometimes before the
    // loop checks its queues, sometimes between the check and epoll_wait, sometimes during.
    let rounds = run(async {
        let mut rounds = 0;
        for _ in 0..200 {
            let mut spawned = false;
            let fut = poll_fn(|cx| {
                if spawned {
                    return Poll::Ready(());
                }
                spawned = true;
                let w = cx.waker().clone();
                std::thread::spawn(move || w.wake());
                Poll::Pending
            });
            timeout(GUARD, fut).await.expect("a cross-thread wake was lost");
            rounds += 1;
        }
        rounds
    });
    assert_eq!(rounds, 200);
}

#[test]
fn each_thread_runs_its_own_runtime() {
    let _guard = guard::watchdog();
    let threads: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                let rt = Runtime::new().unwrap();
                rt.block_on(async move {
                    let h = spawn(async move { i + 1 });
                    sleep(Duration::from_millis(1)).await;
                    h.await.unwrap()
                })
            })
        })
        .collect();
    let results: Vec<i32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results, vec![1, 2]);
}

#[test]
fn timers_fire_in_deadline_order() {
    let _guard = guard::watchdog();
    // Order only, never elapsed time: however long the machine takes between computing the
    // deadlines and arming them, the heap hands out what is due earliest first.
    let called = Rc::new(RefCell::new(Vec::new()));
    let slept = Rc::new(RefCell::new(Vec::new()));
    run({
        let (called, slept) = (called.clone(), slept.clone());
        async move {
            // One base instant: deadlines do not depend on when each one is armed.
            let base = Instant::now();
            let offsets = [30u64, 10, 20, 0, 25];
            // `call_at` always goes through the heap: even if every deadline has passed by
            // the time the loop looks, they are popped (and run) in deadline order.
            for ms in offsets {
                let called = called.clone();
                call_at(base + Duration::from_millis(ms), move || called.borrow_mut().push(ms));
            }
            // A `Sleep` whose deadline has already passed at its first poll completes right
            // there, without the heap; the ones still waiting at that poll (`armed`) are in the
            // heap and must come out of it in deadline order.
            let handles: Vec<_> = offsets
                .into_iter()
                .map(|ms| {
                    let slept = slept.clone();
                    spawn(async move {
                        let mut sleep = std::pin::pin!(sleep_until(base + Duration::from_millis(ms)));
                        let armed = poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx).is_pending())).await;
                        sleep.await;
                        slept.borrow_mut().push((ms, armed));
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            // Every callback is due by now; the loop pops due timers before it runs tasks, so
            // one more turn after the last deadline has run them all.
            sleep_until(base + Duration::from_millis(30)).await;
            yield_now().await;
        }
    });
    assert_eq!(*called.borrow(), vec![0, 10, 20, 25, 30], "call_at callbacks run in deadline order");
    let slept = slept.borrow();
    assert_eq!(slept.len(), 5, "every sleep completed");
    let from_heap: Vec<u64> = slept.iter().filter(|(_, armed)| *armed).map(|(ms, _)| *ms).collect();
    let mut sorted = from_heap.clone();
    sorted.sort_unstable();
    assert_eq!(from_heap, sorted, "sleeps that waited in the heap fire in deadline order: {slept:?}");
}

#[test]
fn sleep_never_completes_before_its_deadline() {
    let _guard = guard::watchdog();
    run(async {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(20);
        sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn cancelled_callbacks_never_run() {
    let _guard = guard::watchdog();
    let ran = Rc::new(RefCell::new(Vec::new()));
    run({
        let ran = ran.clone();
        async move {
            let push = |name: &'static str| {
                let ran = ran.clone();
                move || ran.borrow_mut().push(name)
            };
            // `base` is read first, so base + 2 ms is before any deadline call_later computes.
            let base = stage5_async_await::time();
            let _a = call_later(Duration::from_millis(5), push("later 5"));
            let b = call_later(Duration::from_millis(1), push("later 1 (cancelled)"));
            let _c = call_at(base + Duration::from_millis(2), push("at 2"));
            let _d = call_soon(push("soon"));
            let e = call_soon(push("soon (cancelled)"));
            b.cancel();
            e.cancel();
            assert!(b.cancelled());
            sleep(Duration::from_millis(10)).await;
        }
    });
    assert_eq!(*ran.borrow(), vec!["soon", "at 2", "later 5"]);
}

#[test]
fn cancelling_a_callback_whose_captures_touch_the_timers_does_not_panic() {
    let _guard = guard::watchdog();
    // The cancelled callback is dropped, and with it what it captured: here an armed Sleep,
    // whose destructor disarms its own timer. Dropping it while the timer heap was still
    // borrowed (by cancel itself) was a "RefCell already borrowed" panic.
    run(async {
        let mut armed = Box::pin(sleep(Duration::from_secs(3600)));
        poll_fn(|cx| {
            assert!(armed.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let handle = call_later(Duration::from_secs(3600), move || drop(armed));
        handle.cancel();
        assert!(handle.cancelled());
    });
}

#[test]
fn a_panicking_callback_leaves_the_loop_running() {
    let _guard = guard::watchdog();
    let ran = Rc::new(Cell::new(false));
    run({
        let ran = ran.clone();
        async move {
            call_soon(|| panic!("callback boom"));
            call_soon(move || ran.set(true));
            yield_now().await;
            yield_now().await;
        }
    });
    assert!(ran.get());
}

#[test]
fn timeout_gives_the_output_when_the_future_wins() {
    let _guard = guard::watchdog();
    let r = run(timeout(Duration::from_secs(10), async {
        sleep(Duration::from_millis(1)).await;
        7
    }));
    assert_eq!(r, Ok(7));
}

#[test]
fn timeout_drops_the_future_when_time_wins() {
    let _guard = guard::watchdog();
    let dropped = Rc::new(Cell::new(false));
    let r = run({
        let dropped = dropped.clone();
        timeout(Duration::from_millis(5), async move {
            let _flag = DropFlag(dropped);
            std::future::pending::<()>().await;
        })
    });
    assert_eq!(r, Err(Elapsed));
    assert!(dropped.get());
}

#[test]
fn timeout_zero_still_lets_a_ready_future_win() {
    let _guard = guard::watchdog();
    assert_eq!(run(timeout(Duration::ZERO, async { 1 })), Ok(1));
    assert_eq!(run(timeout(Duration::ZERO, std::future::pending::<()>())), Err(Elapsed));
}

#[test]
fn interval_ticks_on_schedule_without_bursts() {
    let _guard = guard::watchdog();
    run(async {
        let period = Duration::from_millis(3);
        let mut ticker = interval(period);
        let first = ticker.tick().await;
        let second = ticker.tick().await;
        let third = ticker.tick().await;
        // On schedule: a whole number of periods apart (more than one only if this loaded
        // machine made a tick late, and then the schedule skips ahead instead of bursting).
        for gap in [second - first, third - second] {
            assert!(gap >= period);
            assert_eq!(gap.as_nanos() % period.as_nanos(), 0);
        }
        assert!(Instant::now() >= third);
    });
}

/// A future that is Pending until a shared flag is set, registering the waker each time.
struct Gate(Rc<RefCell<(bool, Option<Waker>)>>);
impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.0.borrow_mut();
        if g.0 {
            Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn a_join_handle_awaited_by_another_task_wakes_it() {
    let _guard = guard::watchdog();
    let gate = Rc::new(RefCell::new((false, None::<Waker>)));
    let v = run({
        let gate = gate.clone();
        async move {
            let worker = spawn(Gate(gate.clone()));
            let waiter = spawn(async move { worker.await.map(|()| "joined") });
            yield_now().await;
            let waker = {
                let mut g = gate.borrow_mut();
                g.0 = true;
                g.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            timeout(GUARD, waiter)
                .await
                .expect(
                    "a task awaiting a JoinHandle was never woken when that task finished: a LOST \
                     WAKE-UP (did poll_join return Pending without storing the awaiting task's waker?)",
                )
                .unwrap()
        }
    });
    assert_eq!(v.unwrap(), "joined");
}

#[test]
fn iteration_time_is_read_once_per_iteration() {
    let _guard = guard::watchdog();
    run(async {
        let first = stage5_async_await::iteration_time();
        // No `.await` in between: still the same iteration, so the very same instant, and
        // never ahead of the real clock.
        assert_eq!(stage5_async_await::iteration_time(), first);
        assert!(first <= stage5_async_await::time());
        // After an `.await` that gave the loop a turn, a later iteration read the clock again,
        // after the instant we read here (order only: no assumption on how long anything took).
        let before = stage5_async_await::time();
        yield_now().await;
        assert!(stage5_async_await::iteration_time() >= before);
        assert_eq!(stage5_async_await::iteration_time(), stage5_async_await::iteration_time());
    });
}

#[test]
fn duration_max_means_never_for_sleep_timeout_call_later_and_interval() {
    let _guard = guard::watchdog();
    run(async {
        // A sleep for ever loses against any finite timeout...
        assert_eq!(timeout(Duration::from_millis(1), sleep(Duration::MAX)).await, Err(Elapsed));
        // ...and a timeout of for ever lets any future finish.
        assert_eq!(timeout(Duration::MAX, async { 7 }).await, Ok(7));
        assert_eq!(timeout(Duration::MAX, sleep(Duration::from_millis(1))).await, Ok(()));
        // Its deadline is later than any a program would compute.
        let century = Duration::from_secs(100 * 365 * 24 * 3600);
        assert!(sleep(Duration::MAX).deadline() > Instant::now() + century / 2);
        // A callback for ever never runs; cancelling it is fine.
        let ran = Rc::new(Cell::new(false));
        let handle = call_later(Duration::MAX, {
            let ran = ran.clone();
            move || ran.set(true)
        });
        sleep(Duration::from_millis(1)).await;
        yield_now().await;
        assert!(!ran.get(), "a call_later(Duration::MAX) callback ran");
        handle.cancel();
        // An interval of for ever ticks once, at once, then never again.
        let mut forever = interval(Duration::MAX);
        forever.tick().await;
        assert_eq!(timeout(Duration::from_millis(1), forever.tick()).await, Err(Elapsed));
    });
}

/// A value whose destructor panics, as a buggy guard in user code might.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("a destructor panicked");
    }
}

/// A task that holds a [`PanicsWhenDropped`] across an `.await` that never completes.
async fn holds_a_panicking_guard() {
    let _guard = PanicsWhenDropped;
    std::future::pending::<()>().await;
}

#[test]
fn a_destructor_that_panics_in_an_aborted_task_is_reported_through_its_join_handle() {
    let _guard = guard::watchdog();
    let runtime = Runtime::new().unwrap();
    let after = runtime.block_on(async {
        let task = spawn(holds_a_panicking_guard());
        yield_now().await; // the task runs once: it now holds the guard
        task.abort();
        let err = timeout(GUARD, task).await.expect("the aborted task never finished").unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert!(!err.is_cancelled(), "{err:?}");
        assert_eq!(err.panic_message(), Some("a destructor panicked"));
        assert!(err.to_string().contains("while its future was being dropped"), "{err}");
        // The loop goes on.
        spawn(async { "still running" }).await.unwrap()
    });
    assert_eq!(after, "still running");
    // Dropping the runtime cancels the tasks still pending: a panicking destructor there must
    // not escape `Runtime::drop` either.
    runtime.block_on(async {
        spawn(holds_a_panicking_guard());
        yield_now().await;
    });
    drop(runtime);
}
