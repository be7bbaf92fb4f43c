//! The binaries as a learner runs them. The crawler and the two echo servers take the exams
//! every stage's binaries take (stage 1's testkit: the summary line, `--help`, one-line errors
//! with the right exit status); every binary must end quietly when the reader of its output
//! goes away (`| head -1`). Only the shape of the output is checked: the times are the demos'
//! figures, not something to assert.

use stage1_blocking::workshop::testkit::{
    BinRun, check_client_binary, check_reader_gone, check_server_binary, check_usage_errors, run_bin,
};

const CLIENT: &str = env!("CARGO_BIN_EXE_stage5-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage5-echo");
const PROTOCOL: &str = env!("CARGO_BIN_EXE_stage5-protocol");
const SLEEP: &str = env!("CARGO_BIN_EXE_stage5-sleep");
const SUBPROCESS: &str = env!("CARGO_BIN_EXE_stage5-subprocess");
const BENCH: &str = env!("CARGO_BIN_EXE_stage5-bench");
const BENCH_BLOCKING: &str = env!("CARGO_BIN_EXE_stage5-bench-blocking");

/// Each binary with the smallest workload that still prints several lines.
const SMALL_RUNS: [(&str, &[&str]); 7] = [
    (CLIENT, &["--count", "3", "--delay", "0"]),
    (ECHO, &["--addr", "127.0.0.1:0"]),
    (PROTOCOL, &["--addr", "127.0.0.1:0"]),
    (SLEEP, &["--unit-ms", "1"]),
    (SUBPROCESS, &["--command", "echo hi", "--tick-ms", "1000"]),
    (BENCH, &["spawn", "10"]),
    (BENCH_BLOCKING, &["--count", "1", "--delay", "1", "--threads", "1"]),
];

fn run(bin: &str, args: &[&str]) -> BinRun {
    run_bin(bin, args, false).unwrap()
}

/// The first line of stderr, which for a usage error names the mistake.
fn first_error_line(out: &BinRun) -> &str {
    out.stderr.lines().next().unwrap_or_default()
}

#[test]
fn the_client_takes_the_client_binary_exam() {
    check_client_binary(CLIENT, 1).unwrap();
}

#[test]
fn the_echo_servers_take_the_server_binary_exam() {
    check_server_binary(ECHO).unwrap();
    check_server_binary(PROTOCOL).unwrap();
}

#[test]
fn every_binary_has_help_and_refuses_an_unknown_flag() {
    for bin in [SLEEP, SUBPROCESS, BENCH, BENCH_BLOCKING] {
        check_usage_errors(bin).unwrap();
    }
}

#[test]
fn every_binary_ends_quietly_when_its_reader_goes_away() {
    // `stage5-sleep | head -1`: println! panicked here (exit 101 and a backtrace) in every
    // binary but the client; the echo servers died on their first line.
    let failures: Vec<String> = SMALL_RUNS
        .iter()
        .flat_map(|&(bin, args)| [check_reader_gone(bin, args), check_reader_gone(bin, &["--help"])])
        .filter_map(|result| result.err().map(|e| format!("{e:#}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_client_limits_its_requests_in_flight_with_max_concurrency() {
    let out = run(CLIENT, &["--count", "4", "--delay", "0", "--max-concurrency", "2"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stdout);
    let mut pages: Vec<&str> = lines[1..5].to_vec();
    pages.sort();
    for (n, line) in (1..=4).zip(pages) {
        assert!(line.starts_with(&format!("GET /{n} -> 200 OK, ")), "{}", out.stdout);
    }
    assert!(lines[5].starts_with("stage5: 4 requests, 1 thread, "), "{}", out.stdout);
}

#[test]
fn a_bad_max_concurrency_is_a_usage_error_before_anything_starts() {
    let out = run(CLIENT, &["--max-concurrency", "0"]);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        first_error_line(&out),
        "error: bad value \"0\" for --max-concurrency: expected a whole number >= 1",
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "no demo server was started: {}", out.stdout);
}

#[test]
fn sleep_prints_each_worker_and_the_summary() {
    let out = run(SLEEP, &["--unit-ms", "1"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for units in 1..=3 {
        for line in [format!("Waiting: {units}"), format!("long time work End ({units} units)")] {
            assert!(out.stdout.lines().any(|l| l == line), "no {line:?} in:\n{}", out.stdout);
        }
    }
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("stage5: 3 workers sleeping 1+2+3 = 6 units of 1 ms, 1 thread, "), "{last}");
}

#[test]
fn subprocess_reads_the_child_and_refuses_a_zero_tick() {
    let out = run(SUBPROCESS, &["--command", "echo hi", "--tick-ms", "1000"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.lines().any(|l| l.ends_with(" ms] child says: hi")), "{}", out.stdout);
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("stage5: 1 lines from the child, exit status: 0, 1 thread, "), "{last}");

    let out = run(SUBPROCESS, &["--tick-ms", "0"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(first_error_line(&out), "error: bad value \"0\" for --tick-ms: must be at least 1");
    assert_eq!(out.stderr.lines().nth(1), Some("try 'stage5-subprocess --help'"), "{}", out.stderr);
}

#[test]
fn bench_runs_a_workload_and_refuses_an_unknown_one() {
    let out = run(BENCH, &["spawn", "10"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with("spawn: 10 in ") && out.stdout.ends_with(" ms\n"), "{}", out.stdout);

    for (args, first) in [
        (&["nope"][..], "error: bad value \"nope\" for WORKLOAD: expected spawn, sleeps, pingpong,"),
        (&["spawn", "ten"], "error: bad value \"ten\" for N: expected a whole number >= 0"),
        (&["idle-clients", "3"], "error: bad value \"idle-clients\" for WORKLOAD: needs N and ADDR"),
        (&["idle-clients", "3", "nowhere"], "error: bad value \"nowhere\" for ADDR: expected an address"),
    ] {
        let out = run(BENCH, args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(first_error_line(&out).starts_with(first), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().nth(1), Some("try 'stage5-bench --help'"), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn bench_blocking_prints_one_row_per_way_of_waiting() {
    let out = run(BENCH_BLOCKING, &["--count", "3", "--delay", "1", "--threads", "2"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert!(lines[0].starts_with("3 tasks that each wait 1 ms"));
    assert!(lines[1].contains("std::thread::sleep inside the task"));
    assert!(lines[2].contains("time::sleep(..).await"));
    assert!(lines[3].contains("spawn_blocking(thread::sleep), 2 threads"));
    assert!(lines[1..].iter().all(|l| l.contains(" s   ticker ran ")));
}

#[test]
fn bench_blocking_refuses_bad_values_with_one_line_naming_them() {
    for (args, first) in [
        (["--threads", "0"], "error: bad value \"0\" for --threads: must be at least 1"),
        (["--count", "x"], "error: bad value \"x\" for --count: expected a whole number >= 0"),
    ] {
        let out = run(BENCH_BLOCKING, &args);
        assert_eq!(out.code, Some(2), "{args:?}");
        assert_eq!(first_error_line(&out), first, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().nth(1), Some("try 'stage5-bench-blocking --help'"), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}
