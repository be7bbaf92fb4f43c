//! `get` on the smallest executor: stage 1's request and parser, every wait an
//! [`Io`](super::Io) `.await`.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;

use anyhow::Context as _;
use stage1_blocking::http::{MAX_RESPONSE, Response, parse_response, request_bytes, too_large};
use stage2_select_callbacks::net::{connect_nonblocking, send_nosignal};
use stage2_select_callbacks::selector::Interest;
use stage2_select_callbacks::trace;

use super::io;

// ANCHOR: get
/// `GET path` from `addr`: stage 1's request and parser; every wait is an `Io` `.await`.
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<Response> {
    let stream = connect_nonblocking(addr).with_context(|| format!("connecting to {addr}"))?;
    trace!("GET {path}: connect started on fd {}", stream.as_raw_fd());
    io(&stream, Interest::WRITABLE, connected).await.with_context(|| format!("connecting to {addr}"))?;
    let request = request_bytes(&addr.to_string(), path);
    let mut rest = &request[..];
    while !rest.is_empty() {
        // A partial write sends what fits in the kernel's buffer; loop for the rest.
        let sent = io(&stream, Interest::WRITABLE, |s| send_nosignal(s, rest)).await;
        rest = &rest[sent.context("sending the request")?..];
    }
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = |mut s: &TcpStream| s.read(&mut chunk);
        match io(&stream, Interest::READABLE, read).await.context("reading the response")? {
            0 => break, // EOF: an HTTP/1.0 response ends when the server closes
            n => response.extend_from_slice(&chunk[..n]),
        }
        if response.len() > MAX_RESPONSE {
            return Err(too_large()).context("reading the response");
        }
    }
    parse_response(&response).with_context(|| format!("bad response ({} bytes)", response.len()))
}

/// The connect check: a failure waits in `SO_ERROR`; `ENOTCONN` from `getpeername` means the
/// handshake still runs ("would block": wait for writable).
fn connected(stream: &TcpStream) -> std::io::Result<()> {
    match stream.take_error()? {
        Some(err) => Err(err),
        None => match stream.peer_addr() {
            Err(e) if e.kind() == ErrorKind::NotConnected => Err(ErrorKind::WouldBlock.into()),
            other => other.map(drop),
        },
    }
}
// ANCHOR_END: get
