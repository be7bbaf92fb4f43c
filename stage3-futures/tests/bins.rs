//! The binaries as a learner runs them: the summary line every stage shares, `TRACE=1` showing
//! futures created, resolved and called back, `--help`, and one-line errors with the right exit
//! status.

use std::net::TcpListener;

use stage1_blocking::testkit::{BinRun, refused_addr, run_bin};

const CLIENT: &str = env!("CARGO_BIN_EXE_stage3-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage3-echo");

fn run(bin: &str, args: &[&str]) -> BinRun {
    run_bin(bin, args, false).unwrap()
}

#[test]
fn client_fetches_every_page_and_ends_with_the_summary() {
    let out = run(CLIENT, &["--count", "3", "--delay", "0", "--trickle"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("demo server on http://127.0.0.1:"), "{}", out.stdout);
    assert!(lines[0].ends_with("(delay 0 ms, trickle)"), "{}", out.stdout);
    for n in 1..=3 {
        let line = format!("GET /{n} -> 200 OK, 78 bytes");
        assert!(lines.contains(&line.as_str()), "no {line:?} in:\n{}", out.stdout);
    }
    let last = lines.last().unwrap();
    assert!(last.starts_with("stage3: 3 requests, 1 thread, ") && last.ends_with(" s"), "{last}");
    assert_eq!(out.stderr, "", "without TRACE, stderr stays quiet");
}

#[test]
fn trace_shows_futures_created_resolved_and_called_back() {
    let out = run_bin(CLIENT, &["--count", "2", "--delay", "0"], true).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for expected in [
        "[trace] future: fut#1 (GET /1) created",
        "[trace] future: fut#2 (writable fd ",
        "[trace] loop: select on 2 fd(s), timeout None",
        "[trace] loop: fd ",
        " ready -> resolve fut#2 (writable fd ",
        "[trace] future: fut#2 (writable fd ",
        ") resolved, 1 callback(s) scheduled",
        "[trace] loop: run callback 1/1 of fut#2 (writable fd ",
        "(readable fd ",
        "[trace] future: fut#1 (GET /1) resolved, 1 callback(s) scheduled",
        "[trace] loop: run callback 1/1 of fut#1 (GET /1)",
        "[trace] loop: nothing queued, nothing watched: done",
    ] {
        assert!(out.stderr.contains(expected), "missing {expected:?} in:\n{}", out.stderr);
    }
}

#[test]
fn refused_requests_are_error_lines_and_exit_1() {
    let closed = refused_addr().unwrap().to_string();
    let out = run(CLIENT, &["--addr", &closed, "--count", "2"]);
    assert_eq!(out.code, Some(1));
    let refused = out.stdout.lines().filter(|l| l.contains("-> error: ") && l.contains("refused")).count();
    assert_eq!(refused, 2, "{}", out.stdout);
    let last = out.stdout.lines().last().unwrap();
    assert!(last.starts_with("stage3: 2 requests, 1 thread, "), "{}", out.stdout);
}

#[test]
fn help_and_bad_flags() {
    for bin in [CLIENT, ECHO] {
        let out = run(bin, &["--help"]);
        assert_eq!(out.code, Some(0), "{bin}");
        assert!(out.stdout.contains("Usage: stage3-"), "{bin}: {}", out.stdout);

        let out = run(bin, &["--bogus"]);
        assert_eq!(out.code, Some(2), "{bin}");
        assert_eq!(out.stderr.lines().next(), Some("error: unknown flag --bogus"), "{bin}");
        assert!(out.stderr.contains("Usage: stage3-"), "{bin}: {}", out.stderr);

        let out = run(bin, &["--addr", "not-an-address"]);
        assert_eq!(out.code, Some(2), "{bin}");
        assert!(out.stderr.starts_with("error: bad value \"not-an-address\" for --addr"), "{bin}");
    }
}

#[test]
fn echo_on_a_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(ECHO, &["--addr", &addr]);
    assert_eq!(out.code, Some(1));
    let expected = format!(
        "error: {addr} is already in use (another program listens there; stop it or pick another port with --addr)\n"
    );
    assert_eq!(out.stderr, expected);
}
