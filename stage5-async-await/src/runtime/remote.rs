//! The remote queue: how a thread that is not running a loop wakes one of its tasks.
//!
//! On the loop's own thread a wake pushes the task id straight onto the ready queue. From any
//! other thread (the blocking pool, the signal dispatcher, a test's `std::thread::spawn`) it
//! must not touch that queue: it is not thread-safe, and the loop may be asleep in
//! `epoll_wait`, where it would not look at it anyway. So the id goes into this mutex-guarded
//! queue, and the [`WakeFd`] is made readable so the selector returns at once.
//!
//! Every task's waker holds an `Arc` of the [`Remote`] of its runtime; it depends on nothing
//! but the wake fd.

use std::sync::Mutex;

use stage1_blocking::workshop::lock;
use stage2_select_callbacks::trace;

use crate::runtime::sys::WakeFd;

// ANCHOR: remote
/// The part of a runtime other threads may touch: the ids they woke, and the fd that
/// interrupts the loop's sleep in the selector.
pub(crate) struct Remote {
    queue: Mutex<Vec<u64>>,
    wake_fd: WakeFd,
}

impl Remote {
    /// An empty queue and a fresh wake fd (an eventfd, or a self-pipe off Linux).
    pub(crate) fn new() -> std::io::Result<Remote> {
        Ok(Remote { queue: Mutex::new(Vec::new()), wake_fd: WakeFd::new()? })
    }

    /// The descriptor the reactor registers (READABLE) for this queue.
    pub(crate) fn wake_fd(&self) -> std::os::fd::RawFd {
        self.wake_fd.fd()
    }

    /// Queues task `id` from another thread and makes sure the loop notices.
    pub(crate) fn push(&self, id: u64) {
        let was_empty = {
            let mut queue = lock(&self.queue);
            queue.push(id);
            queue.len() == 1
        };
        // Only the push that makes the queue non-empty needs to poke the fd: the loop drains
        // the whole queue *after* it resets the fd (see `take`), so later pushes are picked up
        // by that same drain, or they find the queue empty again and poke it themselves.
        if was_empty {
            self.wake_fd.notify();
        }
    }

    /// The loop's side, once per iteration after the selector returned: reset the wake fd
    /// if the selector reported it, *then* take every queued id. The other order loses wakes:
    /// take (empty), another thread pushes and pokes, reset (swallowing the poke), and that
    /// task waits in the queue while the loop sleeps.
    pub(crate) fn take(&self, wake_fd_reported: bool) -> Vec<u64> {
        if wake_fd_reported {
            self.wake_fd.drain();
            trace!("woken through the wake fd");
        }
        std::mem::take(&mut *lock(&self.queue))
    }
}
// ANCHOR_END: remote
