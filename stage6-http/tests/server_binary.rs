//! `stage6-server` as a newcomer and an operator meet it: `--help`, a bad flag, a port in use,
//! and a real SIGTERM arriving while a request is in flight. The child's output is read by
//! threads (a full pipe must never stall it) and handed over line by line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_stage6-server");
/// Only a safety net against a hung test, never for synchronisation.
const SAFETY: Duration = Duration::from_secs(20);

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run stage6-server")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_every_setting_and_exits_0() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let usage = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--addr",
        "--workers",
        "--root",
        "--log",
        "--max-connections",
        "--idle-timeout",
        "--header-timeout",
        "--body-timeout",
        "--write-timeout",
        "--shutdown-timeout",
        "--max-body",
        "--max-header-bytes",
        "--max-headers",
        "--max-target",
    ] {
        assert!(usage.contains(flag), "--help does not mention {flag}:\n{usage}");
    }
}

#[test]
fn a_bad_flag_or_value_is_one_line_and_exit_2() {
    let cases = [
        &["--no-such-flag"][..],
        &["--max-connections", "many"],
        &["--addr", "nowhere"],
        &["--workers", "0"],
        &["--max-connections", "0"],
    ];
    for args in cases {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let first = stderr_of(&output).lines().next().unwrap_or_default().to_string();
        assert!(first.starts_with("error: "), "{args:?}: {first}");
    }
}

#[test]
fn a_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = run(&["--addr", &addr]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
}

/// Lines from a child's pipe, read on a thread.
fn lines_of(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns it.
fn wait_for(lines: &Receiver<String>, needle: &str) -> String {
    loop {
        match lines.recv_timeout(SAFETY) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {needle:?}: {e}"),
        }
    }
}

/// Sends SIGTERM the way an operator (or systemd, or Kubernetes) would.
fn terminate(child: &Child) {
    let status = Command::new("sh").arg("-c").arg(format!("kill -TERM {}", child.id())).status().unwrap();
    assert!(status.success());
}

/// Reads one response (ending at EOF or at the end of its Content-Length body).
fn response(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|l| l.strip_prefix("Content-Length: "));
            if length.and_then(|n| n.parse::<usize>().ok()) == Some(body.len()) {
                return text;
            }
        }
        let n = stream.read(&mut chunk).expect("read (safety timeout)");
        if n == 0 {
            return text;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--log"])
        .env("TRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let banner = wait_for(&stdout, "listening on http://");
    let addr: SocketAddr =
        banner.split("http://").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();

    let connect = || {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(SAFETY)).unwrap();
        stream
    };
    let mut idle = connect();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    assert!(response(&mut idle).ends_with("\r\n\r\nHello, World!"));

    let mut busy = connect();
    busy.write_all(b"GET /sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    // The server's trace line says the request reached its handler: it is in flight.
    wait_for(&stderr, "http: GET /sleep?ms=300");
    terminate(&child);

    let answer = response(&mut busy);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nslept 300 ms\n"), "{answer}");
    drop(busy);
    let mut rest = Vec::new();
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0, "the idle connection is closed without a word");

    assert!(child.wait().unwrap().success());
    wait_for(&stderr, "SIGTERM: no new connections");
    let log = wait_for(&stdout, "\"GET /hello HTTP/1.1\" 200 13 ");
    assert!(log.starts_with("127.0.0.1:"), "{log}");
    wait_for(&stdout, "\"GET /sleep?ms=300 HTTP/1.1\" 200 ");
    let summary = wait_for(&stdout, "stage6-server: stopped");
    assert_eq!(
        summary,
        "stage6-server: stopped: 2 requests on 2 connections, 0 turned away, 0 cut off at shutdown"
    );
}
