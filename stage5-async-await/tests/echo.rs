//! Both stage 5 echo servers (tasks: `echo::serve`, callbacks: `EchoProtocol`) take the
//! course's echo exam (stage 1's `testkit::check_echo`) on every selector backend: exact bytes
//! back to many simultaneous clients, a slow reader included, with a bounded buffer.

mod guard;

use std::net::SocketAddr;
use std::sync::Arc;

use stage1_blocking::workshop::testkit::{self, EchoLoad};
use stage2_select_callbacks::echo::EchoStats;
use stage2_select_callbacks::selector::Backend;
use stage5_async_await::echo::{self, CHUNK, EchoProtocol};
use stage5_async_await::net::TcpListener;
use stage5_async_await::{Runtime, protocol};

#[derive(Clone, Copy, Debug)]
enum Server {
    Tasks,
    Protocol,
}

/// Starts a server on a thread of its own (it lives as long as the test process).
fn start(server: Server, backend: Backend) -> (SocketAddr, Arc<EchoStats>) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let stats = Arc::new(EchoStats::default());
    let server_stats = stats.clone();
    std::thread::spawn(move || {
        let runtime = Runtime::with_backend(backend).unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            match server {
                Server::Tasks => echo::serve(listener, server_stats).await,
                Server::Protocol => {
                    protocol::serve(listener, || EchoProtocol::new(server_stats.clone())).await
                }
            }
        })
    });
    (addr, stats)
}

#[test]
fn many_clients_get_their_exact_bytes_back_even_with_a_slow_reader() {
    let _guard = guard::watchdog();
    for server in [Server::Tasks, Server::Protocol] {
        for backend in Backend::available() {
            let (addr, stats) = start(server, backend);
            // The slow reader sends 1 MiB and reads nothing until every other client is done;
            // small kernel buffers make the server's own waiting (and buffering) show.
            let load = EchoLoad { clients: 16, bytes: 256 * 1024, slow_reader: true, small_buffers: true };
            let what = format!("{server:?} on {backend:?}");
            testkit::check_echo(addr, &load).unwrap_or_else(|e| panic!("{what}: {e:#}"));
            stats.wait_until(|s| s.closed() == load.clients as u64 + 1);
            // The tasks hold one chunk at most; the protocol's transport stops reading at its
            // high-water mark, so it holds at most that plus the chunk that crossed it.
            let limit = match server {
                Server::Tasks => CHUNK,
                Server::Protocol => protocol::HIGH_WATER + protocol::READ_CHUNK,
            };
            stats.check(load.clients as u64 + 1, limit).unwrap_or_else(|e| panic!("{what}: {e:#}"));
        }
    }
}

#[test]
fn an_empty_connection_is_closed_cleanly() {
    let _guard = guard::watchdog();
    for server in [Server::Tasks, Server::Protocol] {
        let (addr, stats) = start(server, Backend::Poll);
        assert!(testkit::echo_round_trip(addr, Vec::new(), 64).unwrap().is_empty(), "{server:?}");
        stats.wait_until(|s| s.closed() == 1);
    }
}
