//! The runtime-agnostic primitives (sync, combinators, blocking) on this stage's real runtime:
//! spawned tasks, the reactor's wake fd for wakes from other threads, and the timer heap.
//! No assertion depends on timing: orders are forced through channels and counters.

mod guard;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use stage5_async_await::blocking::{BlockingError, spawn_blocking};
use stage5_async_await::combinators::{Either, as_completed, join_all, select};
use stage5_async_await::sync::{Event, Mutex, Semaphore, mpsc, oneshot};
use stage5_async_await::{Runtime, spawn, time, yield_now};

fn runtime() -> Runtime {
    Runtime::new().expect("runtime")
}

#[test]
fn producer_and_consumer_tasks_respect_the_channel_bound() {
    let _guard = guard::watchdog();
    const CAPACITY: usize = 2;
    let log = Rc::new(RefCell::new(Vec::new()));
    let (tx, mut rx) = mpsc::channel(CAPACITY);
    let received = runtime().block_on(async {
        let producer_log = log.clone();
        let producer = spawn(async move {
            for i in 0..20 {
                tx.send(i).await.unwrap();
                producer_log.borrow_mut().push(('s', i));
            }
            // tx dropped here: the consumer's loop ends.
        });
        let consumer_log = log.clone();
        let consumer = spawn(async move {
            let mut got = Vec::new();
            while let Some(i) = rx.recv().await {
                consumer_log.borrow_mut().push(('r', i));
                got.push(i);
                yield_now().await; // a slow consumer: the producer must wait for it
            }
            got
        });
        producer.await.unwrap();
        consumer.await.unwrap()
    });
    assert_eq!(received, (0..20).collect::<Vec<_>>());
    // Back-pressure: at no point were more than CAPACITY messages sent but not yet received.
    let (mut sent, mut recv) = (0usize, 0usize);
    for &(what, _) in log.borrow().iter() {
        match what {
            's' => sent += 1,
            _ => recv += 1,
        }
        assert!(sent <= recv + CAPACITY, "producer ran ahead of the bound: {:?}", log.borrow());
    }
}

#[test]
fn a_semaphore_caps_how_many_tasks_are_inside() {
    let _guard = guard::watchdog();
    const LIMIT: usize = 3;
    let semaphore = Rc::new(Semaphore::new(LIMIT));
    let inside = Rc::new(Cell::new(0usize));
    let most = Rc::new(Cell::new(0usize));
    let finished = runtime().block_on(async {
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (semaphore, inside, most) = (semaphore.clone(), inside.clone(), most.clone());
                spawn(async move {
                    let _permit = semaphore.acquire().await.unwrap();
                    inside.set(inside.get() + 1);
                    most.set(most.get().max(inside.get()));
                    for _ in 0..3 {
                        yield_now().await; // hold the permit across awaits
                    }
                    inside.set(inside.get() - 1);
                    i
                })
            })
            .collect();
        join_all(tasks).await
    });
    let finished: Vec<usize> = finished.into_iter().map(Result::unwrap).collect();
    assert_eq!(finished, (0..10).collect::<Vec<_>>());
    assert_eq!(most.get(), LIMIT, "the limit was reached and never exceeded");
    assert_eq!(semaphore.available_permits(), LIMIT);
}

#[test]
fn a_mutex_held_across_awaits_keeps_critical_sections_whole() {
    let _guard = guard::watchdog();
    let mutex = Rc::new(Mutex::new(Vec::new()));
    runtime().block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let mutex = mutex.clone();
                spawn(async move {
                    let mut log = mutex.lock().await;
                    log.push((t, "enter"));
                    yield_now().await; // other tasks run now, and must queue on the lock
                    log.push((t, "leave"));
                })
            })
            .collect();
        join_all(tasks).await;
    });
    let log = Rc::try_unwrap(mutex).ok().unwrap().into_inner();
    for pair in log.chunks(2) {
        assert_eq!(pair[0].0, pair[1].0, "another task got in: {log:?}");
        assert_eq!((pair[0].1, pair[1].1), ("enter", "leave"));
    }
    assert_eq!(log.len(), 8);
}

#[test]
fn spawn_blocking_result_and_panic_reach_the_loop_from_a_pool_thread() {
    let _guard = guard::watchdog();
    let (sum, failed) = runtime().block_on(async {
        // Nothing else is ready while these run, so the loop goes to sleep in the selector
        // and only the pool thread's wake (remote queue + wake fd) brings it back.
        let sum = spawn_blocking(|| (1..=1000u64).sum::<u64>()).await;
        let failed = spawn_blocking(|| -> u64 { panic!("deliberate") }).await;
        (sum, failed)
    });
    assert_eq!(sum, Ok(500_500));
    assert_eq!(failed, Err(BlockingError::Panicked("deliberate".into())));
}

#[test]
fn a_channel_fed_from_a_plain_thread_wakes_the_loop() {
    let _guard = guard::watchdog();
    let (tx, mut rx) = mpsc::channel(1);
    let feeder = std::thread::spawn(move || {
        for i in 0..50u32 {
            // A plain thread has no runtime: drive the send with try_send + yield.
            let mut value = i;
            loop {
                match tx.try_send(value) {
                    Ok(()) => break,
                    Err(mpsc::TrySendError::Full(v)) => {
                        value = v;
                        std::thread::yield_now();
                    }
                    Err(mpsc::TrySendError::Closed(_)) => panic!("receiver gone"),
                }
            }
        }
    });
    let got = runtime().block_on(async {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    feeder.join().unwrap();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

#[test]
fn as_completed_over_spawned_tasks_follows_the_order_they_finish() {
    let _guard = guard::watchdog();
    let order = runtime().block_on(async {
        let mut senders = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..4u32 {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(Some(tx));
            tasks.push(spawn(async move {
                rx.await.unwrap();
                i
            }));
        }
        let mut finished = as_completed(tasks);
        let mut order = Vec::new();
        for i in [2, 0, 3, 1] {
            senders[i].take().unwrap().send(()).unwrap();
            order.push(finished.next().await.unwrap().unwrap());
        }
        order
    });
    assert_eq!(order, vec![2, 0, 3, 1]);
}

#[test]
fn select_with_a_timer_cancels_the_losing_receive() {
    let _guard = guard::watchdog();
    let (tx, rx) = oneshot::channel::<u8>();
    let outcome = runtime().block_on(async { select(rx, time::sleep(Duration::from_millis(1))).await });
    assert!(matches!(outcome, Either::Right(())), "nobody sends, so the timer wins");
    // The receiver was dropped by select, which the sender can observe.
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
}

#[test]
fn an_event_releases_every_waiting_task() {
    let _guard = guard::watchdog();
    let event = Arc::new(Event::new());
    let released = runtime().block_on(async {
        let waiters: Vec<_> = (0..5)
            .map(|i| {
                let event = event.clone();
                spawn(async move {
                    event.wait().await;
                    i
                })
            })
            .collect();
        yield_now().await; // let every waiter register
        event.set();
        join_all(waiters).await
    });
    assert_eq!(released.into_iter().map(Result::unwrap).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
}
