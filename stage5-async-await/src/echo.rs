//! The echo server, twice: as tasks (`stage5-echo`, curio's echo server: `accept().await`,
//! then a task per client) and as an asyncio-style [`Protocol`] (`stage5-protocol`). Both
//! count what they do in stage 2's [`EchoStats`], the counters every stage's echo server
//! keeps, so the tests hold them to the same exam (stage 1's `testkit::check_echo`) and the
//! same bound on buffered bytes.

use std::io;
use std::sync::Arc;

use stage2_select_callbacks::echo::EchoStats;
use stage2_select_callbacks::trace;

use crate::io::with_scratch;
use crate::net::{TcpListener, TcpStream};
use crate::protocol::{Protocol, Transport};

/// Bytes read (and then written back) at a time by [`echo_client`]: no connection ever
/// holds more than this many bytes of its client's.
pub const CHUNK: usize = crate::io::SCRATCH_LEN;

// ANCHOR: accept_loop
/// Accepts forever, spawning one [`echo_client`] task per connection. Returns only if
/// `accept` fails for good (running out of fds is waited out inside `accept`).
pub async fn serve(listener: TcpListener, stats: Arc<EchoStats>) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        stats.count_accepted();
        trace!("echo: connection from {peer}");
        let stats = stats.clone();
        // Dropping the JoinHandle detaches the task: it runs until its client leaves.
        crate::runtime::executor::spawn(async move {
            match echo_client(stream, &stats).await {
                Ok(n) => trace!("echo: {peer} closed after {n} bytes"),
                Err(e) => trace!("echo: {peer} failed: {e}"),
            }
            stats.count_closed();
        });
    }
}
// ANCHOR_END: accept_loop

// ANCHOR: echo_client
/// Echoes until the client closes; returns the bytes echoed. An idle connection waits in
/// `readable()` holding nothing but its socket, which is what keeps 10,000 idle connections
/// cheap: bytes are read into the thread's scratch buffer ([`with_scratch`]) and written back
/// from it at once, and only what the socket will not take right now is copied into a buffer
/// of this task's own, kept until `write_all` has sent it. That wait is the back-pressure: a
/// client that does not read its echo is not read.
pub async fn echo_client(stream: TcpStream, stats: &EchoStats) -> io::Result<u64> {
    let mut echoed = 0;
    loop {
        stream.readable().await;
        let step = with_scratch(|buf| -> io::Result<Option<(usize, Vec<u8>)>> {
            let n = match stream.try_read(&mut buf[..CHUNK]) {
                Ok(n) => n,
                // Readiness was stale (spurious wake-up, or an edge already consumed).
                Err(e) if is_retry(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            let sent = match stream.try_write(&buf[..n]) {
                Ok(sent) => sent,
                Err(e) if is_retry(&e) => 0,
                Err(e) => return Err(e),
            };
            Ok(Some((n, buf[sent..n].to_vec()))) // nothing allocated when all was sent
        })?;
        let Some((n, unsent)) = step else { continue };
        if n == 0 {
            return Ok(echoed);
        }
        stats.note_buffered(n);
        stream.write_all(&unsent).await?;
        stats.count_echoed(n);
        echoed += n as u64;
    }
}

/// `WouldBlock` or `EINTR`: nothing happened, try again after the next wake-up.
fn is_retry(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}
// ANCHOR_END: echo_client

// ANCHOR: echo_protocol
/// Echo as callbacks (the `EchoServerProtocol` of asyncio's documentation): no loop, no await, no buffer management.
/// The transport buffers what `write` is given and stops reading while too much waits.
pub struct EchoProtocol {
    transport: Option<Transport>,
    stats: Arc<EchoStats>,
    bytes: usize,
}

impl EchoProtocol {
    /// A protocol for one connection, counting into `stats`.
    pub fn new(stats: Arc<EchoStats>) -> EchoProtocol {
        EchoProtocol { transport: None, stats, bytes: 0 }
    }
}

impl Protocol for EchoProtocol {
    fn connection_made(&mut self, transport: Transport) {
        self.stats.count_accepted();
        if let Some(peer) = transport.peer_addr() {
            trace!("protocol: connection from {peer}");
        }
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.bytes += data.len();
        if let Some(t) = &self.transport {
            t.write(data);
            self.stats.note_buffered(t.buffered());
        }
    }

    fn eof_received(&mut self) -> bool {
        false // close once everything is echoed
    }

    fn connection_lost(&mut self, error: Option<io::Error>) {
        if let Some(peer) = self.transport.as_ref().and_then(Transport::peer_addr) {
            match error {
                None => trace!("protocol: {peer} closed after {} bytes", self.bytes),
                Some(e) => trace!("protocol: {peer} failed: {e}"),
            }
        }
        self.stats.count_echoed(self.bytes);
        self.stats.count_closed();
    }
}
// ANCHOR_END: echo_protocol
