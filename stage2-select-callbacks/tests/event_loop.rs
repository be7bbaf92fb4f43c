//! The callback EventLoop over real loopback sockets, on both selector backends.

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::event_loop::EventLoop;
use stage2_select_callbacks::selector::{Backend, Selector};

/// What a test here that never ends most likely means, for the guard's message.
const LOOP_HANG: &str = "the loop never ran the callback it waits for: a readiness event lost \
    (or the callback dropped before it ran), or run() that does not stop once no fd is left \
    registered";

fn loops() -> Vec<EventLoop> {
    Backend::available()
        .into_iter()
        .map(|b| EventLoop::with_selector(Selector::with_backend(b).unwrap()))
        .collect()
}

/// A connected pair of non-blocking loopback sockets (stage 1's test kit).
fn tcp_pair() -> (TcpStream, TcpStream) {
    testkit::tcp_pair().unwrap()
}

/// Reads what is there until WouldBlock; returns true at EOF.
fn drain(stream: &mut TcpStream, into: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}

#[test]
fn reader_callback_runs_on_data_until_it_unregisters() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (mut client, server) = tcp_pair();
            let fd = server.as_raw_fd();
            let got = Rc::new(RefCell::new(Vec::new()));
            let sink = got.clone();
            let mut server = Some(server);
            lp.register_reader(fd, move |lp| {
                let Some(stream) = server.as_mut() else { return };
                if drain(stream, &mut sink.borrow_mut()) {
                    lp.unregister_reader(fd).unwrap();
                    server = None; // closed only after it was unregistered
                }
            })
            .unwrap();
            client.write_all(b"hello, loop").unwrap();
            drop(client);
            lp.run().unwrap();
            assert_eq!(&got.borrow()[..], b"hello, loop", "{:?}", lp.backend());
            assert_eq!(lp.registered_fds(), 0);
        }
    });
}

#[test]
fn writer_callback_runs_when_writable() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (client, mut server) = tcp_pair();
            let fd = client.as_raw_fd();
            let calls = Rc::new(Cell::new(0));
            let counter = calls.clone();
            lp.register_writer(fd, move |lp| {
                counter.set(counter.get() + 1);
                (&client).write_all(b"ping").unwrap();
                lp.unregister_writer(fd).unwrap();
            })
            .unwrap();
            lp.run().unwrap();
            assert_eq!(calls.get(), 1, "{:?}", lp.backend());
            server.set_nonblocking(false).unwrap();
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
        }
    });
}

#[test]
fn unregister_stops_callbacks() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (mut client, server) = tcp_pair();
            let (writable, _peer) = tcp_pair();
            let reads = Rc::new(Cell::new(0));
            let counter = reads.clone();
            // Never reads: level-triggered readiness would call it on every turn.
            lp.register_reader(server.as_raw_fd(), move |_| counter.set(counter.get() + 1)).unwrap();
            client.write_all(b"x").unwrap();
            while reads.get() == 0 {
                lp.run_once().unwrap();
            }
            lp.unregister_reader(server.as_raw_fd()).unwrap();
            assert!(!lp.has_reader(server.as_raw_fd()));
            // Something else that is always ready, so run_once returns.
            let writes = Rc::new(Cell::new(0));
            let w = writes.clone();
            lp.register_writer(writable.as_raw_fd(), move |_| w.set(w.get() + 1)).unwrap();
            for _ in 0..3 {
                lp.run_once().unwrap();
            }
            assert_eq!(writes.get(), 3, "{:?}", lp.backend());
            assert_eq!(reads.get(), 1, "{:?}: no call after unregister", lp.backend());
        }
    });
}

#[test]
fn reader_and_writer_on_one_fd() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (client, server) = tcp_pair();
            let fd = client.as_raw_fd();
            let client = Rc::new(client);
            let reply = Rc::new(RefCell::new(Vec::new()));

            // The client's writer sends a request while its reader waits for the reply: the
            // selector must be asked for read+write on the one fd, then read only.
            let writer_stream = client.clone();
            lp.register_writer(fd, move |lp| {
                (&*writer_stream).write_all(b"ping").unwrap();
                lp.unregister_writer(fd).unwrap();
            })
            .unwrap();
            let (reader_stream, sink) = (client.clone(), reply.clone());
            lp.register_reader(fd, move |lp| {
                let mut stream = &*reader_stream;
                let mut buf = [0u8; 64];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => {
                            lp.unregister_reader(fd).unwrap();
                            return;
                        }
                        Ok(n) => sink.borrow_mut().extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
            .unwrap();
            assert!(lp.has_reader(fd) && lp.has_writer(fd));
            assert_eq!(lp.registered_fds(), 1);

            // The server side, in the same loop: read the request, answer, close.
            let sfd = server.as_raw_fd();
            let mut server = Some(server);
            let mut request = Vec::new();
            lp.register_reader(sfd, move |lp| {
                let Some(stream) = server.as_mut() else { return };
                drain(stream, &mut request);
                if request == b"ping" {
                    stream.write_all(b"pong").unwrap();
                    lp.unregister_reader(sfd).unwrap();
                    server = None;
                }
            })
            .unwrap();

            lp.run().unwrap();
            assert_eq!(&reply.borrow()[..], b"pong", "{:?}", lp.backend());
            assert_eq!(lp.registered_fds(), 0);
        }
    });
}

#[test]
fn both_callbacks_of_one_fd_run_and_stay_registered() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (mut client, server) = tcp_pair();
            let fd = server.as_raw_fd();
            let (reads, writes) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
            let (r, w) = (reads.clone(), writes.clone());
            lp.register_reader(fd, move |_| r.set(r.get() + 1)).unwrap();
            lp.register_writer(fd, move |_| w.set(w.get() + 1)).unwrap();
            client.write_all(b"data").unwrap();
            // The writer is ready at once; the reader as soon as the bytes land. If the loop had
            // registered only the last interest, the reader would never run and this would hang.
            while reads.get() == 0 {
                lp.run_once().unwrap();
            }
            assert!(writes.get() >= 1, "{:?}", lp.backend());
            lp.unregister(fd).unwrap();
            assert_eq!(lp.registered_fds(), 0);
            lp.run().unwrap(); // nothing registered: returns at once
        }
    });
}

#[test]
fn callback_that_unregisters_another_fd_prevents_its_stale_event() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (mut client_a, server_a) = tcp_pair();
            let (mut client_b, server_b) = tcp_pair();
            let (fd_a, fd_b) = (server_a.as_raw_fd(), server_b.as_raw_fd());
            let ran = Rc::new(RefCell::new(Vec::new()));
            // Whichever runs first unregisters the other one (and itself), so exactly one runs.
            for (me, other, name) in [(fd_a, fd_b, "a"), (fd_b, fd_a, "b")] {
                let ran = ran.clone();
                lp.register_reader(me, move |lp| {
                    ran.borrow_mut().push(name);
                    lp.unregister_reader(other).unwrap();
                    lp.unregister_reader(me).unwrap();
                })
                .unwrap();
            }
            client_a.write_all(b"a").unwrap();
            client_b.write_all(b"b").unwrap();
            // Wait until both are readable, so both events are in the same batch.
            wait_readable(&server_a);
            wait_readable(&server_b);
            lp.run().unwrap();
            assert_eq!(ran.borrow().len(), 1, "{:?}: {:?}", lp.backend(), ran.borrow());
        }
    });
}

#[test]
fn stale_event_does_not_run_a_callback_registered_again_on_the_same_fd() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (mut client_a, server_a) = tcp_pair();
            let (mut client_b, server_b) = tcp_pair();
            let (fd_a, fd_b) = (server_a.as_raw_fd(), server_b.as_raw_fd());
            let (first_calls, fresh_calls) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
            // Whichever runs first unregisters the other fd and registers a *new* callback on the
            // same fd number: to the loop that is what a closed-then-reused fd looks like. The
            // other fd's event in this batch belongs to the old registration and must be dropped.
            for (me, other) in [(fd_a, fd_b), (fd_b, fd_a)] {
                let (first_calls, fresh_calls) = (first_calls.clone(), fresh_calls.clone());
                lp.register_reader(me, move |lp| {
                    first_calls.set(first_calls.get() + 1);
                    lp.unregister_reader(me).unwrap();
                    if !lp.has_reader(other) {
                        return;
                    }
                    lp.unregister_reader(other).unwrap();
                    let counter = fresh_calls.clone();
                    lp.register_reader(other, move |lp| {
                        counter.set(counter.get() + 1);
                        lp.unregister_reader(other).unwrap();
                    })
                    .unwrap();
                })
                .unwrap();
            }
            client_a.write_all(b"a").unwrap();
            client_b.write_all(b"b").unwrap();
            wait_readable(&server_a);
            wait_readable(&server_b);
            lp.run_once().unwrap();
            assert_eq!(first_calls.get(), 1, "{:?}", lp.backend());
            assert_eq!(fresh_calls.get(), 0, "{:?}: the stale event ran the new callback", lp.backend());
            // Level-triggered: the bytes are still there, so the next turn reports them afresh.
            lp.run().unwrap();
            assert_eq!(fresh_calls.get(), 1, "{:?}", lp.backend());
        }
    });
}

#[test]
fn run_returns_when_every_job_is_done() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let finished = Rc::new(Cell::new(0));
            let mut clients = Vec::new();
            for i in 0..5u8 {
                let (mut client, server) = tcp_pair();
                let fd = server.as_raw_fd();
                let done = finished.clone();
                let mut server = Some(server);
                let mut got = Vec::new();
                lp.register_reader(fd, move |lp| {
                    let Some(stream) = server.as_mut() else { return };
                    if drain(stream, &mut got) {
                        assert_eq!(got, vec![i; 100]);
                        lp.unregister_reader(fd).unwrap();
                        server = None;
                        done.set(done.get() + 1);
                    }
                })
                .unwrap();
                client.write_all(&[i; 100]).unwrap();
                clients.push(client);
            }
            assert_eq!(lp.registered_fds(), 5);
            drop(clients); // EOF for everyone
            lp.run().unwrap();
            assert_eq!(finished.get(), 5, "{:?}", lp.backend());
            assert_eq!(lp.registered_fds(), 0);
        }
    });
}

#[test]
fn stop_makes_run_return_with_callbacks_still_registered() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, LOOP_HANG, || {
        for mut lp in loops() {
            let (client, _server) = tcp_pair();
            lp.register_writer(client.as_raw_fd(), |lp| lp.stop()).unwrap();
            lp.run().unwrap();
            assert_eq!(lp.registered_fds(), 1, "{:?}", lp.backend());
            lp.unregister(client.as_raw_fd()).unwrap();
        }
    });
}

#[test]
fn unregistering_an_unknown_fd_is_harmless() {
    for mut lp in loops() {
        let (client, _server) = tcp_pair();
        lp.unregister_reader(client.as_raw_fd()).unwrap();
        lp.unregister(client.as_raw_fd()).unwrap();
        assert_eq!(lp.registered_fds(), 0);
    }
}

/// Blocks until `stream` has bytes to read, using a private selector (no sleeps).
fn wait_readable(stream: &TcpStream) {
    use stage2_select_callbacks::selector::{Events, Interest, Token};
    let mut selector = Selector::with_backend(Backend::Poll).unwrap();
    selector.register(stream.as_raw_fd(), Token(0), Interest::READABLE).unwrap();
    let mut events = Events::with_capacity(1);
    selector.select(&mut events, None).unwrap();
}
