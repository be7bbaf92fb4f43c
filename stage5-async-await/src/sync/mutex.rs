//! An async mutex: `asyncio.Lock`, but guarding a value the way Rust mutexes do.
//!
//! Use it when a task must hold a lock *across an `.await`* (say, a connection shared by several
//! tasks, where one request-response exchange must not interleave with another). For a few
//! instructions of work, a plain `std::sync::Mutex` is cheaper and correct; holding a std guard
//! across `.await` is the bug this type exists to avoid: the task sleeps with the lock held and
//! every other task that touches it blocks the whole event-loop thread.
//!
//! # How it is built without `unsafe`
//!
//! The queue and the fairness come from a [`Semaphore`] with one permit. The value itself sits
//! in an `Option<T>` behind a std mutex; the guard *takes the value out* when the lock is
//! acquired and puts it back when it is dropped, like a relay baton. Only the permit holder can
//! hold the baton, so the `Option` is always `Some` when a new holder takes it. The price is a
//! move of `T` on lock and unlock (box a large `T`); the gain is no `UnsafeCell` and no `unsafe`.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex as StdMutex;

use super::semaphore::{Semaphore, SemaphorePermit};
use stage1_blocking::workshop::lock;

/// A fair async mutex: tasks get the lock in the order they asked for it.
pub struct Mutex<T> {
    baton: StdMutex<Option<T>>,
    permit: Semaphore,
}

// ANCHOR: mutex_lock
impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex { baton: StdMutex::new(Some(value)), permit: Semaphore::new(1) }
    }

    /// Waits for the lock (FIFO). Cancel-safe: dropping the future while it waits gives up its
    /// place in the queue without disturbing the others.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        let permit = self.permit.acquire().await.expect("a mutex's semaphore is never closed");
        self.guard(permit)
    }

    /// Takes the lock if it is free and nobody is queued for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.permit.try_acquire().ok().map(|permit| self.guard(permit))
    }

    fn guard<'a>(&'a self, permit: SemaphorePermit<'a>) -> MutexGuard<'a, T> {
        let value = lock(&self.baton).take().expect("the permit holder always finds the value");
        MutexGuard { mutex: self, value: Some(value), _permit: permit }
    }

    /// Consumes the mutex and returns the value.
    pub fn into_inner(self) -> T {
        let baton = self.baton.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        baton.expect("no guard can outlive the mutex")
    }
}

/// Holds the lock; derefs to the value. Dropping it unlocks and wakes the next waiter.
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    /// Always `Some` until `drop` hands it back.
    value: Option<T>,
    /// Declared last so it is dropped after `Drop::drop` has put the value back: the next
    /// holder must never find the baton missing.
    _permit: SemaphorePermit<'a>,
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        *lock(&self.mutex.baton) = self.value.take();
        // `_permit` is dropped right after this, releasing the lock to the next waiter.
    }
}
// ANCHOR_END: mutex_lock

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_ref().expect("the guard holds the value until dropped")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("the guard holds the value until dropped")
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let locked = self.permit.available_permits() == 0;
        f.debug_struct("Mutex").field("locked", &locked).finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::testutil::{CountingWaker, block_on, poll_once};
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::Poll;

    #[test]
    fn guard_gives_access_and_unlocks_on_drop() {
        let mutex = Mutex::new(vec![1]);
        {
            let mut guard = block_on(mutex.lock());
            guard.push(2);
            assert!(mutex.try_lock().is_none(), "locked while the guard lives");
        }
        assert_eq!(*mutex.try_lock().unwrap(), vec![1, 2]);
        assert_eq!(mutex.into_inner(), vec![1, 2]);
    }

    #[test]
    fn waiters_get_the_lock_in_order_and_a_cancelled_waiter_is_skipped() {
        let mutex = Mutex::new(Vec::new());
        let guard = mutex.try_lock().unwrap();
        let (wa, wb, wc) = (CountingWaker::new(), CountingWaker::new(), CountingWaker::new());
        let mut a = pin!(async {
            mutex.lock().await.push('a');
        });
        let mut b = Box::pin(async {
            mutex.lock().await.push('b');
        });
        let mut c = pin!(async {
            mutex.lock().await.push('c');
        });
        assert!(poll_once(a.as_mut(), &wa.waker()).is_pending());
        assert!(poll_once(b.as_mut(), &wb.waker()).is_pending());
        assert!(poll_once(c.as_mut(), &wc.waker()).is_pending());
        drop(b); // cancelled while queued
        drop(guard);
        assert_eq!((wa.count(), wc.count()), (1, 0));
        // c is polled first but must still wait for a.
        assert!(poll_once(c.as_mut(), &wc.waker()).is_pending());
        assert_eq!(poll_once(a.as_mut(), &wa.waker()), Poll::Ready(()));
        assert_eq!(wc.count(), 1);
        assert_eq!(poll_once(c.as_mut(), &wc.waker()), Poll::Ready(()));
        assert_eq!(*mutex.try_lock().unwrap(), vec!['a', 'c']);
    }

    #[test]
    fn excludes_across_threads() {
        // Each thread does a read-modify-write with a yield in between: without mutual
        // exclusion, increments are lost.
        let mutex = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let mutex = mutex.clone();
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        block_on(async {
                            let mut guard = mutex.lock().await;
                            let seen = *guard;
                            std::thread::yield_now();
                            *guard = seen + 1;
                        });
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*mutex.try_lock().unwrap(), 1000);
    }
}
