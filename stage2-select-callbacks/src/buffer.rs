//! [`WriteBuffer`]: what a connection has read and not yet managed to send, and the two water
//! marks that turn it into back-pressure.
//!
//! A non-blocking `send` takes what fits in the kernel's send buffer *now*: all of the bytes,
//! some of them, or none (`WouldBlock`). Whatever it did not take must wait somewhere until
//! the socket is writable again; the `selectors` documentation's echo server ("Hope it won't block") had no such
//! place, and lost those bytes. This is that place, shared by the echo servers of stages 2, 3
//! and 4:
//!
//! ```text
//!   send_or_keep(stream, bytes just read) ──> kernel; what it refused ──> [ pending bytes ]
//!   send_to(stream), on writable:  [ sent bytes | pending bytes ] ──> kernel
//!                                              ^ pending() ^
//!   has_room(): false once pending() reaches the high water mark,
//!               true again once it has drained below the low water mark
//! ```
//!
//! The buffer holds memory only while bytes wait in it: emptied, it gives its memory back. A
//! server reads into one scratch buffer that all its connections share, and a connection whose
//! echo went out whole (nearly every one, nearly always) keeps nothing: what an idle connection
//! costs is its socket, not the largest burst it once sent.
//!
//! Without a bound, a client that sends and never reads would make the server buffer
//! everything it sends. With one, the server stops *reading* that client while the buffer is
//! full; the client's bytes then wait in the kernel, TCP's window closes, and the client's own
//! `write` blocks: the slow reader slows down its own sending, and nobody else.

use std::io::{self, ErrorKind};
use std::net::TcpStream;

use crate::net::send_nosignal;

/// Bytes read from a peer and not yet written back, with optional water marks.
#[derive(Debug, Clone)]
pub struct WriteBuffer {
    /// `bytes[sent..]` is still to be sent.
    bytes: Vec<u8>,
    sent: usize,
    high_water: usize,
    low_water: usize,
    /// Between reaching the high water mark and draining below the low one.
    paused: bool,
}

impl Default for WriteBuffer {
    fn default() -> WriteBuffer {
        WriteBuffer::new()
    }
}

impl WriteBuffer {
    /// A buffer without water marks: [`WriteBuffer::has_room`] is always true. For a connection
    /// that bounds itself some other way (stage 4's handler reads only into an empty buffer).
    pub fn new() -> WriteBuffer {
        WriteBuffer::with_water_marks(usize::MAX, usize::MAX)
    }

    /// A buffer that says "no room" once `high_water` bytes are pending, and "room" again once
    /// they have drained below `low_water` (`low_water` is capped at `high_water`).
    ///
    /// Two marks rather than one: a connection paused at 64 KiB and resumed at 16 KiB wakes up
    /// once per 48 KiB drained, not once per byte. `high == low` gives a single limit.
    pub fn with_water_marks(high_water: usize, low_water: usize) -> WriteBuffer {
        WriteBuffer {
            bytes: Vec::new(),
            sent: 0,
            high_water,
            low_water: low_water.min(high_water),
            paused: false,
        }
    }

    /// How many bytes wait to be sent.
    pub fn pending(&self) -> usize {
        self.bytes.len() - self.sent
    }

    /// Nothing waits to be sent.
    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    // ANCHOR: has_room
    /// Should the connection read more from its peer? False from the moment
    /// [`pending`](WriteBuffer::pending) reaches the high water mark until it drops below the
    /// low one. Call it whenever you decide what to wait for next.
    pub fn has_room(&mut self) -> bool {
        let limit = if self.paused { self.low_water } else { self.high_water };
        self.paused = self.pending() >= limit;
        !self.paused
    }
    // ANCHOR_END: has_room

    /// Appends `bytes` to what waits to be sent.
    pub fn push(&mut self, bytes: &[u8]) {
        self.compact();
        self.bytes.extend_from_slice(bytes);
    }

    /// How many bytes of memory the buffer holds (its capacity), pending or not. An empty
    /// buffer holds none: see [`WriteBuffer::send_to`].
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    // ANCHOR: send_or_keep
    /// Sends `bytes` (after whatever is already pending) as far as the socket takes them now,
    /// and keeps the rest. Returns how many bytes were sent by this call.
    ///
    /// When nothing is pending, which is nearly always, `bytes` go straight from the caller's
    /// memory (a scratch buffer the whole loop shares) to the kernel, and the buffer only
    /// stores what the socket refused: an idle connection, or one whose echo went out whole,
    /// holds no memory of its own.
    pub fn send_or_keep(&mut self, stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
        if !self.is_empty() {
            self.push(bytes); // behind what waits already, or the order would change
            return self.send_to(stream);
        }
        let sent = send_some(stream, bytes)?;
        if sent < bytes.len() {
            self.push(&bytes[sent..]);
        }
        Ok(sent)
    }
    // ANCHOR_END: send_or_keep

    // ANCHOR: send_to
    /// Sends pending bytes until none are left or the socket takes no more for now. Returns
    /// how many were sent by this call (maybe 0); whatever is left waits for the next
    /// *writable*. A peer that has gone is an error (`EPIPE`, never a `SIGPIPE`: see
    /// [`send_nosignal`]).
    pub fn send_to(&mut self, stream: &TcpStream) -> io::Result<usize> {
        let sent_now = send_some(stream, &self.bytes[self.sent..])?;
        self.sent += sent_now;
        if self.is_empty() {
            // Give the memory back, not just the bytes: ten thousand idle connections must
            // not each keep the largest buffer they ever needed.
            self.bytes = Vec::new();
            self.sent = 0;
        }
        Ok(sent_now)
    }
    // ANCHOR_END: send_to

    /// Moves the unsent tail to the front, so the buffer does not grow forever.
    fn compact(&mut self) {
        if self.sent > 0 {
            self.bytes.drain(..self.sent);
            self.sent = 0;
        }
    }
}

/// Sends from `bytes` until all are sent or the socket takes no more for now (`WouldBlock`:
/// the kernel's send buffer is full). Returns how many were sent, maybe 0.
fn send_some(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        match send_nosignal(stream, &bytes[sent..]) {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(n) => sent += n,
            // The kernel's send buffer is full: the caller keeps the rest, not the floor.
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_marks_pause_at_high_and_resume_below_low() {
        let mut buf = WriteBuffer::with_water_marks(10, 4);
        buf.push(&[1; 9]);
        assert!(buf.has_room());
        buf.push(&[2; 1]);
        assert!(!buf.has_room(), "10 pending reaches the high mark");
        buf.sent = 6; // as if 6 bytes were sent: 4 pending, not below 4 yet
        assert!(!buf.has_room());
        buf.sent = 7;
        assert!(buf.has_room(), "3 pending is below the low mark");
        assert_eq!(buf.pending(), 3);
        buf.push(&[3; 2]);
        assert_eq!((buf.bytes.as_slice(), buf.sent), (&[1, 1, 2, 3, 3][..], 0), "the sent bytes are gone");
    }

    #[test]
    fn send_or_keep_keeps_only_what_the_socket_refused_and_frees_it_once_sent() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let mut buf = WriteBuffer::new();
        // A small write goes straight out: nothing kept, no memory held.
        assert_eq!(buf.send_or_keep(&server, b"hello").unwrap(), 5);
        assert_eq!((buf.pending(), buf.capacity()), (0, 0));
        // Far more than the kernel takes while the client reads nothing: the rest is kept.
        let big: Vec<u8> = (0..64 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let sent = buf.send_or_keep(&server, &big).unwrap();
        assert!(sent < big.len(), "the kernel took all 64 MiB at once");
        assert_eq!(buf.pending(), big.len() - sent);
        // Now the client reads everything: once the buffer is drained, its memory is gone.
        let reader = std::thread::spawn(move || {
            let mut client = client;
            let mut got = vec![0u8; 5 + big.len()];
            client.read_exact(&mut got).unwrap();
            got[5..] == big[..]
        });
        server.set_nonblocking(false).unwrap(); // so send_to waits for the reader instead of spinning
        buf.send_to(&server).unwrap();
        assert!(buf.is_empty());
        assert_eq!(buf.capacity(), 0, "an emptied buffer still holds memory");
        assert!(reader.join().unwrap(), "bytes came back out of order");
    }
}
