//! The binaries as a learner runs them: output shape, exit status, one-line errors.

use stage1_blocking::workshop::testkit::{
    check_client_binary, check_server_binary, check_usage_errors, run_bin,
};

const CLIENT: &str = env!("CARGO_BIN_EXE_stage2-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage2-echo");
const BENCH: &str = env!("CARGO_BIN_EXE_stage2-echo-bench");

#[test]
fn the_client_takes_the_client_binary_exam() {
    // Stage 1's testkit: no set-up, a line per page, the summary last; refused requests are
    // error lines and exit 1; --help, unknown flags and bad values.
    check_client_binary(CLIENT, 1).unwrap();
}

#[test]
fn the_echo_server_takes_the_server_binary_exam() {
    check_server_binary(ECHO).unwrap();
}

#[test]
fn the_bench_has_help_and_refuses_bad_flags() {
    check_usage_errors(BENCH).unwrap();
}

#[test]
fn bench_checks_every_byte() {
    // Small, so a debug build finishes quickly; the real run is `--release` with the defaults.
    let out = run_bin(BENCH, &["--connections", "20", "--size", "8"], false).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let last = out.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("stage2-echo-bench: 20 connections x 8 KiB echoed, every byte correct, "),
        "{last}"
    );
}

#[test]
fn trace_shows_the_loop_deciding() {
    let out = run_bin(CLIENT, &["--count", "2", "--delay", "0"], true).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let err = out.stderr;
    for expected in [
        "] loop: register writer of fd ",
        "] loop: select on 2 fds",
        "] crawler: GET /1: request sent",
        "] loop: register reader of fd ",
        "] crawler: GET /2 done: 200 OK",
        "] loop: done (0 fds still registered)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    // Every line is stamped with the milliseconds since the program started.
    for line in err.lines() {
        let stamp = line.strip_prefix("[trace +").and_then(|rest| rest.split_once(" ms] "));
        let ms = stamp.map(|(ms, _)| ms);
        assert!(
            ms.is_some_and(
                |ms| ms.parse::<f64>().is_ok() && ms.split_once('.').is_some_and(|(_, f)| f.len() == 3)
            ),
            "not a '[trace +12.345 ms] ...' line: {line:?}"
        );
    }
    // Without TRACE stderr stays quiet: the client exam checks that.
}
