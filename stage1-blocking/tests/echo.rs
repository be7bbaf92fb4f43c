//! The blocking echo servers, driven in-process over real loopback sockets.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use stage1_blocking::workshop::testkit::{
    self, EchoLoad, connect, connect_small_buffers, echo_exchange, echo_round_trip, payload, read_all,
    read_exact_vec,
};
use stage1_blocking::{echo, net, workshop};

const MIB: usize = 1024 * 1024;

fn listener() -> TcpListener {
    net::bind_listener("127.0.0.1:0".parse().unwrap()).unwrap()
}

#[test]
fn handle_client_echoes_a_mebibyte_and_counts_it() {
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        echo::handle_client(stream)
    });
    let data = payload(1, MIB);
    assert_eq!(echo_round_trip(addr, data.clone(), 64 * 1024).unwrap(), data);
    assert_eq!(server.join().unwrap().unwrap(), MIB as u64);
}

#[test]
fn one_at_a_time_echoes_exact_bytes_to_a_fast_and_a_slow_reader() {
    workshop::set_log(false); // its lines would land past the harness's capture
    // Small kernel buffers on both ends, so that a mebibyte cannot sit in them whole.
    let listener = testkit::small_buffer_listener().unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || echo::serve_one_at_a_time(listener.incoming().take(2)));
    let data = payload(2, MIB);
    let small = || connect_small_buffers(addr).unwrap();
    assert_eq!(echo_exchange(small(), data.clone(), 64 * 1024, || {}).unwrap(), data);
    // 64-byte reads: the client drains far slower than it sends, the buffers fill, and the
    // server sleeps in write until the client catches up. Nothing may be lost or reordered,
    // and because the client writes and reads on two threads, nobody deadlocks.
    let data = payload(3, MIB);
    assert_eq!(echo_exchange(small(), data.clone(), 64, || {}).unwrap(), data);
    server.join().unwrap();
}

#[test]
fn one_at_a_time_serves_the_second_client_only_after_the_first_leaves() {
    workshop::set_log(false); // its lines would land past the harness's capture
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || echo::serve_one_at_a_time(listener.incoming().take(2)));

    let mut first = connect(addr).unwrap();
    first.write_all(b"first").unwrap();
    assert_eq!(read_exact_vec(&mut first, 5).unwrap(), b"first"); // the server is now busy with `first`

    let mut second = connect(addr).unwrap(); // the kernel completes the handshake and queues it...
    second.write_all(b"second").unwrap(); // ...and even takes its bytes

    // Another round trip on `first` proves the server is still inside handle_client(first),
    // so nobody has read `second`'s bytes: nothing can have come back yet.
    first.write_all(b"again").unwrap();
    assert_eq!(read_exact_vec(&mut first, 5).unwrap(), b"again");
    second.set_nonblocking(true).unwrap();
    let mut probe = [0u8; 16];
    assert_eq!(second.read(&mut probe).unwrap_err().kind(), ErrorKind::WouldBlock);
    second.set_nonblocking(false).unwrap();

    // `first` leaves; only now is `second` accepted, and its waiting bytes come back.
    first.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut first).unwrap(), b"");
    assert_eq!(read_exact_vec(&mut second, 6).unwrap(), b"second");
    second.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut second).unwrap(), b"");
    server.join().unwrap();
}

#[test]
fn thread_per_client_serves_a_second_client_while_the_first_stays() {
    workshop::set_log(false); // its lines would land past the harness's capture
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || echo::serve_thread_per_client(listener.incoming().take(2)));

    let mut first = connect(addr).unwrap();
    first.write_all(b"first").unwrap();
    assert_eq!(read_exact_vec(&mut first, 5).unwrap(), b"first");
    // `first` is still connected, yet `second` gets its echo (the one-at-a-time server would
    // make this read wait until the safety timeout).
    let mut second = connect(addr).unwrap();
    second.write_all(b"second").unwrap();
    assert_eq!(read_exact_vec(&mut second, 6).unwrap(), b"second");

    drop(first);
    drop(second);
    server.join().unwrap(); // both client threads finished
}

#[test]
fn thread_per_client_passes_the_echo_exam_with_a_slow_reader() {
    workshop::set_log(false); // its lines would land past the harness's capture
    // The exam every stage's echo server takes (stage1_blocking::workshop::testkit::check_echo).
    let load = EchoLoad { clients: 6, bytes: MIB, slow_reader: true, small_buffers: true };
    let listener = testkit::small_buffer_listener().unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = load.clients + 1; // and the slow reader
    let server = thread::spawn(move || echo::serve_thread_per_client(listener.incoming().take(connections)));
    testkit::check_echo(addr, &load).unwrap();
    server.join().unwrap();
}

#[test]
fn a_client_vanishing_mid_transfer_does_not_stop_the_server() {
    workshop::set_log(false); // its lines would land past the harness's capture
    for threaded in [false, true] {
        let listener = listener();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            if threaded {
                echo::serve_thread_per_client(listener.incoming().take(2))
            } else {
                echo::serve_one_at_a_time(listener.incoming().take(2))
            }
        });
        // Send a mebibyte, read a little of the echo, then vanish: the server is left
        // writing to (and reading from) a connection that is gone.
        let mut rude = connect(addr).unwrap();
        let data = payload(7, MIB);
        let mut writer = rude.try_clone().unwrap();
        let sender = thread::spawn(move || {
            // Fails with a reset or broken pipe once `rude` is closed; that is the point.
            let _ = writer.write_all(&data);
        });
        assert_eq!(read_exact_vec(&mut rude, 1000).unwrap(), payload(7, MIB)[..1000].to_vec());
        rude.shutdown(Shutdown::Both).unwrap();
        drop(rude);
        sender.join().unwrap();

        // The server is still there for the next client.
        let data = payload(8, 100_000);
        assert_eq!(echo_round_trip(addr, data.clone(), 4096).unwrap(), data, "threaded: {threaded}");
        server.join().unwrap();
    }
}

#[test]
fn thread_per_client_lets_go_of_finished_threads_without_waiting_for_another_client() {
    // A finished client thread must not stay on the server's books (before the fix, its
    // JoinHandle, and with it the thread's memory, stayed until the next client connected: a
    // server that saw 10,000 clients and then none held 258 MB).
    const CLIENTS: usize = 5;
    let listener = listener();
    let addr = listener.local_addr().unwrap();
    let threads = Arc::new(echo::ClientThreads::default());
    let counted = Arc::clone(&threads);
    // One more connection than the clients below: the server is still in `accept` (waiting
    // for that one) while we watch its count; the last connection lets it return.
    let server = thread::spawn(move || {
        echo::serve_thread_per_client_counted(listener.incoming().take(CLIENTS + 1), &counted)
    });
    for i in 0..CLIENTS {
        let data = payload(20 + i as u64, 1000);
        assert_eq!(echo_round_trip(addr, data.clone(), 256).unwrap(), data);
    }
    // Every client has its echo and has closed; no further client connects. The count must
    // fall to 0 by itself.
    let guard = Duration::from_secs(20);
    assert!(
        threads.wait_until_for(guard, |live| live == 0),
        "{} client thread(s) still counted {guard:?} after their clients left: the server keeps \
         finished threads until another client connects",
        threads.live()
    );
    drop(connect(addr).unwrap()); // the last connection: the server returns
    server.join().unwrap();
    assert_eq!(threads.live(), 0);
}
