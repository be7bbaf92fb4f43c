//! Sockets on the reactor: [`TcpListener`], [`TcpStream`], [`UdpSocket`]. Each owns a
//! non-blocking std socket plus its reactor `Source`; every
//! operation is one `Source::poll_io` around the plain non-blocking syscall.

mod tcp;
mod udp;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
