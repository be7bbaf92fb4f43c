//! The binaries as a learner runs them: output shape, exit status, one-line errors.

use std::net::TcpListener;
use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).env_remove("TRACE").output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const CLIENT: &str = env!("CARGO_BIN_EXE_stage2-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage2-echo");
const BENCH: &str = env!("CARGO_BIN_EXE_stage2-echo-bench");

#[test]
fn client_fetches_every_page_and_ends_with_the_summary() {
    let out = run(CLIENT, &["--count", "4", "--delay", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("demo server on http://127.0.0.1:"), "{text}");
    for n in 1..=4 {
        let page = format!("GET /{n} -> 200 OK, ");
        assert!(lines.iter().any(|l| l.starts_with(&page)), "no line for /{n} in {text}");
    }
    let last = lines.last().unwrap();
    assert!(last.starts_with("stage2: 4 requests, 1 thread, ") && last.ends_with(" s"), "{last}");
}

#[test]
fn client_reports_a_refused_connection_and_exits_1() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let out = run(CLIENT, &["--addr", &closed, "--count", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_eq!(
        text.lines().filter(|l| l.contains("-> error:") && l.contains("refused")).count(),
        2,
        "{text}"
    );
    assert!(text.lines().last().unwrap().starts_with("stage2: 2 requests, 1 thread, "), "{text}");
}

#[test]
fn bad_flag_is_one_line_and_exit_2() {
    for bin in [CLIENT, ECHO, BENCH] {
        let out = run(bin, &["--no-such-flag"]);
        assert_eq!(out.status.code(), Some(2), "{bin}");
        let err = stderr(&out);
        assert!(err.lines().next().unwrap().contains("--no-such-flag"), "{bin}: {err}");
    }
}

#[test]
fn help_exits_0() {
    for bin in [CLIENT, ECHO, BENCH] {
        let out = run(bin, &["--help"]);
        assert!(out.status.success(), "{bin}");
        assert!(stdout(&out).contains("Usage"), "{bin}");
    }
}

#[test]
fn echo_on_a_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(ECHO, &["--addr", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("in use"), "{err}");
}

#[test]
fn bench_checks_every_byte() {
    // Small, so a debug build finishes quickly; the real run is `--release` with the defaults.
    let out = run(BENCH, &["--connections", "20", "--size", "8"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("stage2-echo-bench: 20 connections x 8 KiB echoed, every byte correct, "),
        "{last}"
    );
}

#[test]
fn trace_shows_the_loop_deciding() {
    let out = Command::new(CLIENT).args(["--count", "2", "--delay", "0"]).env("TRACE", "1").output().unwrap();
    assert!(out.status.success());
    let err = stderr(&out);
    for expected in [
        "[trace] loop: register writer of fd ",
        "[trace] loop: select on 2 fds",
        "[trace] crawler: GET /1: request sent",
        "[trace] loop: register reader of fd ",
        "[trace] crawler: GET /2 done: 200 OK",
        "[trace] loop: done (0 fds still registered)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    // Without TRACE, stderr stays quiet.
    let quiet = run(CLIENT, &["--count", "2", "--delay", "0"]);
    assert_eq!(stderr(&quiet), "");
}
