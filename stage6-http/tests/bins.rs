//! The three binaries as a newcomer and an operator meet them. The exams every stage's binaries
//! take (stage 1's testkit): usage errors of one shape, and a quiet end when the reader of their
//! output goes away (`stage6-parse-bench | head -1`, `stage6-server 2>&1 | head -1`): `println!`
//! and `eprintln!` panic when the write fails; these binaries must not. Then the server's own:
//! `--help` lists every setting, and a real SIGTERM arriving while a request is in flight.
//! (`loadgen.rs` tests what the load generator does.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};

use stage1_blocking::workshop::testkit::{
    self, BinRun, Gone, check_reader_gone, check_server_binary, check_usage_error, check_usage_errors,
    run_bin, run_with_reader_gone,
};

const SERVER: &str = env!("CARGO_BIN_EXE_stage6-server");
const LOADGEN: &str = env!("CARGO_BIN_EXE_stage6-loadgen");
const PARSE_BENCH: &str = env!("CARGO_BIN_EXE_stage6-parse-bench");

/// The load generator's smallest run: its own in-process server, ten requests.
const LOADGEN_SMALL: &[&str] = &["--requests", "10", "--connections", "1"];

/// Only a safety net against a hung test, never for synchronisation.
const SAFETY: std::time::Duration = testkit::SAFETY_TIMEOUT;

fn run(bin: &str, args: &[&str]) -> BinRun {
    run_bin(bin, args, false).unwrap()
}

#[test]
fn usage_errors_have_one_shape() {
    check_server_binary(SERVER).unwrap();
    check_usage_errors(LOADGEN).unwrap();
    check_usage_errors(PARSE_BENCH).unwrap();
    // Values checked by the programs themselves, after parsing, look exactly like the
    // parser's own complaints (`Args::bad_value`).
    for (bin, args, first) in [
        (LOADGEN, &["--requests", "0"][..], "error: bad value \"0\" for --requests: must be at least 1"),
        (LOADGEN, &["--connections", "0"], "error: bad value \"0\" for --connections: must be at least 1"),
        (
            LOADGEN,
            &["--duration", "3w"],
            "error: bad value \"3w\" for --duration: unknown unit \"w\" (use s, ms or m)",
        ),
        (
            PARSE_BENCH,
            &["--kind", "curl"],
            "error: bad value \"curl\" for --kind: expected wrk, browser or chunked",
        ),
        (SERVER, &["--workers", "0"], "error: bad value \"0\" for --workers: must be at least 1"),
        (
            SERVER,
            &["--max-connections", "0"],
            "error: bad value \"0\" for --max-connections: must be at least 1",
        ),
        (
            SERVER,
            &["--max-connections", "many"],
            "error: bad value \"many\" for --max-connections: expected a whole number >= 0",
        ),
    ] {
        let out = check_usage_error(bin, args, first).unwrap();
        assert_eq!(out.stderr.lines().next(), Some(first), "{args:?}");
    }
}

#[test]
fn parse_bench_prints_its_two_lines() {
    let out = run(PARSE_BENCH, &["--requests", "32", "--kind", "chunked", "--respond"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].starts_with("stage6-parse-bench: 32 chunked requests ("), "{}", lines[0]);
    assert!(lines[0].ends_with("16 per buffer, with responses), 608 body bytes"), "{}", lines[0]);
    assert!(lines[1].contains(" ns/request, "), "{}", lines[1]);
}

#[test]
fn every_binary_ends_quietly_when_its_stdout_reader_is_gone() {
    // Before, each panicked on its first line (exit 101 and a backtrace). The server's first
    // line is its banner: with nobody to read it, it stops at once, like every demo.
    let runs = [
        (SERVER, &["--addr", "127.0.0.1:0"][..]),
        (LOADGEN, LOADGEN_SMALL),
        (PARSE_BENCH, &["--requests", "10"]),
    ];
    let failures: Vec<String> = runs
        .iter()
        .filter_map(|&(bin, args)| check_reader_gone(bin, args).err().map(|e| format!("{e:#}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_load_generator_goes_on_when_its_stderr_is_gone() {
    // Its notes ("loading ...", a progress line per second) go to stderr; without one, the
    // load and its report on stdout go on.
    let out = run_with_reader_gone(LOADGEN, LOADGEN_SMALL, Gone::Stderr).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("stage6: 10 requests, 1 thread, "), "{}", out.stdout);
}

/// `stage6-server --addr 127.0.0.1:0` with stdout piped and `stderr` as given, once it has
/// answered a request; returns the child and its stdout, past the banner (its first line).
///
/// The banner comes before the server watches for signals: a SIGTERM sent right after it
/// would find the default action and kill the process. The watcher is the first task worker
/// 0 spawns, so once a connection's task (spawned later) has answered, it is in place.
fn start_server(stderr: Stdio) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(SERVER)
        .args(["--addr", "127.0.0.1:0"])
        .env_remove("TRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let addr = banner.strip_prefix("stage6-server: listening on http://").and_then(|r| r.split(' ').next());
    let addr = addr.and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("banner: {banner}"));
    let answer =
        testkit::raw_exchange(addr, b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    assert!(answer.ends_with(b"\r\n\r\nHello, World!"), "{}", String::from_utf8_lossy(&answer));
    (child, stdout)
}

/// Sends SIGTERM the way an operator would (the server then stops gracefully).
fn terminate(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn the_server_stops_quietly_after_its_reader_took_the_banner() {
    // `stage6-server | head -1`: the banner is read, then the reader leaves; the line the
    // server prints when it stops (after SIGTERM) meets EPIPE.
    let (child, stdout) = start_server(Stdio::piped());
    drop(stdout);
    terminate(&child);
    let out = testkit::wait_with_safety_timeout(child).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("stage6-server: SIGTERM: no new connections;"), "{stderr}");
}

#[test]
fn the_server_stops_gracefully_when_its_stderr_is_gone() {
    // Its signal notes go to stderr; with stderr gone, SIGTERM must still be a graceful stop
    // that ends with the summary on stdout, not a panic in the signal watcher.
    let (writer, reader) = UnixStream::pair().unwrap();
    drop(reader);
    let (child, mut stdout) = start_server(Stdio::from(std::os::fd::OwnedFd::from(writer)));
    terminate(&child);
    // The rest of stdout, read on a thread: the server may not stop (when its signal watcher
    // panicked, shutdown never began), and then the safety timeout kills it.
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        rest
    });
    let out = testkit::wait_with_safety_timeout(child).unwrap();
    let rest = rest.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{rest}");
    assert_eq!(
        rest,
        "stage6-server: stopped: 1 requests on 1 connections, 0 turned away, 0 cut off at shutdown\n"
    );
}

#[test]
fn help_lists_every_setting_and_exits_0() {
    let output = run(SERVER, &["--help"]);
    assert_eq!(output.code, Some(0));
    let usage = output.stdout;
    for flag in [
        "--addr",
        "--workers",
        "--root",
        "--log",
        "--max-connections",
        "--idle-timeout",
        "--header-timeout",
        "--body-timeout",
        "--min-body-rate",
        "--body-budget",
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

/// The server binary on a free port with `TRACE=1` and `extra` flags: the child, its address
/// (from its banner), and its stdout and stderr lines.
fn traced_server(extra: &[&str]) -> (std::process::Child, SocketAddr, Receiver<String>, Receiver<String>) {
    let mut child = Command::new(SERVER)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .env("TRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let banner = wait_for(&stdout, "listening on http://");
    let addr = banner.split("http://").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    (child, addr, stdout, stderr)
}

/// A connection to `addr` whose reads give up after the safety timeout.
fn connect_with_timeout(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(SAFETY)).unwrap();
    stream
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
        let n = match stream.read(&mut chunk) {
            Ok(0) => return text,
            Ok(n) => n,
            // A signal meant for nobody here can interrupt the read (seen once in CI); the
            // bytes are still coming.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("read (safety timeout): {e}"),
        };
        bytes.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let (mut child, addr, stdout, stderr) = traced_server(&["--log"]);
    let connect = || connect_with_timeout(addr);
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

#[test]
fn sigterm_closes_the_listening_sockets_and_answers_every_accepted_request() {
    for workers in ["1", "2"] {
        sigterm_refuses_new_connections_while_draining(workers);
    }
}

/// With `--workers N`: a request in flight and a crowd of connections that may still be in
/// the kernel's accept queue when SIGTERM arrives. Once every worker says it is draining, a
/// new connection must be refused (not left in a queue nobody reads, to be reset at exit),
/// and every connection made before the signal must get its answer.
fn sigterm_refuses_new_connections_while_draining(workers: &str) {
    let (mut child, addr, _stdout, stderr) = traced_server(&["--workers", workers]);
    let connect = || connect_with_timeout(addr);
    let mut busy = connect();
    busy.write_all(b"GET /sleep?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    wait_for(&stderr, "http: GET /sleep?ms=1500");
    let mut crowd: Vec<TcpStream> = (0..32)
        .map(|_| {
            let mut stream = connect();
            stream.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            stream
        })
        .collect();
    let signalled = std::time::Instant::now();
    terminate(&child);
    for _ in 0..workers.parse::<usize>().unwrap() {
        wait_for(&stderr, "http: draining");
    }
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!(
            "{workers} worker(s): a connection made while draining was accepted by the kernel: \
             a copy of the listening socket is still open"
        ),
    }
    eprintln!("{workers} worker(s): connect refused {:?} after SIGTERM", signalled.elapsed());
    for (i, stream) in crowd.iter_mut().enumerate() {
        let answer = response(stream);
        assert!(answer.ends_with("\r\n\r\nHello, World!"), "{workers} worker(s), connection {i}: {answer:?}");
    }
    let answer = response(&mut busy);
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.contains("\r\nConnection: close\r\n"),
        "{answer}"
    );
    assert!(child.wait().unwrap().success());
}

#[cfg(target_os = "linux")]
#[test]
fn the_server_raises_its_open_file_limit() {
    // Started with a soft limit of 256 below a higher hard limit, as many shells start
    // programs, the server must lift its soft limit to the hard one (read back from /proc).
    let mut child = Command::new("sh")
        .args(["-c", &format!("ulimit -S -n 256 && exec {SERVER} --addr 127.0.0.1:0")])
        .env_remove("TRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    wait_for(&stdout, "listening on http://");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "soft limit not raised to the hard one: {line}");
}
