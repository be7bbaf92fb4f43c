//! Helpers shared by the integration tests (no crates.io dev-dependencies: we write them).
#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// A safety net, not a synchronisation tool: if the code under test is broken and never
/// answers, the test fails with a timeout error instead of hanging forever.
pub const SAFETY_TIMEOUT: Duration = Duration::from_secs(30);

/// Deterministic pseudo-random bytes (xorshift64), different for each seed, so a reordered
/// or duplicated chunk cannot go unnoticed the way it could with a repeated pattern.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Connects with the safety timeouts set.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    stream
}

/// Reads until EOF.
pub fn read_all(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}

/// Sends raw bytes as a request and returns every byte of the answer.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(request).expect("write request");
    // Tell the server we are done sending, as a request that ends early would.
    let _ = stream.shutdown(Shutdown::Write);
    read_all(&mut stream).expect("read response")
}

/// Kernel socket buffer size asked for by [`connect_small_buffers`] and
/// [`small_buffer_listener`]. Loopback buffers normally grow to megabytes, so a 1 MiB echo
/// would fit in them whole and no write would ever wait; with small ones it must.
pub const SMALL_BUFFER: usize = 4096;

/// Connects with small kernel send and receive buffers (and the safety timeouts).
pub fn connect_small_buffers(addr: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(SMALL_BUFFER).unwrap();
    socket.set_send_buffer_size(SMALL_BUFFER).unwrap();
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    stream
}

/// A 127.0.0.1 listener whose accepted connections inherit small kernel buffers.
pub fn small_buffer_listener() -> std::net::TcpListener {
    use socket2::{Domain, Socket, Type};
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(SMALL_BUFFER).unwrap();
    socket.set_send_buffer_size(SMALL_BUFFER).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(16).unwrap();
    socket.into()
}

/// Echo round trip on a new connection to `addr`, see [`echo_round_trip_on`].
pub fn echo_round_trip(addr: SocketAddr, data: Vec<u8>, read_size: usize) -> Vec<u8> {
    echo_round_trip_on(connect(addr), data, read_size)
}

/// Echo round trip on one connection: write everything from one thread, read everything back
/// in another (so neither side can deadlock on full socket buffers), reading `read_size`
/// bytes at a time. Returns what came back.
pub fn echo_round_trip_on(stream: TcpStream, data: Vec<u8>, read_size: usize) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        writer.write_all(&data).expect("write payload");
        writer.shutdown(Shutdown::Write).expect("shutdown write");
    });
    let mut reader = stream;
    let mut back = Vec::new();
    let mut buf = vec![0u8; read_size];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => back.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("reading the echo: {e}"),
        }
    }
    sender.join().unwrap();
    back
}

/// Reads exactly `n` bytes.
pub fn read_exact_vec(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).expect("read_exact");
    buf
}
