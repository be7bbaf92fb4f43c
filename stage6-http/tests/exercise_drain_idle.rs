//! Exercise 6s.3 (scripts/exercise.sh check 6s.3): when a graceful shutdown begins, idle
//! keep-alive connections are closed at once, at the *start* of the drain, while a request
//! still in flight on another connection keeps the drain open (and then gets its answer).
#![cfg(feature = "exercises")]

use stage5_async_await::sync::event::Event;
use stage6_http::{Request, Response, Router, Server, ServerConfig};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the test waits for the idle connection's end of file. With the exercise done it
/// comes within milliseconds of `stop_accepting`; without it, only once the drain ends, which
/// here is after the in-flight request, which waits for this test: a hang, so a guard.
const IDLE_CLOSE_GUARD: Duration = Duration::from_secs(5);

/// Opens the gate when dropped, so a failing test still lets the drain (and the test) end.
struct OpenOnDrop(Arc<Event>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

fn waiting_router(gate: Arc<Event>, started: mpsc::Sender<()>) -> Router {
    let started = Mutex::new(started);
    Router::new()
        .get("/wait", move |_: Request| {
            let _ = started.lock().unwrap().send(());
            let gate = gate.clone();
            async move {
                gate.wait().await;
                Response::text("finished")
            }
        })
        .get("/hello", |_: Request| async { Response::text("hello") })
}

/// Reads until EOF; the text read, or why not.
fn read_to_eof(stream: &mut TcpStream) -> Result<String, std::io::Error> {
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn idle_connections_close_when_the_drain_begins_not_when_it_ends() {
    let gate = Arc::new(Event::new());
    let (started_tx, started) = mpsc::channel();
    let config = ServerConfig { shutdown_timeout: Duration::from_secs(60), ..ServerConfig::default() };
    let server =
        Server::bind("127.0.0.1:0".parse().unwrap(), waiting_router(gate.clone(), started_tx), config)
            .expect("bind 127.0.0.1:0")
            .spawn()
            .expect("start workers");
    let _open_gate = OpenOnDrop(gate.clone()); // dropped before `server`

    // One keep-alive connection answered once and now idle, one with a request in flight.
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut answer = [0u8; 256];
    idle.set_read_timeout(Some(IDLE_CLOSE_GUARD)).unwrap();
    let n = idle.read(&mut answer).expect("the first answer");
    assert!(answer[..n].ends_with(b"hello"), "{:?}", String::from_utf8_lossy(&answer[..n]));
    let mut busy = TcpStream::connect(server.addr()).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    busy.write_all(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    started.recv().unwrap(); // the request is in its handler: in flight

    server.stop_accepting();
    match read_to_eof(&mut idle) {
        Ok(rest) => assert_eq!(rest, "", "the idle connection got bytes instead of a plain close"),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => panic!(
            "the idle connection was still open {IDLE_CLOSE_GUARD:?} into the drain: idle connections \
             are only closed when the drain ends, not when it begins"
        ),
        Err(e) => panic!("reading the idle connection: {e}"),
    }

    // The drain is still waiting for the request in flight, which then gets its answer.
    gate.set();
    let answer = read_to_eof(&mut busy).expect("the in-flight answer");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "told it was the last: {answer:?}");
    assert!(answer.ends_with("finished"), "{answer:?}");
    drop(busy);
    let stats = server.stop().unwrap();
    assert_eq!((stats.requests, stats.abandoned), (2, 0));
}
