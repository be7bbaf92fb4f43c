//! The binaries as a learner runs them. The crawler and the echo server take the exams every
//! stage's binaries take (stage 1's testkit: the summary line, `--help`, one-line errors with
//! the right exit status); `TRACE=1` must show each step (which task, which state, what it
//! yields); `stage4-fib` must print the right number and refuse an N it cannot answer.

use stage1_blocking::workshop::testkit::{
    BinRun, check_client_binary, check_server_binary, check_usage_errors, run_bin,
};

const CLIENT: &str = env!("CARGO_BIN_EXE_stage4-client");
const ECHO: &str = env!("CARGO_BIN_EXE_stage4-echo");
const FIB: &str = env!("CARGO_BIN_EXE_stage4-fib");

fn run(bin: &str, args: &[&str]) -> BinRun {
    run_bin(bin, args, false).unwrap()
}

#[test]
fn the_client_takes_the_client_binary_exam() {
    check_client_binary(CLIENT, 1).unwrap();
}

#[test]
fn the_echo_server_takes_the_server_binary_exam() {
    check_server_binary(ECHO).unwrap();
}

#[test]
fn trace_shows_each_step_which_task_which_state_what_it_yields() {
    let out = run_bin(CLIENT, &["--count", "2", "--delay", "0"], true).unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for expected in [
        "] scheduler: spawn task 1 (GET /1), 1 alive",
        "] task 1 (GET /1) step 1: Start -> Connecting, yields fut#",
        "(writable fd ",
        "step 2: Connecting -> Receiving > ReadToEnd::Waiting, yields fut#",
        "(readable fd ",
        "-> Done, complete",
        "] scheduler: every task is done after ",
    ] {
        assert!(out.stderr.contains(expected), "missing {expected:?} in:\n{}", out.stderr);
    }
}

#[test]
fn fib_has_help_and_refuses_bad_flags() {
    check_usage_errors(FIB).unwrap();
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
        assert!(out.stderr.ends_with("\ntry 'stage4-fib --help'\n"), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
    }
    let out = run(FIB, &["-1"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr); // looks like a flag: "unknown flag -1"
    let out = run(FIB, &["abc"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.starts_with("error: bad value \"abc\" for N: "), "{}", out.stderr);
}

#[test]
fn stage4_starve_prints_fib_and_every_page_with_a_time() {
    let out = run(env!("CARGO_BIN_EXE_stage4-starve"), &["15"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 11, "{}", out.stdout);
    assert!(lines.iter().any(|l| l.ends_with(" ms  fib(15) = 610")), "{}", out.stdout);
    for page in 1..=10 {
        let want = format!(" ms  GET /{page} -> 200");
        assert!(lines.iter().any(|l| l.ends_with(&want)), "no line ending {want:?}: {}", out.stdout);
    }
    check_usage_errors(env!("CARGO_BIN_EXE_stage4-starve")).unwrap();
}
