//! asyncio's protocols and transports (`asyncio.Protocol`, `asyncio.Transport`), served on top of async/await.
//!
//! A [`Protocol`] is the callback style of stage 2 dressed up: the loop calls
//! `connection_made`, then `data_received` for each chunk, `eof_received` when the peer shuts
//! down its side, and `connection_lost` at the end. The protocol answers by calling
//! [`Transport::write`] / [`Transport::close`], which only *buffer* and *flag*: one task per
//! connection ([`serve_connection`]) does the actual reading and writing with `.await`, so
//! the callbacks never block and partial writes are handled in one place.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::io::{AsyncRead, AsyncWrite, with_scratch};
use crate::net::{TcpListener, TcpStream};

/// The callbacks a connection's protocol implements (asyncio.Protocol).
pub trait Protocol {
    /// The connection is up; keep the transport to write later.
    fn connection_made(&mut self, transport: Transport);
    /// Some bytes arrived (any chunking: a message may be split or merged).
    fn data_received(&mut self, data: &[u8]);
    /// The peer sent EOF. Return `true` to keep the connection open for writing (then call
    /// `close` yourself); `false` (the default) closes it once the buffer is flushed.
    fn eof_received(&mut self) -> bool {
        false
    }
    /// The connection is gone: `None` after a normal close, `Some(err)` after an I/O error.
    fn connection_lost(&mut self, error: Option<io::Error>) {
        let _ = error;
    }
}

#[derive(Default)]
struct TransportState {
    outgoing: RefCell<Vec<u8>>,
    closing: Cell<bool>,
    write_eof: Cell<bool>,
    /// The serving task, woken when a write or close comes from outside a callback (a timer,
    /// another task).
    waker: RefCell<Option<Waker>>,
    peer: Option<SocketAddr>,
}

/// The protocol's handle on its connection (asyncio.Transport). Cheap to clone.
#[derive(Clone)]
pub struct Transport {
    state: Rc<TransportState>,
}

impl Transport {
    /// Queues `data` to be sent; never blocks, never fails (errors arrive in
    /// `connection_lost`). Ignored once the transport is closing.
    pub fn write(&self, data: &[u8]) {
        if self.state.closing.get() || self.state.write_eof.get() {
            return;
        }
        self.state.outgoing.borrow_mut().extend_from_slice(data);
        self.wake();
    }

    /// Sends EOF (shutdown of our write side) once the buffer is flushed.
    pub fn write_eof(&self) {
        self.state.write_eof.set(true);
        self.wake();
    }

    /// Closes the connection once the buffer is flushed.
    pub fn close(&self) {
        self.state.closing.set(true);
        self.wake();
    }

    /// True after `close`.
    pub fn is_closing(&self) -> bool {
        self.state.closing.get()
    }

    /// The peer's address (asyncio's `get_extra_info('peername')`).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.state.peer
    }

    /// Bytes waiting to be written.
    pub fn buffered(&self) -> usize {
        self.state.outgoing.borrow().len()
    }

    /// Bytes allocated for the outgoing buffer: 0 while the connection is idle (the buffer
    /// is given back once it has been flushed and the transport waits for the peer).
    pub fn buffer_capacity(&self) -> usize {
        self.state.outgoing.borrow().capacity()
    }

    fn wake(&self) {
        // Take the waker out first: no RefCell stays borrowed while a waker runs.
        let waker = self.state.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Reads at most this many chunks in a row before letting other tasks run.
const READS_PER_TURN: usize = 16;

/// The transport stops reading while this many bytes wait to be written (asyncio's default
/// high-water mark), and reads again once the socket has taken them below it. Without it, a
/// peer that sends without reading what it is sent would make the buffer grow without bound.
pub const HIGH_WATER: usize = 64 * 1024;

/// Bytes per read, so one `data_received` gets at most this many: a connection never holds
/// more than `HIGH_WATER + READ_CHUNK` bytes of output written by an echoing protocol. Read
/// into the thread's shared scratch buffer ([`with_scratch`]), never one per connection.
pub const READ_CHUNK: usize = crate::io::SCRATCH_LEN;

// ANCHOR: serve_connection
/// Drives `protocol` over `stream` until the connection ends, then calls
/// `connection_lost`. This is the whole "transport": one poll function that flushes the
/// outgoing buffer, reads and dispatches, and parks the task's waker in the transport so a
/// write from outside wakes it.
pub async fn serve_connection<P: Protocol>(stream: TcpStream, mut protocol: P) {
    let transport = Transport {
        state: Rc::new(TransportState { peer: stream.peer_addr().ok(), ..TransportState::default() }),
    };
    protocol.connection_made(transport.clone());
    let state = &transport.state;
    let mut reading = true;
    let mut eof_sent = false;
    let result: io::Result<()> = poll_fn(|cx| {
        // We are running: a `write` from a callback during this poll is flushed by this poll,
        // so it must not wake the task again (it would cost a useless poll per chunk).
        let stale = state.waker.borrow_mut().take();
        drop(stale);
        let mut reads = 0;
        loop {
            // 1. Flush what the protocol wrote, as far as the socket takes it.
            loop {
                let mut out = state.outgoing.borrow_mut();
                if out.is_empty() {
                    break;
                }
                match stream.poll_write(cx, &out) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => drop(out.drain(..n)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            let flushed = state.outgoing.borrow().is_empty();
            if flushed && state.write_eof.get() && !eof_sent {
                eof_sent = true;
                if let Err(e) = stream.shutdown(Shutdown::Write) {
                    return Poll::Ready(Err(e));
                }
            }
            if flushed && (state.closing.get() || (!reading && eof_sent)) {
                return Poll::Ready(Ok(()));
            }
            // 2. Read and hand bytes to the protocol.
            let mut progressed = false;
            // Back-pressure: while the peer does not take our bytes, do not take its bytes.
            while reading && !state.closing.get() && state.outgoing.borrow().len() < HIGH_WATER {
                if reads == READS_PER_TURN {
                    // Read budget used up with the socket still readable: let others run.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                reads += 1;
                // Into the thread's scratch buffer, handed to the protocol before it is lent to
                // anyone else: the connection owns no read buffer.
                let read = with_scratch(|buf| {
                    let read = stream.poll_read(cx, &mut buf[..READ_CHUNK]);
                    if let Poll::Ready(Ok(n @ 1..)) = read {
                        protocol.data_received(&buf[..n]);
                    }
                    read
                });
                match read {
                    Poll::Ready(Ok(0)) => {
                        reading = false;
                        progressed = true;
                        if !protocol.eof_received() {
                            transport.close();
                        }
                    }
                    Poll::Ready(Ok(_)) => progressed = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            if progressed {
                continue; // flush what the callbacks wrote
            }
            // 3. Nothing to do now: the reactor holds our waker for the socket, the
            //    transport holds it for writes that come from elsewhere. An idle connection
            //    gives its flushed outgoing buffer back (the next write allocates one again).
            let mut out = state.outgoing.borrow_mut();
            if out.is_empty() && out.capacity() > 0 {
                *out = Vec::new();
            }
            drop(out);
            *state.waker.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
    })
    .await;
    protocol.connection_lost(result.err());
}
// ANCHOR_END: serve_connection

/// Accepts connections forever, serving each with a fresh protocol from `factory` in its own
/// task (asyncio's `loop.create_server(factory, ...)` + `serve_forever`).
pub async fn serve<P, F>(listener: TcpListener, mut factory: F) -> io::Result<()>
where
    P: Protocol + 'static,
    F: FnMut() -> P,
{
    loop {
        let (stream, _) = listener.accept().await?;
        crate::runtime::executor::spawn(serve_connection(stream, factory()));
    }
}
