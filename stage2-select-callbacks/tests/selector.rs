//! The Selector on both backends, over real loopback TCP sockets.
//!
//! Every check runs once per backend (epoll and poll on Linux), because the point of the
//! `Selector` is that the callers above it cannot tell them apart.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use stage2_select_callbacks::selector::{Backend, Events, Interest, Readiness, Selector, Token};

/// A connected pair of non-blocking loopback sockets (stage 1's test kit).
fn tcp_pair() -> (TcpStream, TcpStream) {
    stage1_blocking::workshop::testkit::tcp_pair().unwrap()
}

/// Waits (without a deadline: the event is certain to come) for the next batch of events.
fn select_blocking(selector: &mut Selector) -> Vec<Readiness> {
    let mut events = Events::with_capacity(16);
    selector.select(&mut events, None).unwrap();
    events.iter().collect()
}

fn select_now(selector: &mut Selector) -> Vec<Readiness> {
    let mut events = Events::with_capacity(16);
    selector.select(&mut events, Some(Duration::ZERO)).unwrap();
    events.iter().collect()
}

#[test]
fn readable_when_data_arrives() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (mut client, mut server) = tcp_pair();
        selector.register(server.as_raw_fd(), Token(7), Interest::READABLE).unwrap();
        assert!(select_now(&mut selector).is_empty(), "{backend:?}: nothing sent yet");

        client.write_all(b"ping").unwrap();
        let events = select_blocking(&mut selector);
        assert_eq!(events.len(), 1, "{backend:?}");
        assert_eq!(events[0].token(), Token(7));
        assert!(events[0].is_readable() && !events[0].is_hup());

        let mut buf = [0u8; 16];
        assert_eq!(server.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
    }
}

#[test]
fn writable_at_once_on_a_fresh_socket() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (client, _server) = tcp_pair();
        selector.register(client.as_raw_fd(), Token(1), Interest::WRITABLE).unwrap();
        let events = select_blocking(&mut selector);
        assert_eq!(events.len(), 1, "{backend:?}");
        assert!(events[0].is_writable() && !events[0].is_readable());
    }
}

#[test]
fn level_triggered_reports_again_until_drained() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (mut client, mut server) = tcp_pair();
        selector.register(server.as_raw_fd(), Token(3), Interest::READABLE).unwrap();
        client.write_all(b"abc").unwrap();
        assert_eq!(select_blocking(&mut selector).len(), 1);
        // Not read yet: level-triggered readiness is reported again.
        assert_eq!(select_now(&mut selector).len(), 1, "{backend:?}");
        let mut buf = [0u8; 8];
        assert_eq!(server.read(&mut buf).unwrap(), 3);
        assert!(select_now(&mut selector).is_empty(), "{backend:?}: drained");
    }
}

#[test]
fn reregister_changes_interest_and_token() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (client, _server) = tcp_pair();
        let fd = client.as_raw_fd();
        selector.register(fd, Token(1), Interest::READABLE).unwrap();
        assert!(select_now(&mut selector).is_empty(), "{backend:?}");
        selector.reregister(fd, Token(2), Interest::READABLE.add(Interest::WRITABLE)).unwrap();
        let events = select_blocking(&mut selector);
        assert_eq!(events[0].token(), Token(2), "{backend:?}");
        assert!(events[0].is_writable());
    }
}

#[test]
fn deregister_stops_events() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (mut client, server) = tcp_pair();
        let (other_client, _other_server) = tcp_pair();
        selector.register(server.as_raw_fd(), Token(1), Interest::READABLE).unwrap();
        selector.register(other_client.as_raw_fd(), Token(2), Interest::WRITABLE).unwrap();
        selector.deregister(server.as_raw_fd()).unwrap();
        client.write_all(b"ignored").unwrap();
        // The other socket is writable, so select returns; the deregistered one must be absent.
        let events = select_blocking(&mut selector);
        assert_eq!(events.iter().map(|e| e.token()).collect::<Vec<_>>(), vec![Token(2)], "{backend:?}");
        let twice = selector.deregister(server.as_raw_fd()).unwrap_err();
        assert_eq!(twice.kind(), ErrorKind::NotFound, "{backend:?}: twice is an error");
    }
}

#[test]
fn timeout_with_no_events_returns_empty() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (_client, server) = tcp_pair();
        selector.register(server.as_raw_fd(), Token(1), Interest::READABLE).unwrap();
        let mut events = Events::with_capacity(4);
        selector.select(&mut events, Some(Duration::from_millis(1))).unwrap();
        assert!(events.is_empty(), "{backend:?}");
    }
}

#[test]
fn peer_close_reports_readable_then_eof() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (client, mut server) = tcp_pair();
        selector.register(server.as_raw_fd(), Token(9), Interest::READABLE).unwrap();
        drop(client);
        let events = select_blocking(&mut selector);
        assert_eq!(events.len(), 1, "{backend:?}");
        assert!(events[0].is_readable(), "{backend:?}: HUP must reach a reader");
        let mut buf = [0u8; 8];
        assert_eq!(server.read(&mut buf).unwrap(), 0, "{backend:?}: the read sees EOF");
    }
}

#[test]
fn half_close_is_seen_by_a_reader() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (client, server) = tcp_pair();
        selector.register(server.as_raw_fd(), Token(4), Interest::READABLE).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let events = select_blocking(&mut selector);
        assert!(events[0].is_readable(), "{backend:?}");
        let mut buf = [0u8; 1];
        assert_eq!((&server).read(&mut buf).unwrap(), 0);
    }
}

#[test]
fn registering_twice_is_an_error() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let (client, _server) = tcp_pair();
        selector.register(client.as_raw_fd(), Token(1), Interest::READABLE).unwrap();
        let err = selector.register(client.as_raw_fd(), Token(1), Interest::READABLE).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{backend:?}");
    }
}

#[test]
fn events_capacity_bounds_one_select_and_the_rest_come_next() {
    for backend in Backend::available() {
        let mut selector = Selector::with_backend(backend).unwrap();
        let pairs: Vec<_> = (0..5).map(|_| tcp_pair()).collect();
        for (i, (client, _)) in pairs.iter().enumerate() {
            selector.register(client.as_raw_fd(), Token(i), Interest::WRITABLE).unwrap();
        }
        let mut events = Events::with_capacity(2);
        selector.select(&mut events, None).unwrap();
        assert_eq!(events.len(), 2, "{backend:?}");
        let mut seen: Vec<usize> = Vec::new();
        // Level-triggered: every writable socket keeps being reported; deregister what we saw.
        while seen.len() < 5 {
            selector.select(&mut events, None).unwrap();
            for e in events.iter() {
                seen.push(e.token().0);
                let fd = pairs[e.token().0].0.as_raw_fd();
                selector.deregister(fd).unwrap();
            }
        }
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4], "{backend:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn edge_triggered_reports_once_per_arrival() {
    let mut selector = Selector::with_backend(Backend::Epoll).unwrap();
    let (mut client, mut server) = tcp_pair();
    selector.register(server.as_raw_fd(), Token(5), Interest::READABLE.edge()).unwrap();
    client.write_all(b"one").unwrap();
    assert_eq!(select_blocking(&mut selector).len(), 1);
    // Unread, but no new arrival: edge-triggered stays silent.
    assert!(select_now(&mut selector).is_empty());
    client.write_all(b"two").unwrap();
    assert_eq!(select_blocking(&mut selector).len(), 1);
    // Drain until WouldBlock, as an edge-triggered reader must.
    let mut all = Vec::new();
    let mut buf = [0u8; 2];
    loop {
        match server.read(&mut buf) {
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(all, b"onetwo");
}

#[test]
fn poll_backend_refuses_edge_triggered() {
    let mut selector = Selector::with_backend(Backend::Poll).unwrap();
    let (client, _server) = tcp_pair();
    let err = selector.register(client.as_raw_fd(), Token(1), Interest::READABLE.edge()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn nonblocking_connect_to_a_closed_port_reports_refused() {
    use stage2_select_callbacks::net::{connect_nonblocking, take_connect_error};
    for backend in Backend::available() {
        // Bind then drop a listener: its port is now (almost certainly) closed.
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let mut selector = Selector::with_backend(backend).unwrap();
        let stream = connect_nonblocking(addr).unwrap();
        selector.register(stream.as_raw_fd(), Token(1), Interest::WRITABLE).unwrap();
        let events = select_blocking(&mut selector);
        assert!(events[0].is_writable(), "{backend:?}: a failed connect still reports writable");
        let err = take_connect_error(&stream).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{backend:?}");
    }
}

#[test]
fn nonblocking_connect_succeeds_after_writable() {
    use stage2_select_callbacks::net::{connect_nonblocking, take_connect_error};
    for backend in Backend::available() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut selector = Selector::with_backend(backend).unwrap();
        let stream = connect_nonblocking(listener.local_addr().unwrap()).unwrap();
        selector.register(stream.as_raw_fd(), Token(1), Interest::WRITABLE).unwrap();
        select_blocking(&mut selector);
        take_connect_error(&stream).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        (&stream).write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        accepted.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
    }
}
