//! The out-of-descriptors exam every event-loop echo server of stages 2, 3 and 4 takes (their
//! `tests/echo_fd_backoff.rs` include this file): with *no* connection of its own to wait for,
//! a server that cannot accept must back off (a few attempts, each after its back-off timer),
//! say so once, and serve every waiting client once descriptors are available again.
//!
//! It lowers the process-wide open-file limit, so each test binary that uses it holds this one
//! test only. No timing thresholds: the server's own counters prove the back-off (failed
//! attempts are bounded by its timer firings), and every wait has a guard whose message names
//! the likely cause.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use stage2_select_callbacks::echo::EchoStats;
use stage2_select_callbacks::sys;

/// Clients that connect while the server cannot accept any of them.
const CLIENTS: usize = 10;
/// Failed accepts to see before descriptors come back: one plus a few timer retries.
const ATTEMPTS: u64 = 3;
/// Long enough for any healthy server on a loaded machine; only a broken one gets near it.
const GUARD: Duration = Duration::from_secs(20);

/// Runs the exam against a server on `addr` that counts in `stats` and holds no connection.
pub fn accepting_backs_off_with_no_connection_to_wait_for(addr: SocketAddr, stats: &EchoStats) {
    // Every client socket exists before the limit is lowered (connect needs no new fd).
    let sockets: Vec<Socket> =
        (0..CLIENTS).map(|_| Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap()).collect();
    // The lowest free fd number (a dup takes it) will be the limit: every number below it is in
    // use, and stays so, since whatever opens from now on gets this number or a higher one.
    let lowest_free = sockets[0].try_clone().unwrap().as_raw_fd() as u64;
    // One round trip, so the server's loop (and its selector's fd) is surely up. Its sockets,
    // on both sides, are numbered from `lowest_free` up: closing them (the server's a moment
    // after we see EOF) frees no number below the limit.
    round_trip(TcpStream::connect(addr).unwrap(), "warm-up");
    assert!(stats.wait_until_for(GUARD, |s| s.closed() == 1), "the warm-up connection never closed");

    let (soft, _) = sys::nofile_limit().unwrap();
    assert_eq!(sys::set_nofile_soft_limit(lowest_free).unwrap(), lowest_free);
    let clients: Vec<TcpStream> = sockets
        .into_iter()
        .map(|s| {
            s.connect(&addr.into()).unwrap(); // the kernel queues them; the server cannot accept
            s.into()
        })
        .collect();

    // A server that backs off fails a few times, 50 ms or so apart; one that spins gets here
    // at once (and then keeps failing thousands of times more).
    let failed = stats.wait_until_for(GUARD, |s| s.accept_pauses() >= ATTEMPTS);
    sys::set_nofile_soft_limit(soft).unwrap(); // descriptors are back, before any assert
    assert!(
        failed,
        "accept failed {} time(s) in {GUARD:?} with {CLIENTS} clients queued: the server stopped \
         trying after its first EMFILE (is there no back-off timer, only a close to wake it?)",
        stats.accept_pauses()
    );

    for (i, client) in clients.into_iter().enumerate() {
        round_trip(client, &format!("client {i}"));
    }
    let all = 1 + CLIENTS as u64;
    assert!(
        stats.wait_until_for(GUARD, |s| s.closed() == all),
        "{} of {all} connections closed: the server lost some after descriptors came back",
        stats.closed()
    );

    let (pauses, retries, episodes) =
        (stats.accept_pauses(), stats.accept_retries(), stats.accept_episodes());
    assert_eq!(
        episodes, 1,
        "{episodes} out-of-descriptors episodes (log lines) for one: the server logs every failed accept"
    );
    // Nothing closed during the episode, so every attempt after the first was the timer's.
    assert!(
        pauses <= 1 + retries,
        "{pauses} failed accepts for {retries} back-off timer firings: the server retries without \
         waiting (it spins on a listener that stays readable)"
    );
    assert_eq!(stats.accepted(), all);
    assert_eq!(stats.open(), 0);
}

/// Sends a line, closes the sending side, and expects exactly the line back, then EOF.
fn round_trip(mut client: TcpStream, who: &str) {
    client.set_read_timeout(Some(GUARD)).unwrap();
    let message = format!("{who} says hello");
    client.write_all(message.as_bytes()).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut echoed = String::new();
    if let Err(e) = client.read_to_string(&mut echoed) {
        panic!(
            "{who}: no echo within {GUARD:?} ({e}): the server never accepted it (did it stop watching its listener for good?)"
        );
    }
    assert_eq!(echoed, message, "{who}: wrong echo");
}
