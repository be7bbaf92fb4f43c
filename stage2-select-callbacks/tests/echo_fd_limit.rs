//! The echo server out of file descriptors: it must pause accepting (not spin, not die) and
//! serve every waiting client once connections close and give descriptors back.
//!
//! A test binary of its own with a single test, because it lowers the process-wide open-file
//! limit: other tests running alongside would fail to open their sockets.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};
use stage2_select_callbacks::echo::EchoServer;
use stage2_select_callbacks::sys;

/// How many connections the server can accept before it runs out.
const ROOM: usize = 3;
/// How many clients connect at once: far more than `ROOM`.
const CLIENTS: usize = 20;

#[test]
fn out_of_descriptors_pauses_accepting_and_every_client_is_served_later() {
    let server = EchoServer::start(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let addr: SocketAddr = server.addr();

    // Every client socket exists before the limit is lowered (connect needs no new fd).
    let sockets: Vec<Socket> =
        (0..CLIENTS).map(|_| Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap()).collect();

    // Find the ROOM lowest free fd numbers (each dup takes the lowest free one), and set the
    // limit just above the last: then exactly ROOM numbers are free below it.
    let (soft, _) = sys::nofile_limit().unwrap();
    let probes: Vec<Socket> = (0..ROOM).map(|_| sockets[0].try_clone().unwrap()).collect();
    let limit = probes.iter().map(|p| p.as_raw_fd()).max().unwrap() as u64 + 1;
    drop(probes);
    sys::set_nofile_soft_limit(limit).unwrap();

    // All of them connect; the kernel queues them even though the server cannot accept them.
    let mut clients: Vec<TcpStream> = sockets
        .into_iter()
        .map(|s| {
            s.connect(&addr.into()).unwrap();
            s.into()
        })
        .collect();

    // One round trip per client, in connection order (the order the server accepts them).
    // Each finished client closes on both sides, which gives descriptors back.
    for (i, mut client) in clients.drain(..).enumerate() {
        let message = format!("client {i} says hello");
        client.write_all(message.as_bytes()).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut echoed = String::new();
        client.read_to_string(&mut echoed).unwrap();
        assert_eq!(echoed, message);
    }

    sys::set_nofile_soft_limit(soft).unwrap();
    let stats = server.stats().clone();
    stats.wait_until(|s| s.closed() == CLIENTS as u64);
    assert!(stats.accept_pauses() >= 1, "the server never ran out, so this test proved nothing");
    assert_eq!(stats.accepted(), CLIENTS as u64);
    server.stop().unwrap();
}
