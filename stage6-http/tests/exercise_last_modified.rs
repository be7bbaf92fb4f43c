//! Exercise 6.6 (scripts/exercise.sh check 6.6): static files carry `Last-Modified` (the
//! file's modification time, in whole seconds, as an IMF-fixdate), and a GET or HEAD with an
//! `If-Modified-Since` at or after it is answered `304 Not Modified`, headers only. A date
//! before it, or one that does not parse, gets the file.
#![cfg(feature = "exercises")]

use stage1_blocking::workshop::testkit::{SAFETY_TIMEOUT, TempDir};
use stage6_http::app::demo_router;
use stage6_http::static_files::StaticRoot;
use stage6_http::{Server, ServerConfig, ServerHandle};
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2023-11-14 22:13:20 UTC, and half a second: the header has whole seconds only.
const MTIME: u64 = 1_700_000_000;
const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

fn set_mtime(path: &std::path::Path, at: SystemTime) {
    File::options().write(true).open(path).unwrap().set_modified(at).unwrap();
}

fn start(dir: &TempDir) -> ServerHandle {
    let root = StaticRoot::new(dir.path()).unwrap();
    Server::bind("127.0.0.1:0".parse().unwrap(), demo_router(Some(root)), ServerConfig::default())
        .expect("bind 127.0.0.1:0")
        .spawn()
        .expect("start workers")
}

/// Sends one request (the server closes after it) and returns (head, body).
fn ask(server: &ServerHandle, method: &str, extra_header: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
    let request =
        format!("{method} /static/page.txt HTTP/1.1\r\nHost: t\r\n{extra_header}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("an answer, then the close (safety timeout)");
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole head") + 4;
    (String::from_utf8_lossy(&answer[..end]).into_owned(), answer[end..].to_vec())
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn fixture() -> (TempDir, ServerHandle) {
    let dir = TempDir::new("exercise-last-modified").unwrap();
    let file = dir.path().join("page.txt");
    std::fs::write(&file, "hello, cache\n").unwrap();
    set_mtime(&file, UNIX_EPOCH + Duration::from_millis(MTIME * 1000 + 500));
    let server = start(&dir);
    (dir, server)
}

#[test]
fn files_carry_last_modified() {
    let (_dir, server) = fixture();
    let (head, body) = ask(&server, "GET", "");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "Last-Modified"), Some(LAST_MODIFIED), "{head}");
    assert_eq!(body, b"hello, cache\n");
    let (head, body) = ask(&server, "HEAD", "");
    assert_eq!(header(&head, "Last-Modified"), Some(LAST_MODIFIED), "HEAD too: {head}");
    assert!(body.is_empty());
}

#[test]
fn if_modified_since_at_or_after_the_file_is_304_without_a_body() {
    let (_dir, server) = fixture();
    for since in [LAST_MODIFIED, "Wed, 15 Nov 2023 08:00:00 GMT"] {
        for method in ["GET", "HEAD"] {
            let (head, body) = ask(&server, method, &format!("If-Modified-Since: {since}\r\n"));
            assert!(head.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{method} since {since}: {head}");
            assert!(body.is_empty(), "{method} since {since}: a 304 has no body, got {body:?}");
        }
    }
}

#[test]
fn an_older_or_unreadable_date_gets_the_file() {
    let (_dir, server) = fixture();
    for since in ["Tue, 14 Nov 2023 22:13:19 GMT", "yesterday", "Tue, 14 Nov 2023 22:13:20", ""] {
        let (head, body) = ask(&server, "GET", &format!("If-Modified-Since: {since}\r\n"));
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "since {since:?}: {head}");
        assert_eq!(body, b"hello, cache\n", "since {since:?}");
    }
}

#[test]
fn a_file_changed_after_the_date_is_sent_again() {
    let (dir, server) = fixture();
    set_mtime(&dir.path().join("page.txt"), UNIX_EPOCH + Duration::from_secs(MTIME + 1));
    let (head, body) = ask(&server, "GET", &format!("If-Modified-Since: {LAST_MODIFIED}\r\n"));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "Last-Modified"), Some("Tue, 14 Nov 2023 22:13:21 GMT"));
    assert_eq!(body, b"hello, cache\n");
}
