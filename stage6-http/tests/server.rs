//! The server over real sockets on 127.0.0.1: a blocking std client sends exact bytes and
//! checks exact bytes back. Each test starts its own server on port 0; dropping the handle
//! stops and joins it. Client reads have a long timeout only as a safety net against a hung
//! test, never for synchronisation.

use stage5_async_await::sync::event::Event;
use stage6_http::app::demo_router;
use stage6_http::static_files::StaticRoot;
use stage6_http::{Request, Response, Router, Server, ServerConfig, ServerHandle};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

fn start(router: Router, config: ServerConfig) -> ServerHandle {
    Server::bind("127.0.0.1:0".parse().unwrap(), router, config)
        .expect("bind 127.0.0.1:0")
        .spawn()
        .expect("start workers")
}

fn demo() -> ServerHandle {
    start(demo_router(None), ServerConfig::default())
}

/// A parsed response, as the test client sees it.
#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A blocking client that reads responses one at a time from a keep-alive connection.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(server: &ServerHandle) -> Client {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.set_nodelay(true).unwrap();
        Client { stream, buf: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads more bytes into `buf`; false at EOF.
    fn more(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).expect("read (20 s safety timeout)");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.more(), "EOF inside a body");
        }
        self.buf.drain(..n).collect()
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..i].to_vec()).unwrap();
                self.buf.drain(..i + 2);
                return line;
            }
            assert!(self.more(), "EOF inside a line");
        }
    }

    /// One whole response (`head_request`: no body follows the head).
    fn response_to(&mut self, head_request: bool) -> Resp {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.more(), "EOF before a response head: {:?}", String::from_utf8_lossy(&self.buf));
        };
        let head = String::from_utf8(self.buf.drain(..head_end).collect()).unwrap();
        let status = head[9..12].parse().unwrap();
        let mut resp = Resp { status, head, body: Vec::new() };
        if head_request || status == 204 || status == 304 || status < 200 {
            return resp;
        }
        if let Some(len) = resp.header("content-length") {
            resp.body = self.take(len.parse().unwrap());
        } else if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line(), 16).unwrap();
                let data = self.take(size);
                assert_eq!(self.take(2), b"\r\n");
                if size == 0 {
                    break;
                }
                resp.body.extend_from_slice(&data);
            }
        } else {
            while self.more() {}
            resp.body = std::mem::take(&mut self.buf);
        }
        resp
    }

    fn response(&mut self) -> Resp {
        self.response_to(false)
    }

    fn get(&mut self, path: &str) -> Resp {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        self.response()
    }

    /// True if the server closed the connection (EOF, nothing more buffered).
    fn closed(&mut self) -> bool {
        self.buf.is_empty() && !self.more() && self.buf.is_empty()
    }
}

#[test]
fn hello_world_exact_bytes() {
    let server = demo();
    let mut client = Client::connect(&server);
    let resp = client.get("/hello");
    let date = resp.header("date").unwrap().to_string();
    assert_eq!(date.len(), 29);
    assert!(date.ends_with(" GMT"));
    assert_eq!(
        resp.head,
        format!("HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n")
    );
    assert_eq!(resp.body, b"Hello, World!");
}

#[test]
fn the_seed_json_example() {
    let server = demo();
    let resp = Client::connect(&server).get("/json");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.text(), r#"{"hello":"world"}"#);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = demo();
    let mut client = Client::connect(&server);
    for id in 0..20 {
        let resp = client.get(&format!("/users/{id}"));
        assert_eq!(resp.text(), format!(r#"{{"id":"{id}","name":"user {id}"}}"#));
        assert_eq!(resp.header("connection"), None);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = demo();
    let mut client = Client::connect(&server);
    client.send(
        b"GET /users/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /users/2 HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert!(client.response().text().contains(r#""id":"1""#));
    assert_eq!(client.response().text(), r#"{"hello":"world"}"#);
    assert_eq!(client.response().text(), "abc");
    assert!(client.response().text().contains(r#""id":"2""#));
}

#[test]
fn a_long_pipelined_burst_in_random_pieces() {
    let server = demo();
    let mut client = Client::connect(&server);
    let mut burst = Vec::new();
    let mut expected = Vec::new();
    for i in 0..60 {
        match i % 3 {
            0 => {
                burst.extend_from_slice(format!("GET /users/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
                expected.push(format!(r#"{{"id":"{i}","name":"user {i}"}}"#));
            }
            1 => {
                let body = format!("body-{i}");
                burst.extend_from_slice(
                    format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                        .as_bytes(),
                );
                expected.push(body);
            }
            _ => {
                burst.extend_from_slice(
                    format!("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nc{:02}\r\n0\r\n\r\n", i % 100).as_bytes(),
                );
                expected.push(format!("c{:02}", i % 100));
            }
        }
    }
    // Deterministic piece sizes from 1 to 97 bytes: request boundaries fall everywhere.
    let mut at = 0;
    let mut x = 7u32;
    while at < burst.len() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let end = (at + 1 + (x >> 16) as usize % 97).min(burst.len());
        client.send(&burst[at..end]);
        at = end;
    }
    for want in expected {
        assert_eq!(client.response().text(), want);
    }
}

#[test]
fn a_request_sent_one_byte_at_a_time() {
    let server = demo();
    let mut client = Client::connect(&server);
    let request = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\n\
                    Transfer-Encoding: chunked\r\n\r\n4;ext=1\r\nbyte\r\n3\r\n by\r\n0\r\nT: x\r\n\r\n";
    for b in request {
        client.send(&[*b]);
    }
    let resp = client.response();
    assert_eq!(resp.header("content-type"), Some("text/x-test"));
    assert_eq!(resp.text(), "byte by");
}

#[test]
fn malformed_request_gets_400_then_close() {
    let server = demo();
    let mut client = Client::connect(&server);
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = client.response();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(client.closed(), "the pipelined request after a bad one must not be answered");
}

#[test]
fn error_statuses_over_the_wire() {
    let server = demo();
    let cases: [(&[u8], u16); 11] = [
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\0\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n  folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
        (b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n", 413),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ];
    for (request, status) in cases {
        let mut client = Client::connect(&server);
        client.send(request);
        let resp = client.response();
        assert_eq!(resp.status, status, "{}", String::from_utf8_lossy(request));
        assert!(client.closed());
    }
    let mut client = Client::connect(&server);
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    client.send(long.as_bytes());
    assert_eq!(client.response().status, 414);
    let mut client = Client::connect(&server);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    client.send(format!("{many}\r\n").as_bytes());
    assert_eq!(client.response().status, 431);
    let mut client = Client::connect(&server);
    let huge = format!("GET / HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n", "c".repeat(20_000));
    client.send(huge.as_bytes());
    assert_eq!(client.response().status, 431);
}

#[test]
fn not_found_and_method_not_allowed() {
    let server = demo();
    let mut client = Client::connect(&server);
    assert_eq!(client.get("/nope").status, 404);
    client.send(b"DELETE /json HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = client.response();
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("GET, HEAD"));
    // Both are ordinary responses: the connection stays usable.
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn head_has_length_but_no_body() {
    let server = demo();
    let mut client = Client::connect(&server);
    client.send(b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = client.response_to(true);
    assert_eq!(resp.header("content-length"), Some("13"));
    // If body bytes had been sent, they would be read as the next response's start.
    assert_eq!(client.get("/json").text(), r#"{"hello":"world"}"#);
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let server = demo();
    let mut client = Client::connect(&server);
    client.send(b"GET / HTTP/1.0\r\n\r\n");
    let resp = client.response();
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(client.closed());

    let mut client = Client::connect(&server);
    client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.response().header("connection"), Some("keep-alive"));
    client.send(b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.response().text(), r#"{"hello":"world"}"#);
}

#[test]
fn connection_close_is_honoured() {
    let server = demo();
    let mut client = Client::connect(&server);
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(client.response().header("connection"), Some("close"));
    assert!(client.closed());
}

#[test]
fn streamed_body_arrives_chunked() {
    let server = demo();
    let mut client = Client::connect(&server);
    let resp = client.get("/stream/5000");
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    let text = resp.text();
    assert_eq!(text.lines().count(), 5000);
    assert!(text.starts_with("line 1\nline 2\n") && text.ends_with("line 5000\n"));
    assert_eq!(client.get("/").status, 200);
    // HTTP/1.0 gets the same body delimited by closing the connection.
    let mut client = Client::connect(&server);
    client.send(b"GET /stream/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let resp = client.response();
    assert_eq!(resp.header("connection"), Some("close"));
    assert_eq!(resp.text(), "line 1\nline 2\nline 3\n");
}

#[test]
fn expect_100_continue() {
    let server = demo();
    let mut client = Client::connect(&server);
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    let interim = client.response_to(true);
    assert_eq!(interim.head, "HTTP/1.1 100 Continue\r\n\r\n");
    client.send(b"hello");
    assert_eq!(client.response().text(), "hello");
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let config = ServerConfig { idle_timeout: Duration::from_millis(50), ..ServerConfig::default() };
    let server = start(demo_router(None), config);
    let mut client = Client::connect(&server);
    assert_eq!(client.get("/").status, 200);
    assert!(client.closed(), "server closes the idle keep-alive connection");
}

#[test]
fn slow_requests_get_408() {
    let config = ServerConfig { header_timeout: Duration::from_millis(50), ..ServerConfig::default() };
    let server = start(demo_router(None), config);
    let mut client = Client::connect(&server);
    client.send(b"GET / HTTP/1.1\r\nHo");
    let resp = client.response();
    assert_eq!(resp.status, 408);
    assert!(client.closed());
}

#[test]
fn a_waiting_handler_does_not_block_other_connections() {
    // /wait parks until /release runs on another connection. A server that handled one
    // connection at a time would never answer /release, and the test would hang (and fail on
    // the client's safety timeout).
    let gate = Arc::new(Event::new());
    let (waiter, releaser) = (gate.clone(), gate);
    let router = Router::new()
        .get("/wait", move |_: Request| {
            let gate = waiter.clone();
            async move {
                gate.wait().await;
                Response::text("released")
            }
        })
        .get("/release", move |_: Request| {
            releaser.set();
            async { Response::text("ok") }
        });
    let server = start(router, ServerConfig::default());
    let mut a = Client::connect(&server);
    a.send(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut b = Client::connect(&server);
    assert_eq!(b.get("/release").text(), "ok");
    assert_eq!(a.response().text(), "released");
}

#[test]
fn a_panicking_handler_costs_one_500() {
    let router = Router::new()
        .get("/panic", |_: Request| async { panic!("handler bug (expected by this test)") })
        .get("/", |_: Request| async { Response::text("fine") });
    let server = start(router, ServerConfig::default());
    let mut client = Client::connect(&server);
    let resp = client.get("/panic");
    assert_eq!(resp.status, 500);
    assert!(client.closed());
    assert_eq!(Client::connect(&server).get("/").text(), "fine");
}

#[test]
fn several_workers_share_the_port() {
    let config = ServerConfig { workers: 3, ..ServerConfig::default() };
    let server = start(demo_router(None), config);
    let mut clients: Vec<Client> = (0..12).map(|_| Client::connect(&server)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(format!("GET /users/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert!(client.response().text().contains(&format!(r#""id":"{i}""#)));
    }
    server.stop().unwrap();
}

#[test]
fn static_files_over_the_wire() {
    let tmp = stage1_blocking::workshop::testkit::TempDir::new("stage6-server-static").unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.join("www/big.bin"), &big).unwrap();
    std::fs::write(dir.join("www/index.html"), "<p>hi</p>").unwrap();
    std::fs::write(dir.join("secret.txt"), "no").unwrap();
    let root = StaticRoot::new(dir.join("www")).unwrap();
    let server = start(demo_router(Some(root)), ServerConfig::default());
    let mut client = Client::connect(&server);
    let resp = client.get("/static/big.bin");
    assert_eq!(resp.header("content-length"), Some("300000"));
    assert!(resp.body == big, "large file bytes differ");
    let resp = client.get("/static/");
    assert_eq!(
        (resp.header("content-type"), resp.text().as_str()),
        (Some("text/html; charset=utf-8"), "<p>hi</p>")
    );
    assert_eq!(client.get("/static/..%2fsecret.txt").status, 400);
    assert_eq!(client.get("/static/%2e%2e/secret.txt").status, 403);
}

#[test]
fn client_closing_mid_request_is_not_an_error() {
    let server = demo();
    let mut client = Client::connect(&server);
    client.send(b"GET / HTTP/1.1\r\nHost");
    client.stream.shutdown(Shutdown::Write).unwrap();
    assert!(client.closed());
    assert_eq!(Client::connect(&server).get("/").status, 200);
}

#[test]
fn a_stalled_body_gets_408() {
    // The head is complete, so the header deadline is over; the body then stops moving.
    let config = ServerConfig { body_timeout: Duration::from_millis(50), ..ServerConfig::default() };
    let server = start(demo_router(None), config);
    let mut client = Client::connect(&server);
    client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    let resp = client.response();
    assert_eq!(resp.status, 408);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(client.closed());
}

/// A router whose `/big` streams 64 MiB: more than the kernel buffers of a loopback
/// connection hold, so a client that does not read makes the server's writes stall.
fn big_stream_router() -> Router {
    Router::new()
        .get("/big", |_: Request| async {
            let pieces = (0..1024).map(|_| Ok(vec![b'x'; 64 * 1024]));
            Response::new(200).stream(Box::new(pieces))
        })
        .get("/hello", |_: Request| async { Response::text("hello") })
}

/// Connects until the server answers `/hello` with 200 instead of 503: the way to learn,
/// without sleeping, that it has closed one of its connections and has room again.
fn get_when_there_is_room(server: &ServerHandle) -> Resp {
    for _ in 0..100_000 {
        let mut client = Client::connect(server);
        let resp = client.get("/hello");
        if resp.status != 503 {
            return resp;
        }
    }
    panic!("the server never had room again");
}

#[test]
fn past_max_connections_a_client_gets_503_then_room_again() {
    let config = ServerConfig { max_connections: 1, ..ServerConfig::default() };
    let server = start(big_stream_router(), config);
    let mut first = Client::connect(&server);
    assert_eq!(first.get("/hello").text(), "hello"); // accepted and counted
    let mut second = Client::connect(&server);
    let resp = second.get("/hello");
    assert_eq!((resp.status, resp.header("retry-after")), (503, Some("1")));
    assert!(second.closed(), "turned away politely: answer, then EOF");
    drop(first);
    assert_eq!(get_when_there_is_room(&server).text(), "hello");
    let stats = server.stop().unwrap();
    assert!(stats.turned_away >= 1, "{stats:?}");
}

#[test]
fn a_client_that_never_reads_is_dropped_after_the_write_timeout() {
    // One connection allowed: the moment the server gives up on the reader is the moment a
    // new client gets 200 instead of 503.
    let config = ServerConfig {
        max_connections: 1,
        write_timeout: Duration::from_millis(50),
        ..ServerConfig::default()
    };
    let server = start(big_stream_router(), config);
    let mut reader = Client::connect(&server);
    reader.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(get_when_there_is_room(&server).text(), "hello");
    // What the stalled client can still read is a truncated body: no final 0-size chunk.
    while reader.more() {}
    assert!(reader.buf.len() < 64 * 1024 * 1024, "the whole body was sent");
    assert!(!reader.buf.ends_with(b"\r\n0\r\n\r\n"), "the body was finished");
}

/// A router whose `/wait` tells the test it has started, then waits for `gate`.
fn waiting_router(gate: Arc<Event>, started: std::sync::mpsc::Sender<()>) -> Router {
    let started = std::sync::Mutex::new(started);
    Router::new()
        .get("/wait", move |_: Request| {
            let _ = started.lock().unwrap().send(());
            let gate = gate.clone();
            async move {
                gate.wait().await;
                Response::text("finished")
            }
        })
        .get("/hello", |_: Request| async { Response::text("hello") })
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let gate = Arc::new(Event::new());
    let (started_tx, started) = std::sync::mpsc::channel();
    let server = start(waiting_router(gate.clone(), started_tx), ServerConfig::default());
    let mut idle = Client::connect(&server);
    assert_eq!(idle.get("/hello").text(), "hello");
    let mut busy = Client::connect(&server);
    busy.send(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    started.recv().unwrap(); // the request is in its handler: in flight

    server.stop_accepting();
    let refused = TcpStream::connect(server.addr()).expect_err("listener still open");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    gate.set();
    let resp = busy.response();
    assert_eq!(resp.text(), "finished", "the in-flight request was answered");
    assert_eq!(resp.header("connection"), Some("close"), "and told it was the last");
    assert!(busy.closed());
    drop(busy); // our EOF ends the server's polite linger after its last answer
    assert!(idle.closed(), "idle keep-alive connections are closed");
    let stats = server.stop().unwrap();
    assert_eq!((stats.requests, stats.connections, stats.abandoned), (2, 2, 0));
}

#[test]
fn shutdown_gives_up_on_a_request_that_outlives_the_deadline() {
    let gate = Arc::new(Event::new()); // never set
    let (started_tx, started) = std::sync::mpsc::channel();
    let config = ServerConfig { shutdown_timeout: Duration::from_millis(50), ..ServerConfig::default() };
    let server = start(waiting_router(gate, started_tx), config);
    let mut busy = Client::connect(&server);
    busy.send(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n");
    started.recv().unwrap();
    let stats = server.stop().unwrap();
    assert_eq!(stats.abandoned, 1);
    assert!(busy.closed(), "cut off without an answer");
}

/// A body whose producer fails at once, and whose `Drop` then panics: the panic happens in
/// the connection's own code (when it drops the body), outside any handler, where no 500 can
/// catch it. The executor catches it and drops the task.
struct PanicOnDrop;

impl Iterator for PanicOnDrop {
    type Item = std::io::Result<Vec<u8>>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(Err(std::io::Error::other("the producer failed")))
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("a body's Drop panicked (expected by this test)");
    }
}

#[test]
fn a_connection_task_that_panics_gives_its_place_back() {
    let router = Router::new()
        .get("/boom", |_: Request| async { Response::new(200).stream(Box::new(PanicOnDrop)) })
        .get("/hello", |_: Request| async { Response::text("hello") });
    let config = ServerConfig { max_connections: 1, ..ServerConfig::default() };
    let server = start(router, config);
    let mut client = Client::connect(&server);
    client.send(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n");
    while client.more() {} // the head, maybe, then the task dies and the socket closes
    // Had the dead task kept its place, with one allowed this would be 503 forever.
    assert_eq!(get_when_there_is_room(&server).text(), "hello");
    let stats = server.stop().unwrap();
    assert_eq!(stats.abandoned, 0, "an in-flight mark leaked");
}
