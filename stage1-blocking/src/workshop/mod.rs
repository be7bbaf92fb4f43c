//! # Going further: the workshop's scaffolding
//!
//! Nothing in this folder is part of stage 1's lesson. It is the equipment every stage of the
//! course shares, kept here (stage 1 is the crate every other stage already depends on) and
//! fenced off so the lesson files stay short:
//!
//! * [`cli`]: the small flag parser and the helpers every demo binary uses (`--help`, one-line
//!   usage errors with exit status 2, the crawler demo's summary line).
//! * [`demo`]: the demo server every crawler talks to: a path `/N` answers after a configurable
//!   delay that stands for network latency, thread per connection.
//! * [`server_http`]: HTTP from the server's side, for the demo server: read a request head
//!   (bounded), parse it, write a whole response.
//! * [`memory`]: this process's resident memory, from Linux's `/proc` or, elsewhere, `ps`.
//! * `testkit` (only with the `testkit` feature, which every stage turns on for its tests in
//!   `[dev-dependencies]`): the client side of every stage's tests, and the shared exams
//!   (`check_echo`, `check_client_binary`, ...) each stage's programs must pass.
//!
//! The book's appendix "The workshop's scaffolding" walks through these files.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub mod cli;
pub mod demo;
pub mod memory;
pub mod server_http;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod timeline;

/// Locks `mutex`, and keeps going if a thread panicked while holding it.
///
/// A poisoned lock only says "someone panicked in here"; every structure the course guards
/// with a mutex stays consistent between statements, so the data is still good, and a server
/// must not fall over because one handler did. Every stage locks through this one function.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the servers print their log lines; see [`set_log`].
static LOG: AtomicBool = AtomicBool::new(true);

/// Turns the log lines of stage 1's echo servers (`... connected`, `... left after N bytes
/// echoed`) off or back on, for the whole process. They are on by default; tests turn them
/// off, because the log writes to the real stdout, past the test harness's capture (which
/// only sees `print!`), and would litter its report.
pub fn set_log(on: bool) {
    LOG.store(on, Ordering::Relaxed);
}

/// A line of a server's log on stdout. If nobody reads it any more (`| head`), the server goes
/// on serving without a log: `println!` would panic, and take a client (or, serving one at a
/// time, the whole server) with it.
pub fn log(line: std::fmt::Arguments<'_>) {
    if LOG.load(Ordering::Relaxed) {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}
