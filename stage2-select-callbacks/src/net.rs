//! Non-blocking socket helpers shared by stages 2, 3 and 4.
//!
//! A non-blocking `connect` cannot finish before it returns: the kernel answers `EINPROGRESS`
//! and carries on with the TCP handshake. The socket becomes *writable* when the handshake is
//! over, whether it worked or not, so "writable" alone does not mean "connected". The outcome
//! is parked in the socket's `SO_ERROR` option, and [`take_connect_error`] reads it. Forgetting
//! this step is why naive crawlers report a refused port as a successful request that then
//! fails mysteriously on the first write.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};

use socket2::{Domain, Protocol, Socket, Type};

// ANCHOR: connect_nonblocking
/// Starts a TCP connect to `addr` without waiting for it.
///
/// Returns the stream at once, with the handshake usually still in flight (`EINPROGRESS` is not
/// an error here). Register it for *writable* and call [`take_connect_error`] when it is.
pub fn connect_nonblocking(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        // Linux says EINPROGRESS; some systems say EAGAIN/EWOULDBLOCK for local sockets.
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(socket.into())
}
// ANCHOR_END: connect_nonblocking

// ANCHOR: take_connect_error
/// Reads and clears `SO_ERROR` after a non-blocking connect reported writable.
///
/// `Ok(())` means the handshake finished; otherwise the error is the connect's own, for example
/// `ConnectionRefused` when nothing listens on the port.
pub fn take_connect_error(stream: &TcpStream) -> io::Result<()> {
    match stream.take_error()? {
        None => Ok(()),
        Some(err) => Err(err),
    }
}
// ANCHOR_END: take_connect_error

// ANCHOR: send_nosignal
/// `send(2)` with `MSG_NOSIGNAL`: writing to a peer that has gone returns `EPIPE` as an error
/// instead of raising `SIGPIPE`, whose default action kills the whole process.
///
/// Rust binaries set `SIGPIPE` to "ignore" before `main`, but a library cannot count on that
/// (it may run inside a C program, or a binary built with `-Zon-broken-pipe=kill`), and a
/// server must never die because one client hung up.
pub fn send_nosignal(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = libc::MSG_NOSIGNAL;
    // macOS has no MSG_NOSIGNAL (it has the SO_NOSIGPIPE socket option); Rust's ignore is it.
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let flags = 0;
    socket2::SockRef::from(stream).send_with_flags(bytes, flags)
}
// ANCHOR_END: send_nosignal

/// `accept` for an event loop: the new connection comes back non-blocking, so no read or write
/// on it can ever put the loop's only thread to sleep. If switching it fails (it practically
/// never does), the connection is closed and the error returned like an accept error.
pub fn accept_nonblocking(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    let (stream, peer) = listener.accept()?;
    stream.set_nonblocking(true)?;
    Ok((stream, peer))
}

// ANCHOR: accept_error
/// What a non-blocking accept loop does after `accept` failed (see [`classify_accept_error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// `WouldBlock`: the queue is empty. Wait for the listener to be readable again.
    Drained,
    /// A client that gave up while queued (`ECONNABORTED`), or a signal (`EINTR`): accept the
    /// next one at once.
    TryNext,
    /// Out of file descriptors or memory. The connection that could not be accepted stays
    /// queued, so the listener stays *readable*: waiting for readable again would wake at once,
    /// forever, at 100% CPU. Stop watching the listener until one of our connections closes
    /// and gives a descriptor back.
    OutOfDescriptors,
    /// Anything else: say so, and wait for the listener to be readable again.
    Other,
}

/// Sorts an `accept` error into what the accept loop should do about it.
pub fn classify_accept_error(err: &io::Error) -> AcceptError {
    match err.kind() {
        io::ErrorKind::WouldBlock => AcceptError::Drained,
        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted => AcceptError::TryNext,
        _ if stage1_blocking::net::out_of_descriptors(err) => AcceptError::OutOfDescriptors,
        _ => AcceptError::Other,
    }
}
// ANCHOR_END: accept_error
