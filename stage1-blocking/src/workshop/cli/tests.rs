//! Unit tests of `cli.rs` (the flag parser and the crawler demo's helpers), in a file of their own so
//! that module stays short enough to read.

use super::*;

fn cli() -> Cli {
    ClientArgs::cli("prog", "About prog.").switch("--verbose", "talk more")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn options_switches_and_equals_form() {
    let a = cli()
        .parse_from(args(&["--count", "3", "--delay=250", "--trickle", "--addr=127.0.0.1:9000"]))
        .unwrap();
    let c = ClientArgs::from_args(&a);
    assert_eq!(c.count, 3);
    assert_eq!(c.delay, Duration::from_millis(250));
    assert!(c.trickle);
    assert_eq!(c.addr, Some("127.0.0.1:9000".parse().unwrap()));
    assert!(!a.switch("--verbose"));
    assert_eq!(a.try_value::<u64>("--count"), Ok(Some(3)));
}

#[test]
fn defaults_when_flags_are_absent() {
    let c = ClientArgs::from_args(&cli().parse_from(args(&[])).unwrap());
    assert_eq!(
        c,
        ClientArgs {
            addr: None,
            count: 10,
            delay: Duration::from_millis(100),
            trickle: false,
            timeline: None,
            timeline_ms: 0
        }
    );
}

#[test]
fn the_last_occurrence_of_an_option_wins() {
    let a = cli().parse_from(args(&["--count", "3", "--count", "4"])).unwrap();
    assert_eq!(a.value::<usize>("--count"), Some(4));
}

#[test]
fn unknown_flag_is_named() {
    let err = cli().parse_from(args(&["--count", "3", "--bogus"])).unwrap_err();
    assert_eq!(err, CliError::UnknownFlag("--bogus".into()));
    assert_eq!(err.to_string(), "unknown flag --bogus");
    // The name before '=' is what is unknown.
    let err = cli().parse_from(args(&["--bogus=1"])).unwrap_err();
    assert_eq!(err, CliError::UnknownFlag("--bogus".into()));
    assert_eq!(cli().parse_from(args(&["-x"])).unwrap_err(), CliError::UnknownFlag("-x".into()));
}

#[test]
fn missing_value_is_named() {
    let err = cli().parse_from(args(&["--trickle", "--count"])).unwrap_err();
    assert_eq!(err, CliError::MissingValue("--count".into()));
    assert_eq!(err.to_string(), "flag --count needs a value");
}

#[test]
fn a_switch_given_a_value_is_an_error() {
    let err = cli().parse_from(args(&["--trickle=yes"])).unwrap_err();
    assert_eq!(err, CliError::UnexpectedValue("--trickle".into()));
}

#[test]
fn bad_value_names_flag_and_value() {
    let a = cli().parse_from(args(&["--count", "ten", "--delay", "-5", "--addr", "localhost"])).unwrap();
    for (flag, value) in [("--count", "ten"), ("--delay", "-5")] {
        match a.try_value::<u64>(flag) {
            Err(CliError::BadValue { flag: f, value: v, .. }) => {
                assert_eq!((f.as_str(), v.as_str()), (flag, value));
            }
            other => panic!("{flag}: {other:?}"),
        }
    }
    let err = a.try_value::<SocketAddr>("--addr").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("--addr") && text.contains("localhost"), "{text}");
}

#[test]
fn type_hints_name_what_a_flag_wants() {
    assert_eq!(type_hint::<u64>(), "a whole number >= 0");
    assert_eq!(type_hint::<std::num::NonZeroUsize>(), "a whole number >= 1");
    assert_eq!(type_hint::<SocketAddr>(), "an address like 127.0.0.1:8000");
}

#[test]
fn help_is_reported_not_parsed() {
    assert_eq!(cli().parse_from(args(&["--help"])).unwrap_err(), CliError::Help);
    assert_eq!(cli().parse_from(args(&["--count", "3", "-h"])).unwrap_err(), CliError::Help);
    let usage = cli().usage();
    for needle in [
        "About prog.",
        "Usage: prog [OPTIONS]",
        "--addr ADDR",
        "--count N",
        "--trickle",
        "--verbose",
        "--help",
    ] {
        assert!(usage.contains(needle), "usage lacks {needle:?}:\n{usage}");
    }
}

#[test]
fn a_mistake_is_two_lines_and_help_texts_share_one_column() {
    let e = CliError::UnknownFlag("--bogus".into());
    assert_eq!(usage_error_text(&e, "prog"), "error: unknown flag --bogus\ntry 'prog --help'\n");
    // "--max-header-bytes BYTES" is 24 wide: every help text moves to that column.
    let usage = cli().option("--max-header-bytes", "BYTES", "largest head").usage();
    assert!(usage.contains("\n  --max-header-bytes BYTES largest head\n"), "{usage}");
    assert!(usage.contains(&format!("\n  {:<24} fetch /1 .. /N", "--count N")), "{usage}");
}

#[test]
fn positionals_in_order_and_too_many_rejected() {
    let two = || Cli::new("p", "a").positional("N", "a number").positional("URL", "a url").switch("--x", "x");
    let a = two().parse_from(args(&["30", "--x", "http://h/"])).unwrap();
    assert_eq!(a.positionals(), ["30".to_string(), "http://h/".to_string()]);
    assert!(a.switch("--x"));
    assert_eq!(
        two().parse_from(args(&["1", "2", "3"])).unwrap_err(),
        CliError::UnexpectedPositional("3".into())
    );
    // After "--" even things that look like flags are positionals.
    let a = two().parse_from(args(&["--", "--x"])).unwrap();
    assert_eq!(a.positionals(), ["--x".to_string()]);
    assert!(!a.switch("--x"));
    // A program with no positionals refuses one (e.g. a program name passed by mistake).
    assert_eq!(cli().parse_from(args(&["prog"])).unwrap_err(), CliError::UnexpectedPositional("prog".into()));
    assert!(two().usage().contains("Usage: p [OPTIONS] [N] [URL]"));
    let a = two().parse_from(args(&["30"])).unwrap();
    assert_eq!(a.positional_or(0, "N", 20u32), 30);
    assert_eq!(a.positional_or(1, "URL", "none".to_string()), "none");
}

#[test]
fn output_lines_have_the_agreed_shape() {
    let r = Response { status: 200, reason: "OK".into(), headers: vec![], body: vec![b'x'; 52] };
    assert_eq!(response_line("/3", &r), "GET /3 -> 200 OK, 52 bytes");
    assert_eq!(
        summary_line("stage1", 10, 1, Duration::from_millis(1024)),
        "stage1: 10 requests, 1 thread, 1.024 s"
    );
    assert_eq!(
        summary_line("stage5", 1000, 4, Duration::from_micros(103_400)),
        "stage5: 1000 requests, 4 threads, 0.103 s"
    );
    assert_eq!(summary_line("stage2", 1, 1, Duration::ZERO), "stage2: 1 request, 1 thread, 0.000 s");
}

#[test]
fn bind_errors_become_one_clear_line() {
    use std::io::{Error, ErrorKind};
    let addr: SocketAddr = "127.0.0.1:7001".parse().unwrap();
    let in_use = describe_bind_error(addr, &Error::from(ErrorKind::AddrInUse));
    assert!(in_use.starts_with("127.0.0.1:7001 is already in use ("), "{in_use}");
    for kind in [ErrorKind::AddrNotAvailable, ErrorKind::PermissionDenied, ErrorKind::Other] {
        let line = describe_bind_error(addr, &Error::from(kind));
        assert!(line.contains("127.0.0.1:7001") && !line.contains('\n'), "{line}");
    }
}
