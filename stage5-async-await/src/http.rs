//! An async HTTP/1.0 GET: stage 1's request bytes and response parser, with the socket
//! calls replaced by their `.await` versions. Compare with `stage1_blocking::http::get`: the
//! code has the same shape, line for line; only the waiting moved from the thread to the task.

use std::net::SocketAddr;

use anyhow::Context as _;
use stage1_blocking::http::{Response, parse_response, request_bytes};

use crate::net::TcpStream;

// ANCHOR: get
/// Connects to `addr`, sends `GET path`, reads until the server closes (HTTP/1.0), parses.
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<Response> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connect to {addr}"))?;
    stream.write_all(&request_bytes(&addr.ip().to_string(), path)).await.context("send request")?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.context("read response")?;
    Ok(parse_response(&bytes)?)
}
// ANCHOR_END: get
