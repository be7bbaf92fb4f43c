//! Unit tests of `testkit.rs` (the testkit's own helpers), in a file of their own so
//! that module stays short enough to read.

use super::*;

#[test]
fn payloads_differ_by_seed_and_do_not_repeat_quickly() {
    let a = payload(1, 4096);
    assert_eq!(a, payload(1, 4096));
    assert_ne!(a, payload(2, 4096));
    assert_ne!(a[..256], a[256..512]);
}

#[test]
fn same_bytes_points_at_the_first_difference() {
    assert!(same_bytes("c", b"abc", b"abc").is_ok());
    let err = same_bytes("client 3", b"abcd", b"abXd").unwrap_err().to_string();
    assert_eq!(err, "client 3: 4 bytes back for 4 sent, first difference at byte 2");
    let err = same_bytes("c", b"abcd", b"ab").unwrap_err().to_string();
    assert!(err.ends_with("2 bytes back for 4 sent, first difference at byte 2"), "{err}");
}

#[test]
fn check_page_wants_the_exact_page() {
    let page = |status: u16, body: &[u8]| -> Result<Response, String> {
        Ok(Response { status, reason: "X".into(), headers: vec![], body: body.to_vec() })
    };
    let good = crate::workshop::demo::expected_body("/3").unwrap();
    assert!(check_page("/3", &page(200, &good)).is_ok());
    assert!(check_page("/4", &page(200, &good)).is_err(), "another page's body");
    assert!(check_page("/3", &page(404, &good)).is_err());
    assert!(check_page("/3", &Err::<Response, _>("refused")).is_err());
    let refused = anyhow!(io::Error::from(ErrorKind::ConnectionRefused)).context("connecting");
    assert!(check_refused(&refused).is_ok());
    assert!(check_refused(&anyhow!("something else")).is_err());
}

#[test]
fn the_blocking_crawler_passes_the_crawler_exam_and_a_sloppy_one_does_not() {
    let get_all = |addr: SocketAddr, paths: &[String]| -> Vec<(String, anyhow::Result<Response>)> {
        paths.iter().map(|p| (p.clone(), crate::http::get(addr, p))).collect()
    };
    check_crawler(get_all).unwrap();
    // A crawler that loses the last page of every crawl fails.
    let err = check_crawler(|addr, paths| {
        let mut all = get_all(addr, paths);
        all.pop();
        all
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "whole: 20 outcomes for 21 paths");
}

#[test]
fn the_binary_exams_fail_a_program_that_is_not_a_demo() {
    // `true` exits 0 whatever it is given, prints nothing, and has no usage.
    let err = check_client_binary("true", 1).unwrap_err().to_string();
    assert!(err.contains("not the demo server's"), "{err}");
    let err = check_server_binary("true").unwrap_err().to_string();
    assert!(err.contains("--help printed no usage"), "{err}");
    assert!(run_bin("no-such-program-here", &[], false).is_err());
    // A program that fails once its reader has gone fails the exam; one that ends quietly
    // passes. The stream is dead from the start: the shell's first `echo` already fails.
    assert!(check_reader_gone("false", &[]).is_err());
    assert!(check_reader_gone("true", &[]).is_ok());
    let script = "trap '' PIPE; echo hi; echo rc=$? >&2";
    let out = run_with_reader_gone("sh", &["-c", script], Gone::Stdout).unwrap();
    assert!(out.stderr.ends_with("rc=1\n"), "{}", out.stderr);
    let out =
        run_with_reader_gone("sh", &["-c", "trap '' PIPE; echo hi >&2; echo rc=$?"], Gone::Stderr).unwrap();
    assert_eq!(out.stdout, "rc=1\n");
}

#[test]
fn check_echo_fails_against_a_server_that_loses_bytes() {
    // A "server" that reads everything and echoes only the first half: the exam must fail.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        stream.write_all(&all[..all.len() / 2]).unwrap();
    });
    let load = EchoLoad { clients: 1, bytes: 10_000, ..Default::default() };
    let err = check_echo(addr, &load).unwrap_err();
    assert_eq!(err.to_string(), "client 0: 5000 bytes back for 10000 sent, first difference at byte 5000");
    server.join().unwrap();
}

#[test]
fn guarded_returns_what_its_body_returns() {
    assert_eq!(guarded(SAFETY_TIMEOUT, "unused", || 6 * 7), 42);
}

#[test]
fn guarded_fails_with_its_cause_when_the_body_is_still_running() {
    // The body waits on a channel whose sender this test keeps until the guard has spoken,
    // then drops, so the leaked thread ends too.
    let (keep_waiting, wait) = mpsc::channel::<()>();
    let outcome = std::panic::catch_unwind(|| {
        guarded(Duration::from_millis(10), "the body waits for a message nobody sends", move || {
            let _ = wait.recv();
        })
    });
    drop(keep_waiting);
    let panic = outcome.expect_err("the guard must fail a body that does not return");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert_eq!(message, "still running after 10ms: the body waits for a message nobody sends");
}

#[test]
fn guarded_fails_with_the_panic_of_its_body() {
    // A message with a run-time value, so that it is a `String` (a constant one is a `&str`).
    let number = std::hint::black_box(7);
    let panic = std::panic::catch_unwind(|| {
        guarded(SAFETY_TIMEOUT, "unused", move || panic!("the body's own {number}"))
    })
    .expect_err("the body's panic must reach the test");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert_eq!(message, "the body's own 7");
}
