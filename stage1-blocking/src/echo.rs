//! Blocking echo servers: every byte a client sends comes back to it.
//!
//! Two ways to serve many clients with blocking sockets:
//!
//! * [`serve_one_at_a_time`]: the accept loop calls [`handle_client`] itself, so while one
//!   client is connected the next one waits in the kernel's accept queue. Its bytes are
//!   accepted by the kernel, but nobody reads them until the first client leaves.
//! * [`serve_thread_per_client`]: each accepted client gets its own thread, so they are served
//!   at the same time, at the price of one thread (stack, scheduling) per client.
//!
//! Both take the accepted connections as an iterator (`listener.incoming()`), so a test can
//! pass `listener.incoming().take(2)` and get a server that stops after two clients.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use crate::workshop::{lock, log};

// ANCHOR: handle_client
/// Echoes everything `stream` sends until it closes its side, then returns the byte count.
///
/// `read` blocks until the client sends something; `write_all` blocks until the kernel has
/// taken every byte (a single `write` may take only part of them when the client reads
/// slowly and the socket buffer is full: the `selectors` docs' "Hope it won't block").
pub fn handle_client(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 16 * 1024];
    let mut echoed: u64 = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(echoed), // the client closed (or shut down) its sending side
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(&buf[..n])?;
        echoed += n as u64;
    }
}
// ANCHOR_END: handle_client

/// Serves one client and prints what happened; errors stay with that client.
fn serve_and_log(stream: TcpStream) {
    let peer = match stream.peer_addr() {
        Ok(peer) => peer.to_string(),
        Err(_) => "a client".to_string(), // it already went away
    };
    log(format_args!("{peer} connected")); // a line on stdout (see workshop::log)
    match handle_client(stream) {
        Ok(n) => log(format_args!("{peer} left after {n} bytes echoed")),
        // A reset or broken pipe is the client's doing; the server goes on.
        Err(e) => log(format_args!("{peer} dropped: {e}")),
    }
}

// ANCHOR: serve_one_at_a_time
/// Accepts a client, serves it until it leaves, then accepts the next: one at a time.
/// Returns when `connections` ends (never, for `listener.incoming()`).
pub fn serve_one_at_a_time(connections: impl IntoIterator<Item = io::Result<TcpStream>>) {
    for conn in connections {
        match conn {
            Ok(stream) => serve_and_log(stream),
            Err(e) => {
                eprintln!("accept failed: {e}");
                crate::net::accept_backoff(&e);
            }
        }
    }
}
// ANCHOR_END: serve_one_at_a_time

// ANCHOR: serve_thread_per_client
/// Accepts clients and gives each a thread of its own, so a slow or idle client no longer
/// holds up the others. Returns when `connections` ends and every client thread is done.
pub fn serve_thread_per_client(connections: impl IntoIterator<Item = io::Result<TcpStream>>) {
    serve_thread_per_client_counted(connections, &Arc::new(ClientThreads::default()));
}

/// [`serve_thread_per_client`], counting its client threads in `threads` (tests watch it).
///
/// Each thread is *detached*: nobody keeps its `JoinHandle`. A finished thread's stack and
/// handle are then given back the moment it ends, not when the accept loop next looks (and
/// the accept loop sleeps in `accept` until the next client, which may be never). What the
/// loop still needs, "are they all done?" at the end, a counter answers.
pub fn serve_thread_per_client_counted(
    connections: impl IntoIterator<Item = io::Result<TcpStream>>,
    threads: &Arc<ClientThreads>,
) {
    for conn in connections {
        let stream = match conn {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                crate::net::accept_backoff(&e);
                continue;
            }
        };
        let running = ClientThreads::start(threads); // counted until dropped, panic or not
        let spawned = thread::Builder::new().name("echo-client".into()).spawn(move || {
            let _running = running;
            serve_and_log(stream);
        });
        // Out of threads: this client is closed (the stream and the count were moved into the
        // failed closure and dropped with it), the server keeps accepting. Dropping the handle
        // of a started thread detaches it.
        if let Err(e) = spawned {
            eprintln!("cannot start a thread for a client: {e}");
        }
    }
    threads.wait_until(|live| live == 0);
}
// ANCHOR_END: serve_thread_per_client

// ANCHOR: client_threads
/// How many client threads are running: a number, not a list of handles, so a server that
/// has seen a million clients holds no more than one that has seen one.
#[derive(Debug, Default)]
pub struct ClientThreads {
    live: Mutex<usize>,
    changed: Condvar,
}

/// One running client thread; dropping it (when the thread ends, even by a panic) counts it out.
struct Running(Arc<ClientThreads>);

impl ClientThreads {
    fn start(threads: &Arc<ClientThreads>) -> Running {
        *lock(&threads.live) += 1;
        Running(Arc::clone(threads))
    }

    /// Client threads running now.
    pub fn live(&self) -> usize {
        *lock(&self.live)
    }

    /// Blocks until `condition(live)` holds.
    pub fn wait_until(&self, condition: impl Fn(usize) -> bool) {
        let mut live = lock(&self.live);
        while !condition(*live) {
            live = self.changed.wait(live).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Like [`ClientThreads::wait_until`], giving up after `timeout`; returns whether
    /// `condition` held (tests use it, so a broken server fails them instead of hanging).
    pub fn wait_until_for(&self, timeout: Duration, condition: impl Fn(usize) -> bool) -> bool {
        let live = lock(&self.live);
        let (live, _) = self
            .changed
            .wait_timeout_while(live, timeout, |live| !condition(*live))
            .unwrap_or_else(PoisonError::into_inner);
        condition(*live)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        *lock(&self.0.live) -= 1;
        self.0.changed.notify_all();
    }
}
// ANCHOR_END: client_threads
