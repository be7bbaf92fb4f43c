//! `asyncio.Event`: a flag tasks can wait for.
//!
//! `set()` raises the flag and wakes every waiter; `wait()` returns at once while the flag is
//! up; `clear()` lowers it again. As in asyncio, a waiter that was waiting when `set()` ran
//! completes even if somebody calls `clear()` before the waiter gets to run: it was told, and
//! the telling must not be taken back. A generation counter, bumped by every `set()`, is how a
//! waiter knows it was told.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex as StdMutex;
use std::task::{Context, Poll, Waker};

use stage1_blocking::workshop::lock;

/// A settable, clearable flag that tasks can wait for.
pub struct Event {
    state: StdMutex<State>,
}

struct State {
    is_set: bool,
    /// Bumped by every `set()` that raised the flag.
    generation: u64,
    /// Waiting futures by id; drained (and woken) by `set()`.
    waiters: Vec<(u64, Waker)>,
    next_id: u64,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Event {
        Event {
            state: StdMutex::new(State { is_set: false, generation: 0, waiters: Vec::new(), next_id: 0 }),
        }
    }

    /// Sets the flag and wakes every task waiting for it.
    pub fn set(&self) {
        let waiters = {
            let mut state = lock(&self.state);
            if state.is_set {
                return;
            }
            state.is_set = true;
            state.generation += 1;
            std::mem::take(&mut state.waiters)
        };
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    /// Lowers the flag; later `wait()`s will wait again.
    pub fn clear(&self) {
        lock(&self.state).is_set = false;
    }

    /// True while the flag is set.
    pub fn is_set(&self) -> bool {
        lock(&self.state).is_set
    }

    /// Waits until the flag is set (returns at once if it already is).
    pub fn wait(&self) -> Wait<'_> {
        Wait { event: self, registered: None }
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("is_set", &self.is_set()).finish()
    }
}

/// The future returned by [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<'a> {
    event: &'a Event,
    /// (waiter id, generation seen when we started waiting) once registered.
    registered: Option<(u64, u64)>,
}

// ANCHOR: event_wait
impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let event = self.event;
        let mut state = lock(&event.state);
        match self.registered {
            None if state.is_set => Poll::Ready(()),
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.waiters.push((id, cx.waker().clone()));
                self.registered = Some((id, state.generation));
                Poll::Pending
            }
            // A set() happened since we registered (maybe already cleared again): done.
            // set() removed our entry when it woke us, so there is nothing to clean up.
            Some((_, seen)) if state.generation != seen => {
                self.registered = None;
                Poll::Ready(())
            }
            Some((id, _)) => {
                let entry = state.waiters.iter_mut().find(|(waiter, _)| *waiter == id);
                let (_, waker) = entry.expect("registered until set() or drop");
                if !waker.will_wake(cx.waker()) {
                    *waker = cx.waker().clone();
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        // Leave the waiter list, or set() would wake (and keep a waker alive for) a dead future.
        if let Some((id, _)) = self.registered {
            lock(&self.event.state).waiters.retain(|(waiter, _)| *waiter != id);
        }
    }
}
// ANCHOR_END: event_wait

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::testutil::{CountingWaker, block_on, poll_once};
    use std::pin::pin;
    use std::sync::Arc;

    #[test]
    fn wait_returns_at_once_when_set_and_waits_after_clear() {
        let event = Event::new();
        event.set();
        assert!(event.is_set());
        block_on(event.wait());
        event.clear();
        assert!(!event.is_set());
        let mut wait = pin!(event.wait());
        assert!(poll_once(wait.as_mut(), &CountingWaker::new().waker()).is_pending());
    }

    #[test]
    fn set_wakes_every_waiter_even_if_cleared_before_they_run() {
        let event = Event::new();
        let (w1, w2) = (CountingWaker::new(), CountingWaker::new());
        let mut a = pin!(event.wait());
        let mut b = pin!(event.wait());
        assert!(poll_once(a.as_mut(), &w1.waker()).is_pending());
        assert!(poll_once(b.as_mut(), &w2.waker()).is_pending());
        event.set();
        event.clear();
        assert_eq!((w1.count(), w2.count()), (1, 1));
        assert_eq!(poll_once(a.as_mut(), &w1.waker()), Poll::Ready(()));
        assert_eq!(poll_once(b.as_mut(), &w2.waker()), Poll::Ready(()));
    }

    #[test]
    fn a_dropped_waiter_leaves_the_list() {
        let event = Event::new();
        let w = CountingWaker::new();
        let mut wait = Box::pin(event.wait());
        assert!(poll_once(wait.as_mut(), &w.waker()).is_pending());
        assert_eq!(lock(&event.state).waiters.len(), 1);
        drop(wait);
        assert!(lock(&event.state).waiters.is_empty());
        event.set();
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn set_from_another_thread_wakes_the_waiter() {
        let event = Arc::new(Event::new());
        let setter = {
            let event = event.clone();
            std::thread::spawn(move || event.set())
        };
        block_on(event.wait());
        setter.join().unwrap();
        assert!(event.is_set());
    }
}
