//! The binaries as a person runs them: output shape, --help, bad flags, port in use.

use std::net::TcpListener;
use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("run binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const CLIENT: &str = env!("CARGO_BIN_EXE_stage1-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage1-echo");
const ECHO_THREADS: &str = env!("CARGO_BIN_EXE_stage1-echo-threads");
const DEMO: &str = env!("CARGO_BIN_EXE_stage1-demo-server");

#[test]
fn client_fetches_pages_and_ends_with_the_summary() {
    let out = run(CLIENT, &["--count", "3", "--delay", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("demo server on http://127.0.0.1:"), "{stdout}");
    assert!(lines[0].ends_with("(delay 0 ms)"), "{stdout}");
    assert_eq!(lines[1], "GET /1 -> 200 OK, 78 bytes");
    assert_eq!(lines[3], "GET /3 -> 200 OK, 78 bytes");
    assert!(lines[4].starts_with("stage1: 3 requests, 1 thread, "), "{stdout}");
    assert!(lines[4].ends_with(" s"), "{stdout}");
}

#[test]
fn client_against_a_server_that_is_not_there_fails_each_request() {
    // A port that was just free: bind, note it, close it.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let out = run(CLIENT, &["--addr", &addr, "--count", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.lines().next().unwrap().starts_with("GET /1 -> error: connecting to"), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("stage1: 2 requests"), "{stdout}");
}

#[test]
fn every_binary_has_help_and_rejects_bad_flags() {
    for bin in [CLIENT, ECHO, ECHO_THREADS, DEMO] {
        let out = run(bin, &["--help"]);
        assert_eq!(out.status.code(), Some(0), "{bin}");
        assert!(text(&out.stdout).contains("Usage: stage1-"), "{bin}");

        let out = run(bin, &["--bogus"]);
        assert_eq!(out.status.code(), Some(2), "{bin}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().next(), Some("error: unknown flag --bogus"), "{bin}");
        assert!(stderr.contains("Usage: stage1-"), "{bin}");

        let out = run(bin, &["--addr", "not-an-address"]);
        assert_eq!(out.status.code(), Some(2), "{bin}");
        let first = text(&out.stderr).lines().next().unwrap_or_default().to_string();
        assert!(first.contains("--addr") && first.contains("not-an-address"), "{bin}: {first}");
    }
    let out = run(CLIENT, &["--count", "many"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: bad value \"many\" for --count"));
}

#[test]
fn servers_report_a_port_in_use_in_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for bin in [ECHO, ECHO_THREADS, DEMO] {
        let out = run(bin, &["--addr", &addr]);
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{bin}: {stderr}");
        assert!(stderr.starts_with(&format!("error: {addr} is already in use (")), "{bin}: {stderr}");
    }
}
