//! TCP: a listener whose `accept().await` survives fd exhaustion (and whose
//! `accept_or_exhausted` reports it instead), and a stream with non-blocking connect
//! (`SO_ERROR` checked), reads, writes, shutdown. Each is a std socket inside a `Registered`
//! (which deregisters it before closing it).

use std::future::poll_fn;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use stage2_select_callbacks::net::{
    AcceptError, classify_accept_error, connect_nonblocking, send_nosignal, take_connect_error,
};
use stage2_select_callbacks::selector::Direction;
use stage2_select_callbacks::trace;

use crate::io::{AsyncRead, AsyncWrite};
use crate::runtime::registered::Registered;

/// How long `accept` waits before retrying when the process (or system) is out of fds.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A listening TCP socket registered with the current runtime.
pub struct TcpListener {
    listener: Registered<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds `addr` (with SO_REUSEADDR, backlog 1024) and registers the socket. Must run
    /// inside a runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    }

    /// Adopts a bound, listening std socket (made non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener { listener: Registered::new(listener)? })
    }

    /// The bound address (the real port after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.get_ref().local_addr()
    }

    // ANCHOR: accept
    /// Waits for the next connection (curio's `await sock.accept()`).
    ///
    /// When the process is out of fds (`EMFILE`, or `ENFILE`/`ENOBUFS`/`ENOMEM`), the
    /// pending connection stays in the kernel's backlog and the listener stays readable: a
    /// loop that retried at once would spin at 100% CPU. So we sleep a little on the timer
    /// heap and retry; connections are accepted again as soon as fds are freed.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            // Several tasks may accept on one listener: each waits under its own id.
            let accepted = self.listener.io(Direction::Read, |l| l.accept()).await;
            match accepted {
                Ok((stream, peer)) => {
                    trace!("accepted fd {} from {peer}", stream.as_raw_fd());
                    match TcpStream::from_std(stream) {
                        Ok(stream) => return Ok((stream, peer)),
                        // This one connection cannot be watched (the selector is out of
                        // memory, say): close it, as if the client had left, and go on.
                        Err(e) => trace!("accept: cannot register {peer}: {e}; connection closed"),
                    }
                }
                // Sorted by stage 2's rule, which every accept loop of the course follows.
                Err(e) => match classify_accept_error(&e) {
                    AcceptError::OutOfDescriptors => {
                        trace!("accept: {e}; backing off {ACCEPT_BACKOFF:?}");
                        crate::runtime::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    // A client that gave up between SYN and accept is not the listener's
                    // problem (and WouldBlock/EINTR never get here: poll_io waits or retries).
                    AcceptError::TryNext | AcceptError::Drained => {}
                    AcceptError::Other => return Err(e),
                },
            }
        }
    }
    // ANCHOR_END: accept

    /// [`TcpListener::accept`] for a caller that wants to *see* running out of fds instead of
    /// having it waited out: after an `accept` that failed with `EMFILE` (or `ENFILE`,
    /// `ENOBUFS`, `ENOMEM`) this returns [`Accept::Exhausted`] at once, without sleeping.
    ///
    /// The connection is still queued and the listener still readable, so the next call
    /// fails the same way until a descriptor is freed: the caller must free one (stage 6
    /// closes a spare it kept for this) or wait on a timer before calling again, or it spins.
    pub async fn accept_or_exhausted(&self) -> io::Result<Accept> {
        loop {
            let accepted = self.listener.io(Direction::Read, |l| l.accept()).await;
            match accepted {
                Ok((stream, peer)) => match TcpStream::from_std(stream) {
                    Ok(stream) => return Ok(Accept::Connection(stream, peer)),
                    Err(e) => trace!("accept: cannot register {peer}: {e}; connection closed"),
                },
                Err(e) => match classify_accept_error(&e) {
                    AcceptError::OutOfDescriptors => {
                        trace!("accept: {e}; reported to the caller");
                        return Ok(Accept::Exhausted);
                    }
                    AcceptError::TryNext | AcceptError::Drained => {}
                    AcceptError::Other => return Err(e),
                },
            }
        }
    }
}

/// What [`TcpListener::accept_or_exhausted`] found.
pub enum Accept {
    /// A new connection, registered, and its peer's address.
    Connection(TcpStream, SocketAddr),
    /// No descriptor (or kernel memory) was left for the next connection: it waits in the
    /// kernel's queue until the caller frees one.
    Exhausted,
}

/// A connected TCP stream registered with the current runtime.
pub struct TcpStream {
    stream: Registered<std::net::TcpStream>,
}

impl TcpStream {
    // ANCHOR: connect
    /// Connects without blocking the loop: start the handshake (`EINPROGRESS`), wait until
    /// the socket is *writable*, then read `SO_ERROR`, because writable only means the
    /// handshake is over, not that it worked. A refused port is `Err(ConnectionRefused)`.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = connect_nonblocking(addr)?;
        // Believe nothing ready: the first WRITE event is the end of the handshake.
        let stream = Registered::waiting_for_first_event(stream)?;
        poll_fn(|cx| stream.poll_ready(cx, Direction::Write)).await;
        take_connect_error(stream.get_ref())?;
        // Reads were not tried yet: from now on, believe both directions ready.
        stream.mark_ready(Direction::Read);
        Ok(TcpStream { stream })
    }
    // ANCHOR_END: connect

    /// [`TcpStream::connect`] that gives up with `TimedOut` after `limit` (a timer on the
    /// loop's heap; the half-open socket is closed when the connect future is dropped).
    pub async fn connect_timeout(addr: SocketAddr, limit: Duration) -> io::Result<TcpStream> {
        crate::runtime::time::timeout(limit, TcpStream::connect(addr)).await?
    }

    /// Adopts a connected std stream (made non-blocking here).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream { stream: Registered::new(stream)? })
    }

    /// Reads some bytes; `Ok(0)` is EOF.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        crate::io::read(self, buf).await
    }

    /// Writes some bytes (maybe fewer than `buf.len()`).
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        crate::io::write(self, buf).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        crate::io::write_all(self, buf).await
    }

    /// Fills `buf` exactly (`UnexpectedEof` if the peer closes first).
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        crate::io::read_exact(self, buf).await
    }

    /// Reads until EOF, appending to `out`.
    pub async fn read_to_end(&self, out: &mut Vec<u8>) -> io::Result<usize> {
        crate::io::read_to_end(self, out).await
    }

    /// Waits until a read would not block, without reading (so an idle connection needs no
    /// buffer: the echo server allocates one only when bytes are there).
    pub async fn readable(&self) {
        poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// [`TcpStream::readable`] as a poll function, for a hand-written future that waits for
    /// readability *or* something else (stage 6 waits for it or a connection's deadline).
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.stream.poll_ready(cx, Direction::Read)
    }

    /// Non-blocking read attempt. If the reactor already knows the socket is drained, this
    /// answers `WouldBlock` without a syscall; otherwise it reads, and `WouldBlock` or a short
    /// read clears the readiness bit, so a following [`TcpStream::readable`] really waits.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.stream.is_ready(Direction::Read) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        loop {
            let result = self.stream.get_ref().read(buf);
            if matches!(&result, Err(e) if e.kind() == io::ErrorKind::Interrupted) {
                continue;
            }
            self.stream.note_read(&result, buf.len());
            return result;
        }
    }

    /// Non-blocking write attempt, the twin of [`TcpStream::try_read`]: `WouldBlock` without a
    /// syscall if the reactor knows the socket is full; otherwise one `send`, and `WouldBlock`
    /// clears the readiness bit.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        if !self.stream.is_ready(Direction::Write) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        loop {
            match send_nosignal(self.stream.get_ref(), buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stream.clear_readiness(Direction::Write);
                    return Err(e);
                }
                result => return result,
            }
        }
    }

    /// Shuts down one or both directions (`Shutdown::Write` sends FIN: the peer reads EOF).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.get_ref().shutdown(how)
    }

    /// Disables Nagle's algorithm (small writes go out at once).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.stream.get_ref().set_nodelay(nodelay)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.get_ref().peer_addr()
    }

    /// Our end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.get_ref().local_addr()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let requested = buf.len();
        let poll = self.stream.poll_io(cx, Direction::Read, |mut stream| stream.read(buf));
        if let Poll::Ready(result) = &poll {
            self.stream.note_read(result, requested);
        }
        poll
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // send(MSG_NOSIGNAL): a peer that hung up is an EPIPE error, never a SIGPIPE.
        self.stream.poll_io(cx, Direction::Write, |stream| send_nosignal(stream, buf))
    }
}

impl AsRawFd for TcpStream {
    /// The socket's descriptor (to compare, log or pass to a syscall; it stays owned here).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.stream.get_ref().as_raw_fd()
    }
}

impl AsRawFd for TcpListener {
    /// The listening socket's descriptor (it stays owned here).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.listener.get_ref().as_raw_fd()
    }
}
