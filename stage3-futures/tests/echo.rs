//! The future-based echo server takes the course's echo exam (stage 1's `testkit::check_echo`):
//! exact bytes back to many simultaneous clients, a slow reader included, and a write buffer
//! that never grows past its limit.

use std::net::SocketAddr;
use std::sync::Arc;

#[path = "../../stage2-select-callbacks/tests/support/idle_memory.rs"]
mod idle_memory;

use stage1_blocking::workshop::testkit::{self, EchoLoad};
use stage2_select_callbacks::selector::{Backend, Selector};
use stage3_futures::echo::{BUFFER_LIMIT, EchoServer, EchoStats};

/// Starts a server on a background thread (it lives as long as the test process).
fn start_server(backend: Backend) -> (SocketAddr, Arc<EchoStats>) {
    let server = EchoServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let stats = server.stats();
    (server.spawn(Selector::with_backend(backend).unwrap()).unwrap(), stats)
}

#[test]
fn many_clients_get_their_exact_bytes_back_even_with_a_slow_reader() {
    for backend in Backend::available() {
        let (addr, stats) = start_server(backend);
        // The slow reader sends 1 MiB but reads nothing until every other client is done: the
        // server must go on serving them while this connection is stuck on back-pressure.
        let load = EchoLoad { clients: 20, bytes: 256 * 1024, slow_reader: true, small_buffers: false };
        testkit::check_echo(addr, &load).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
        assert!(
            stats.max_buffered() <= BUFFER_LIMIT,
            "{backend:?}: a connection buffered {} bytes, over BUFFER_LIMIT = {BUFFER_LIMIT}: the server \
             kept reading from a client that does not read its echo (no back-pressure)",
            stats.max_buffered()
        );
        stats.check(load.clients as u64 + 1, BUFFER_LIMIT).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
    }
}

#[test]
fn a_client_that_reads_nothing_is_held_at_the_buffer_limit() {
    // Small kernel buffers on both sides (stage 1's test kit), so the slow reader's 1 MiB
    // cannot hide in the kernel: the server itself must stop reading at BUFFER_LIMIT.
    let server = EchoServer::from_listener(testkit::small_buffer_listener().unwrap()).unwrap();
    let stats = server.stats();
    let addr = server.spawn(Selector::with_backend(Backend::Poll).unwrap()).unwrap();
    let load = EchoLoad { clients: 2, bytes: 64 * 1024, slow_reader: true, small_buffers: true };
    testkit::check_echo(addr, &load).unwrap();
    assert!(
        stats.max_buffered() <= BUFFER_LIMIT,
        "a connection buffered {} bytes, over BUFFER_LIMIT = {BUFFER_LIMIT}: the server kept \
         reading from a client that does not read its echo (no back-pressure)",
        stats.max_buffered()
    );
}

#[test]
fn an_empty_connection_is_closed_cleanly() {
    let (addr, _) = start_server(Backend::Poll);
    assert!(testkit::echo_round_trip(addr, Vec::new(), 64).unwrap().is_empty());
}

#[test]
fn the_stats_check_fails_when_the_counts_are_wrong() {
    let stats = EchoStats::default();
    for _ in 0..3 {
        stats.count_accepted();
    }
    stats.note_buffered(BUFFER_LIMIT + 1);
    assert!(stats.check(3, BUFFER_LIMIT).is_err(), "over the limit");
    assert!(stats.check(3, BUFFER_LIMIT + 1).is_ok());
    assert!(stats.check(4, BUFFER_LIMIT + 1).is_err(), "a client missing");
}

#[test]
fn idle_connections_hold_no_buffer_memory() {
    let (addr, stats) = start_server(Backend::Poll);
    idle_memory::idle_connections_hold_no_buffer_memory(addr, &stats);
}
