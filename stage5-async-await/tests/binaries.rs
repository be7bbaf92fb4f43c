//! The demos as a newcomer runs them: `stage5-client` with no set-up, its own flag, a server
//! that is not there; the echo servers' usage errors and a port in use. Only the shape of the
//! output is checked (the times are the demos' figures, not something to assert).

use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    let exe = match bin {
        "stage5-client" => env!("CARGO_BIN_EXE_stage5-client"),
        "stage5-echo" => env!("CARGO_BIN_EXE_stage5-echo"),
        "stage5-protocol" => env!("CARGO_BIN_EXE_stage5-protocol"),
        other => panic!("no binary {other}"),
    };
    Command::new(exe).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_client_runs_with_no_set_up_and_ends_with_the_summary() {
    let out = run("stage5-client", &["--count", "4", "--delay", "0", "--max-concurrency", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(lines[0].starts_with("demo server on http://127.0.0.1:"), "{stdout}");
    let mut pages: Vec<&str> = lines[1..5].to_vec();
    pages.sort();
    for (n, line) in (1..=4).zip(pages) {
        assert!(line.starts_with(&format!("GET /{n} -> 200 OK, ")), "{stdout}");
    }
    assert!(lines[5].starts_with("stage5: 4 requests, 1 thread, ") && lines[5].ends_with(" s"), "{stdout}");
}

#[test]
fn a_bad_max_concurrency_is_a_usage_error_before_anything_starts() {
    let out = run("stage5-client", &["--max-concurrency", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some("error: bad value \"0\" for --max-concurrency: expected a whole number >= 1"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no demo server was started: {}", text(&out.stdout));
}

#[test]
fn a_server_that_is_not_there_fails_each_request_and_exits_1() {
    let addr = stage1_blocking::testkit::refused_addr().unwrap().to_string();
    let out = run("stage5-client", &["--addr", &addr, "--count", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[..2].iter().all(|l| l.contains(&format!("-> error: connecting to {addr}: "))), "{stdout}");
    assert!(lines[2].starts_with("stage5: 2 requests, 1 thread, "), "{stdout}");
}

#[test]
fn the_echo_servers_say_one_line_for_a_port_in_use_or_a_bad_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for bin in ["stage5-echo", "stage5-protocol"] {
        let out = run(bin, &["--addr", &addr]);
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let stderr = text(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{bin}: {stderr}");
        assert!(stderr.starts_with(&format!("error: {addr} is already in use")), "{bin}: {stderr}");

        let out = run(bin, &["--nope"]);
        assert_eq!(out.status.code(), Some(2), "{bin}");
        assert_eq!(text(&out.stderr).lines().next(), Some("error: unknown flag --nope"), "{bin}");

        let out = run(bin, &["--help"]);
        assert_eq!(out.status.code(), Some(0), "{bin}");
        assert!(text(&out.stdout).contains("--addr ADDR"), "{bin}");
    }
}
