//! The only `unsafe` of this crate: thin wrappers over the few syscalls the runtime needs
//! beyond what stage 2's Selector, `std` and `socket2` already give us.
//!
//! - a *wake fd* (eventfd on Linux, a self-pipe elsewhere) so another thread can interrupt
//!   a loop that sleeps in the selector;
//! - `fcntl(O_NONBLOCK)` for pipe fds (a child's stdout), which `std` cannot do;
//! - `sigaction` with a handler that only does async-signal-safe work (one `write(2)`);
//! - `pidfd_open(2)` so a child's exit is an fd we can register like any socket;
//! - `getrlimit`/`setrlimit(RLIMIT_NOFILE)` so the 10,000-connection tests and the bench can
//!   raise the soft fd limit to the hard one.
//!
//! Every wrapper returns `io::Result` and owns its fds as [`OwnedFd`], so nothing above this
//! module can leak or double-close one.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// Turns a `-1` return into the thread's `errno` as an `io::Error`.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Wraps a freshly returned descriptor so it is closed exactly once.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: only called with a descriptor a syscall just returned to us successfully;
    // nobody else owns it yet, so OwnedFd becomes its single owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Puts `fd` in non-blocking mode (`O_NONBLOCK`), keeping its other status flags.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor kept open by the BorrowedFd; no pointers involved.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

/// Creates a pipe whose two ends are non-blocking and close-on-exec: `(read end, write end)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        // SAFETY: `fds` is a valid array of two c_ints for pipe2 to fill.
        cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
        Ok((owned(fds[0]), owned(fds[1])))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        // SAFETY: `fds` is a valid array of two c_ints for pipe to fill.
        cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
        let (r, w) = (owned(fds[0]), owned(fds[1]));
        for fd in [&r, &w] {
            use std::os::fd::AsFd;
            set_nonblocking(fd.as_fd())?;
            // SAFETY: F_SETFD on a descriptor we own; no pointers.
            cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        }
        Ok((r, w))
    }
}

// ANCHOR: wakefd
/// How another thread interrupts a loop asleep in `epoll_wait`/`poll`: a descriptor the
/// loop registers in its Selector as READABLE; writing to it makes it readable.
///
/// On Linux it is one eventfd (a kernel 64-bit counter: `write` adds, `read` returns and
/// zeroes it). Elsewhere it is a self-pipe: `write` puts one byte in, `read` drains them.
#[derive(Debug)]
pub struct WakeFd {
    /// The end the loop registers and drains.
    read: File,
    /// The end `notify` writes to (the same eventfd on Linux).
    write: Option<File>,
}

impl WakeFd {
    /// Creates the eventfd (Linux) or the non-blocking self-pipe (elsewhere).
    pub fn new() -> io::Result<WakeFd> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: eventfd takes no pointers; on success it returns a new descriptor.
            let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
            Ok(WakeFd { read: File::from(owned(fd)), write: None })
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let (r, w) = pipe()?;
            Ok(WakeFd { read: File::from(r), write: Some(File::from(w)) })
        }
    }

    /// The descriptor to register (READABLE) in the Selector.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Makes the fd readable. Safe to call from any thread, any number of times: a full
    /// pipe or a saturated counter (`WouldBlock`) already means "readable", so it is ignored.
    pub fn notify(&self) {
        let one = 1u64.to_ne_bytes();
        let res = match &self.write {
            None => (&self.read).write(&one),
            Some(w) => (&*w).write(&one[..1]),
        };
        if let Err(e) = res {
            if e.kind() != io::ErrorKind::WouldBlock {
                stage2_select_callbacks::trace!("wake fd write failed: {e}");
            }
        }
    }

    /// Resets the fd to "not readable" (reads the counter, or every byte in the pipe).
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        loop {
            match (&self.read).read(&mut buf) {
                Ok(0) => return,
                // An eventfd hands back its whole counter in one 8-byte read.
                Ok(_) if self.write.is_none() => return,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return, // WouldBlock: empty.
            }
        }
    }
}
// ANCHOR_END: wakefd

// ANCHOR: sigaction
/// The write end of the process-wide signal pipe, or -1 before the first handler is
/// installed. An atomic, because the signal handler may run on any thread at any moment.
static SIGNAL_PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// The signal handler. It may interrupt any code (even malloc holding a lock), so it only
/// does what POSIX calls async-signal-safe: read an atomic, `write(2)` one byte (the signal
/// number), and put `errno` back as it found it. Everything else happens later, on a thread.
extern "C" fn on_signal(signum: libc::c_int) {
    let saved = errno();
    let fd = SIGNAL_PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signum as u8;
        // SAFETY: write(2) is async-signal-safe and `byte` outlives the call. On a full pipe
        // (EAGAIN) the byte is dropped: the dispatcher is already behind, and two deliveries
        // of a signal merging into one is what the kernel does with pending signals too.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    set_errno(saved);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_ptr() -> *mut libc::c_int {
    // SAFETY: returns the address of the calling thread's errno; always valid.
    unsafe { libc::__errno_location() }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
fn errno_ptr() -> *mut libc::c_int {
    // SAFETY: returns the address of the calling thread's errno; always valid.
    unsafe { libc::__error() }
}

fn errno() -> libc::c_int {
    // SAFETY: errno_ptr points to this thread's errno.
    unsafe { *errno_ptr() }
}

fn set_errno(value: libc::c_int) {
    // SAFETY: errno_ptr points to this thread's errno.
    unsafe { *errno_ptr() = value };
}

/// Sets the descriptor the signal handler writes to (the write end of a non-blocking pipe
/// that the caller keeps open for the life of the process).
pub fn set_signal_pipe(write_fd: OwnedFd) {
    // Deliberately leaked: a handler may fire at any time until the process exits, so the
    // descriptor must never be closed (and its number never reused for another file).
    let raw = std::mem::ManuallyDrop::new(write_fd).as_raw_fd();
    SIGNAL_PIPE_WRITE.store(raw, Ordering::Release);
}

/// Installs `on_signal` for `signum` with `sigaction` (SA_RESTART, so a blocking syscall
/// elsewhere in the process is restarted rather than failing with EINTR).
pub fn install_signal_handler(signum: libc::c_int) -> io::Result<()> {
    // SAFETY: an all-zero sigaction is a valid "no flags, empty mask" value to fill in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t inside `action`.
    cvt(unsafe { libc::sigemptyset(&mut action.sa_mask) })?;
    // SAFETY: `action` is fully initialised; the old action is not requested (null).
    cvt(unsafe { libc::sigaction(signum, &action, std::ptr::null_mut()) })?;
    Ok(())
}

/// Sends `signum` to this process (tests and demos use it to exercise the handler).
pub fn raise_signal(signum: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(getpid(), sig) takes no pointers.
    cvt(unsafe { libc::kill(libc::getpid(), signum) })?;
    Ok(())
}
// ANCHOR_END: sigaction

/// `pidfd_open(2)`: a descriptor that becomes readable when process `pid` exits (Linux >= 5.3).
/// Elsewhere, or on an older kernel, this fails with `Unsupported`/`ENOSYS` and the caller
/// falls back to SIGCHLD.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: the pidfd_open syscall takes a pid and flags, no pointers.
        let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = owned(ret as RawFd);
        // pidfd_open has no CLOEXEC flag (it is always close-on-exec); make it non-blocking
        // like every other fd the reactor sees.
        use std::os::fd::AsFd;
        set_nonblocking(fd.as_fd())?;
        Ok(fd)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The kernel's id of the calling thread (`gettid`), e.g. to find it under `/proc/self/task`.
pub fn thread_id() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: gettid takes no arguments and cannot fail.
        (unsafe { libc::syscall(libc::SYS_gettid) }) as u64
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_fd_notify_then_drain() {
        let w = WakeFd::new().unwrap();
        w.notify();
        w.notify();
        let mut buf = [0u8; 8];
        // After notify there is something to read; drain empties it.
        w.drain();
        let err = (&w.read).read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn pipe_ends_are_nonblocking() {
        let (r, _w) = pipe().unwrap();
        let mut buf = [0u8; 1];
        let err = File::from(r).read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
