//! The demo server over real loopback sockets: pages, errors, trickle mode, many clients at
//! once, clients that misbehave, and a clean stop.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use stage1_blocking::http::{self, parse_response};
use stage1_blocking::workshop::demo::{DemoConfig, DemoServer, expected_body};
use stage1_blocking::workshop::server_http;
use stage1_blocking::workshop::testkit::{self, connect, raw_exchange, read_all};

fn instant() -> DemoServer {
    DemoServer::start(DemoConfig::instant()).expect("start demo server")
}

fn full_response(status: u16, reason: &str, body: &[u8]) -> Vec<u8> {
    let content_type = if status == 200 { "text/html; charset=utf-8" } else { "text/plain" };
    server_http::response_bytes(status, reason, content_type, body)
}

#[test]
fn default_config_is_100ms_whole_responses() {
    let c = DemoConfig::default();
    assert_eq!((c.delay, c.trickle), (Duration::from_millis(100), false));
}

#[test]
fn expected_body_knows_the_index_and_numbered_pages() {
    let index = String::from_utf8(expected_body("/").unwrap()).unwrap();
    assert!(index.contains("href=\"/1\"") && index.contains("href=\"/10\""), "{index}");
    let three = String::from_utf8(expected_body("/3").unwrap()).unwrap();
    assert!(three.contains("page 3") && three.contains("href=\"/4\""), "{three}");
    assert_ne!(expected_body("/3"), expected_body("/4"));
    assert!(expected_body("/0").is_some());
    assert!(expected_body("/4294967295").is_some());
    for unknown in ["", "/abc", "/01", "/+1", "/-1", "/1/2", "/3?x=1", "/ 3", "/4294967296", "3"] {
        assert_eq!(expected_body(unknown), None, "{unknown:?}");
    }
}

#[test]
fn serves_pages_with_exact_bytes() {
    let server = instant();
    assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
    assert_ne!(server.addr().port(), 0);
    for path in ["/", "/1", "/2", "/10", "/12345"] {
        let r = http::get(server.addr(), path).unwrap();
        assert_eq!((r.status, r.reason.as_str()), (200, "OK"), "{path}");
        assert_eq!(r.header("connection"), Some("close"));
        assert_eq!(Some(r.body), expected_body(path), "{path}");
    }
    // Byte for byte, head included.
    let raw = raw_exchange(server.addr(), &http::request_bytes("x", "/5")).unwrap();
    assert_eq!(raw, full_response(200, "OK", &expected_body("/5").unwrap()));
}

#[test]
fn unknown_paths_get_404() {
    let server = instant();
    for path in ["/nope", "/01", "/1/2", "/favicon.ico"] {
        let r = http::get(server.addr(), path).unwrap();
        assert_eq!((r.status, r.reason.as_str()), (404, "Not Found"), "{path}");
        assert_eq!(r.body, format!("no page at {path}\n").into_bytes());
    }
}

#[test]
fn garbage_gets_400_and_the_server_keeps_serving() {
    let server = instant();
    let garbage: [&[u8]; 5] = [
        b"garbage\r\n\r\n",
        b"\x00\x01\x02\xff\xfe\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /1 HTTP/1.0\r\nno colon\r\n\r\n",
        b"GET /1 HTTP/1.0\r\n", // the client gives up before the blank line
    ];
    for request in garbage {
        let r = parse_response(&raw_exchange(server.addr(), request).unwrap()).unwrap();
        assert_eq!((r.status, r.reason.as_str()), (400, "Bad Request"), "{request:?}");
        assert!(r.body.starts_with(b"bad request: "), "{:?}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(http::get(server.addr(), "/1").unwrap().status, 200);
}

#[test]
fn an_endless_head_gets_431_and_a_post_gets_405() {
    let server = instant();
    let endless = vec![b'x'; 20 * 1024];
    let r = parse_response(&raw_exchange(server.addr(), &endless).unwrap()).unwrap();
    assert_eq!(r.status, 431);
    let r = parse_response(&raw_exchange(server.addr(), b"POST /1 HTTP/1.0\r\n\r\n").unwrap()).unwrap();
    assert_eq!(r.status, 405);
}

#[test]
fn a_request_typed_into_nc_with_bare_newlines_is_answered() {
    let server = instant();
    let r = parse_response(&raw_exchange(server.addr(), b"GET /2 HTTP/1.0\n\n").unwrap()).unwrap();
    assert_eq!(Some(r.body), expected_body("/2"));
}

#[test]
fn a_client_that_connects_and_leaves_is_harmless() {
    let server = instant();
    drop(connect(server.addr()).unwrap()); // no bytes at all
    let mut half = connect(server.addr()).unwrap();
    half.write_all(b"GET /1 HTTP/1.0\r\n\r\n").unwrap();
    drop(half); // gone before the answer
    assert_eq!(http::get(server.addr(), "/1").unwrap().status, 200);
}

#[test]
fn trickle_mode_delivers_exactly_the_same_bytes() {
    let server = DemoServer::start(DemoConfig { delay: Duration::ZERO, trickle: true }).unwrap();
    for path in ["/", "/7", "/missing"] {
        let raw = raw_exchange(server.addr(), &http::request_bytes("x", path)).unwrap();
        let expected = match expected_body(path) {
            Some(body) => full_response(200, "OK", &body),
            None => full_response(404, "Not Found", format!("no page at {path}\n").as_bytes()),
        };
        assert_eq!(raw, expected, "{path}");
    }
    let page = http::get(server.addr(), "/8").unwrap_or_else(|err| {
        panic!("get over a trickling server: {err:#} (one read is not a whole response: read until EOF)")
    });
    assert_eq!(Some(page.body), expected_body("/8"));
}

#[test]
fn a_client_leaving_in_the_middle_of_a_trickled_response_is_harmless() {
    let server = DemoServer::start(DemoConfig { delay: Duration::ZERO, trickle: true }).unwrap();
    let mut stream = connect(server.addr()).unwrap();
    stream.write_all(&http::request_bytes("x", "/")).unwrap();
    let mut first = [0u8; 4];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP");
    drop(stream); // the server's next writes hit a closed socket
    assert_eq!(Some(http::get(server.addr(), "/1").unwrap().body), expected_body("/1"));
}

#[test]
fn fifty_concurrent_clients_all_get_their_own_page() {
    let server = instant();
    let addr = server.addr();
    let clients: Vec<_> =
        (1..=50).map(|n| std::thread::spawn(move || (n, http::get(addr, &format!("/{n}"))))).collect();
    for client in clients {
        let (n, result) = client.join().unwrap();
        let r = result.unwrap();
        assert_eq!(Some(r.body), expected_body(&format!("/{n}")), "/{n}");
    }
    assert_eq!(server.requests_served(), 50);
}

#[test]
fn two_hundred_open_connections_from_one_thread() {
    // Connect them all first, then send, then read: the server must hold 200 connections
    // at once (a thread each) without refusing or mixing them up.
    // 400 descriptors (both ends are in this process) and the other tests' sockets: more than
    // macOS's default soft limit of 256, which stage 1 (no unsafe code) cannot raise.
    const NEEDED: u64 = 600;
    if let Some(limit) = testkit::soft_fd_limit().filter(|&limit| limit < NEEDED) {
        let why = format!("needs {NEEDED} open descriptors, the limit is {limit} (`ulimit -n 1024` first)");
        return testkit::skip("two_hundred_open_connections_from_one_thread", &why);
    }
    let server = instant();
    let mut streams: Vec<TcpStream> = (0..200).map(|_| connect(server.addr()).unwrap()).collect();
    for (n, s) in streams.iter_mut().enumerate() {
        s.write_all(&http::request_bytes("x", &format!("/{n}"))).unwrap();
    }
    for (n, s) in streams.iter_mut().enumerate() {
        let r = parse_response(&read_all(s).unwrap()).unwrap();
        assert_eq!(Some(r.body), expected_body(&format!("/{n}")), "/{n}");
    }
}

#[test]
fn a_slow_client_does_not_hold_up_the_others() {
    // A has sent half a request; its thread waits for the rest. Meanwhile B is served in
    // full: connections really are independent. (A one-at-a-time server would never answer
    // B, and the safety timeout would fail the test.)
    let server = instant();
    let mut a = connect(server.addr()).unwrap();
    a.write_all(b"GET /1 HT").unwrap();
    let b = http::get(server.addr(), "/2").unwrap();
    assert_eq!(Some(b.body), expected_body("/2"));
    a.write_all(b"TP/1.0\r\n\r\n").unwrap();
    let a = parse_response(&read_all(&mut a).unwrap()).unwrap();
    assert_eq!(Some(a.body), expected_body("/1"));
}

#[test]
fn dropping_the_server_stops_it_even_with_connections_in_progress() {
    // One hour of delay: if Drop waited for a sleeping request instead of waking it, this
    // test would hang rather than pass.
    let server = DemoServer::start(DemoConfig { delay: Duration::from_secs(3600), trickle: false }).unwrap();
    let addr = server.addr();
    let mut idle = connect(addr).unwrap();
    idle.write_all(b"GET /1 HTTP").unwrap(); // a head that never ends
    let mut waiting = connect(addr).unwrap();
    waiting.write_all(&http::request_bytes("x", "/1")).unwrap(); // sleeps in the delay
    drop(server);
    // Both connections were closed without a response.
    for mut stream in [idle, waiting] {
        match read_all(&mut stream) {
            Ok(bytes) => assert!(bytes.is_empty(), "{bytes:?}"),
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        }
        let _ = stream.shutdown(Shutdown::Both);
    }
    // And the port no longer accepts connections.
    assert_eq!(TcpStream::connect(addr).unwrap_err().kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn servers_on_fixed_ports_report_addr_in_use() {
    let first = instant();
    let second = DemoServer::bind(first.addr(), DemoConfig::instant());
    assert_eq!(second.err().map(|e| e.kind()), Some(ErrorKind::AddrInUse));
}
