//! asyncio's loop API, on our loop: [`call_soon`], [`call_later`], [`call_at`] (each
//! returning a cancellable [`Handle`]), and the loop's clock, [`time`] and [`iteration_time`].
//!
//! Callbacks are a small queue beside the task queue (the executor runs them first in each
//! iteration), and `call_later` is a timer entry whose firing moves its callback there.

use std::cell::Cell;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::runtime::executor::{Callback, Core, current};
use crate::runtime::slab::Key;
use crate::runtime::timers::{TimerEntry, deadline_after};

// ANCHOR: handles
/// A scheduled callback ([`call_soon`], [`call_later`], [`call_at`]); asyncio's
/// `Handle`/`TimerHandle`. [`Handle::cancel`] before it runs and it never runs.
pub struct Handle {
    cancelled: Rc<Cell<bool>>,
    timer: Option<Key>,
    core: Weak<Core>,
}

impl Handle {
    /// Cancels the callback. A timer's heap entry stays where it is and is skipped (at no
    /// cost beyond the pop) when its deadline comes: lazy deletion.
    pub fn cancel(&self) {
        self.cancelled.set(true);
        if let (Some(key), Some(core)) = (self.timer, self.core.upgrade()) {
            // Drop the callback only once the heap's borrow has ended: what it captured may
            // touch the timers when dropped (an armed Sleep disarms itself).
            let removed = core.timers.borrow_mut().remove(key);
            drop(removed);
        }
    }

    /// True once [`Handle::cancel`] was called.
    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

/// Runs `f` on the loop's next iteration (asyncio's `call_soon`).
pub fn call_soon(f: impl FnOnce() + 'static) -> Handle {
    let core = current();
    let cancelled = Rc::new(Cell::new(false));
    core.push_callback(Callback { cancelled: cancelled.clone(), f: Box::new(f) });
    Handle { cancelled, timer: None, core: Rc::downgrade(&core) }
}

/// Runs `f` once `delay` has passed on the loop's clock (asyncio's `call_later`). A delay of
/// `Duration::MAX` (or past what an `Instant` can hold) is never: `f` is dropped at once and
/// the handle is that of a callback that will not run.
pub fn call_later(delay: Duration, f: impl FnOnce() + 'static) -> Handle {
    match deadline_after(time(), delay) {
        Some(when) => call_at(when, f),
        None => {
            drop(f);
            Handle { cancelled: Rc::new(Cell::new(false)), timer: None, core: Weak::new() }
        }
    }
}

/// Runs `f` at `when` on the loop's clock (asyncio's `call_at`).
pub fn call_at(when: Instant, f: impl FnOnce() + 'static) -> Handle {
    let core = current();
    let cancelled = Rc::new(Cell::new(false));
    let cb = Callback { cancelled: cancelled.clone(), f: Box::new(f) };
    let key = core.timers.borrow_mut().insert(when, TimerEntry::Call(cb));
    Handle { cancelled, timer: Some(key), core: Rc::downgrade(&core) }
}

/// The loop's own clock (asyncio's `loop.time()`): monotonic, so deadlines never move when
/// someone changes the wall clock.
pub fn time() -> Instant {
    Instant::now()
}

/// The loop's clock as it read it when the current iteration began (just after the selector
/// returned), without reading it again. [`time`] reads the clock, which costs about as much as
/// parsing a small HTTP request on a virtual machine; this is a field load. It lags the real
/// time by however long the iteration has run so far (microseconds, unless a task hogs the
/// loop), so it suits deadlines of seconds computed over and over, such as a server's idle
/// timeout per request, not the measurement of short durations. Panics outside `block_on`.
pub fn iteration_time() -> Instant {
    current().now.get()
}
// ANCHOR_END: handles
