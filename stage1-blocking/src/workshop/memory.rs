//! How much memory this process holds, for the demos that print it and the tests that check it.
//!
//! Linux says it in `/proc/self/status` (`VmRSS` now, `VmHWM` at its peak). Elsewhere (macOS,
//! the BSDs) there is no `/proc`, and `ps -o rss=` gives the figure for now, in KiB as well;
//! the peak has no portable source without a system call, and stage 1 has no `unsafe` code.

use std::process::Command;

/// Resident memory now, in KiB: `VmRSS` on Linux, else what `ps -o rss= -p PID` says;
/// `None` if neither answers.
pub fn resident_kib() -> Option<u64> {
    proc_status_kib("VmRSS:").or_else(ps_rss_kib)
}

/// The most resident memory this process has held so far, in KiB (`VmHWM`). Linux only:
/// `None` elsewhere.
pub fn peak_resident_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

/// A `Name:   1234 kB` line of `/proc/self/status`, as a number of KiB.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let value = status.lines().find_map(|line| line.strip_prefix(field))?;
    value.split_whitespace().next()?.parse().ok()
}

/// `ps -o rss= -p PID`: this process's resident set in KiB, on Linux, macOS and the BSDs.
fn ps_rss_kib() -> Option<u64> {
    let pid = std::process::id().to_string();
    let out = Command::new("ps").args(["-o", "rss=", "-p", &pid]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_and_ps_agree_on_the_resident_size() {
        let Some(ps) = ps_rss_kib() else {
            return; // no `ps` here: the fallback has nothing to be compared with
        };
        assert!(ps > 0);
        if let (Some(now), Some(peak)) = (proc_status_kib("VmRSS:"), peak_resident_kib()) {
            // Two readings a moment apart, by two tools: close, not equal.
            assert!(ps.abs_diff(now) < now / 2 + 1024, "ps says {ps} KiB, /proc says {now} KiB");
            assert!(peak >= now.min(ps), "peak {peak} KiB below the current {now} KiB");
        }
        assert!(resident_kib().is_some());
    }
}
