//! UDP: datagrams on the reactor.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use crate::reactor::{Direction, Readiness, Source};

/// A UDP socket registered with the current runtime.
pub struct UdpSocket {
    // Declared first: dropped (deregistered) before the socket below is closed.
    source: Source,
    socket: std::net::UdpSocket,
}

impl UdpSocket {
    /// Binds `addr` and registers the socket. Must run inside a runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        let source = Source::new(socket.as_raw_fd(), Readiness::BOTH)?;
        Ok(UdpSocket { source, socket })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Sends one datagram to `target`; returns the bytes sent.
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| self.source.poll_io(cx, Direction::Write, || self.socket.send_to(buf, target))).await
    }

    /// Receives one datagram (truncated to `buf`) and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.source.poll_io(cx, Direction::Read, || self.socket.recv_from(buf))).await
    }
}
