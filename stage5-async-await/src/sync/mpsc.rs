//! A bounded multi-producer, single-consumer channel: `asyncio.Queue(maxsize=N)`.
//!
//! ```text
//!   Sender ──┐   capacity: Semaphore(N)        queue: VecDeque<T>
//!   Sender ──┼─▶ acquire a slot ─▶ push ─────▶ [a][b][c] ─▶ recv pops ─▶ slot back to the semaphore
//!   Sender ──┘   (waits when full = back-pressure)            (waits when empty)
//! ```
//!
//! A send first takes a permit from the `capacity` semaphore; the permit "becomes" the queued
//! message (`forget`), and `recv` gives it back when it pops the message. So a full channel
//! makes senders wait, in FIFO order and cancel-safely, with no new waiting code: the semaphore
//! already does all of that.
//!
//! Closing: when every [`Sender`] is gone, `recv` returns the remaining messages and then `None`.
//! When the [`Receiver`] is gone, every send fails with [`SendError`], which hands the value back.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};

use super::semaphore::{Semaphore, TryAcquireError};
use stage1_blocking::workshop::lock;

struct Chan<T> {
    state: StdMutex<State<T>>,
    /// One permit per free slot in the queue.
    capacity: Semaphore,
}

// ANCHOR: mpsc_state
struct State<T> {
    queue: VecDeque<T>,
    /// Live `Sender`s; the channel is closed for the receiver when this reaches zero.
    senders: usize,
    receiver_gone: bool,
    /// The receiver's waker while it waits on an empty queue.
    recv_waker: Option<Waker>,
}
// ANCHOR_END: mpsc_state

/// Creates a channel holding at most `capacity` queued messages.
///
/// # Panics
/// If `capacity` is 0 (a rendezvous channel needs a different design: the sender must wait for
/// the receiver itself, not for a slot).
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc::channel capacity must be at least 1");
    let chan = Arc::new(Chan {
        state: StdMutex::new(State {
            queue: VecDeque::with_capacity(capacity),
            senders: 1,
            receiver_gone: false,
            recv_waker: None,
        }),
        capacity: Semaphore::new(capacity),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending half; clone it to get more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// The receiver is gone; the unsent value is handed back.
#[derive(PartialEq, Eq)]
pub struct SendError<T>(pub T);

/// Error from [`Sender::try_send`]; both variants hand the value back.
#[derive(PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is full right now.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// Error from [`Receiver::try_recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued, but senders are still alive.
    Empty,
    /// Nothing queued and every sender is gone.
    Disconnected,
}

// ANCHOR: mpsc_send
impl<T> Sender<T> {
    /// Sends a value, waiting while the channel is full.
    ///
    /// Cancel-safe in the sense that matters: if this future is dropped while waiting for a
    /// slot, no slot is lost and no other sender is held up (the value itself is dropped).
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        // The semaphore is closed when the receiver goes away, which also wakes us here.
        let Ok(slot) = self.chan.capacity.acquire().await else {
            return Err(SendError(value));
        };
        slot.forget(); // the slot now belongs to the queued message; `recv` gives it back
        self.push(value)
    }

    /// Sends a value only if there is room right now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.capacity.try_acquire() {
            Ok(slot) => slot.forget(),
            Err(TryAcquireError::NoPermits) => return Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => return Err(TrySendError::Closed(value)),
        }
        self.push(value).map_err(|SendError(value)| TrySendError::Closed(value))
    }

    /// Queues a value for which a slot is already reserved, and wakes the receiver.
    fn push(&self, value: T) -> Result<(), SendError<T>> {
        let waker = {
            let mut state = lock(&self.chan.state);
            if state.receiver_gone {
                // The receiver left between our acquire and now. No need to return the slot:
                // nobody will ever receive again.
                return Err(SendError(value));
            }
            state.queue.push_back(value);
            state.recv_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// True if the receiver is gone (every send would fail).
    pub fn is_closed(&self) -> bool {
        lock(&self.chan.state).receiver_gone
    }
}
// ANCHOR_END: mpsc_send

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        lock(&self.chan.state).senders += 1;
        Sender { chan: self.chan.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = lock(&self.chan.state);
            state.senders -= 1;
            if state.senders > 0 {
                return;
            }
            // The last sender: wake the receiver so it can see the end of the stream.
            state.recv_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

// ANCHOR: mpsc_recv
impl<T> Receiver<T> {
    /// Receives the next value, waiting while the channel is empty. Returns `None` once every
    /// sender is gone and the queue is drained.
    ///
    /// Cancel-safe: if the future is dropped, no message is lost (a message is only taken out of
    /// the queue in the same poll that returns it).
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll behind [`recv`](Self::recv), for hand-written futures.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = lock(&self.chan.state);
        if let Some(value) = state.queue.pop_front() {
            drop(state);
            // The slot is free again: this may wake the oldest waiting sender.
            self.chan.capacity.add_permits(1);
            return Poll::Ready(Some(value));
        }
        if state.senders == 0 {
            return Poll::Ready(None);
        }
        match &mut state.recv_waker {
            Some(old) if old.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Takes a queued value without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.chan.state);
        match state.queue.pop_front() {
            Some(value) => {
                drop(state);
                self.chan.capacity.add_permits(1);
                Ok(value)
            }
            None if state.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }
}
// ANCHOR_END: mpsc_recv

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let unreceived = {
            let mut state = lock(&self.chan.state);
            state.receiver_gone = true;
            state.recv_waker = None;
            std::mem::take(&mut state.queue)
        };
        // Senders waiting for a slot must not wait forever: closing the semaphore wakes them
        // with an error, and makes every later send fail at once.
        self.chan.capacity.close();
        drop(unreceived); // user Drop code runs outside our lock
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel receiver dropped")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("channel full"),
            TrySendError::Closed(_) => f.write_str("channel receiver dropped"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel empty"),
            TryRecvError::Disconnected => f.write_str("channel closed: all senders dropped"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mpsc::Sender")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mpsc::Receiver")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::testutil::{CountingWaker, block_on, poll_once};
    use std::pin::pin;

    #[test]
    fn messages_arrive_in_order() {
        let (tx, mut rx) = channel(4);
        block_on(async {
            for i in 0..4 {
                tx.send(i).await.unwrap();
            }
        });
        let got: Vec<i32> = (0..4).map(|_| block_on(rx.recv()).unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2, 3]);
    }

    #[test]
    fn full_channel_makes_send_wait_until_a_recv() {
        let (tx, mut rx) = channel(2);
        tx.try_send('a').unwrap();
        tx.try_send('b').unwrap();
        assert!(matches!(tx.try_send('x'), Err(TrySendError::Full('x'))));

        let w = CountingWaker::new();
        let mut send = pin!(tx.send('c'));
        assert!(poll_once(send.as_mut(), &w.waker()).is_pending(), "full: send must wait");
        assert_eq!(rx.try_recv(), Ok('a')); // frees a slot...
        assert_eq!(w.count(), 1, "...which wakes the waiting sender");
        assert_eq!(poll_once(send.as_mut(), &w.waker()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok('b'));
        assert_eq!(rx.try_recv(), Ok('c'));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn recv_waits_then_wakes_on_send() {
        let (tx, mut rx) = channel(1);
        let w = CountingWaker::new();
        let mut recv = pin!(rx.recv());
        assert!(poll_once(recv.as_mut(), &w.waker()).is_pending());
        tx.try_send(5).unwrap();
        assert_eq!(w.count(), 1);
        assert_eq!(poll_once(recv.as_mut(), &w.waker()), Poll::Ready(Some(5)));
    }

    #[test]
    fn closes_when_all_senders_drop_after_draining() {
        let (tx, mut rx) = channel(3);
        let tx2 = tx.clone();
        tx.try_send(1).unwrap();
        tx2.try_send(2).unwrap();
        drop(tx);
        assert_eq!(rx.try_recv(), Ok(1));
        let w = CountingWaker::new();
        assert_eq!(rx.try_recv(), Ok(2));
        {
            let mut recv = pin!(rx.recv());
            assert!(poll_once(recv.as_mut(), &w.waker()).is_pending(), "tx2 is still alive");
            drop(tx2);
            assert_eq!(w.count(), 1, "the last sender's drop wakes the receiver");
            assert_eq!(poll_once(recv.as_mut(), &w.waker()), Poll::Ready(None));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn send_to_a_dropped_receiver_returns_the_value() {
        let (tx, rx) = channel(1);
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(block_on(tx.send(String::from("v"))), Err(SendError(String::from("v"))));
        assert!(matches!(tx.try_send(1.to_string()), Err(TrySendError::Closed(_))));
    }

    #[test]
    fn dropping_the_receiver_wakes_senders_blocked_on_a_full_channel() {
        let (tx, rx) = channel(1);
        tx.try_send(1).unwrap();
        let w = CountingWaker::new();
        let mut send = pin!(tx.send(2));
        assert!(poll_once(send.as_mut(), &w.waker()).is_pending());
        drop(rx);
        assert_eq!(w.count(), 1);
        assert_eq!(poll_once(send.as_mut(), &w.waker()), Poll::Ready(Err(SendError(2))));
    }

    #[test]
    fn a_cancelled_send_does_not_eat_a_slot() {
        let (tx, mut rx) = channel(1);
        tx.try_send(1).unwrap();
        let (w1, w2) = (CountingWaker::new(), CountingWaker::new());
        let mut cancelled = Box::pin(tx.send(2));
        let mut kept = pin!(tx.send(3));
        assert!(poll_once(cancelled.as_mut(), &w1.waker()).is_pending());
        assert!(poll_once(kept.as_mut(), &w2.waker()).is_pending());
        assert_eq!(rx.try_recv(), Ok(1)); // slot handed to `cancelled`...
        drop(cancelled); // ...which gives it up
        assert_eq!(w2.count(), 1);
        assert_eq!(poll_once(kept.as_mut(), &w2.waker()), Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(3));
    }

    #[test]
    fn many_threads_send_everything_exactly_once_through_a_small_channel() {
        let (tx, mut rx) = channel(2);
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    block_on(async {
                        for i in 0..100 {
                            tx.send(t * 1000 + i).await.unwrap();
                        }
                    })
                })
            })
            .collect();
        drop(tx);
        let mut got = Vec::new();
        block_on(async {
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
        });
        for thread in threads {
            thread.join().unwrap();
        }
        // Per-sender order is preserved, and nothing is lost or duplicated.
        for t in 0..4 {
            let mine: Vec<u32> = got.iter().copied().filter(|v| v / 1000 == t).collect();
            assert_eq!(mine, (0..100).map(|i| t * 1000 + i).collect::<Vec<_>>());
        }
        assert_eq!(got.len(), 400);
    }
}
