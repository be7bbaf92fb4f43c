//! The guard every runtime test starts with: `let _guard = guard::watchdog();`.
//!
//! A broken runtime does not make a test fail, it makes it hang: a lost wake-up leaves the
//! loop asleep in `epoll_wait` for ever, a task that keeps being polled first spins a core at
//! 100 %. Neither returns to the test harness, so a `timeout` inside the test cannot help when
//! the loop itself is what is stuck. The watchdog is a thread of its own: if the test has not
//! finished (dropped its guard) after [`LIMIT`], it looks at what the test's thread is doing,
//! prints the likely cause and ends the whole test process. It is a failure detector, never a
//! wait: a test that passes drops its guard the moment it returns.
//!
//! Tests also `timeout(guard::WAIT, ...)` the awaits a lost wake-up would hang, with a message
//! of their own: those fire first and say more precisely what was lost.

// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How long a whole test may run before the watchdog ends the process. Every test here
/// finishes in well under a second on a loaded two-core machine.
pub const LIMIT: Duration = Duration::from_secs(30);

/// How long a test waits, inside the runtime, for one event a lost wake-up would hang
/// (`timeout(WAIT, ...)`): shorter than [`LIMIT`], so its own message comes first.
pub const WAIT: Duration = Duration::from_secs(10);

/// Dropping it (the test returned or panicked) stops the watchdog.
pub struct Watchdog {
    _done: mpsc::Sender<()>,
}

/// Starts the watchdog for the test running on this thread (libtest names the thread after
/// the test).
pub fn watchdog() -> Watchdog {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let tid = stage5_async_await::sys::thread_id();
    let (done, finished) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name(format!("watchdog of {test}"))
        .spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(LIMIT) {
                expire(&test, tid);
            }
        })
        .expect("cannot start the watchdog thread");
    Watchdog { _done: done }
}

/// The test is stuck: say why, as well as we can tell, and end the process (the stuck thread
/// never returns, so failing the test from inside is not an option).
fn expire(test: &str, tid: u64) -> ! {
    let cause = match busy_or_asleep(tid) {
        Some(true) => {
            "its thread is BUSY (running, not waiting): the loop spins. Likely a task that \
             keeps waking itself is polled again and again while the other ready tasks starve \
             (is the ready queue still FIFO?), or a future that returns Pending and wakes \
             itself without ever making progress"
        }
        Some(false) => {
            "its thread is ASLEEP (in the selector, a park or a join) and nothing will wake \
             it: a LOST WAKE-UP. Likely a future returned Pending without storing its waker, \
             or a wake that did not put its task back on the ready queue (is the queued flag \
             cleared before the poll?), or a wake from another thread that never reached the \
             loop (remote queue and wake fd)"
        }
        None => "a lost wake-up (the loop asleep) or a loop that spins (its thread busy)",
    };
    // Straight to the process's stderr: `eprintln!` from a thread spawned by a test goes to
    // that test's captured output, which nobody prints once we exit.
    let _ = writeln!(
        std::io::stderr(),
        "\nGUARD: test `{test}` still running after {LIMIT:?}, {cause}.\nGUARD: ending the test process."
    );
    std::process::exit(101);
}

/// Some(true) when thread `tid` of this process is running (state `R`) in most of a few
/// looks, Some(false) when it is mostly sleeping, None when /proc cannot tell (not Linux).
fn busy_or_asleep(tid: u64) -> Option<bool> {
    let mut running = 0;
    const LOOKS: u32 = 20;
    for _ in 0..LOOKS {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // "tid (comm) S ...": the state follows the last ')'.
        let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
        if state == 'R' {
            running += 1;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Some(running * 2 > LOOKS)
}
