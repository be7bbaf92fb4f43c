//! The callback echo server over real loopback sockets. The server runs on its own thread
//! (`EchoServer`), the test plays the clients with ordinary blocking sockets.
//!
//! Run with `SELECTOR=poll` as well: the server picks its backend from the environment.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use socket2::{Domain, Protocol, Socket, Type};
#[path = "support/idle_memory.rs"]
mod idle_memory;

use stage1_blocking::workshop::testkit::{self, EchoLoad};
use stage2_select_callbacks::echo::{EchoServer, HIGH_WATER, READ_CHUNK};

fn start() -> EchoServer {
    EchoServer::start(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap()
}

/// Different bytes for every client (stage 1's test kit), so a misplaced chunk shows.
fn pattern(client: usize, len: usize) -> Vec<u8> {
    testkit::payload(client as u64, len)
}

/// Waits until `n` connections have closed, or fails after the safety timeout naming the
/// likely cause (a broken server would otherwise hang the test).
fn wait_closed(server: &EchoServer, n: u64) {
    let stats = server.stats();
    assert!(
        stats.wait_until_for(testkit::SAFETY_TIMEOUT, |s| s.closed() >= n),
        "after {:?} only {} of {n} connections closed: the server never finished a client that \
         left (its EOF lost, or echo bytes it still waits to send)",
        testkit::SAFETY_TIMEOUT,
        stats.closed()
    );
}

/// Sends `payload` from a second thread while this one reads the echo to EOF.
fn echo_roundtrip(addr: SocketAddr, payload: Vec<u8>) -> Vec<u8> {
    testkit::echo_round_trip(addr, payload, 64 * 1024).unwrap()
}

#[test]
fn echoes_one_mebibyte_exactly() {
    let server = start();
    let payload = pattern(0, 1024 * 1024);
    let echoed = echo_roundtrip(server.addr(), payload.clone());
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "the echoed bytes differ from the sent ones");
    wait_closed(&server, 1);
    assert_eq!(server.stats().bytes_echoed(), payload.len() as u64);
    server.stop().unwrap();
}

#[test]
fn serves_several_clients_at_once_with_a_slow_reader() {
    // The course's echo exam (stage 1's testkit): 8 clients at once plus one that reads
    // nothing until they are done, every byte checked.
    let server = start();
    let load = EchoLoad { clients: 8, bytes: 256 * 1024, slow_reader: true, small_buffers: false };
    testkit::check_echo(server.addr(), &load).unwrap();
    wait_closed(&server, 9);
    assert_eq!(server.stats().accepted(), 9);
}

#[test]
fn small_messages_come_back_one_by_one() {
    // An interactive client: each line is echoed before the next is sent.
    let server = start();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    for line in ["hello\n", "event loop\n", "x\n"] {
        stream.write_all(line.as_bytes()).unwrap();
        let mut back = vec![0u8; line.len()];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(back, line.as_bytes());
    }
}

#[test]
fn slow_reader_is_paused_not_buffered_without_bound() {
    // Small kernel buffers on both sides, so that what the kernel can hold (a few hundred
    // KiB) is far below the 4 MiB sent: the server *must* hit its high-water mark.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    listener.set_send_buffer_size(32 * 1024).unwrap();
    listener.set_recv_buffer_size(32 * 1024).unwrap(); // accepted sockets inherit both
    listener.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    listener.listen(16).unwrap();
    let server = EchoServer::start(listener.into()).unwrap();
    let stats = server.stats().clone();
    let bound = HIGH_WATER + READ_CHUNK;

    let client = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    client.set_recv_buffer_size(32 * 1024).unwrap();
    client.connect(&server.addr().into()).unwrap();
    let mut stream: TcpStream = client.into();

    let payload = pattern(3, 4 * 1024 * 1024);
    let mut writer = stream.try_clone().unwrap();
    let to_send = payload.clone();
    // Two threads race to say something first: the sender, when the kernel took all 4 MiB
    // (a sound server cannot let that happen while nobody reads its echo), and a watcher,
    // when the server paused this connection, buffered past the bound or closed it.
    let (first, said) = mpsc::channel();
    let sent_all = first.clone();
    let sender = thread::spawn(move || {
        writer.write_all(&to_send).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
        let _ = sent_all.send("the client sent all 4 MiB");
    });
    let watched = stats.clone();
    thread::spawn(move || {
        if watched.wait_until_for(testkit::SAFETY_TIMEOUT, |s| {
            s.read_pauses() >= 1 || s.max_buffered() > bound || s.closed() >= 1
        }) {
            let _ = first.send("the server paused, buffered past the bound or closed");
        }
    });
    // Read nothing until one of them speaks; the timeout turns a server that lost track of
    // the connection into a failure instead of a hang.
    let event = said.recv_timeout(testkit::SAFETY_TIMEOUT);
    assert!(
        stats.max_buffered() <= bound,
        "buffered {} bytes for a client that reads nothing, over HIGH_WATER + READ_CHUNK = {bound}: \
         the server kept reading although the echo was not taken (no back-pressure)",
        stats.max_buffered()
    );
    assert!(
        event.is_ok(),
        "after {:?} the server has neither paused reading a client that reads nothing nor closed it, \
         and the client could not send everything: the server lost track of the connection (a lost \
         event, or a reader never registered again?)",
        testkit::SAFETY_TIMEOUT
    );
    assert!(
        stats.read_pauses() >= 1,
        "{} without the server ever pausing it, though the client read none of the echo: bytes \
         the socket did not take were dropped, not buffered (WriteBuffer::send_to?)",
        event.unwrap()
    );

    // Now read, slowly: small reads, and check every byte.
    stream.set_read_timeout(Some(testkit::SAFETY_TIMEOUT)).unwrap();
    let mut echoed = Vec::with_capacity(payload.len());
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).unwrap_or_else(|err| {
            panic!("no echo and no close after {} bytes read ({err}): the server stalled", echoed.len())
        });
        if n == 0 {
            break;
        }
        echoed.extend_from_slice(&buf[..n]);
    }
    sender.join().unwrap();
    assert_eq!(
        echoed.len(),
        payload.len(),
        "the echo is {} bytes short: bytes the socket did not take were dropped, not buffered",
        payload.len() - echoed.len().min(payload.len())
    );
    assert!(echoed == payload, "the echoed bytes differ from the sent ones");
    assert!(stats.max_buffered() <= bound, "buffered {} > {bound}", stats.max_buffered());
}

#[test]
fn client_that_disconnects_mid_transfer_does_not_bring_the_server_down() {
    let server = start();
    {
        // Send until the kernel takes no more, then vanish without reading: the echo that
        // was on its way back is unread, so closing sends a reset, and the server's next
        // read or send on that connection fails.
        let mut rude = TcpStream::connect(server.addr()).unwrap();
        rude.set_nonblocking(true).unwrap();
        let payload = pattern(1, 64 * 1024);
        let mut sent = 0;
        while let Ok(n) = rude.write(&payload) {
            sent += n;
            if sent > 64 * 1024 * 1024 {
                break; // the kernel took a lot; plenty to make the point
            }
        }
        assert!(sent > 0);
    }
    wait_closed(&server, 1);
    // The next client is served as if nothing happened.
    let payload = pattern(2, 100_000);
    assert!(echo_roundtrip(server.addr(), payload.clone()) == payload);
    wait_closed(&server, 2);
    server.stop().unwrap();
}

#[test]
fn client_that_closes_without_sending_is_just_closed() {
    let server = start();
    drop(TcpStream::connect(server.addr()).unwrap());
    wait_closed(&server, 1);
    assert_eq!(server.stats().bytes_echoed(), 0);
}

#[test]
fn eof_flushes_everything_before_closing() {
    // The client shuts down its sending side as soon as its last byte is written, while much
    // of the echo is still buffered in the server: all of it must come back before the close.
    let server = start();
    let payload = pattern(4, 200_000);
    assert!(echo_roundtrip(server.addr(), payload.clone()) == payload);
}

#[test]
fn idle_connections_hold_no_buffer_memory() {
    let server = start();
    idle_memory::idle_connections_hold_no_buffer_memory(server.addr(), server.stats());
}
