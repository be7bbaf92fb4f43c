//! An async HTTP/1.0 GET: stage 1's request bytes, response parser and size limit, with the
//! socket calls replaced by their `.await` versions. Compare with `stage1_blocking::http::get`:
//! the code has the same shape, line for line; only the waiting moved from the thread to the
//! task.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use anyhow::Context as _;
use stage1_blocking::http::{MAX_RESPONSE, Response, parse_response, request_bytes, too_large};
use stage2_select_callbacks::trace;

use crate::net::TcpStream;

// ANCHOR: get
/// Connects to `addr`, sends `GET path`, reads until the server closes (HTTP/1.0), parses.
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<Response> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    trace!("GET {path}: connected on fd {}", stream.as_raw_fd()); // for TRACE=1 and --timeline
    stream
        .write_all(&request_bytes(&addr.to_string(), path))
        .await
        .with_context(|| format!("sending GET {path} to {addr}"))?;
    let bytes = read_to_eof(&stream).await.with_context(|| format!("reading the response to GET {path}"))?;
    parse_response(&bytes).with_context(|| format!("GET {path} from {addr}"))
}

/// Reads until the server closes, like stage 1's `read_to_eof`, and gives up past
/// [`MAX_RESPONSE`] bytes: a server that never stops sending costs an error, not our memory.
/// (`EINTR` and `WouldBlock` never reach here: the reactor retries or waits.)
async fn read_to_eof(stream: &TcpStream) -> io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await? {
            0 => return Ok(response),
            n => {
                response.extend_from_slice(&chunk[..n]);
                if response.len() > MAX_RESPONSE {
                    return Err(too_large());
                }
            }
        }
    }
}
// ANCHOR_END: get
