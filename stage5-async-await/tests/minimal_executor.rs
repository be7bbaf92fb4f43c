//! The smallest executor (`src/minimal_executor.rs`) over real loopback sockets: `block_on`
//! returns its future's value after every spawned task; tasks run in the order they are woken
//! and really overlap; a socket wakes the task waiting on it; partial writes and EOF; the
//! course's crawler exam; a future dropped while it waits leaves the selector.
//!
//! An executor that loses a wake-up does not fail, it hangs. So every test runs its body on
//! a thread of its own and fails after stage 1's `SAFETY_TIMEOUT`, naming the likely cause.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::thread;

use stage1_blocking::http::Response;
use stage1_blocking::workshop::demo::{DemoConfig, DemoServer, expected_body};
use stage1_blocking::workshop::server_http::{self, HeadRead};
use stage1_blocking::workshop::testkit::{self, SAFETY_TIMEOUT, check_client_binary, run_bin};
use stage2_select_callbacks::net::send_nosignal;
use stage2_select_callbacks::selector::Interest;
use stage5_async_await::minimal_executor::http::get;
use stage5_async_await::minimal_executor::{block_on, io, spawn, watched};

const BIN: &str = env!("CARGO_BIN_EXE_stage5-minimal");

/// What a hang most likely means, for the guard's message.
const LOST_WAKE: &str = "likely a lost wake-up: a future returned Pending without leaving cx.waker() \
    with the selector (Io::poll's `register`), or the loop took a waker out of `waiting` \
    without calling wake(), or a waker that does not put its task on the ready queue";

/// Runs `body` under the test kit's guard (`testkit::guarded`), which fails with `cause` if
/// it has not returned after `SAFETY_TIMEOUT`.
fn guarded<T: Send + 'static>(cause: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    testkit::guarded(SAFETY_TIMEOUT, cause, body)
}

/// The crawl of `stage5-minimal`, collecting the outcomes instead of printing them.
fn crawl(addr: SocketAddr, paths: &[String]) -> Vec<(String, anyhow::Result<Response>)> {
    let outcomes = Rc::new(RefCell::new(Vec::new()));
    block_on(async {
        for path in paths {
            let (path, outcomes) = (path.clone(), Rc::clone(&outcomes));
            spawn(async move {
                let result = get(addr, &path).await;
                outcomes.borrow_mut().push((path, result));
            });
        }
    })
    .expect("the selector works");
    outcomes.take()
}

fn paths(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("/{i}")).collect()
}

#[test]
fn block_on_returns_the_value_of_its_future() {
    let n = guarded(LOST_WAKE, || {
        let word = String::from("pinned");
        // The async block borrows `word`, and its inner future borrows it across an .await.
        block_on(async {
            let borrowed = &word;
            async { borrowed.len() }.await * 7
        })
        .unwrap()
    });
    assert_eq!(n, 42);
}

#[test]
fn tasks_run_in_the_order_they_were_woken_and_block_on_waits_for_all() {
    let log = guarded(LOST_WAKE, || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let main_log = Rc::clone(&log);
        let out = block_on(async move {
            for id in 1..=3 {
                let log = Rc::clone(&main_log);
                spawn(async move {
                    log.borrow_mut().push(format!("task {id}"));
                    if id == 2 {
                        // A task may spawn: the new task goes to the back of the queue.
                        let inner = Rc::clone(&log);
                        spawn(async move { inner.borrow_mut().push("task 4, spawned by 2".to_string()) });
                    }
                });
            }
            main_log.borrow_mut().push("main done".to_string());
            "main's value"
        })
        .unwrap();
        log.borrow_mut().push(format!("block_on returned {out:?}"));
        log.take()
    });
    assert_eq!(
        log,
        [
            "main done",
            "task 1",
            "task 2",
            "task 3",
            "task 4, spawned by 2",
            "block_on returned \"main's value\""
        ]
    );
}

#[test]
fn a_socket_wakes_the_task_waiting_on_it_while_another_task_runs() {
    // Task 1 waits to read; only task 2 writes. Run one after the other, this would hang.
    let log = guarded(LOST_WAKE, || {
        let (reader, writer) = testkit::tcp_pair().unwrap();
        let log = Rc::new(RefCell::new(Vec::new()));
        let (log1, log2) = (Rc::clone(&log), Rc::clone(&log));
        block_on(async move {
            spawn(async move {
                log1.borrow_mut().push("1: waits to read".to_string());
                let mut buf = [0u8; 16];
                let n = io(&reader, Interest::READABLE, |mut s| s.read(&mut buf)).await.unwrap();
                log1.borrow_mut().push(format!("1: read {:?}", String::from_utf8_lossy(&buf[..n])));
            });
            spawn(async move {
                let n = io(&writer, Interest::WRITABLE, |s| send_nosignal(s, b"hello")).await.unwrap();
                log2.borrow_mut().push(format!("2: wrote {n} bytes"));
            });
        })
        .unwrap();
        log.take()
    });
    assert_eq!(log, ["1: waits to read", "2: wrote 5 bytes", "1: read \"hello\""]);
}

#[test]
fn partial_writes_and_eof_carry_every_byte() {
    // 4 MiB cannot fit a loopback socket's buffers: the writer meets WouldBlock many times,
    // each write is partial, and the reader sees the EOF only after the last byte.
    let sent = testkit::payload(5, 4 << 20);
    let expected = sent.clone();
    let (received, waits) = guarded(LOST_WAKE, move || {
        let (a, b) = testkit::tcp_pair().unwrap();
        let received = Rc::new(RefCell::new(Vec::new()));
        let got = Rc::clone(&received);
        let waits = Rc::new(RefCell::new(0));
        let writer_waits = Rc::clone(&waits);
        block_on(async move {
            spawn(async move {
                let mut written = 0;
                while written < sent.len() {
                    let send = |s: &TcpStream| match send_nosignal(s, &sent[written..]) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            *writer_waits.borrow_mut() += 1;
                            Err(e)
                        }
                        other => other,
                    };
                    written += io(&a, Interest::WRITABLE, send).await.unwrap();
                }
                a.shutdown(Shutdown::Write).unwrap();
            });
            spawn(async move {
                let mut chunk = [0u8; 64 * 1024];
                loop {
                    match io(&b, Interest::READABLE, |mut s| s.read(&mut chunk)).await.unwrap() {
                        0 => break,
                        n => got.borrow_mut().extend_from_slice(&chunk[..n]),
                    }
                }
            });
        })
        .unwrap();
        (received.take(), waits.take())
    });
    testkit::same_bytes("4 MiB through one socket", &expected, &received).unwrap();
    assert!(waits > 0, "the writer never had to wait: the test did not test partial writes");
}

#[test]
fn the_crawl_passes_the_crawler_exam() {
    // Every page whole and trickled, a 404, garbage, truncated and endless responses.
    guarded(LOST_WAKE, || testkit::check_crawler(crawl).map_err(|e| format!("{e:#}"))).unwrap();
}

#[test]
fn a_refused_connect_fails_only_its_own_request() {
    let (refused, pages) = guarded(LOST_WAKE, || {
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        let refused = crawl(testkit::refused_addr().unwrap(), &paths(1));
        (refused, crawl(server.addr(), &paths(3)))
    });
    let [(_, Err(err))] = &refused[..] else { panic!("expected one error, got {refused:?}") };
    testkit::check_refused(err).unwrap();
    assert_eq!(pages.len(), 3);
    for (path, outcome) in &pages {
        testkit::check_page(path, outcome).unwrap();
    }
}

// ANCHOR: all_in_flight
#[test]
fn spawned_requests_are_all_in_flight_at_once() {
    // A server that answers nobody until it holds all ten requests: an executor that ran the
    // requests one after another would hang on the first, and the guard would say so.
    const N: usize = 10;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || -> io::Result<()> {
        let mut held = Vec::new();
        while held.len() < N {
            let (mut stream, _) = listener.accept()?;
            if let HeadRead::Complete(head) = server_http::read_request_head(&mut stream)? {
                let path = server_http::parse_request_head(&head).map_err(io::Error::other)?.path;
                held.push((stream, path));
            }
        }
        for (mut stream, path) in held {
            let body = expected_body(&path).unwrap_or_default();
            stream
                .write_all(format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes())?;
            stream.write_all(&body)?;
        }
        Ok(())
    });
    let cause = "the requests did not overlap: spawn or block_on ran one task to completion \
                 before polling the next (or a lost wake-up)";
    let outcomes = guarded(cause, move || crawl(addr, &paths(N)));
    assert_eq!(outcomes.len(), N);
    for (path, outcome) in &outcomes {
        testkit::check_page(path, outcome).unwrap();
    }
}
// ANCHOR_END: all_in_flight

#[test]
fn ten_requests_to_the_slow_demo_server_overlap() {
    // The demo server waits before each answer and counts the connections it holds at once.
    // 500 ms, not the demo's 100: no answer can leave before the tenth request is in, even on
    // a loaded machine. (The test above shows the same without any clock.)
    let (outcomes, peak) = guarded(LOST_WAKE, || {
        let config = DemoConfig { delay: std::time::Duration::from_millis(500), trickle: false };
        let server = DemoServer::start(config).unwrap();
        let outcomes = crawl(server.addr(), &paths(10));
        (outcomes, server.peak_connections())
    });
    for (path, outcome) in &outcomes {
        testkit::check_page(path, outcome).unwrap();
    }
    assert_eq!(peak, 10, "the demo server never held all ten requests at once");
}

#[test]
fn a_future_dropped_while_it_waits_leaves_the_selector() {
    let watched_counts = guarded(LOST_WAKE, || {
        let (a, mut b) = testkit::tcp_pair().unwrap();
        block_on(async move {
            let mut buf = [0u8; 8];
            let mut counts = Vec::new();
            {
                // Poll a read once by hand: nothing to read, so it registers and is Pending.
                let mut read = pin!(io(&a, Interest::READABLE, |mut s| s.read(&mut buf)));
                poll_fn(|cx| {
                    assert!(read.as_mut().poll(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
                counts.push(watched());
            } // dropped here, still waiting
            counts.push(watched());
            // The same socket can be waited on again (no stale registration in the way).
            b.write_all(b"hi").unwrap();
            let n = io(&a, Interest::READABLE, |mut s| s.read(&mut buf)).await.unwrap();
            assert_eq!(&buf[..n], b"hi");
            counts.push(watched());
            counts
        })
        .unwrap()
    });
    assert_eq!(watched_counts, [1, 0, 0], "fds watched: while waiting, after the drop, at the end");
}

#[test]
fn the_demo_takes_the_client_binary_exam() {
    // Its pages and summary line, a refused --addr, `| head -1`, --help and usage errors.
    check_client_binary(BIN, 1).unwrap();
}

#[test]
fn trace_shows_spawns_polls_wakes_and_sleeps_in_the_selector() {
    // The server waits 50 ms before answering, so every first read meets WouldBlock.
    let out = run_bin(BIN, &["--count", "2", "--delay", "50"], true).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for line in [
        "] poll task 0 (main)",
        "] spawn task 2",
        "] poll task 1",
        "] select: 2 fd(s) waited on, sleeping",
        "] wake task 1",
        "] task 2 done",
    ] {
        assert!(out.stderr.lines().any(|l| l.ends_with(line)), "no {line:?} in:\n{}", out.stderr);
    }
}
