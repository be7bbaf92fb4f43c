//! The `stage5-bench-blocking` binary: its flags, and that it prints its three rows.
//! (Only the shape of the output is checked: the times themselves are the bench's figures.)

use std::process::Command;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stage5-bench-blocking"))
}

#[test]
fn prints_one_row_per_way_of_waiting() {
    let out = bench().args(["--count", "3", "--delay", "1", "--threads", "2"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("3 tasks that each wait 1 ms"));
    assert!(lines[1].contains("std::thread::sleep inside the task"));
    assert!(lines[2].contains("time::sleep(..).await"));
    assert!(lines[3].contains("spawn_blocking(thread::sleep), 2 threads"));
    assert!(lines[1..].iter().all(|l| l.contains(" s   ticker ran ")));
}

#[test]
fn help_exits_0_and_bad_values_exit_2_with_one_line_naming_them() {
    let help = bench().arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--threads N"));

    for (args, named) in
        [(vec!["--threads", "0"], "--threads"), (vec!["--count", "x"], "--count"), (vec!["--nope"], "--nope")]
    {
        let out = bench().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with("error: ") && first.contains(named), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}
