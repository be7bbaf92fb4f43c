//! The binaries as a learner runs them. The crawler and the echo server take the exams every
//! stage's binaries take (stage 1's testkit: the summary line, `--help`, one-line errors with
//! the right exit status); `TRACE=1` must show futures created, resolved and called back.

use stage1_blocking::workshop::testkit::{check_client_binary, check_server_binary, run_bin};

const CLIENT: &str = env!("CARGO_BIN_EXE_stage3-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage3-echo");

#[test]
fn the_client_takes_the_client_binary_exam() {
    check_client_binary(CLIENT, 1).unwrap();
}

#[test]
fn the_echo_server_takes_the_server_binary_exam() {
    check_server_binary(ECHO).unwrap();
}

#[test]
fn trace_shows_futures_created_resolved_and_called_back() {
    let out = run_bin(CLIENT, &["--count", "2", "--delay", "0"], true).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for expected in [
        "] future: fut#1 (GET /1) created",
        "] future: fut#2 (writable fd ",
        "] loop: select on 2 fd(s), timeout None",
        " ready -> resolve fut#2 (writable fd ",
        ") resolved, 1 callback(s) scheduled",
        "] loop: run callback 1/1 of fut#2 (writable fd ",
        "(readable fd ",
        "] future: fut#1 (GET /1) resolved, 1 callback(s) scheduled",
        "] loop: run callback 1/1 of fut#1 (GET /1)",
        "] loop: nothing queued, nothing watched: done",
    ] {
        assert!(out.stderr.contains(expected), "missing {expected:?} in:\n{}", out.stderr);
    }
}
