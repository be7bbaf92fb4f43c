//! Small socket helpers shared by the demo server, the echo servers and their binaries.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// How many not-yet-accepted connections the kernel may queue for a listener.
///
/// `std::net::TcpListener::bind` asks for 128. Later stages open 1000 connections at once
/// against the demo server; with a short queue the kernel drops the extra SYNs and those
/// clients retry a whole second later, which would look like a slow runtime. The kernel caps
/// this at `net.core.somaxconn` (4096 on current Linux).
pub const LISTEN_BACKLOG: i32 = 1024;

// ANCHOR: bind_listener
/// Binds a blocking TCP listener on `addr` with [`LISTEN_BACKLOG`].
///
/// `SO_REUSEADDR` lets a server restart at once on the port it just used (old connections in
/// TIME_WAIT no longer block the bind), while a port that another server is *listening* on
/// still fails with `AddrInUse`.
pub fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}
// ANCHOR_END: bind_listener

/// How long an accept loop that ran out of file descriptors waits before trying again, when
/// nothing tells it sooner that one came back. Short enough that clients barely notice, long
/// enough that a server with nothing to do meanwhile costs no CPU. Every accept loop of stages
/// 1 to 4 uses it.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What an accept loop does after `accept` failed: it keeps going, sometimes after a pause.
///
/// Some failures belong to one connection that died in the queue (`ECONNABORTED`): just accept
/// the next. Others mean the process is out of file descriptors or memory (`EMFILE`, `ENFILE`,
/// `ENOBUFS`, `ENOMEM`): retrying at once would spin at 100% CPU, so we pause briefly and let
/// finishing connections give descriptors back. Never a reason to bring the server down.
pub fn accept_backoff(err: &io::Error) {
    if out_of_descriptors(err) {
        std::thread::sleep(ACCEPT_BACKOFF);
    }
}

/// Did `accept` (or `socket`) fail because the process or the system is out of file descriptors
/// or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`)? Such a failure passes once some
/// connection closes; every accept loop of the course treats it that way.
pub fn out_of_descriptors(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
