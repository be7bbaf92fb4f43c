//! A one-shot channel: one value, sent once, from any thread, to one awaiting task.
//!
//! This is the Rust shape of an asyncio `Future` used as a hand-off: the sending half plays
//! `future.set_result(v)`, the receiving half is what you `await`. It is how
//! [`spawn_blocking`](crate::blocking::spawn_blocking) gets its result from a pool thread back to
//! the task, and how the tests of `wait` and `as_completed` finish futures in an order they choose.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Waker};

use stage1_blocking::workshop::lock;

// ANCHOR: oneshot_inner
struct Inner<T> {
    /// The sent value, until the receiver takes it.
    value: Option<T>,
    /// The sender was consumed (`send`) or dropped: no value will come after this.
    sender_gone: bool,
    /// The receiver was dropped: sending is pointless.
    receiver_gone: bool,
    /// The waker of the task awaiting the receiver.
    waker: Option<Waker>,
}
// ANCHOR_END: oneshot_inner

/// Creates a connected sender/receiver pair.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner =
        Arc::new(StdMutex::new(Inner { value: None, sender_gone: false, receiver_gone: false, waker: None }));
    (Sender { inner: inner.clone() }, Receiver { inner })
}

/// The sending half; `send` consumes it, so at most one value is ever sent.
pub struct Sender<T> {
    inner: Arc<StdMutex<Inner<T>>>,
}

/// The receiving half: a future resolving to the value, or to [`RecvError`] if the sender was
/// dropped without sending.
#[must_use = "futures do nothing unless awaited"]
pub struct Receiver<T> {
    inner: Arc<StdMutex<Inner<T>>>,
}

/// The sender was dropped without sending a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}

impl std::error::Error for RecvError {}

/// Error from [`Receiver::try_recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No value yet, but the sender is still alive.
    Empty,
    /// The sender was dropped without sending (or the value was already taken).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("oneshot channel empty"),
            TryRecvError::Closed => f.write_str("oneshot channel closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}

// ANCHOR: oneshot_send
impl<T> Sender<T> {
    /// Sends the value and wakes the receiver. If the receiver is already gone, the value comes
    /// back as `Err(value)`.
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut inner = lock(&self.inner);
            if inner.receiver_gone {
                return Err(value);
            }
            inner.value = Some(value);
            inner.sender_gone = true;
            inner.waker.take()
        };
        // Wake outside the lock; `self` is dropped after this, and its Drop sees nothing to do.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// True if the receiver was dropped (a worker can stop computing a result nobody wants).
    pub fn is_closed(&self) -> bool {
        lock(&self.inner).receiver_gone
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut inner = lock(&self.inner);
            if inner.sender_gone {
                return; // `send` already ran and woke the receiver
            }
            inner.sender_gone = true;
            inner.waker.take()
        };
        // Without this wake, a receiver of a dropped sender would wait forever.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = lock(&self.inner);
        if let Some(value) = inner.value.take() {
            return Poll::Ready(Ok(value));
        }
        if inner.sender_gone {
            return Poll::Ready(Err(RecvError));
        }
        match &mut inner.waker {
            Some(old) if old.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}
// ANCHOR_END: oneshot_send

impl<T> Receiver<T> {
    /// Takes the value if it has arrived, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut inner = lock(&self.inner);
        match inner.value.take() {
            Some(value) => Ok(value),
            None if inner.sender_gone => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let value = {
            let mut inner = lock(&self.inner);
            inner.receiver_gone = true;
            inner.waker = None;
            inner.value.take()
        };
        // An unreceived value is dropped here, outside the lock (its Drop is user code).
        drop(value);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Sender")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Receiver")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::testutil::{CountingWaker, block_on, poll_once};
    use std::pin::pin;

    #[test]
    fn value_sent_before_await_is_received() {
        let (tx, rx) = channel();
        tx.send(7).unwrap();
        assert_eq!(block_on(rx), Ok(7));
    }

    #[test]
    fn send_wakes_a_pending_receiver() {
        let (tx, rx) = channel();
        let w = CountingWaker::new();
        let mut rx = pin!(rx);
        assert!(poll_once(rx.as_mut(), &w.waker()).is_pending());
        tx.send("hi").unwrap();
        assert_eq!(w.count(), 1);
        assert_eq!(poll_once(rx.as_mut(), &w.waker()), Poll::Ready(Ok("hi")));
    }

    #[test]
    fn dropped_sender_wakes_receiver_with_error() {
        let (tx, rx) = channel::<u8>();
        let w = CountingWaker::new();
        let mut rx = pin!(rx);
        assert!(poll_once(rx.as_mut(), &w.waker()).is_pending());
        drop(tx);
        assert_eq!(w.count(), 1);
        assert_eq!(poll_once(rx.as_mut(), &w.waker()), Poll::Ready(Err(RecvError)));
    }

    #[test]
    fn send_to_dropped_receiver_returns_the_value() {
        let (tx, rx) = channel();
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(String::from("back")), Err(String::from("back")));
    }

    #[test]
    fn try_recv_reports_empty_then_value_then_closed() {
        let (tx, mut rx) = channel();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.send(1).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn sender_on_another_thread_wakes_a_parked_receiver() {
        let (tx, rx) = channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            tx.send(42).unwrap();
        });
        let received = block_on(async {
            // First poll registers the waker; only then is the other thread allowed to send,
            // so this exercises the cross-thread wake, not a value that was already there.
            let mut rx = pin!(rx);
            let mut go = Some(go_tx);
            std::future::poll_fn(|cx| {
                let poll = rx.as_mut().poll(cx);
                if let Some(go) = go.take() {
                    go.send(()).unwrap();
                }
                poll
            })
            .await
        });
        thread.join().unwrap();
        assert_eq!(received, Ok(42));
    }
}
