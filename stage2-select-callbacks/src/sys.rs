//! The only `unsafe` code of stage 2: thin wrappers over poll(2) and epoll(7).
//!
//! Each function turns a C-style "-1 and errno" into an `io::Result`, and nothing else. All
//! structs come from the `libc` crate (`pollfd`, `epoll_event`), never from hand-written copies:
//! `epoll_event` is packed on x86_64 and not on other architectures, and only libc knows which.

use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Turns a libc return value into `io::Result`, reading `errno` when it is -1.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// `poll(2)` over `fds`, with `timeout_ms` as poll takes it (-1 waits forever).
///
/// Returns how many entries have a non-zero `revents`.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<usize> {
    // SAFETY: the pointer and length describe a live, exclusively borrowed slice of pollfd, which
    // the kernel reads and writes (revents) only during the call.
    let n = check(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) })?;
    Ok(n as usize)
}

/// Creates an epoll instance, closed on exec so child processes do not inherit it.
#[cfg(target_os = "linux")]
pub fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 takes no pointers; the flag is a valid constant.
    let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `epoll_ctl(2)`: add, modify or delete `fd` in the interest list of `epoll`.
///
/// `event` is ignored for `EPOLL_CTL_DEL` (Linux accepts a null pointer there since 2.6.9).
#[cfg(target_os = "linux")]
pub fn epoll_ctl(
    epoll: &OwnedFd,
    op: libc::c_int,
    fd: RawFd,
    event: Option<libc::epoll_event>,
) -> io::Result<()> {
    let mut event = event;
    let ptr = match event.as_mut() {
        Some(ev) => ev as *mut libc::epoll_event,
        None => std::ptr::null_mut(),
    };
    // SAFETY: `epoll` is an open epoll fd we own; `ptr` is null (allowed for DEL) or points to a
    // local epoll_event that outlives the call; the kernel copies it and keeps no pointer.
    check(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), op, fd, ptr) })?;
    Ok(())
}

/// `epoll_wait(2)` into the whole of `events`; returns how many entries the kernel filled.
#[cfg(target_os = "linux")]
pub fn epoll_wait(
    epoll: &OwnedFd,
    events: &mut [libc::epoll_event],
    timeout_ms: libc::c_int,
) -> io::Result<usize> {
    let max = events.len().min(libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: the buffer is a live, exclusively borrowed slice of `max` epoll_events; the kernel
    // writes at most `max` entries into it during the call.
    let n = check(unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) })?;
    Ok(n as usize)
}

/// The open-file limit (`RLIMIT_NOFILE`) as `(soft, hard)`: the soft limit is what `open`,
/// `socket` and `accept` are held to (EMFILE past it); a process may raise it up to the hard one.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit that outlives the call; the kernel fills it.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    // rlim_t is u64 on 64-bit Linux and macOS, but 32 bits wide on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    Ok((limit.rlim_cur as u64, limit.rlim_max as u64))
}

/// The highest soft open-file limit this process can set: the hard limit, and on Apple
/// systems also `OPEN_MAX` (10,240), because macOS reports an unlimited hard limit yet answers
/// `EINVAL` to any `setrlimit` above `OPEN_MAX` (see `man setrlimit` there).
pub fn nofile_ceiling() -> io::Result<u64> {
    let (_, hard) = nofile_limit()?;
    #[cfg(target_vendor = "apple")]
    let hard = hard.min(10_240);
    Ok(hard)
}

/// Sets the soft open-file limit to `soft`, clamped to [`nofile_ceiling`]; returns the soft
/// limit now in force. Tests lower it to run out of descriptors on purpose.
pub fn set_nofile_soft_limit(soft: u64) -> io::Result<u64> {
    let (_, hard) = nofile_limit()?;
    let soft = soft.min(nofile_ceiling()?);
    let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
    // SAFETY: `limit` is a valid rlimit that outlives the call; the kernel only reads it.
    check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) })?;
    Ok(soft)
}

/// Raises the soft open-file limit as far as the process may ([`nofile_ceiling`]) and returns
/// it. Servers call this at start: the soft limit is often 1,024 (256 on macOS) while the hard
/// one allows far more, and a server that keeps the low one turns clients away with EMFILE.
/// Never lowers the limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, _) = nofile_limit()?;
    let ceiling = nofile_ceiling()?;
    if soft >= ceiling {
        return Ok(soft);
    }
    set_nofile_soft_limit(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_limits_are_ordered() {
        let (soft, hard) = nofile_limit().unwrap();
        assert!(soft <= hard, "soft limit {soft} above hard limit {hard}");
        assert!(nofile_ceiling().unwrap() <= hard);
    }

    #[test]
    fn raising_never_lowers_and_stops_at_the_ceiling() {
        let (before, _) = nofile_limit().unwrap();
        let raised = raise_nofile_limit().unwrap();
        assert!(raised >= before, "raise_nofile_limit lowered the limit from {before} to {raised}");
        assert_eq!(raised, nofile_ceiling().unwrap().max(before));
        assert_eq!(nofile_limit().unwrap().0, raised, "the returned limit is the one in force");
        // Asking for more than the ceiling is clamped, not an error (macOS: EINVAL above OPEN_MAX).
        assert_eq!(set_nofile_soft_limit(u64::MAX).unwrap(), nofile_ceiling().unwrap());
    }
}
