//! `TRACE=1`: make the loops say what they decide.
//!
//! A workshop cannot see an event loop think. Every loop in the course (the callback loop here,
//! the future loop of stage 3, the scheduler of stage 4, the executor of stage 5) reports its
//! decisions through [`trace!`](crate::trace!) to stderr when the environment variable `TRACE`
//! is set to anything but `0` or the empty string. Each line carries the time since the
//! program started: `[trace +103.412 ms] loop: woke after 100.2 ms with 1 events`.
//!
//! The same lines feed a crawler's `--timeline FILE.svg` picture: when a timeline is being
//! recorded, `trace!` records its line whether or not `TRACE` prints it. Both the stamp and
//! the recording live in stage 1's `workshop::timeline` (stage 1's clients trace too, and
//! cannot reach this crate), so every trace line of the course is made in one place.
//!
//! `TRACE` is read once and cached, so a loop that traces on every iteration pays two relaxed
//! atomic loads when nobody listens: cheap enough to leave in the hot paths.

use stage1_blocking::workshop::timeline;

/// Does anybody want trace lines: `TRACE=1`, or a `--timeline` being recorded? Code that
/// builds something expensive only for a trace line asks this first.
#[inline]
pub fn enabled() -> bool {
    timeline::wanted()
}

/// Prints `[trace +12.345 ms] ...` to stderr when `TRACE=1` (and records the line for
/// `--timeline`); costs two atomic loads otherwise.
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

/// Makes one trace line for [`trace!`](crate::trace!): stage 1's `timeline::trace` stamps it,
/// prints it if `TRACE=1` and records it if a timeline is on.
pub fn line(args: std::fmt::Arguments<'_>) {
    timeline::trace(args);
}
