//! `hyper-hello PORT`: an HTTP/1.1 server on 127.0.0.1:PORT, one thread (tokio's
//! current-thread runtime), that answers every request with `200 OK`, `text/plain` and the 13
//! bytes `Hello, World!`. Keep-alive and pipelining on, as hyper does by default; Nagle off, as
//! in the course's server.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn hello(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

async fn serve(port: u16) -> std::io::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).await?;
    eprintln!("hyper-hello: listening on http://{addr}/");
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of descriptors, a connection reset before we took it: keep serving the rest.
            Err(e) => {
                eprintln!("hyper-hello: accept: {e}");
                continue;
            }
        };
        stream.set_nodelay(true)?;
        // One task per connection; on a current-thread runtime it runs on this thread.
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                // Answers to pipelined requests leave in one write, not one write each.
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello));
            let _ = connection.await;
        });
    }
}

fn main() {
    let port = match std::env::args().nth(1).map(|p| p.parse::<u16>()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: hyper-hello PORT");
            std::process::exit(2);
        }
    };
    // I/O and timers, as `#[tokio::main(flavor = "current_thread")]` would give it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start tokio's runtime");
    if let Err(e) = rt.block_on(serve(port)) {
        eprintln!("hyper-hello: {e}");
        std::process::exit(1);
    }
}
