//! `TRACE=1`: make the loops say what they decide.
//!
//! A workshop cannot see an event loop think. Every loop in the course (the callback loop here,
//! the future loop of stage 3, the scheduler of stage 4, the executor of stage 5) reports its
//! decisions through [`trace!`](crate::trace!) to stderr when the environment variable `TRACE`
//! is set to anything but `0` or the empty string.
//!
//! The variable is read once and cached, so a loop that traces on every iteration pays one
//! relaxed atomic load when tracing is off: cheap enough to leave in the hot paths.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0 = not read yet, 1 = off, 2 = on.
static STATE: AtomicU8 = AtomicU8::new(0);

/// Is `TRACE` set? Reads the environment the first time only.
#[inline]
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var_os("TRACE").is_some_and(|v| !v.is_empty() && v != "0");
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        state => state == 2,
    }
}

/// Prints `[trace] ...` to stderr when `TRACE=1`; costs one atomic load otherwise.
///
/// A failed write is ignored rather than a panic (`eprintln!` panics): with
/// `TRACE=1 ... 2>&1 | head`, stderr goes away while the loop is still talking.
///
/// ```
/// stage2_select_callbacks::trace!("fd {} ready for {}", 7, "read");
/// ```
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::trace::enabled() {
            $crate::trace::line(format_args!($($arg)*));
        }
    };
}

/// Writes one `[trace] ...` line to stderr for [`trace!`](crate::trace!), ignoring a failure.
pub fn line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "[trace] {args}");
}
