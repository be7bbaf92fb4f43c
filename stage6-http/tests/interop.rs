//! Interoperability over 127.0.0.1, three clients against the stage 6 server (started
//! in-process on port 0 with the demo routes):
//!
//! * `curl`: GET, two URLs on one kept-alive connection, POST, HEAD;
//! * Python's `http.client`: GET, keep-alive, POST, printing what it got;
//! * our own [`stage6_http::client`], the load generator's client, on one connection.
//!
//! CI installs curl and python3; where one is missing its test prints a note and checks nothing.

use stage5_async_await::Runtime;
use stage6_http::app::demo_router;
use stage6_http::client::{Client, ClientRequest};
use stage6_http::{Server, ServerConfig, ServerHandle};
use std::process::{Command, Output};

fn start() -> ServerHandle {
    Server::bind("127.0.0.1:0".parse().unwrap(), demo_router(None), ServerConfig::default())
        .expect("bind 127.0.0.1:0")
        .spawn()
        .expect("start the server")
}

/// Runs `program args`, or `None` (with a note) if it is not installed. Fails the test if it
/// ran and failed.
fn run_tool(program: &str, args: &[&str]) -> Option<Output> {
    let output = match Command::new(program).args(args).output() {
        Ok(output) => output,
        Err(e) => {
            eprintln!("note: {program} not available ({e}); skipping this interop check");
            return None;
        }
    };
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Some(output)
}

/// curl, silent but showing errors, with a safety-net time limit.
fn curl(args: &[&str]) -> Option<Output> {
    let mut all = vec!["--silent", "--show-error", "--http1.1", "--max-time", "20"];
    all.extend_from_slice(args);
    run_tool("curl", &all)
}

#[test]
fn curl_get_post_head_and_keep_alive() {
    let server = start();
    let base = format!("http://{}", server.addr());

    // GET, with the response head shown (-i): our exact status line, length and body.
    let Some(out) = curl(&["-i", &format!("{base}/hello")]) else { return };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\nContent-Length: 13\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello, World!"), "{text}");

    // Two URLs in one curl run: the second must reuse the first's connection. curl's
    // %{num_connects} is the number of new connections each transfer needed: 1, then 0.
    let Some(out) = curl(&["-w", "|%{num_connects}\n", &format!("{base}/hello"), &format!("{base}/json")])
    else {
        return;
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, World!|1\n{\"hello\":\"world\"}|0\n");

    // POST with a body: /echo sends it back with its content type.
    let Some(out) = curl(&[
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "ping \u{e9}\u{e9} pong",
        "-w",
        "|%{content_type}",
        &format!("{base}/echo"),
    ]) else {
        return;
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ping \u{e9}\u{e9} pong|text/plain");

    // HEAD: the GET's headers, no body (curl would report an error if one followed).
    let Some(out) = curl(&["--head", &format!("{base}/hello")]) else { return };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("Content-Length: 13\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body after a HEAD's head: {text:?}");
}

/// The Python script: three requests on one `HTTPConnection`, printing status, body and
/// whether the socket stayed the same (keep-alive).
const PYTHON: &str = r#"
import http.client, sys
conn = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=20)
conn.request("GET", "/hello")
r = conn.getresponse()
print(r.status, r.reason, r.getheader("Content-Type"), repr(r.read()))
sock = conn.sock
conn.request("GET", "/users/42")
r = conn.getresponse()
print(r.status, repr(r.read()), "same connection:", conn.sock is sock)
conn.request("POST", "/echo", body=b"\x00binary\xffbody", headers={"Content-Type": "application/octet-stream"})
r = conn.getresponse()
print(r.status, r.getheader("Content-Length"), repr(r.read()), "same connection:", conn.sock is sock)
conn.close()
"#;

#[test]
fn python_http_client_keep_alive_and_post() {
    let server = start();
    let (host, port) = (server.addr().ip().to_string(), server.addr().port().to_string());
    let Some(out) = run_tool("python3", &["-c", PYTHON, &host, &port]) else { return };
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 OK text/plain b'Hello, World!'\n\
         200 b'{\"id\":\"42\",\"name\":\"user 42\"}' same connection: True\n\
         200 12 b'\\x00binary\\xffbody' same connection: True\n"
    );
}

#[test]
fn our_client_on_one_connection() {
    let server = start();
    let runtime = Runtime::new().unwrap();
    runtime.block_on(async {
        let mut conn = Client::connect(server.addr()).await.unwrap();
        let hello = conn.get("/hello").await.unwrap();
        assert_eq!((hello.status, hello.body.as_slice()), (200, &b"Hello, World!"[..]));
        assert_eq!(hello.header("content-type"), Some("text/plain"));

        let echo = conn
            .send(
                &ClientRequest::post("/echo", &b"abc\r\n\r\nGET / HTTP/1.1"[..])
                    .header("Content-Type", "x/y"),
            )
            .await
            .unwrap();
        assert_eq!(
            (echo.body.as_slice(), echo.header("content-type")),
            (&b"abc\r\n\r\nGET / HTTP/1.1"[..], Some("x/y"))
        );

        let head = conn.head("/hello").await.unwrap();
        assert_eq!((head.status, head.body.len(), head.header("content-length")), (200, 0, Some("13")));

        // The server streams this one with chunked encoding.
        let stream = conn.get("/stream/3").await.unwrap();
        assert_eq!(stream.header("transfer-encoding"), Some("chunked"));
        assert_eq!(stream.body, b"line 1\nline 2\nline 3\n");

        let batch =
            [ClientRequest::get("/users/1"), ClientRequest::get("/nope"), ClientRequest::head("/json")];
        let answers = conn.send_pipelined(&batch).await.unwrap();
        let seen: Vec<(u16, usize)> = answers.iter().map(|r| (r.status, r.body.len())).collect();
        assert_eq!(
            seen,
            [(200, r#"{"id":"1","name":"user 1"}"#.len()), (404, answers[1].body.len()), (200, 0)]
        );
        assert_eq!(answers[0].body, br#"{"id":"1","name":"user 1"}"#);

        // A request asking to close: the server answers, says so, and the client knows.
        let last = conn.send(&ClientRequest::get("/hello").header("Connection", "close")).await.unwrap();
        assert!(last.close && conn.is_closed());
        assert_eq!(last.body, b"Hello, World!");
    });
}
