//! [`WriteBuffer`]: what a connection has read and not yet managed to send, and the two water
//! marks that turn it into back-pressure.
//!
//! A non-blocking `send` takes what fits in the kernel's send buffer *now*: all of the bytes,
//! some of them, or none (`WouldBlock`). Whatever it did not take must wait somewhere until
//! the socket is writable again; seed 000's echo server ("Hope it won't block") had no such
//! place, and lost those bytes. This is that place, shared by the echo servers of stages 2, 3
//! and 4:
//!
//! ```text
//!   read_from(stream) ──> [ sent bytes | pending bytes | free room ] ──send_to(stream)──> kernel
//!                                      ^ pending() ^
//!   has_room(): false once pending() reaches the high water mark,
//!               true again once it has drained below the low water mark
//! ```
//!
//! Without a bound, a client that sends and never reads would make the server buffer
//! everything it sends. With one, the server stops *reading* that client while the buffer is
//! full; the client's bytes then wait in the kernel, TCP's window closes, and the client's own
//! `write` blocks: the slow reader slows down its own sending, and nobody else.

use std::io::{self, ErrorKind, Read};
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

    /// One `read` of at most `max` bytes from `stream`, appended to the pending bytes. Returns
    /// what `read` returned: `Ok(0)` is EOF, `WouldBlock` is passed on (the caller waits for
    /// readable again), `EINTR` is retried here. `max` must be at least 1: a zero-byte read
    /// also returns 0, and would look like EOF.
    pub fn read_from(&mut self, mut stream: impl Read, max: usize) -> io::Result<usize> {
        self.compact();
        let used = self.bytes.len();
        // Read straight into the free room at the end (zeroed first: safe Rust only).
        self.bytes.resize(used + max, 0);
        let result = loop {
            match stream.read(&mut self.bytes[used..]) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = *result.as_ref().unwrap_or(&0);
        self.bytes.truncate(used + n);
        result
    }

    // ANCHOR: send_to
    /// Sends pending bytes until none are left or the socket takes no more for now. Returns
    /// how many were sent by this call (maybe 0); whatever is left waits for the next
    /// *writable*. A peer that has gone is an error (`EPIPE`, never a `SIGPIPE`: see
    /// [`send_nosignal`]).
    pub fn send_to(&mut self, stream: &TcpStream) -> io::Result<usize> {
        let before = self.sent;
        while self.sent < self.bytes.len() {
            match send_nosignal(stream, &self.bytes[self.sent..]) {
                Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
                Ok(n) => self.sent += n,
                // The kernel's send buffer is full: the rest waits here, not on the floor.
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let sent_now = self.sent - before;
        if self.is_empty() {
            self.bytes.clear();
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
    fn read_from_appends_and_passes_eof_on() {
        let mut buf = WriteBuffer::new();
        assert_eq!(buf.read_from(&b"hello"[..], 3).unwrap(), 3);
        assert_eq!(buf.read_from(&b"lo"[..], 16).unwrap(), 2);
        assert_eq!(buf.read_from(&b""[..], 16).unwrap(), 0);
        assert_eq!(buf.bytes, b"hello");
        assert!(buf.has_room(), "no water marks");
    }
}
