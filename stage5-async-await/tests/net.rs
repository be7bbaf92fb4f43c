//! TCP and UDP on the reactor, over real loopback sockets.

mod guard;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use stage2_select_callbacks::echo::EchoStats;
use stage5_async_await::echo;
use stage5_async_await::net::{TcpListener, TcpStream, UdpSocket};
use stage5_async_await::time::timeout;
use stage5_async_await::{run, spawn, yield_now};

/// A failure detector, never a wait: shorter than the watchdog, so this message comes first.
const GUARD: Duration = guard::WAIT;

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// stage5-echo's handler (curio's echo client: read until EOF, write everything back); its
/// counters are not looked at here.
async fn echo(stream: TcpStream) {
    let _ = echo::echo_client(stream, &EchoStats::default()).await;
}

#[test]
fn echo_round_trip_over_loopback() {
    let _guard = guard::watchdog();
    run(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (stream, peer) = listener.accept().await.unwrap();
            assert!(peer.ip().is_loopback());
            echo(stream).await;
        });
        let client = TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        client.write_all(b"hello, reactor").await.unwrap();
        let mut back = [0u8; 14];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello, reactor");
        client.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
        server.await.unwrap();
    });
}

#[test]
fn large_writes_survive_partial_writes_and_reads() {
    let _guard = guard::watchdog();
    // 4 MiB in one write_all: far more than the socket buffers hold, so the writer must
    // wait for writability many times while the reader drains.
    let payload = stage1_blocking::workshop::testkit::payload(7, 4 * 1024 * 1024);
    let expected = payload.clone();
    let received = run(async move {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            stream.write_all(&payload).await.unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
        });
        let client = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        got
    });
    stage1_blocking::workshop::testkit::same_bytes("4 MiB through partial writes", &expected, &received)
        .unwrap();
}

#[test]
fn connecting_to_a_refused_port_is_an_error_not_a_hang() {
    let _guard = guard::watchdog();
    let addr = stage1_blocking::workshop::testkit::refused_addr().unwrap();
    let err = run(async move { timeout(GUARD, TcpStream::connect(addr)).await.expect("connect hung") })
        .err()
        .expect("connect to a closed port succeeded");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn connect_timeout_connects_when_the_peer_is_there() {
    let _guard = guard::watchdog();
    let listener = std::net::TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    run(async move {
        let s = TcpStream::connect_timeout(addr, GUARD).await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), addr);
    });
    let (mut accepted, _) = listener.accept().unwrap();
    let mut buf = [0u8; 1];
    // The client was dropped at the end of run: EOF.
    assert_eq!(accepted.read(&mut buf).unwrap(), 0);
}

#[test]
fn the_runtime_talks_to_blocking_std_peers() {
    let _guard = guard::watchdog();
    // A plain blocking thread on one side, our runtime on the other.
    let listener = std::net::TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf.map(|b| b.to_ascii_uppercase())).unwrap();
    });
    let reply = run(async move {
        let s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"quiet").await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        out
    });
    peer.join().unwrap();
    assert_eq!(reply, b"QUIET");
}

#[test]
fn two_tasks_share_one_stream_one_reading_one_writing() {
    let _guard = guard::watchdog();
    run(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            echo(s).await;
        });
        let client = Rc::new(TcpStream::connect(addr).await.unwrap());
        let reader = {
            let client = client.clone();
            spawn(async move {
                let mut buf = vec![0u8; 3000];
                client.read_exact(&mut buf).await.unwrap();
                buf
            })
        };
        for chunk in [&[1u8; 1000][..], &[2u8; 1000], &[3u8; 1000]] {
            client.write_all(chunk).await.unwrap();
            yield_now().await;
        }
        let got = reader.await.unwrap();
        assert!(got[..1000].iter().all(|&b| b == 1));
        assert!(got[2000..].iter().all(|&b| b == 3));
    });
}

#[test]
fn udp_send_to_and_recv_from() {
    let _guard = guard::watchdog();
    run(async {
        let a = UdpSocket::bind(localhost()).unwrap();
        let b = UdpSocket::bind(localhost()).unwrap();
        let b_addr = b.local_addr().unwrap();
        let a_addr = a.local_addr().unwrap();
        let receiver = spawn(async move {
            let mut buf = [0u8; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            b.send_to(&buf[..n], from).await.unwrap();
            (buf[..n].to_vec(), from)
        });
        a.send_to(b"datagram", b_addr).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"datagram");
        assert_eq!(from, b_addr);
        let (got, sender) = receiver.await.unwrap();
        assert_eq!(got, b"datagram");
        assert_eq!(sender, a_addr);
    });
}

/// Raises the soft fd limit as far as the hard limit allows and returns how many
/// connections (two fds each, client and server side, same process) fit under it.
fn connections_that_fit(wanted: usize) -> usize {
    let soft = stage2_select_callbacks::sys::raise_nofile_limit().unwrap() as usize;
    // Keep headroom for the test harness, the runtime, and other tests running in parallel.
    let fit = soft.saturating_sub(256) / 2;
    if fit < wanted {
        eprintln!("RLIMIT_NOFILE hard limit is {soft}: running {fit} connections instead of {wanted}");
    }
    wanted.min(fit)
}

#[test]
fn ten_thousand_concurrent_tasks_each_do_a_tcp_round_trip() {
    let _guard = guard::watchdog();
    let n = connections_that_fit(10_000);
    let total = run(async move {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else { return };
                spawn(echo(s));
            }
        });
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            handles.push(spawn(async move {
                let s = TcpStream::connect(addr).await?;
                let msg = (i as u32).to_be_bytes();
                s.write_all(&msg).await?;
                let mut back = [0u8; 4];
                s.read_exact(&mut back).await?;
                assert_eq!(back, msg);
                Ok::<_, std::io::Error>(1usize)
            }));
            if i % 256 == 255 {
                // Let the accept loop keep the backlog short (a full backlog drops SYNs and
                // the kernel retries them only after a second).
                yield_now().await;
            }
        }
        let mut total = 0;
        for h in handles {
            total += timeout(GUARD, h).await.expect("round trip stuck").unwrap().unwrap();
        }
        total
    });
    assert_eq!(total, n);
}

/// Bytes and the FIN behind them arrive in *one* edge-triggered event. The first read is short
/// (3 bytes into a 1 KiB buffer), which clears read readiness without a second syscall; the
/// hang-up that came with the same event must keep the reader awake, because no later event
/// will announce it again. Without the sticky hang-up bit this reader would sleep forever (the
/// guard turns that into a failure).
#[test]
fn data_and_fin_in_one_event_still_reach_eof() {
    let _guard = guard::watchdog();
    run(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let reader = spawn(async move {
            let mut buf = [0u8; 1024];
            let mut got = Vec::new();
            let mut reads = 0;
            loop {
                let n = server.read(&mut buf).await.unwrap();
                reads += 1;
                if n == 0 {
                    return (got, reads);
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        // The reader runs first, finds nothing and parks. Only then do the bytes and the FIN
        // go out, back to back, before the loop next asks epoll what happened.
        yield_now().await;
        (&client).write_all(b"abc").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let (got, reads) = timeout(GUARD, reader).await.expect("reader never saw EOF").unwrap();
        assert_eq!(got, b"abc");
        assert_eq!(reads, 2, "one read for the bytes, one for the EOF");
    });
}

/// A short read clears readiness, so `try_read` answers `WouldBlock` from the reactor's own
/// bookkeeping; bytes that arrive later raise a new event and are read normally.
#[test]
fn bytes_after_a_short_read_raise_a_new_event() {
    let _guard = guard::watchdog();
    run(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"first").unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(server.read(&mut buf).await.unwrap(), 5);
        let err = server.try_read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "drained after a short read");
        client.write_all(b"second").unwrap();
        let n = timeout(GUARD, server.read(&mut buf)).await.expect("the new bytes were never seen").unwrap();
        assert_eq!(&buf[..n], b"second");
    });
}

#[test]
fn connect_timeout_of_duration_max_means_no_limit() {
    let _guard = guard::watchdog();
    run(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connected = timeout(GUARD, TcpStream::connect_timeout(addr, Duration::MAX)).await;
        let stream =
            connected.expect("connect_timeout(MAX) made no progress: the connect's wake was lost").unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
    });
}
