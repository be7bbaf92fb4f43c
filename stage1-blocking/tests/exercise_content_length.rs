//! Exercise 1.3 (the book's stage 1 exercises): `http::read_response_bytes` stops reading as
//! soon as it has the head and `Content-Length` bytes of body, and `get` uses it, so a server
//! that keeps the connection open no longer holds the client forever. Judged with
//! `scripts/exercise.sh check 1.3` (only compiled with the `exercises` feature).
#![cfg(feature = "exercises")]

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use stage1_blocking::http::{self, read_response_bytes};
use stage1_blocking::workshop::testkit;

const NEVER_EOF: &str = "read past the end of the body: get() waits for an EOF that never comes \
                         (stop after Content-Length bytes of body)";

/// Hands out `bytes` a few at a time, then fails instead of ever saying EOF: a connection
/// that stays open, where one more `read` would block forever.
struct KeepAlive {
    bytes: Vec<u8>,
    at: usize,
}

impl Read for KeepAlive {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.bytes.len() {
            return Err(io::Error::other(NEVER_EOF));
        }
        let n = buf.len().min(7).min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn stops_after_content_length_bytes_of_body() {
    let response = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nabc\r\n".to_vec();
    let mut reader = KeepAlive { bytes: response.clone(), at: 0 };
    let got = read_response_bytes(&mut reader).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(got, response);
    let parsed = http::parse_response(&got).unwrap();
    assert_eq!(parsed.body, b"abc\r\n");
}

#[test]
fn an_empty_body_needs_no_read_after_the_head() {
    let response = b"HTTP/1.0 204 No Content\r\ncontent-length: 0\r\n\r\n".to_vec();
    let mut reader = KeepAlive { bytes: response.clone(), at: 0 };
    assert_eq!(read_response_bytes(&mut reader).unwrap_or_else(|err| panic!("{err}")), response);
}

#[test]
fn without_content_length_it_reads_to_eof() {
    let response = b"HTTP/1.0 200 OK\r\n\r\nuntil the end".to_vec();
    let got = read_response_bytes(&mut &response[..]).unwrap();
    assert_eq!(got, response);
}

#[test]
fn get_returns_while_the_server_keeps_the_connection_open() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (test_over, wait_for_the_end) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = [0u8; 1024];
        let _ = stream.read(&mut head); // the request; its content does not matter here
        stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        // Keep the connection open until the test is over.
        let _ = wait_for_the_end.recv();
    });
    let (answer, got) = mpsc::channel();
    thread::spawn(move || {
        let _ = answer.send(http::get(addr, "/").map_err(|e| format!("{e:#}")));
    });
    let response = got
        .recv_timeout(testkit::SAFETY_TIMEOUT)
        .unwrap_or_else(|_| panic!("no response after {:?}: {NEVER_EOF}", testkit::SAFETY_TIMEOUT))
        .unwrap();
    assert_eq!(response.body, b"hello");
    drop(test_over);
    server.join().unwrap();
}
