//! The client against a tiny canned server on 127.0.0.1: a std thread that reads each request
//! and answers with fixed bytes, written in several pieces (each its own `write` with Nagle
//! off, so they tend to arrive as separate reads; the unit tests in `client.rs` cover every
//! split exactly). The server thread returns every request it received, so the tests check
//! the bytes both ways.

use stage5_async_await::Runtime;
use stage6_http::client::{Client, ClientError, ClientRequest, ResponseError};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// One answer: the pieces to write, one `write` each.
type Answer = Vec<&'static [u8]>;

/// A server for one connection: for each answer, read one request, then write the answer's
/// pieces. Afterwards the connection is closed. Joining gives the requests received.
struct Canned {
    addr: SocketAddr,
    thread: JoinHandle<Vec<Vec<u8>>>,
}

impl Canned {
    fn start(answers: Vec<Answer>) -> Canned {
        Canned::start_with(answers, 1)
    }

    /// `read_first`: how many requests to read before writing the first answer (pipelining:
    /// the client writes them all before reading).
    fn start_with(answers: Vec<Answer>, read_first: usize) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // A safety net against a hung test, never a synchronisation.
            stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            stream.set_nodelay(true).unwrap();
            let mut pending = Vec::new();
            let mut requests = Vec::new();
            for (i, answer) in answers.iter().enumerate() {
                // Answer i is written once request i (and, first, `read_first` of them) arrived.
                let need = if i == 0 { read_first.max(1) } else { i + 1 };
                while requests.len() < need {
                    match read_request(&mut stream, &mut pending) {
                        Some(request) => requests.push(request),
                        None => return requests,
                    }
                }
                for piece in answer {
                    if stream.write_all(piece).is_err() {
                        return requests;
                    }
                }
            }
            requests
        });
        Canned { addr, thread }
    }

    fn requests(self) -> Vec<Vec<u8>> {
        self.thread.join().unwrap()
    }
}

/// Reads one request (head, and a Content-Length body) from `stream`; `pending` keeps bytes
/// read past it. `None` at EOF.
fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            let body = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            let total = end + 4 + body;
            if pending.len() >= total {
                return Some(pending.drain(..total).collect());
            }
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

fn run<F: std::future::Future>(future: F) -> F::Output {
    Runtime::new().unwrap().block_on(future)
}

#[test]
fn keep_alive_content_length_then_chunked_on_one_connection() {
    let server = Canned::start(vec![
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"ngth: 13\r\nContent-Type: text/plain\r\n\r",
            b"\nHello, ",
            b"World!",
        ],
        vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r",
            b"\nhello\r\n1",
            b"0;ext=1\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n",
            b"\r\n",
        ],
    ]);
    let (first, second, closed) = run(async {
        let mut conn = Client::connect(server.addr).await.unwrap();
        let first = conn.get("/a").await.unwrap();
        let second = conn.get("/b").await.unwrap();
        (first, second, conn.is_closed())
    });
    assert_eq!(
        (first.status, first.reason.as_str(), first.body.as_slice()),
        (200, "OK", &b"Hello, World!"[..])
    );
    assert_eq!(first.header("content-type"), Some("text/plain"));
    assert_eq!(second.body, b"hello0123456789abcdef");
    assert!(!first.close && !second.close && !closed);
    let host = format!("Host: {}", server.addr);
    let requests = server.requests();
    assert_eq!(
        requests,
        vec![
            format!("GET /a HTTP/1.1\r\n{host}\r\n\r\n").into_bytes(),
            format!("GET /b HTTP/1.1\r\n{host}\r\n\r\n").into_bytes()
        ],
        "both requests on the one connection the server accepted"
    );
}

#[test]
fn body_delimited_by_close_then_the_connection_refuses_more() {
    let server = Canned::start(vec![vec![b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil ", b"the end"]]);
    let (response, closed, again) = run(async {
        let mut conn = Client::connect(server.addr).await.unwrap();
        let response = conn.get("/").await.unwrap();
        let closed = conn.is_closed();
        (response, closed, conn.get("/").await)
    });
    assert_eq!((response.body.as_slice(), response.close), (&b"until the end"[..], true));
    assert!(closed);
    assert!(matches!(again, Err(ClientError::Closed)), "{again:?}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn connection_close_header_is_reported() {
    let server =
        Canned::start(vec![vec![b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy"]]);
    let (response, closed) = run(async {
        let mut conn = Client::connect(server.addr).await.unwrap();
        (conn.get("/").await.unwrap(), conn.is_closed())
    });
    assert_eq!(
        (response.status, response.reason.as_str(), response.body.as_slice()),
        (503, "Busy", &b"busy"[..])
    );
    assert!(response.close && closed);
    server.requests();
}

#[test]
fn head_response_has_no_body_and_the_next_response_follows() {
    let server = Canned::start(vec![
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"],
        vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
    ]);
    let (head, empty, get) = run(async {
        let mut conn = Client::connect(server.addr).await.unwrap();
        (conn.head("/x").await.unwrap(), conn.get("/y").await.unwrap(), conn.get("/z").await.unwrap())
    });
    assert_eq!((head.status, head.body.len(), head.header("content-length")), (200, 0, Some("13")));
    assert_eq!((empty.status, empty.body.len()), (204, 0));
    assert_eq!(get.body, b"ok");
    let requests = server.requests();
    assert!(requests[0].starts_with(b"HEAD /x HTTP/1.1\r\n"));
}

#[test]
fn interim_responses_are_skipped() {
    let server = Canned::start(vec![vec![
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\nHTTP/1.1 201 Created\r\n",
        b"Content-Length: 3\r\n\r\nnew",
    ]]);
    let response =
        run(async { Client::connect(server.addr).await.unwrap().post("/items", b"{}").await.unwrap() });
    assert_eq!((response.status, response.body.as_slice()), (201, &b"new"[..]));
    assert_eq!(response.header("link"), None);
    let requests = server.requests();
    assert!(
        requests[0].ends_with(b"Content-Length: 2\r\n\r\n{}"),
        "{:?}",
        String::from_utf8_lossy(&requests[0])
    );
}

#[test]
fn pipelined_requests_come_back_in_order() {
    let server = Canned::start_with(
        vec![
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 404 Not Found\r\nContent-Len"],
            vec![b"gth: 1\r\n\r\n2"],
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n3\r\n0\r\n\r\n"],
        ],
        3,
    );
    let responses = run(async {
        let mut conn = Client::connect(server.addr).await.unwrap();
        let batch = [ClientRequest::get("/1"), ClientRequest::get("/2"), ClientRequest::get("/3")];
        conn.send_pipelined(&batch).await.unwrap()
    });
    let seen: Vec<(u16, &[u8])> = responses.iter().map(|r| (r.status, r.body.as_slice())).collect();
    assert_eq!(seen, [(200, &b"1"[..]), (404, &b"2"[..]), (200, &b"3"[..])]);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    type Check = fn(&ClientError) -> bool;
    let cases: Vec<(Answer, Check)> = vec![
        (vec![b"SSH-2.0-OpenSSH_9.6\r\n\r\n"], |e| {
            matches!(e, ClientError::Response(ResponseError::StatusLine))
        }),
        (vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx"], |e| {
            matches!(e, ClientError::Response(ResponseError::ContentLength))
        }),
        (vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnope\r\n"], |e| {
            matches!(e, ClientError::Response(ResponseError::Chunk))
        }),
        (vec![b"HTTP/1.1 200 OK\r\n\x00\x01\x02: \xff\r\n\r\n"], |e| {
            matches!(e, ClientError::Response(ResponseError::HeaderLine))
        }),
        // The server closes in the middle of the body.
        (vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"], |e| {
            matches!(e, ClientError::Response(ResponseError::Truncated))
        }),
        // The server closes without answering.
        (vec![], |e| matches!(e, ClientError::Closed)),
    ];
    for (answer, expected) in cases {
        let text = answer.concat();
        let server = Canned::start(vec![answer]);
        let (result, closed) = run(async {
            let mut conn = Client::connect(server.addr).await.unwrap();
            (conn.get("/").await, conn.is_closed())
        });
        let error = result.expect_err(&String::from_utf8_lossy(&text));
        assert!(expected(&error), "{:?} -> {error:?}", String::from_utf8_lossy(&text));
        assert!(closed, "after an error the connection is not reused");
        server.requests();
    }
}

#[test]
fn responses_over_the_size_limit_are_refused() {
    let server = Canned::start(vec![vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", &[b'x'; 100]]]);
    let result =
        run(async { Client::new().max_response(10).open(server.addr).await.unwrap().get("/").await });
    assert!(matches!(result, Err(ClientError::Response(ResponseError::BodyTooLarge))), "{result:?}");
    server.requests();
}

#[test]
fn a_refused_connect_is_an_io_error() {
    // A port that was just free: bind, note it, close.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let result = run(Client::connect(addr));
    assert!(matches!(&result, Err(ClientError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused));
}
