//! Hostile clients, part 2: clients that hold the server's resources instead of breaking its
//! parser. A body trickled forever, bodies that add up past the memory meant for them, chunk
//! framing that costs five bytes per byte of body, and clients that reset while their handler
//! runs. Memory is checked on the server's own count of the bytes it holds (never RSS), rates
//! with tiny settings and answers, never with a stopwatch.

use stage1_blocking::workshop::testkit::SAFETY_TIMEOUT;
use stage6_http::{Limits, Request, Response, Router, Server, ServerConfig, ServerHandle};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

fn start(config: ServerConfig) -> ServerHandle {
    let router = Router::new()
        .post("/size", |req: Request| async move { Response::text(format!("{} bytes", req.body().len())) });
    Server::bind("127.0.0.1:0".parse().unwrap(), router, config).unwrap().spawn().unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    stream
}

/// Sends `request`, closes the sending side, reads up to EOF (a write cut short by the
/// server's answer and close ends the sending, not the exchange).
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr);
    let _ = stream.write_all(request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The most a connection may hold for one request: its body, its head (request line and
/// header lines) and one read's worth of bytes past what was parsed (the worker reads 64 KiB
/// at a time).
fn request_bound(limits: Limits) -> u64 {
    (limits.max_body_bytes + limits.max_header_bytes + limits.max_target_len + 64 * 1024) as u64
}

#[test]
fn a_chunked_body_of_one_byte_chunks_holds_its_body_not_its_framing() {
    // `1\r\nx\r\n` is five bytes on the wire per byte of body. Kept until the request was
    // complete, 256 KiB of body held 1.3 MB of framing (2 MiB of buffer, as a Vec doubles)
    // and the body again beside it.
    let limits = Limits { max_body_bytes: 256 * 1024, ..Limits::default() };
    let server = start(ServerConfig { limits, ..ServerConfig::default() });
    let mut request = b"POST /size HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..limits.max_body_bytes {
        request.extend_from_slice(b"1\r\nx\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(server.addr(), &request);
    assert!(answer.ends_with("\r\n\r\n262144 bytes"), "{answer:?}");
    assert_eq!(server.body_bytes_held(), 0, "the finished body is no longer counted");
    let stats = server.stop().unwrap();
    let bound = request_bound(limits);
    assert!(stats.peak_request_bytes > 0, "{stats:?}");
    assert!(stats.peak_request_bytes <= bound, "held {} bytes, bound {bound}", stats.peak_request_bytes);
}

#[test]
fn a_content_length_body_holds_no_more_than_its_length_and_a_read() {
    let limits = Limits::default();
    let server = start(ServerConfig { limits, ..ServerConfig::default() });
    let body = vec![b'b'; 700_000];
    let mut stream = connect(server.addr());
    stream.write_all(b"POST /size HTTP/1.1\r\nHost: a\r\nContent-Length: 700000\r\n\r\n").unwrap();
    for piece in body.chunks(1000) {
        stream.write_all(piece).unwrap();
    }
    let mut answer = [0u8; 4096];
    let mut got = String::new();
    while !got.ends_with("700000 bytes") {
        let n = stream.read(&mut answer).expect("answer (safety timeout)");
        assert!(n > 0, "closed early: {got:?}");
        got.push_str(&String::from_utf8_lossy(&answer[..n]));
    }
    let stats = server.stop().unwrap();
    // Exactly the head and the body, allocated once, instead of a doubling Vec (up to twice).
    let bound = 700_000 + (limits.max_header_bytes + limits.max_target_len + 64 * 1024) as u64;
    assert!(stats.peak_request_bytes <= bound, "held {} bytes, bound {bound}", stats.peak_request_bytes);
}

#[test]
fn bodies_past_the_budget_get_503_and_the_budget_comes_back() {
    let config = ServerConfig { body_budget: 100_000, ..ServerConfig::default() };
    let server = start(config);
    let mut request = b"POST /size HTTP/1.1\r\nHost: a\r\nContent-Length: 500000\r\n\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'b', 300_000));
    let answer = exchange(server.addr(), &request);
    assert!(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{answer:?}");
    assert!(
        answer.contains("\r\nRetry-After: 1\r\n") && answer.contains("\r\nConnection: close\r\n"),
        "{answer:?}"
    );
    assert_eq!(server.body_bytes_held(), 0, "the refused body gave its bytes back");
    // Within the budget, a body is fine again.
    let mut small = b"POST /size HTTP/1.1\r\nHost: a\r\nContent-Length: 50000\r\n\r\n".to_vec();
    small.extend(std::iter::repeat_n(b's', 50_000));
    let answer = exchange(server.addr(), &small);
    assert!(answer.ends_with("\r\n\r\n50000 bytes"), "{answer:?}");
    let stats = server.stop().unwrap();
    assert_eq!(stats.over_budget, 1, "{stats:?}");
}

#[test]
fn a_body_that_keeps_trickling_below_the_minimum_rate_gets_408() {
    // A byte every 20 ms never lets the 500 ms stall timer fire, so before the minimum rate
    // this upload held its connection for as long as the client liked (here: past the test's
    // safety timeout). With a rate no trickle can meet, the body's deadline is about 500 ms
    // after its head. The check is the answer, not the time it took.
    let config = ServerConfig {
        body_timeout: Duration::from_millis(500),
        min_body_rate: 1_000_000,
        ..ServerConfig::default()
    };
    let server = start(config);
    let mut stream = connect(server.addr());
    stream.write_all(b"POST /size HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    // The deadline is about 500 ms away: 10 s is a guard against a hang, not a threshold.
    const GUARD: Duration = Duration::from_secs(10);
    let since = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        assert!(
            since.elapsed() < GUARD,
            "no 408 after {GUARD:?}: the trickle was never cut off (a body timer that \
             restarts on every read, and no minimum rate?)"
        );
        let _ = stream.write_all(b"x");
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{answer:?}");
}

// --- a client that leaves while its handler runs ----------------------------------------------

/// Lines from a child's pipe, read on a thread.
fn lines_of(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(lines: &Receiver<String>, needle: &str) {
    // One deadline for the whole wait: the trace never goes quiet (the timer ticks each second).
    let deadline = Instant::now() + SAFETY_TIMEOUT;
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains(needle) => return,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?} ({e})"),
        }
    }
}

/// `stage6-server` on `selector` (epoll or poll), room for one connection, with its trace on
/// stderr; returns the child, its address and its trace lines.
fn server_binary(selector: &str) -> (Child, SocketAddr, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stage6-server"))
        .args(["--addr", "127.0.0.1:0", "--max-connections", "1"])
        .env("TRACE", "1")
        .env("SELECTOR", selector)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    let addr = banner.split("http://").nth(1).and_then(|r| r.split(' ').next()).and_then(|a| a.parse().ok());
    let addr = addr.unwrap_or_else(|| panic!("banner: {banner}"));
    let trace = lines_of(child.stderr.take().unwrap());
    (child, addr, trace)
}

#[test]
fn a_client_that_resets_frees_its_place_at_once_on_both_backends() {
    for selector in ["epoll", "poll"] {
        let (mut child, addr, trace) = server_binary(selector);
        let mut gone = connect(addr);
        gone.write_all(b"GET /sleep?ms=10000 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        wait_for(&trace, "http: GET /sleep?ms=10000");
        // SO_LINGER 0: close sends RST, as a client that crashed or gave up does.
        socket2::SockRef::from(&gone).set_linger(Some(Duration::ZERO)).unwrap();
        drop(gone);
        wait_for(&trace, "client gone while its handler ran");
        // The only place is free again: the next client is served, not turned away.
        let mut next = connect(addr);
        next.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        next.read_to_string(&mut answer).unwrap();
        assert!(answer.ends_with("\r\n\r\nHello, World!"), "{selector}: {answer:?}");
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn a_client_that_half_closes_still_gets_its_answer_on_both_backends() {
    for selector in ["epoll", "poll"] {
        let (mut child, addr, trace) = server_binary(selector);
        let mut waiting = connect(addr);
        waiting.write_all(b"GET /sleep?ms=200 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        wait_for(&trace, "http: GET /sleep?ms=200");
        // FIN: nothing more to send, but the answer is still wanted.
        waiting.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        waiting.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{selector}: {answer:?}");
        assert!(answer.ends_with("\r\n\r\nslept 200 ms\n"), "{selector}: {answer:?}");
        let _ = child.kill();
        let _ = child.wait();
    }
}
