//! The task-based echo server: exact bytes back to many simultaneous clients, a slow reader
//! included, and a buffer that never grows past one chunk.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;

use stage2_select_callbacks::selector::{Backend, Selector};

use stage3_futures::echo::EchoStats;
use stage4_tasks::echo::{CHUNK as BUFFER_LIMIT, EchoServer};

fn backends() -> Vec<Backend> {
    if cfg!(target_os = "linux") { vec![Backend::Epoll, Backend::Poll] } else { vec![Backend::Poll] }
}

/// Starts a server on a background thread. The thread lives as long as the test process.
fn start_server(backend: Backend) -> (SocketAddr, std::sync::Arc<EchoStats>) {
    let server = EchoServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let (addr, stats) = (server.local_addr().unwrap(), server.stats());
    let selector = Selector::with_backend(backend).unwrap();
    thread::spawn(move || server.run_with(selector));
    (addr, stats)
}

/// Bytes that differ per client and per position, so a mix-up or a lost chunk shows.
fn payload(client: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + client * 7) % 251) as u8).collect()
}

/// Connects, writes `data` from a second thread (so reading and writing overlap, as they must
/// when the server pushes back), and returns everything read until EOF. `before_reading`
/// runs before the first read: a slow reader blocks there.
fn echo(addr: SocketAddr, data: Vec<u8>, chunk: usize, before_reading: impl FnOnce()) -> Vec<u8> {
    let stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let write = thread::spawn(move || {
        writer.write_all(&data).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    before_reading();
    let mut received = Vec::new();
    let mut buf = vec![0u8; chunk];
    let mut reader = stream;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    write.join().unwrap();
    received
}

#[test]
fn many_clients_get_their_exact_bytes_back_even_with_a_slow_reader() {
    for backend in backends() {
        many_clients_and_a_slow_reader(backend);
    }
}

fn many_clients_and_a_slow_reader(backend: Backend) {
    const CLIENTS: usize = 20;
    const SIZE: usize = 256 * 1024;
    let (addr, stats) = start_server(backend);

    // The slow reader sends 1 MiB but reads nothing until every other client is done: the
    // server must go on serving them while this connection is stuck on back-pressure.
    let (others_done, wait_for_others) = mpsc::channel::<()>();
    let slow = thread::spawn(move || {
        let data = payload(999, 1024 * 1024);
        let got = echo(addr, data.clone(), 512, || wait_for_others.recv().unwrap());
        assert!(got == data, "{backend:?} slow reader: {} bytes back, {} sent", got.len(), data.len());
    });

    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            thread::spawn(move || {
                let data = payload(c, SIZE);
                let got = echo(addr, data.clone(), 8192, || {});
                assert!(got == data, "{backend:?} client {c}: {} bytes back, {} sent", got.len(), data.len());
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    others_done.send(()).unwrap();
    slow.join().unwrap();

    let stats = stats.as_ref();
    assert_eq!(stats.accepted.load(std::sync::atomic::Ordering::Relaxed), CLIENTS + 1);
    let peak = stats.peak_buffered.load(std::sync::atomic::Ordering::Relaxed);
    assert!(peak > 0 && peak <= BUFFER_LIMIT, "{backend:?}: peak buffer {peak}, limit {BUFFER_LIMIT}");
}

#[test]
fn an_empty_connection_is_closed_cleanly() {
    let (addr, _) = start_server(Backend::Poll);
    assert!(echo(addr, Vec::new(), 64, || {}).is_empty());
}
