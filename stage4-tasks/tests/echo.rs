//! The task-based echo server takes the course's echo exam (stage 1's `testkit::check_echo`):
//! exact bytes back to many simultaneous clients, a slow reader included, and a buffer that
//! never grows past one chunk.

use std::net::SocketAddr;
use std::sync::Arc;

#[path = "../../stage2-select-callbacks/tests/support/idle_memory.rs"]
mod idle_memory;

use stage1_blocking::workshop::testkit::{self, EchoLoad};
use stage2_select_callbacks::selector::{Backend, Selector};
use stage3_futures::echo::EchoStats;
use stage4_tasks::echo::{CHUNK, EchoServer};

/// Starts a server on a thread of its own (it lives as long as the test process).
fn start_server(backend: Backend) -> (SocketAddr, Arc<EchoStats>) {
    let server = EchoServer::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let (addr, stats) = (server.local_addr().unwrap(), server.stats());
    let selector = Selector::with_backend(backend).unwrap();
    std::thread::spawn(move || server.run_with(selector));
    (addr, stats)
}

#[test]
fn many_clients_get_their_exact_bytes_back_even_with_a_slow_reader() {
    for backend in Backend::available() {
        let (addr, stats) = start_server(backend);
        // The slow reader sends 1 MiB but reads nothing until every other client is done: its
        // handler task stays parked on "writable" while the other tasks go on.
        let load = EchoLoad { clients: 20, bytes: 256 * 1024, slow_reader: true, small_buffers: false };
        testkit::check_echo(addr, &load).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
        stats.check(load.clients as u64 + 1, CHUNK).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
    }
}

#[test]
fn an_empty_connection_is_closed_cleanly() {
    let (addr, _) = start_server(Backend::Poll);
    assert!(testkit::echo_round_trip(addr, Vec::new(), 64).unwrap().is_empty());
}

#[test]
fn idle_connections_hold_no_buffer_memory() {
    let (addr, stats) = start_server(Backend::Poll);
    idle_memory::idle_connections_hold_no_buffer_memory(addr, &stats);
}
