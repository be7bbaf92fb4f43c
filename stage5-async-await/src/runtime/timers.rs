//! The timer heap (asyncio's `_scheduled`): a binary heap of deadlines, each naming an entry
//! in a generational slab. [`crate::runtime::time`] builds `sleep`, `timeout` and `interval`
//! on it; the executor asks it how long it may sleep and takes what is due.
//!
//! The heap knows nothing of the executor: a due entry is handed back to the caller
//! ([`Timers::pop_due`]), which wakes the waker or queues the callback itself.
//!
//! Cancelling a timer (dropping a `Sleep`, cancelling a `call_later` handle, a `timeout`
//! whose future won) removes only the slab entry. The heap entry stays until its deadline
//! comes, is popped, finds its key dead (generation moved on) and is skipped: *lazy
//! deletion*, the trick asyncio uses too (`handle._cancelled`), with no search in the heap.
//! When dead entries outnumber live ones the heap is rebuilt, so a server that arms and
//! cancels a timeout per request does not grow it without bound.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::{Duration, Instant};

use stage2_select_callbacks::trace;

use crate::runtime::slab::{Key, Slab};

/// What an armed timer does when its deadline comes. `C` is the executor's callback type
/// (`call_later`); the heap only stores it.
pub(crate) enum TimerEntry<C> {
    /// A `Sleep`: wake its task.
    Wake(Waker),
    /// A `call_later`/`call_at`: the caller queues the callback for this iteration.
    Call(C),
}

// ANCHOR: deadline_after
/// The instant `duration` after `start`, or `None` for **never**: `Duration::MAX` (the usual
/// way to say "no limit") and any other span that would carry past what an `Instant` can
/// hold. `start + duration` would panic there ("overflow when adding duration to instant"),
/// so every function of the crate that takes a duration goes through here, and "never" arms
/// no timer at all.
pub(crate) fn deadline_after(start: Instant, duration: Duration) -> Option<Instant> {
    start.checked_add(duration)
}
// ANCHOR_END: deadline_after

// ANCHOR: timers
/// The timer heap with lazy deletion.
pub(crate) struct Timers<C> {
    heap: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    entries: Slab<TimerEntry<C>>,
    /// Tie-breaker: equal deadlines fire in the order they were armed.
    seq: u64,
}

impl<C> Default for Timers<C> {
    fn default() -> Self {
        Timers { heap: BinaryHeap::new(), entries: Slab::default(), seq: 0 }
    }
}

impl<C> Timers<C> {
    /// Arms a timer: O(log n).
    pub(crate) fn insert(&mut self, deadline: Instant, entry: TimerEntry<C>) -> Key {
        let key = self.entries.insert(entry);
        self.seq += 1;
        self.heap.push(Reverse((deadline, self.seq, key.to_u64())));
        trace!("timer armed, due in {:?}", deadline.saturating_duration_since(Instant::now()));
        key
    }

    /// Cancels a timer: O(1), the heap entry becomes dead weight skipped later.
    pub(crate) fn remove(&mut self, key: Key) -> Option<TimerEntry<C>> {
        let entry = self.entries.remove(key);
        if self.heap.len() > 64 && self.heap.len() > 2 * self.entries.len() {
            // Mostly dead entries: rebuild with the live ones only (O(n), amortised).
            let entries = &self.entries;
            self.heap.retain(|Reverse((_, _, k))| entries.get(Key::from_u64(*k)).is_some());
        }
        entry
    }

    /// The earliest live deadline (dropping dead entries found on top).
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, _, key))) = self.heap.peek() {
            if self.entries.get(Key::from_u64(*key)).is_some() {
                return Some(*deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// The entry of a live timer, to refresh its waker (a `Sleep` polled again).
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut TimerEntry<C>> {
        self.entries.get_mut(key)
    }

    /// Pops one live timer due at `now`, if any: the caller fires it (wakes the waker, or
    /// queues the callback). Called in a loop until it says `None`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerEntry<C>> {
        while let Some(Reverse((deadline, _, key))) = self.heap.peek() {
            if *deadline > now {
                return None;
            }
            let key = Key::from_u64(*key);
            self.heap.pop();
            if let Some(entry) = self.entries.remove(key) {
                return Some(entry);
            }
        }
        None
    }

    /// Everything armed (runtime shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<TimerEntry<C>> {
        self.heap.clear();
        self.entries.take_all()
    }
}
// ANCHOR_END: timers
