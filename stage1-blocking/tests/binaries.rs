//! The binaries as a person runs them: output shape, --help, bad flags, port in use.

use stage1_blocking::workshop::testkit;

const CLIENT: &str = env!("CARGO_BIN_EXE_stage1-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage1-echo");
const ECHO_THREADS: &str = env!("CARGO_BIN_EXE_stage1-echo-threads");
const DEMO: &str = env!("CARGO_BIN_EXE_stage1-demo-server");
const THREADS: &str = env!("CARGO_BIN_EXE_stage1-threads");

#[test]
fn client_fetches_pages_and_ends_with_the_summary() {
    // One request after another: the lines come in order.
    let out = testkit::run_bin(CLIENT, &["--count", "3", "--delay", "0"], false).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let stdout = out.stdout;
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
fn every_binary_takes_the_binary_exams() {
    // The exams every stage's binaries take (testkit): the client's output, refused requests,
    // --help, unknown flags and bad values; the servers' bad --addr and port in use.
    testkit::check_client_binary(CLIENT, 1).unwrap();
    for server in [ECHO, ECHO_THREADS, DEMO] {
        testkit::check_server_binary(server).unwrap_or_else(|e| panic!("{e:#}"));
    }
}

#[test]
fn with_stderr_gone_errors_still_exit_with_their_status() {
    // Nobody reads stderr (a closed terminal, `2>&-`): the error line cannot be written, but
    // the exit status must still say usage error (2) or failure (1), not a panic's 101.
    let bad_flag = testkit::run_with_reader_gone(CLIENT, &["--no-such-flag"], testkit::Gone::Stderr).unwrap();
    assert_eq!(bad_flag.code, Some(2), "{bad_flag:?}");
    let refused = testkit::refused_addr().unwrap().to_string();
    let failed = testkit::run_with_reader_gone(CLIENT, &["--addr", &refused], testkit::Gone::Stderr).unwrap();
    assert_eq!(failed.code, Some(1), "{failed:?}");
}

#[test]
fn the_thread_per_request_client_draws_a_lane_per_request() {
    // Each request on its own thread: the timeline still has one lane per request.
    testkit::check_timeline(THREADS).unwrap();
}
