//! Child processes (asyncio's `create_subprocess_exec`): spawn with piped stdout/stderr,
//! read them line by line on the reactor, await the exit status without polling.
//!
//! `std::process::Command` does the fork/exec. We take the pipe fds it created, make them
//! non-blocking and register them like sockets. For the exit, Linux gives us a *pidfd*
//! (`pidfd_open`): an fd that becomes readable when the child exits, so waiting for a child is
//! waiting for readiness like everything else. Where there is no pidfd we fall back to
//! SIGCHLD through [`crate::signal`]: at each SIGCHLD, `try_wait` the child. Neither way
//! busy-polls.

use std::fs::File;
use std::future::poll_fn;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, ExitStatus, Stdio};
use std::task::{Context, Poll};

use stage2_select_callbacks::selector::Direction;
use stage2_select_callbacks::trace;

use crate::io::{AsyncRead, BufReader};
use crate::runtime::executor::try_current;
use crate::runtime::registered::Registered;
use crate::runtime::sys;
use crate::signal::{SIGCHLD, Signal};

/// The read end of a child's stdout or stderr, registered with the runtime.
pub struct PipeReader {
    pipe: Registered<File>,
}

impl PipeReader {
    fn new(fd: OwnedFd) -> io::Result<PipeReader> {
        sys::set_nonblocking(fd.as_fd())?;
        Ok(PipeReader { pipe: Registered::new(File::from(fd))? })
    }

    /// Wraps the pipe in a [`BufReader`] to read it line by line.
    pub fn lines(self) -> BufReader<PipeReader> {
        BufReader::new(self)
    }
}

impl AsyncRead for PipeReader {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.pipe.poll_io(cx, Direction::Read, |mut pipe| pipe.read(buf))
    }
}

/// How we learn that the child exited.
enum ExitWatch {
    /// A pidfd registered with the reactor: readable = exited.
    Pidfd(Registered<OwnedFd>),
    /// No pidfd: wake at every SIGCHLD and `try_wait`.
    Sigchld(Signal),
}

/// A running child. Its stdout/stderr are `Some` until taken.
///
/// Dropping a `Child` never leaves a zombie: if the process is still running it is reaped in
/// the background (see [`Child::kill_on_drop`] to stop it as well).
pub struct Child {
    /// The child's stdin if you asked for `Stdio::piped()` on the command: a plain blocking
    /// std handle (fine for small writes; dropping it sends EOF to the child).
    pub stdin: Option<std::process::ChildStdin>,
    /// Captured stdout (always piped by [`spawn`]).
    pub stdout: Option<PipeReader>,
    /// Captured stderr (always piped by [`spawn`]).
    pub stderr: Option<PipeReader>,
    /// `None` only while `Drop` runs (it hands the process to a reaper).
    exit: Option<Exit>,
    kill_on_drop: bool,
}

/// The process and how we learn that it exited.
struct Exit {
    watch: ExitWatch,
    child: std::process::Child,
}

// ANCHOR: spawn
/// Spawns `command` with stdout and stderr piped (stdin is inherited unless you set it).
/// Must run inside a runtime.
pub fn spawn(command: &mut Command) -> io::Result<Child> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    // Watch SIGCHLD *before* the child exists, so even an instant exit is not missed if
    // we end up on the fallback path.
    let fallback = match sys::pidfd_open(0) {
        // pid 0 is never valid: this only probes that the syscall exists (EINVAL vs ENOSYS).
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => None,
        _ => Some(Signal::new(SIGCHLD)?),
    };
    let mut child = command.spawn()?;
    match adopt(&mut child, fallback) {
        Ok((stdout, stderr, watch)) => {
            trace!("child {} spawned", child.id());
            let stdin = child.stdin.take();
            Ok(Child { stdin, stdout, stderr, exit: Some(Exit { watch, child }), kill_on_drop: false })
        }
        Err(e) => {
            // Spawned, but its pipes or its exit cannot be watched (out of fds, say): stop
            // and reap it rather than leave it running unseen, and report the error.
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

/// Registers a fresh child's pipes and its exit with the reactor.
fn adopt(
    child: &mut std::process::Child,
    fallback: Option<Signal>,
) -> io::Result<(Option<PipeReader>, Option<PipeReader>, ExitWatch)> {
    let stdout = child.stdout.take().map(|s| PipeReader::new(OwnedFd::from(s))).transpose()?;
    let stderr = child.stderr.take().map(|s| PipeReader::new(OwnedFd::from(s))).transpose()?;
    let watch = match fallback {
        Some(signal) => ExitWatch::Sigchld(signal),
        None => {
            // Nothing is ready until the child exits.
            ExitWatch::Pidfd(Registered::waiting_for_first_event(sys::pidfd_open(child.id())?)?)
        }
    };
    Ok((stdout, stderr, watch))
}
// ANCHOR_END: spawn

impl Child {
    /// Whether dropping this `Child` kills the process (SIGKILL) before reaping it, as tokio's
    /// `Command::kill_on_drop` does. Off by default: a dropped child keeps running, and is
    /// only reaped once it exits. With it on, a task that awaits [`Child::wait`] and is aborted
    /// (or times out) takes its child down with it.
    pub fn kill_on_drop(mut self, kill: bool) -> Child {
        self.kill_on_drop = kill;
        self
    }

    fn exit(&mut self) -> &mut Exit {
        self.exit.as_mut().expect("only Drop takes the child's exit")
    }

    /// The child's pid.
    pub fn id(&self) -> u32 {
        self.exit.as_ref().map_or(0, |exit| exit.child.id())
    }

    /// Sends SIGKILL (no effect if it already exited).
    pub fn kill(&mut self) -> io::Result<()> {
        self.exit().child.kill()
    }

    /// Waits for the child to exit and reaps it (see `Exit::wait`).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.exit().wait().await
    }
}

impl Exit {
    // ANCHOR: wait
    /// Waits for the child to exit and reaps it. `try_wait` first, then sleep until the
    /// pidfd is readable (or the next SIGCHLD), and try again.
    async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                trace!("child {} exited: {status}", self.child.id());
                return Ok(status);
            }
            match &mut self.watch {
                ExitWatch::Pidfd(pidfd) => poll_fn(|cx| pidfd.poll_ready(cx, Direction::Read)).await,
                ExitWatch::Sigchld(signal) => signal.recv().await,
            }
        }
    }
    // ANCHOR_END: wait
}

// ANCHOR: drop
impl Drop for Child {
    /// Kills the child if asked to ([`Child::kill_on_drop`]), then makes sure it is reaped: at
    /// once if it has exited, otherwise in the background. A child nobody waits for stays a
    /// zombie (an entry in the process table, with its pid) until its parent exits.
    fn drop(&mut self) {
        let Some(mut exit) = self.exit.take() else { return };
        if self.kill_on_drop {
            let _ = exit.child.kill();
        }
        if let Ok(None) = exit.child.try_wait() {
            reap_in_background(exit);
        }
    }
}

/// Waits for a dropped child that is still running: a detached task on the current runtime,
/// woken by the child's pidfd (or SIGCHLD) like [`Child::wait`]. Outside a runtime, or if that
/// task is cancelled before the child exits (its runtime is dropped), a thread does it.
fn reap_in_background(exit: Exit) {
    trace!("child {} dropped while running: reaped in the background", exit.child.id());
    match try_current() {
        Some(core) => drop(core.spawn(Reaper(Some(exit)).run())),
        None => reap_on_a_thread(exit.child),
    }
}

/// Owns a dropped child until it is reaped; dropped before that, it hands it to a thread.
struct Reaper(Option<Exit>);

impl Reaper {
    async fn run(mut self) {
        if let Some(exit) = &mut self.0 {
            if exit.wait().await.is_ok() {
                self.0 = None;
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(exit) = self.0.take() {
            // The pidfd (or signal) stays on this thread, and leaves the reactor here.
            reap_on_a_thread(exit.child);
        }
    }
}

/// The last resort: a thread that blocks in `waitpid` until the child exits. If even a thread
/// cannot be started, nothing more can be done: the child stays a zombie until we exit.
fn reap_on_a_thread(mut child: std::process::Child) {
    let spawned = std::thread::Builder::new().name("stage5-reaper".into()).spawn(move || {
        let _ = child.wait();
    });
    if let Err(e) = spawned {
        trace!("cannot start a reaper thread: {e}");
    }
}
// ANCHOR_END: drop
