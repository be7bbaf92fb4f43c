//! Sockets on the reactor (going further: a library on top of the runtime): [`TcpListener`],
//! [`TcpStream`], [`UdpSocket`]. Each is a non-blocking std socket inside a `Registered`
//! (the runtime's owner of an fd and its registration); every operation is one
//! `Registered::poll_io` around the plain non-blocking syscall.

mod tcp;
mod udp;

pub use tcp::{Accept, TcpListener, TcpStream};
pub use udp::UdpSocket;
