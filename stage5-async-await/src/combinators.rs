//! Running several futures at once inside ONE task: `asyncio.gather`, `asyncio.wait`,
//! `asyncio.as_completed`, and a two-way `select`.
//!
//! | Python (asyncio)                          | here                                        |
//! | ----------------------------------------- | ------------------------------------------- |
//! | `a, b = await gather(fa, fb)`             | `let (a, b) = join!(fa, fb);`               |
//! | `results = await gather(*futs)`           | `let results = join_all(futs).await;`       |
//! | `wait(futs, return_when=FIRST_COMPLETED)` | `wait(futs, ReturnWhen::FirstCompleted)`    |
//! | `wait(futs)` (`ALL_COMPLETED`)            | `wait(futs, ReturnWhen::AllCompleted)`      |
//! | `for f in as_completed(futs): await f`    | `while let Some(x) = as_completed.next().await` |
//! | `wait(.., FIRST_COMPLETED)` on two, cancel the loser | `select(a, b).await`             |
//!
//! None of these spawn anything. The children are polled by the task that awaits the combinator,
//! which is why a child can borrow from that task's stack. (asyncio's `gather` wraps each coroutine
//! in a Task; ours is closer to a hand-written loop over the children.)
//!
//! # Which children get polled?
//!
//! `join!` polls every unfinished child each time the task wakes: it has a handful of children
//! fixed at compile time, so finding out which one woke would cost more than polling them all.
//! [`join_all`], [`wait`] and [`as_completed`] take any number of children, so they give each child
//! its own [`Waker`] that records the child's index in a "ready" list before waking the task;
//! a poll of the combinator then polls only the children on that list. With 10 000 sleeping
//! connections and one ready, that is one child poll instead of 10 000.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Wake, Waker};

use stage1_blocking::workshop::lock;

/// Awaits 2..N futures concurrently in the current task; evaluates to a tuple of their outputs,
/// in the order the futures were written (asyncio's `gather` for a fixed set).
///
/// Must be used inside an `async` block or function (it expands to an `.await`).
///
/// ```
/// # use stage5_async_await::join;
/// # async fn demo() {
/// let (a, b, c) = join!(async { 1 }, async { "two" }, async { 3.0 });
/// assert_eq!((a, b, c), (1, "two", 3.0));
/// # }
/// ```
// ANCHOR: join_macro
#[macro_export]
macro_rules! join {
    // Step 1 (repeated): give the next future two names, `fut` and `out`. Each expansion of
    // this rule is a fresh macro hygiene context, so the `fut` of the first future and the
    // `fut` of the second are different variables, though they are spelled the same.
    (@name [$($named:tt)*] $head:expr, $($rest:expr,)*) => {
        $crate::join!(@name [$($named)* (fut out $head)] $($rest,)*)
    };
    // Step 2: pin every future on the stack, then poll the unfinished ones on every wake-up
    // until all have an output.
    (@name [$(($fut:ident $out:ident $e:expr))+]) => {{
        $( let mut $fut = ::core::pin::pin!($e); let mut $out = ::core::option::Option::None; )+
        ::core::future::poll_fn(|cx| {
            let mut all_done = true;
            $(
                if $out.is_none() {
                    match ::core::future::Future::poll($fut.as_mut(), cx) {
                        ::core::task::Poll::Ready(output) => $out = ::core::option::Option::Some(output),
                        ::core::task::Poll::Pending => all_done = false,
                    }
                }
            )+
            if !all_done {
                return ::core::task::Poll::Pending;
            }
            ::core::task::Poll::Ready(($($out.take().expect("each output is taken once"),)+))
        })
        .await
    }};
    ($($fut:expr),+ $(,)?) => {
        $crate::join!(@name [] $($fut,)+)
    };
}
// ANCHOR_END: join_macro

// ANCHOR: ready_list
/// The "which children woke?" list shared by a combinator and its children's wakers.
struct ReadyList {
    state: StdMutex<ReadyState>,
}

struct ReadyState {
    /// Indexes of children to poll next, in the order they woke.
    ready: Vec<usize>,
    /// `queued[i]`: child `i` is already in `ready` (so a second wake does not add it twice).
    queued: Vec<bool>,
    /// The waker of the task awaiting the combinator.
    parent: Option<Waker>,
}

/// The waker handed to child `index`: note the index, then wake the parent task.
struct ChildWaker {
    list: Arc<ReadyList>,
    index: usize,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let parent = {
            let mut state = lock(&self.list.state);
            if !state.queued[self.index] {
                state.queued[self.index] = true;
                state.ready.push(self.index);
            }
            state.parent.clone()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}
// ANCHOR_END: ready_list

/// A set of boxed futures that reports them as they finish: the engine of [`join_all`],
/// [`wait`] and [`as_completed`].
///
/// Children are boxed (`Pin<Box<F>>`) so each can be polled and handed back without any
/// unsafe pin projection.
struct FutureSet<F: Future> {
    children: Vec<Option<Pin<Box<F>>>>,
    wakers: Vec<Waker>,
    list: Arc<ReadyList>,
    remaining: usize,
}

impl<F: Future> FutureSet<F> {
    fn new(futures: impl IntoIterator<Item = F>) -> FutureSet<F> {
        let children: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
        let n = children.len();
        // Every child starts on the ready list: each must be polled once to get going.
        let list = Arc::new(ReadyList {
            state: StdMutex::new(ReadyState { ready: (0..n).collect(), queued: vec![true; n], parent: None }),
        });
        let wakers =
            (0..n).map(|index| Waker::from(Arc::new(ChildWaker { list: list.clone(), index }))).collect();
        FutureSet { children, wakers, list, remaining: n }
    }

    // ANCHOR: poll_next
    /// Polls the children that woke; returns the next one to finish as `(index, output)`,
    /// `Ready(None)` when none are left.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<(usize, F::Output)>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        // Store the parent waker BEFORE taking the list: a child that wakes after we took the
        // list must find a waker to call, or its wake-up is lost.
        let ready = {
            let mut state = lock(&self.list.state);
            match &mut state.parent {
                Some(old) if old.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            let ready = std::mem::take(&mut state.ready);
            for &index in &ready {
                state.queued[index] = false;
            }
            ready
        };
        for (position, &index) in ready.iter().enumerate() {
            let Some(child) = &mut self.children[index] else {
                continue; // finished earlier; a late wake is harmless
            };
            let mut child_cx = Context::from_waker(&self.wakers[index]);
            if let Poll::Ready(output) = child.as_mut().poll(&mut child_cx) {
                self.children[index] = None; // drop the finished child now
                self.remaining -= 1;
                self.requeue(&ready[position + 1..]);
                return Poll::Ready(Some((index, output)));
            }
        }
        Poll::Pending
    }
    // ANCHOR_END: poll_next

    /// Puts back children we took off the ready list but did not get to poll.
    fn requeue(&self, indexes: &[usize]) {
        let mut state = lock(&self.list.state);
        for &index in indexes {
            if !state.queued[index] {
                state.queued[index] = true;
                state.ready.push(index);
            }
        }
    }

    /// Removes and returns the unfinished children with their original indexes.
    fn take_pending(&mut self) -> Vec<(usize, Pin<Box<F>>)> {
        let pending: Vec<_> = self
            .children
            .iter_mut()
            .enumerate()
            .filter_map(|(index, child)| child.take().map(|child| (index, child)))
            .collect();
        self.remaining = 0;
        pending
    }
}

impl<F: Future> Drop for FutureSet<F> {
    fn drop(&mut self) {
        // A child that outlives us (handed out by `wait`, or whose waker sits in a channel)
        // keeps the ReadyList alive. Forget the parent's waker so that list does not keep the
        // parent task alive too (task -> set -> list -> task would be a reference cycle).
        lock(&self.list.state).parent = None;
    }
}

/// Awaits every future of `futures` concurrently; resolves to their outputs in input order
/// (asyncio's `gather(*futures)`), whatever order they finish in.
// ANCHOR: join_all
#[doc(alias = "gather")]
pub fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> JoinAll<F> {
    let set = FutureSet::new(futures);
    let outputs = (0..set.children.len()).map(|_| None).collect();
    JoinAll { set, outputs }
}

/// The future returned by [`join_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<F: Future> {
    set: FutureSet<F>,
    outputs: Vec<Option<F::Output>>,
}

// The children are boxed and the outputs are never pinned (we only move them out), so moving a
// JoinAll is fine even when the outputs are !Unpin. That lets `poll` use `get_mut`.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        loop {
            match this.set.poll_next(cx) {
                Poll::Ready(Some((index, output))) => this.outputs[index] = Some(output),
                Poll::Ready(None) => {
                    let outputs = std::mem::take(&mut this.outputs);
                    return Poll::Ready(outputs.into_iter().map(|o| o.expect("all finished")).collect());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
// ANCHOR_END: join_all

/// When [`wait`] returns (asyncio's `return_when`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as at least one future has finished (every future that finished in the same
    /// poll is reported).
    FirstCompleted,
    /// When every future has finished.
    AllCompleted,
}

/// Finished futures as `(input index, output)` in completion order, and the unfinished ones as
/// `(input index, future)`, ready to be awaited again (for example passed to another `wait`).
pub type WaitOutput<F> = (Vec<(usize, <F as Future>::Output)>, Vec<(usize, Pin<Box<F>>)>);

/// Awaits `futures` until `return_when` is met (asyncio's `wait`). Unlike asyncio, the result
/// lists say which input each entry came from, since Rust futures are not hashable handles.
pub fn wait<F: Future>(futures: impl IntoIterator<Item = F>, return_when: ReturnWhen) -> Wait<F> {
    Wait { set: FutureSet::new(futures), done: Vec::new(), return_when }
}

/// The future returned by [`wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<F: Future> {
    set: FutureSet<F>,
    done: Vec<(usize, F::Output)>,
    return_when: ReturnWhen,
}

// Same reasoning as for JoinAll: nothing inside is structurally pinned.
impl<F: Future> Unpin for Wait<F> {}

impl<F: Future> Future for Wait<F> {
    type Output = WaitOutput<F>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WaitOutput<F>> {
        let this = self.get_mut();
        loop {
            match this.set.poll_next(cx) {
                Poll::Ready(Some(finished)) => this.done.push(finished),
                Poll::Ready(None) => break,
                Poll::Pending if this.return_when == ReturnWhen::FirstCompleted && !this.done.is_empty() => {
                    break;
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready((std::mem::take(&mut this.done), this.set.take_pending()))
    }
}

/// Yields the outputs of `futures` in the order they finish (asyncio's `as_completed`).
///
/// ```
/// # use stage5_async_await::combinators::as_completed;
/// # async fn demo(futures: Vec<std::future::Ready<u32>>) {
/// let mut finished = as_completed(futures);
/// while let Some(output) = finished.next().await {
///     println!("{output}");
/// }
/// # }
/// ```
pub fn as_completed<F: Future>(futures: impl IntoIterator<Item = F>) -> AsCompleted<F> {
    AsCompleted { set: FutureSet::new(futures) }
}

/// The stream of outputs returned by [`as_completed`].
pub struct AsCompleted<F: Future> {
    set: FutureSet<F>,
}

impl<F: Future> AsCompleted<F> {
    /// The next output to finish, or `None` once all have been yielded.
    pub async fn next(&mut self) -> Option<F::Output> {
        self.next_indexed().await.map(|(_, output)| output)
    }

    /// Like [`next`](Self::next), with the input index of the future that finished (the
    /// role of the `future_to_url[future]` dictionary in the Python version).
    pub async fn next_indexed(&mut self) -> Option<(usize, F::Output)> {
        poll_fn(|cx| self.set.poll_next(cx)).await
    }

    /// How many futures have not been yielded yet.
    pub fn remaining(&self) -> usize {
        self.set.remaining
    }
}

impl<F: Future> fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted").field("remaining", &self.set.remaining).finish()
    }
}

/// The output of [`select`]: which side finished first, with its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Either<L, R> {
    /// The first future finished first.
    Left(L),
    /// The second future finished first.
    Right(R),
}

/// Awaits whichever of `a` and `b` finishes first; the other is dropped (cancelled) at once.
///
/// If both are ready in the same poll, `a` wins: the order is fixed, which keeps behaviour
/// reproducible (tokio's `select!` picks at random instead, so that one busy branch cannot
/// starve the other in a loop).
// ANCHOR: select
pub fn select<A: Future, B: Future>(a: A, b: B) -> Select<A, B> {
    Select { a: Some(Box::pin(a)), b: Some(Box::pin(b)) }
}

/// The future returned by [`select`].
#[must_use = "futures do nothing unless awaited"]
pub struct Select<A, B> {
    a: Option<Pin<Box<A>>>,
    b: Option<Pin<Box<B>>>,
}

impl<A: Future, B: Future> Future for Select<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (Some(a), Some(b)) = (&mut this.a, &mut this.b) else {
            panic!("select polled after it completed");
        };
        if let Poll::Ready(output) = a.as_mut().poll(cx) {
            this.a = None;
            this.b = None; // cancel the loser: its Drop runs now, not when Select is dropped
            return Poll::Ready(Either::Left(output));
        }
        if let Poll::Ready(output) = b.as_mut().poll(cx) {
            this.a = None;
            this.b = None;
            return Poll::Ready(Either::Right(output));
        }
        Poll::Pending
    }
}
// ANCHOR_END: select

impl<A, B> fmt::Debug for Select<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Select")
    }
}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll").field("remaining", &self.set.remaining).finish()
    }
}

impl<F: Future> fmt::Debug for Wait<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait").field("remaining", &self.set.remaining).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::oneshot;
    use crate::sync::testutil::{CountingWaker, block_on, poll_once};
    use std::future::pending;
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A future that counts its polls, and finishes when its oneshot is sent.
    struct Counted {
        rx: oneshot::Receiver<u32>,
        polls: Arc<AtomicUsize>,
    }

    impl Future for Counted {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            Pin::new(&mut self.rx).poll(cx).map(|r| r.expect("sender kept alive"))
        }
    }

    fn counted(n: usize) -> (Vec<oneshot::Sender<u32>>, Vec<Counted>, Vec<Arc<AtomicUsize>>) {
        let mut senders = Vec::new();
        let mut futures = Vec::new();
        let mut polls = Vec::new();
        for _ in 0..n {
            let (tx, rx) = oneshot::channel();
            let count = Arc::new(AtomicUsize::new(0));
            senders.push(tx);
            polls.push(count.clone());
            futures.push(Counted { rx, polls: count });
        }
        (senders, futures, polls)
    }

    /// Sets a flag when dropped, to see when select cancels its loser.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn join_macro_returns_outputs_in_argument_order() {
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        let w = CountingWaker::new();
        let mut joined = pin!(async { join!(rx1, rx2, async { "ready" }) });
        assert!(poll_once(joined.as_mut(), &w.waker()).is_pending());
        tx2.send(2).unwrap(); // the second finishes first...
        assert!(poll_once(joined.as_mut(), &w.waker()).is_pending());
        tx1.send(1).unwrap();
        // ...but the tuple follows the argument order.
        assert_eq!(poll_once(joined.as_mut(), &w.waker()), Poll::Ready((Ok(1), Ok(2), "ready")));
    }

    #[test]
    fn join_all_keeps_input_order_and_polls_only_woken_children() {
        let (senders, futures, polls) = counted(4);
        let w = CountingWaker::new();
        let mut all = pin!(join_all(futures));
        assert!(poll_once(all.as_mut(), &w.waker()).is_pending());
        assert!(polls.iter().all(|p| p.load(Ordering::SeqCst) == 1), "each child polled once to start");

        let mut senders: Vec<_> = senders.into_iter().map(Some).collect();
        senders[2].take().unwrap().send(20).unwrap();
        assert_eq!(w.count(), 1, "a child's wake reaches the parent task");
        assert!(poll_once(all.as_mut(), &w.waker()).is_pending());
        let counts: Vec<usize> = polls.iter().map(|p| p.load(Ordering::SeqCst)).collect();
        assert_eq!(counts, vec![1, 1, 2, 1], "only the woken child was polled again");

        for (i, tx) in [(3, 30), (0, 0), (1, 10)] {
            senders[i].take().unwrap().send(tx).unwrap();
        }
        assert_eq!(poll_once(all.as_mut(), &w.waker()), Poll::Ready(vec![0, 10, 20, 30]));
    }

    #[test]
    fn join_all_of_nothing_is_ready_at_once() {
        assert_eq!(block_on(join_all(Vec::<std::future::Ready<u8>>::new())), Vec::<u8>::new());
    }

    #[test]
    fn select_returns_the_first_and_drops_the_other_at_once() {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let loser = async move {
            let _guard = guard;
            pending::<()>().await;
        };
        let (tx, rx) = oneshot::channel();
        let w = CountingWaker::new();
        let mut raced = pin!(select(loser, rx));
        assert!(poll_once(raced.as_mut(), &w.waker()).is_pending());
        assert!(!dropped.load(Ordering::SeqCst));
        tx.send("won").unwrap();
        assert_eq!(poll_once(raced.as_mut(), &w.waker()), Poll::Ready(Either::Right(Ok("won"))));
        // The loser was cancelled when select finished, while `raced` itself is still alive.
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn select_prefers_the_first_when_both_are_ready() {
        let out = block_on(select(async { 1 }, async { 2 }));
        assert_eq!(out, Either::Left(1));
    }

    #[test]
    fn wait_first_completed_returns_the_finished_and_the_pending() {
        let (senders, futures, _) = counted(3);
        let mut senders: Vec<_> = senders.into_iter().map(Some).collect();
        let w = CountingWaker::new();
        let mut waiting = pin!(wait(futures, ReturnWhen::FirstCompleted));
        assert!(poll_once(waiting.as_mut(), &w.waker()).is_pending());
        senders[1].take().unwrap().send(11).unwrap();
        let Poll::Ready((done, pending)) = poll_once(waiting.as_mut(), &w.waker()) else {
            panic!("one future finished, wait(FirstCompleted) must return");
        };
        assert_eq!(done, vec![(1, 11)]);
        let indexes: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, vec![0, 2]);

        // The pending ones are still live futures: finish them through a second wait.
        senders[2].take().unwrap().send(22).unwrap();
        senders[0].take().unwrap().send(0).unwrap();
        let (done, pending) = block_on(wait(pending.into_iter().map(|(_, f)| f), ReturnWhen::AllCompleted));
        let outputs: Vec<u32> = done.into_iter().map(|(_, out)| out).collect();
        assert_eq!(outputs.len(), 2);
        assert!(outputs.contains(&0) && outputs.contains(&22));
        assert!(pending.is_empty());
    }

    #[test]
    fn wait_all_completed_reports_completion_order() {
        let (senders, futures, _) = counted(3);
        let mut senders: Vec<_> = senders.into_iter().map(Some).collect();
        let w = CountingWaker::new();
        let mut waiting = pin!(wait(futures, ReturnWhen::AllCompleted));
        assert!(poll_once(waiting.as_mut(), &w.waker()).is_pending());
        for i in [2, 0] {
            senders[i].take().unwrap().send(i as u32 * 100).unwrap();
            assert!(poll_once(waiting.as_mut(), &w.waker()).is_pending());
        }
        senders[1].take().unwrap().send(100).unwrap();
        let Poll::Ready((done, pending)) = poll_once(waiting.as_mut(), &w.waker()) else {
            panic!("all finished");
        };
        assert_eq!(done, vec![(2, 200), (0, 0), (1, 100)]);
        assert!(pending.is_empty());
    }

    #[test]
    fn as_completed_yields_in_the_order_futures_finish() {
        let (senders, futures, _) = counted(4);
        let mut senders: Vec<_> = senders.into_iter().map(Some).collect();
        let mut finished = as_completed(futures);
        let mut order = Vec::new();
        for i in [3, 1, 0, 2] {
            senders[i].take().unwrap().send(i as u32).unwrap();
            order.push(block_on(finished.next_indexed()).unwrap());
        }
        assert_eq!(order, vec![(3, 3), (1, 1), (0, 0), (2, 2)]);
        assert_eq!(finished.remaining(), 0);
        assert_eq!(block_on(finished.next()), None);
    }

    #[test]
    fn as_completed_with_children_finishing_on_other_threads() {
        let (senders, futures, _) = counted(8);
        let threads: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(i, tx)| std::thread::spawn(move || tx.send(i as u32).unwrap()))
            .collect();
        let mut finished = as_completed(futures);
        let mut outputs = Vec::new();
        block_on(async {
            while let Some(output) = finished.next().await {
                outputs.push(output);
            }
        });
        for thread in threads {
            thread.join().unwrap();
        }
        outputs.sort();
        assert_eq!(outputs, (0..8).collect::<Vec<u32>>());
    }
}
