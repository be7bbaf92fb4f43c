//! UDP: datagrams on the reactor.

use std::io;
use std::net::SocketAddr;

use stage2_select_callbacks::selector::Direction;

use crate::runtime::registered::Registered;

/// A UDP socket registered with the current runtime.
pub struct UdpSocket {
    socket: Registered<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds `addr` and registers the socket. Must run inside a runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        Ok(UdpSocket { socket: Registered::new(socket)? })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.get_ref().local_addr()
    }

    /// Sends one datagram to `target`; returns the bytes sent.
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.socket.io(Direction::Write, |s| s.send_to(buf, target)).await
    }

    /// Receives one datagram (truncated to `buf`) and its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.socket.io(Direction::Read, |s| s.recv_from(buf)).await
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    /// The socket's descriptor (it stays owned here).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.get_ref().as_raw_fd()
    }
}
