//! The per-connection memory exam every event-loop echo server of stages 2, 3 and 4 takes
//! (their `tests/echo.rs` include this file): idle connections must not keep a read buffer.

use std::net::SocketAddr;

use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::echo::EchoStats;

/// How many idle connections the exam opens.
const CONNECTIONS: usize = 100;

/// Each connection sends one byte, gets it back, and stays open doing nothing: on the open
/// internet, the usual state of most connections. What it costs the server (its own count of
/// buffer bytes held, in `stats`) must not be the size of a read: the first versions kept
/// 17 to 64 KiB per connection until it closed.
pub fn idle_connections_hold_no_buffer_memory(addr: SocketAddr, stats: &EchoStats) {
    // 100 connections, both ends in this process: more descriptors than a Mac's default 256
    // soft limit leaves once the other tests run alongside (CI's poll pass runs under 256).
    let _ = stage2_select_callbacks::sys::raise_nofile_limit();
    let _clients = testkit::idle_echo_clients(addr, CONNECTIONS).unwrap();
    let held = stats.buffer_bytes();
    assert!(
        held < 4096 * CONNECTIONS,
        "{CONNECTIONS} idle connections hold {held} bytes of buffers ({} each): a connection keeps \
         its read buffer after everything was echoed",
        held / CONNECTIONS
    );
}
