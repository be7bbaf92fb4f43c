//! The binaries as a learner runs them: the summary line every stage shares, `TRACE=1` showing
//! each task step, `--help`, one-line errors with the right exit status, and `stage4-fib`.

use std::net::TcpListener;

use stage1_blocking::testkit::{BinRun, run_bin};

const CLIENT: &str = env!("CARGO_BIN_EXE_stage4-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage4-echo");
const FIB: &str = env!("CARGO_BIN_EXE_stage4-fib");

fn run(bin: &str, args: &[&str]) -> BinRun {
    run_bin(bin, args, false).unwrap()
}

#[test]
fn client_fetches_every_page_and_ends_with_the_summary() {
    let out = run(CLIENT, &["--count", "3", "--delay", "0"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("demo server on http://127.0.0.1:"), "{}", out.stdout);
    for n in 1..=3 {
        let line = format!("GET /{n} -> 200 OK, 78 bytes");
        assert!(lines.contains(&line.as_str()), "no {line:?} in:\n{}", out.stdout);
    }
    let last = lines.last().unwrap();
    assert!(last.starts_with("stage4: 3 requests, 1 thread, ") && last.ends_with(" s"), "{last}");
    assert_eq!(out.stderr, "", "without TRACE, stderr stays quiet");
}

#[test]
fn trace_shows_each_step_which_task_which_state_what_it_yields() {
    let out = run_bin(CLIENT, &["--count", "2", "--delay", "0"], true).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for expected in [
        "[trace] scheduler: spawn task 1 (GET /1), 1 alive",
        "[trace] task 1 (GET /1) step 1: Start -> Connecting, yields fut#",
        "(writable fd ",
        "step 2: Connecting -> Receiving > ReadToEnd::Waiting, yields fut#",
        "(readable fd ",
        "-> Done, complete",
        "[trace] scheduler: every task is done after ",
    ] {
        assert!(out.stderr.contains(expected), "missing {expected:?} in:\n{}", out.stderr);
    }
}

#[test]
fn refused_requests_are_error_lines_and_exit_1() {
    let closed = stage1_blocking::testkit::refused_addr().unwrap().to_string();
    let out = run(CLIENT, &["--addr", &closed, "--count", "2"]);
    assert_eq!(out.code, Some(1));
    let refused = out.stdout.lines().filter(|l| l.contains("-> error: ") && l.contains("refused")).count();
    assert_eq!(refused, 2, "{}", out.stdout);
    assert!(
        out.stdout.lines().last().unwrap().starts_with("stage4: 2 requests, 1 thread, "),
        "{}",
        out.stdout
    );
}

#[test]
fn help_and_bad_flags() {
    for bin in [CLIENT, ECHO, FIB] {
        let out = run(bin, &["--help"]);
        assert_eq!(out.code, Some(0), "{bin}");
        assert!(out.stdout.contains("Usage: stage4-"), "{bin}: {}", out.stdout);

        let out = run(bin, &["--bogus"]);
        assert_eq!(out.code, Some(2), "{bin}");
        assert_eq!(out.stderr.lines().next(), Some("error: unknown flag --bogus"), "{bin}");
        assert!(out.stderr.contains("Usage: stage4-"), "{bin}: {}", out.stderr);
    }
    let out = run(CLIENT, &["--count", "ten"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.starts_with("error: bad value \"ten\" for --count"), "{}", out.stderr);
}

#[test]
fn echo_on_a_port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(ECHO, &["--addr", &addr]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        format!(
            "error: {addr} is already in use (another program listens there; stop it or pick another port with --addr)\n"
        )
    );
}

#[test]
fn fib_prints_the_right_number_and_the_steps() {
    let out = run(FIB, &["25"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "fib(25) = 75025");
    // One step per leaf of the recursion (fib(26) = 121393 of them), plus the one that completes.
    assert!(lines[1].starts_with("121394 task steps"), "{}", out.stdout);
    assert_eq!(run(FIB, &[]).stdout.lines().next(), Some("fib(20) = 6765"), "N defaults to 20");
}

#[test]
fn fib_refuses_an_n_whose_answer_does_not_fit_in_a_u64() {
    // fib(94) does not fit in a u64 (`fib::MAX_N` is 93; the tasks tests pin that bound). A
    // huge N used to recurse until the stack overflowed, a crash instead of an error, before
    // the first step. (No N between 94 and a few thousand here: without the check it would not
    // crash, it would run for ever, and hang the test instead of failing it.)
    for n in ["1000000", "4294967295"] {
        let out = run(FIB, &[n]);
        assert_eq!(out.code, Some(2), "N = {n}: {}", out.stderr);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with(&format!("error: bad value \"{n}\" for N: ")), "{first}");
        assert!(out.stderr.contains("Usage: stage4-fib"), "{}", out.stderr);
    }
    let out = run(FIB, &["-1"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr); // looks like a flag: "unknown flag -1"
    let out = run(FIB, &["abc"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.starts_with("error: bad value \"abc\" for N: "), "{}", out.stderr);
}
