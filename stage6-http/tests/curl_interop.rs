//! Interoperability: the real `curl` against our server over 127.0.0.1. curl is strict about
//! framing, reuses connections, sends `Expect: 100-continue` for large bodies and chunked
//! uploads when asked, so it exercises the server the way a real client does. CI installs
//! curl; where it is missing these tests say so and pass without checking anything.

mod common;

use common::curl;
use stage6_http::app::demo_router;
use stage6_http::{Server, ServerConfig, ServerHandle};

fn start() -> ServerHandle {
    Server::bind("127.0.0.1:0".parse().unwrap(), demo_router(None), ServerConfig::default())
        .unwrap()
        .spawn()
        .unwrap()
}

#[test]
fn curl_reuses_one_connection_for_two_requests() {
    let server = start();
    let base = format!("http://{}", server.addr());
    let (json, user) = (format!("{base}/json"), format!("{base}/users/3"));
    let Some(out) = curl(&["--verbose", "--http1.1", &json, &user], b"") else { return };
    let body = String::from_utf8_lossy(&out.stdout);
    assert_eq!(body, r#"{"hello":"world"}{"id":"3","name":"user 3"}"#);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("Re-using existing connection") || log.contains("Reusing existing"), "{log}");
}

#[test]
fn curl_uploads_large_and_chunked_bodies() {
    let server = start();
    let url = format!("http://{}/echo", server.addr());
    // With `Expect: 100-continue` curl holds the body back until our `100 Continue` (recent
    // curls only ask on their own for bodies over 1 MiB, so we ask for it explicitly).
    let big: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let Some(out) = curl(
        &[
            "--verbose",
            "--data-binary",
            "@-",
            "-H",
            "Content-Type: text/plain",
            "-H",
            "Expect: 100-continue",
            &url,
        ],
        &big,
    ) else {
        return;
    };
    assert!(out.stdout == big, "echoed body differs ({} bytes back)", out.stdout.len());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("100 Continue"), "no 100 Continue seen: {log}");
    // A chunked upload.
    let Some(out) =
        curl(&["--data-binary", "@-", "-H", "Transfer-Encoding: chunked", &url], b"chunked hello")
    else {
        return;
    };
    assert_eq!(out.stdout, b"chunked hello");
}

#[test]
fn curl_head_streaming_and_errors() {
    let server = start();
    let base = format!("http://{}", server.addr());
    let Some(out) = curl(&["--head", &format!("{base}/hello")], b"") else { return };
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 13\r\n"), "{head}");
    let Some(out) = curl(&[&format!("{base}/stream/1000")], b"") else { return };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1000);
    assert!(text.ends_with("line 1000\n"));
    let Some(out) = curl(
        &["--write-out", "%{http_code}", "--output", "/dev/null", "-X", "DELETE", &format!("{base}/json")],
        b"",
    ) else {
        return;
    };
    assert_eq!(out.stdout, b"405");
}
