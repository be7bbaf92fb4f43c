//! The echo handler shared by `stage5-echo` and the idle-connection benchmark.

use std::io;

use crate::net::TcpStream;

// ANCHOR: echo_client
/// Echoes until the client closes; returns the bytes echoed. The buffer exists only while
/// bytes are being echoed: an idle connection waits in `readable()` holding nothing but its
/// socket, which is what keeps 10,000 idle connections cheap.
pub async fn echo_client(stream: TcpStream) -> io::Result<u64> {
    let mut echoed = 0;
    loop {
        stream.readable().await;
        let mut buf = vec![0u8; 16 * 1024];
        let n = match stream.try_read(&mut buf) {
            Ok(0) => return Ok(echoed),
            Ok(n) => n,
            // Readiness was stale (spurious wake-up, or an edge already consumed).
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(&buf[..n]).await?;
        echoed += n as u64;
    }
}
// ANCHOR_END: echo_client
