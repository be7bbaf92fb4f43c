//! Each hand-written state machine driven by hand: the test is the "sender". It calls
//! `resume`, checks the state and what was yielded, and decides when to resume again: after
//! the real selector resolved the yielded future (`wait`), or at once, pretending the future
//! resolved. Resuming too early is harmless by design: the coroutine finds `WouldBlock` and
//! yields again, exactly as it must after a spurious wake-up.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

use stage1_blocking::http;
use stage1_blocking::workshop::server_http;
use stage1_blocking::workshop::testkit;
use stage3_futures::FutureError;
use stage4_tasks::echo::{AcceptLoop, EchoHandler};
use stage4_tasks::fib::{Fib, fib_iterative};
use stage4_tasks::get::{Get, ReadToEnd};
use stage4_tasks::{AnyFuture, Coroutine, Scheduler, Step};

/// What a test here that never ends most likely means, for the guard's message. The test
/// socket ends are blocking and have no timeout, and `wait` turns the loop until a future is
/// done: a coroutine that loses its place, or a lost readiness event, would block forever.
const DRIVEN_BY_HAND_HANG: &str = "a coroutine that never gets anywhere (its state not put back \
    after a yield?) or a readiness event the selector never reports (run_once waits forever)";

fn yielded<T: std::fmt::Debug>(step: Step<T>) -> AnyFuture {
    match step {
        Step::Yielded(future) => future,
        Step::Complete(out) => panic!("expected a yield, got Complete({out:?})"),
    }
}

/// Runs the real loop until `future` is done: the selector, not the test, says "ready".
fn wait(scheduler: &Scheduler, future: &AnyFuture) {
    while !future.done() {
        scheduler.event_loop().run_once().unwrap();
    }
}

/// A connected pair of non-blocking loopback sockets (stage 1's test kit).
fn tcp_pair() -> (TcpStream, TcpStream) {
    testkit::tcp_pair().unwrap()
}

/// Reads one request head (up to the blank line) from a blocking stream. The client sends
/// nothing after the head, so the buffered reader cannot swallow anything else.
fn read_head(conn: &mut TcpStream) -> Vec<u8> {
    let mut reader = BufReader::new(conn);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let n = reader.read_until(b'\n', &mut head).unwrap();
        assert!(n > 0, "request ended early");
    }
    head
}

#[test]
fn get_goes_start_connecting_receiving_done() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, DRIVEN_BY_HAND_HANG, || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let scheduler = Scheduler::new().unwrap();
        let mut get = Get::new(&scheduler, addr, "/7");
        assert_eq!(get.state(), "Start");

        let connecting = yielded(get.resume(Ok(())));
        assert_eq!(get.state(), "Connecting");
        assert!(connecting.name().contains("writable"), "{}", connecting.name());

        let (mut conn, _) = listener.accept().unwrap();
        wait(&scheduler, &connecting);
        let receiving = yielded(get.resume(Ok(())));
        assert_eq!(
            get.state(),
            "Receiving",
            "the request fit in one write, so Sending was crossed; Done here means an arm that yields \
             does not put the state back"
        );
        assert!(receiving.name().contains("readable"), "{}", receiving.name());

        assert_eq!(read_head(&mut conn), http::request_bytes(&addr.to_string(), "/7"));
        let body = b"<p>seven</p>".to_vec();
        conn.write_all(&server_http::response_bytes(200, "OK", "text/html", &body)).unwrap();
        drop(conn); // EOF ends the response (HTTP/1.0)

        // Each readable wake-up reads one chunk; the last one reads the EOF.
        let (mut waiting, mut resumes) = (receiving, 0);
        let response = loop {
            wait(&scheduler, &waiting);
            resumes += 1;
            assert!(resumes < 100, "a few reads must reach EOF");
            match get.resume(Ok(())) {
                Step::Yielded(future) => {
                    assert_eq!(get.state(), "Receiving");
                    assert!(future.name().contains("readable"));
                    waiting = future;
                }
                Step::Complete(result) => break result.unwrap(),
            }
        };
        assert_eq!(get.state(), "Done");
        assert_eq!((response.status, response.body), (200, body));
        assert!(matches!(get.resume(Ok(())), Step::Complete(Err(_))), "resuming after the end is an error");
    });
}

#[test]
fn get_parks_in_sending_when_the_request_does_not_fit() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, DRIVEN_BY_HAND_HANG, || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let scheduler = Scheduler::new().unwrap();
        // A 16 MiB path: far more than the client's send buffer (at most 4 MiB here) plus the
        // server's receive buffer can hold while the server reads nothing, so the write is partial.
        let path = format!("/{}", "a".repeat(16 << 20));
        let mut get = Get::new(&scheduler, addr, &path);
        let connecting = yielded(get.resume(Ok(())));
        let (mut conn, _) = listener.accept().unwrap();
        wait(&scheduler, &connecting);

        // The server starts reading only when told: a reader draining the socket from the start
        // could keep up with the writes, and the coroutine might never need to wait.
        let (go, wait_for_go) = std::sync::mpsc::channel::<()>();
        let server = thread::spawn(move || {
            wait_for_go.recv().unwrap();
            let head = read_head(&mut conn);
            conn.write_all(&server_http::response_bytes(404, "Not Found", "text/plain", b"no")).unwrap();
            head.len()
        });

        let (mut saw_sending, mut go) = (false, Some(go));
        let response = loop {
            let future = match get.resume(Ok(())) {
                Step::Yielded(future) => future,
                Step::Complete(result) => break result.unwrap(),
            };
            saw_sending |= get.state() == "Sending";
            // Parked in Sending (or, if the test's premise failed, already Receiving): let the
            // server read, or nothing will ever make the socket writable (or readable) again.
            if let Some(go) = go.take() {
                go.send(()).unwrap();
            }
            wait(&scheduler, &future);
        };
        assert!(saw_sending, "a partial write parks the coroutine in Sending");
        assert_eq!(response.status, 404);
        assert_eq!(server.join().unwrap(), http::request_bytes(&addr.to_string(), &path).len());
    });
}

#[test]
fn get_ends_with_the_error_it_is_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let scheduler = Scheduler::new().unwrap();
    let mut get = Get::new(&scheduler, listener.local_addr().unwrap(), "/1");
    let _ = yielded(get.resume(Ok(())));
    match get.resume(Err(FutureError::Cancelled)) {
        Step::Complete(Err(err)) => assert!(format!("{err:#}").contains("cancelled"), "{err:#}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(get.state(), "Done");
}

#[test]
fn read_to_end_reads_chunks_until_eof() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, DRIVEN_BY_HAND_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let (client, mut server) = tcp_pair();
        let mut reader = ReadToEnd::new(&scheduler, client);
        assert_eq!(reader.state(), "Start");
        let _ = yielded(reader.resume(Ok(())));
        assert_eq!(reader.state(), "Waiting");

        server.write_all(b"hello, ").unwrap();
        server.write_all(b"world").unwrap();
        server.shutdown(Shutdown::Write).unwrap();
        let bytes = loop {
            let future = match reader.resume(Ok(())) {
                Step::Yielded(future) => future,
                Step::Complete(result) => break result.unwrap(),
            };
            assert_eq!(reader.state(), "Waiting");
            wait(&scheduler, &future);
        };
        assert_eq!(bytes, b"hello, world");
        assert_eq!(reader.state(), "Done");
    });
}

#[test]
fn echo_handler_reads_writes_parks_in_writing_and_finishes() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, DRIVEN_BY_HAND_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let (mut client, server) = tcp_pair();
        let mut handler = EchoHandler::new(&scheduler, server, Default::default());
        let _ = yielded(handler.resume(Ok(())));
        assert_eq!(handler.state(), "Reading");

        // This one is driven by a pretend sender: it resumes without waiting, and the handler's
        // reads and writes simply find WouldBlock when the socket is not ready.
        // The client writes and does not read: the handler's writes back fill the buffers until
        // one is partial, and the handler parks in Writing (it stops reading: back-pressure).
        let chunk: Vec<u8> = (0..4096u32).map(|i| (i % 253) as u8).collect();
        let mut sent = Vec::new();
        let mut parked_in_writing = false;
        for _ in 0..100_000 {
            match client.write(&chunk) {
                Ok(n) => sent.extend_from_slice(&chunk[..n]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) => panic!("{err}"),
            }
            let _ = yielded(handler.resume(Ok(())));
            if handler.state() == "Writing" {
                parked_in_writing = true;
                break;
            }
        }
        assert!(parked_in_writing, "a client that never reads must make a write partial");
        client.shutdown(Shutdown::Write).unwrap();

        // Now read everything back while resuming the handler, until both ends are finished.
        let (mut received, mut buf, mut eof, mut done) = (Vec::new(), vec![0u8; 65536], false, false);
        while !(eof && done) {
            loop {
                match client.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) => panic!("{err}"),
                }
            }
            if !done {
                match handler.resume(Ok(())) {
                    Step::Yielded(_) => assert!(["Reading", "Writing"].contains(&handler.state())),
                    Step::Complete(result) => {
                        result.unwrap();
                        done = true;
                    }
                }
            }
        }
        assert_eq!(handler.state(), "Done");
        assert!(received == sent, "{} bytes back, {} sent", received.len(), sent.len());
    });
}

#[test]
fn fib_delegates_and_yields_once_per_leaf() {
    let scheduler = Scheduler::new().unwrap();
    for n in 0..=12u32 {
        let mut fib = Fib::new(&scheduler, n);
        assert_eq!(fib.state(), "Start");
        let (mut yields, mut states) = (0u64, std::collections::BTreeSet::new());
        let value = loop {
            match fib.resume(Ok(())) {
                Step::Yielded(future) => {
                    yields += 1;
                    assert!(future.name().contains("yield_now"));
                    states.insert(fib.state());
                }
                Step::Complete(value) => break value.unwrap(),
            }
        };
        assert_eq!(Some(value), fib_iterative(n), "fib({n})");
        // The recursion tree of fib(n) has fib(n + 1) leaves.
        assert_eq!(Some(yields), fib_iterative(n + 1), "yields of fib({n})");
        let expected: &[&str] = if n < 2 { &["Leaf"] } else { &["Left", "Right"] };
        assert_eq!(states.into_iter().collect::<Vec<_>>(), expected, "fib({n})");
    }
}

#[test]
fn accept_loop_spawns_a_task_per_client_and_keeps_accepting() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, DRIVEN_BY_HAND_HANG, || {
        let scheduler = Scheduler::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = std::sync::Arc::new(stage3_futures::echo::EchoStats::default());
        let mut accept = AcceptLoop::new(&scheduler, listener, std::sync::Arc::clone(&stats));
        assert_eq!(accept.state(), "Start");
        let mut waiting = yielded(accept.resume(Ok(())));
        assert_eq!(accept.state(), "Accepting");
        assert_eq!(scheduler.alive(), 0);

        let _clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        while stats.accepted() < 3 {
            wait(&scheduler, &waiting);
            waiting = yielded(accept.resume(Ok(())));
            assert_eq!(accept.state(), "Accepting");
        }
        assert_eq!(scheduler.alive(), 3, "one handler task spawned per client");

        match accept.resume(Err(FutureError::Cancelled)) {
            Step::Complete(Err(err)) => assert!(format!("{err:#}").contains("listener"), "{err:#}"),
            other => panic!("a failed wait ends the accept loop, got {other:?}"),
        }
    });
}
