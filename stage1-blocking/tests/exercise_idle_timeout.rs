//! Exercise 1.6 (the book's stage 1 exercises): `echo::IDLE_TIMEOUT`, a read timeout in
//! `handle_client`, so a client that connects and says nothing cannot hold the one-at-a-time
//! server forever. Judged with `scripts/exercise.sh check 1.6` (only compiled with the
//! `exercises` feature).
#![cfg(feature = "exercises")]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::thread;
use std::time::Duration;

use stage1_blocking::echo::{self, IDLE_TIMEOUT};
use stage1_blocking::workshop::testkit;

#[test]
fn an_idle_client_is_dropped_and_the_next_one_is_served() {
    assert!(
        IDLE_TIMEOUT >= Duration::from_millis(100) && IDLE_TIMEOUT <= Duration::from_secs(5),
        "IDLE_TIMEOUT is {IDLE_TIMEOUT:?}: pick something a person typing can live with, and a test \
         can wait for (100 ms to 5 s)"
    );
    stage1_blocking::workshop::set_log(false);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || echo::serve_one_at_a_time(listener.incoming().take(2)));

    // The first client connects and says nothing.
    let mut idle = testkit::connect(addr).unwrap();
    // The second waits in the accept queue until the server is done with the first.
    let mut next = testkit::connect(addr).unwrap();
    next.write_all(b"hello").unwrap();
    next.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    next.read_to_end(&mut back).unwrap_or_else(|err| {
        panic!(
            "no echo for the second client ({err}): the one-at-a-time server is still held by \
             the idle client (handle_client has no read timeout?)"
        )
    });
    assert_eq!(back, b"hello");
    // The idle client was hung up on: its read ends (EOF, or a reset) instead of waiting.
    let mut buf = [0u8; 16];
    match idle.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("the idle client got {n} bytes it never sent"),
    }
    server.join().unwrap();
}
