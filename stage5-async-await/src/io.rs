//! Byte-stream traits and the helpers every stream gets: `read_exact`, `write_all`,
//! `read_to_end`, and a [`BufReader`] with `read_line`.
//!
//! The traits take `&self` (like `std`'s `impl Read for &TcpStream`): a socket can be read
//! by one task and written by another at the same time, each direction with its own waker.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

/// A non-blocking byte source driven by the reactor.
pub trait AsyncRead {
    /// Reads into `buf`: `Ready(Ok(0))` means EOF (or an empty `buf`), `Pending` means
    /// "not yet, your waker is parked".
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
}

/// A non-blocking byte sink driven by the reactor.
pub trait AsyncWrite {
    /// Writes some of `buf` (maybe not all: a partial write is normal), or `Pending`.
    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
}

// ANCHOR: scratch
/// Size of [`with_scratch`]'s buffer.
pub const SCRATCH_LEN: usize = 16 * 1024;

thread_local! {
    /// The thread's read buffer, lent to one connection at a time (see [`with_scratch`]).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer of [`SCRATCH_LEN`] bytes, shared by every
/// connection the thread serves. A connection that reads into it and hands the bytes on before
/// `f` returns (the echo server writes them back, a protocol's `data_received` takes them)
/// needs no read buffer of its own, so an idle connection holds none: 10,000 idle connections
/// cost 10,000 sockets, not 160 MB of buffers. If the buffer is already lent (a callback
/// inside `f` that reads again), `f` gets a fresh one instead.
pub fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.is_empty() {
                buf.resize(SCRATCH_LEN, 0); // once per thread
            }
            f(&mut buf)
        }
        Err(_) => f(&mut vec![0; SCRATCH_LEN]),
    })
}
// ANCHOR_END: scratch

/// Reads some bytes (0 = EOF).
pub async fn read<R: AsyncRead + ?Sized>(r: &R, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| r.poll_read(cx, buf)).await
}

/// Writes some bytes; returns how many.
pub async fn write<W: AsyncWrite + ?Sized>(w: &W, buf: &[u8]) -> io::Result<usize> {
    poll_fn(|cx| w.poll_write(cx, buf)).await
}

// ANCHOR: write_all
/// Writes all of `buf`, however many partial writes it takes (the `selectors` docs' `send(data)  # Hope
/// it won't block` bug, fixed: a short write is remembered and continued, not lost).
pub async fn write_all<W: AsyncWrite + ?Sized>(w: &W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match write(w, buf).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}
// ANCHOR_END: write_all

/// Fills `buf` exactly; EOF first is `UnexpectedEof`.
pub async fn read_exact<R: AsyncRead + ?Sized>(r: &R, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match read(r, buf).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

/// Appends everything until EOF to `out`; returns how many bytes were appended. (On a
/// keep-alive connection EOF never comes: this is for HTTP/1.0-style "read until close".)
pub async fn read_to_end<R: AsyncRead + ?Sized>(r: &R, out: &mut Vec<u8>) -> io::Result<usize> {
    let start = out.len();
    let mut chunk = [0u8; 8192];
    loop {
        match read(r, &mut chunk).await? {
            0 => return Ok(out.len() - start),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Buffers an [`AsyncRead`] so it can be read line by line.
pub struct BufReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

impl<R: AsyncRead> BufReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> BufReader<R> {
        BufReader { inner, buf: Vec::new(), start: 0, eof: false }
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    // ANCHOR: read_line
    /// The next line without its `\n` (and `\r`), or `None` at EOF. A last line without a
    /// newline is still returned. Invalid UTF-8 is replaced, never a panic.
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf[self.start..].iter().position(|&b| b == b'\n') {
                let end = self.start + pos;
                let mut line = &self.buf[self.start..end];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                let text = String::from_utf8_lossy(line).into_owned();
                self.start = end + 1;
                return Ok(Some(text));
            }
            if self.eof {
                if self.start == self.buf.len() {
                    return Ok(None);
                }
                let text = String::from_utf8_lossy(&self.buf[self.start..]).into_owned();
                self.start = self.buf.len();
                return Ok(Some(text));
            }
            // Compact, then read more after what we have.
            self.buf.drain(..self.start);
            self.start = 0;
            let have = self.buf.len();
            self.buf.resize(have + 4096, 0);
            let n = read(&self.inner, &mut self.buf[have..]).await;
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(have);
                    return Err(e);
                }
            };
            self.buf.truncate(have + n);
            if n == 0 {
                self.eof = true;
            }
        }
    }
    // ANCHOR_END: read_line
}
