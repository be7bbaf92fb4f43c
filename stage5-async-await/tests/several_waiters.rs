//! Several tasks waiting on one direction of one socket: each source keeps a list of waiters
//! per direction, and readiness wakes them all (each retries its syscall; those that find
//! nothing left wait again). With one waker slot per direction, the second task displaced the
//! first, which then slept forever with data waiting. Every test runs on both backends, under
//! a guard: a displaced waiter shows up as the guard's failure, not as a hang.

mod guard;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use stage2_select_callbacks::selector::Backend;
use stage5_async_await::net::{TcpListener, TcpStream, UdpSocket};
use stage5_async_await::time::timeout;
use stage5_async_await::{Runtime, spawn, waiters_on, yield_now};

/// A failure detector, never a wait: shorter than the watchdog, so this message comes first.
const GUARD: Duration = guard::WAIT;

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Runs `test` on a runtime of each available backend, failing (not hanging) after GUARD.
fn on_each_backend<F: std::future::Future<Output = ()>>(what: &str, test: impl Fn() -> F) {
    for backend in Backend::available() {
        Runtime::with_backend(backend).unwrap().block_on(async {
            timeout(GUARD, test()).await.unwrap_or_else(|_| {
                panic!("{backend:?}: {what}: no progress within {GUARD:?}: one waiter displaced the other's waker")
            })
        });
    }
}

#[test]
fn two_tasks_receive_on_one_udp_socket() {
    let _guard = guard::watchdog();
    on_each_backend("recv_from", || async {
        let socket = Rc::new(UdpSocket::bind(localhost()).unwrap());
        let addr = socket.local_addr().unwrap();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let socket = socket.clone();
                spawn(async move {
                    let mut buf = [0u8; 16];
                    let (n, _) = socket.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        yield_now().await; // both receivers have run and wait on the socket's read side
        let sender = std::net::UdpSocket::bind(localhost()).unwrap();
        sender.send_to(b"one", addr).unwrap();
        sender.send_to(b"two", addr).unwrap();
        let mut got = Vec::new();
        for receiver in receivers {
            got.push(receiver.await.unwrap());
        }
        got.sort();
        assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
    });
}

#[test]
fn two_tasks_accept_on_one_listener() {
    let _guard = guard::watchdog();
    on_each_backend("accept", || async {
        let listener = Rc::new(TcpListener::bind(localhost()).unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let listener = listener.clone();
                spawn(async move { listener.accept().await.unwrap().1 })
            })
            .collect();
        yield_now().await; // both acceptors wait on the listener
        let clients =
            [std::net::TcpStream::connect(addr).unwrap(), std::net::TcpStream::connect(addr).unwrap()];
        let mut peers = Vec::new();
        for acceptor in acceptors {
            peers.push(acceptor.await.unwrap());
        }
        let mut expected: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        expected.sort();
        assert_eq!(peers, expected);
    });
}

#[test]
fn two_tasks_write_all_on_one_stream() {
    let _guard = guard::watchdog();
    const EACH: usize = 512 * 1024;
    on_each_backend("write_all", || async {
        // Small kernel buffers on both ends, so each writer fills them and has to wait.
        let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        listener.set_recv_buffer_size(4096).unwrap();
        listener.bind(&localhost().into()).unwrap();
        listener.listen(1).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let listener = TcpListener::from_std(listener.into()).unwrap();
        let client = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        client.set_send_buffer_size(4096).unwrap();
        client.connect(&addr.into()).unwrap();
        let writer = Rc::new(TcpStream::from_std(client.into()).unwrap());
        let (reader, _) = listener.accept().await.unwrap();

        let writers: Vec<_> = [b'a', b'b']
            .into_iter()
            .map(|byte| {
                let writer = writer.clone();
                spawn(async move { writer.write_all(&vec![byte; EACH]).await.unwrap() })
            })
            .collect();
        yield_now().await; // both writers have filled what the kernel takes, and wait
        let mut received = vec![0u8; 2 * EACH];
        reader.read_exact(&mut received).await.unwrap();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(received.iter().filter(|&&b| b == b'a').count(), EACH);
        assert_eq!(received.iter().filter(|&&b| b == b'b').count(), EACH);
    });
}

#[test]
fn a_waiting_future_that_is_dropped_takes_its_waker_out() {
    let _guard = guard::watchdog();
    on_each_backend("dropped waiters", || async {
        let socket = Rc::new(UdpSocket::bind(localhost()).unwrap());
        let fd = socket.as_raw_fd();
        // 1,000 tasks each wait on the socket once, then give up (the timeout drops the wait).
        let quitters: Vec<_> = (0..1000)
            .map(|_| {
                let socket = socket.clone();
                spawn(async move {
                    let mut buf = [0u8; 16];
                    assert!(timeout(Duration::ZERO, socket.recv_from(&mut buf)).await.is_err());
                })
            })
            .collect();
        for quitter in quitters {
            quitter.await.unwrap();
        }
        assert_eq!(waiters_on(fd), 0, "dropped recv_from futures left their wakers in the socket's list");
        // A live wait is listed until its task is aborted.
        let waiter = spawn({
            let socket = socket.clone();
            async move { socket.recv_from(&mut [0u8; 16]).await.map(|(n, _)| n) }
        });
        yield_now().await;
        assert_eq!(waiters_on(fd), 1, "the live wait is listed");
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(waiters_on(fd), 0, "an aborted task's recv_from left its waker in the list");
    });
}
