//! One type owns an fd and its registration in the reactor (`Registered`), and its `Drop`
//! deregisters, then closes. Seen from outside: once a stream is dropped the reactor no
//! longer lists its fd, and the fd number, free again, is handed to the next socket, which
//! then works (no stale registration steals its events or its wakes).
//! One #[test] in its own binary: fd numbers are shared by the whole process, and the test
//! relies on the kernel giving out the lowest free number.

mod guard;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use stage2_select_callbacks::selector::Backend;
use stage5_async_await::net::{TcpListener, TcpStream};
use stage5_async_await::time::timeout;
use stage5_async_await::{Runtime, registered_fds, spawn};

/// A failure detector, never a wait: shorter than the watchdog, so this message comes first.
const GUARD: std::time::Duration = guard::WAIT;

/// Sends `msg` and reads the echo back, whole.
async fn round_trip(stream: &TcpStream, msg: &[u8]) -> Vec<u8> {
    stream.write_all(msg).await.unwrap();
    let mut back = vec![0; msg.len()];
    stream.read_exact(&mut back).await.unwrap();
    back
}

#[test]
fn a_dropped_stream_leaves_the_reactor_before_its_fd_number_serves_the_next_socket() {
    let _guard = guard::watchdog();
    for backend in Backend::available() {
        Runtime::with_backend(backend).unwrap().block_on(async {
            let checked = timeout(GUARD, async {
                let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
                let addr = listener.local_addr().unwrap();
                // An echo server that serves connections one after the other.
                let server = spawn(async move {
                    loop {
                        let (conn, _) = listener.accept().await.unwrap();
                        let mut buf = [0u8; 64];
                        loop {
                            match conn.read(&mut buf).await.unwrap() {
                                0 => break,
                                n => conn.write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                    }
                });

                let first = TcpStream::connect(addr).await.unwrap();
                let fd = first.as_raw_fd();
                assert!(registered_fds().contains(&fd), "{backend:?}: a live stream is in the reactor");
                assert_eq!(round_trip(&first, b"first").await, b"first");
                drop(first);
                assert!(
                    !registered_fds().contains(&fd),
                    "{backend:?}: fd {fd} is still in the reactor after its stream was dropped"
                );

                // The lowest free number is the one just closed: the new socket gets it.
                let second = TcpStream::connect(addr).await.unwrap();
                assert_eq!(second.as_raw_fd(), fd, "{backend:?}: the kernel reuses the closed fd number");
                assert_eq!(
                    registered_fds().iter().filter(|&&f| f == fd).count(),
                    1,
                    "{backend:?}: fd {fd} is registered once, for the new socket only"
                );
                assert_eq!(round_trip(&second, b"second socket, same fd").await, b"second socket, same fd");
                server.abort();
            })
            .await;
            checked.unwrap_or_else(|_| {
                panic!("{backend:?}: no progress within {GUARD:?}: a wake was lost (a stale registration took the new socket's events?)")
            });
        });
    }
}
