//! Helpers shared by the integration tests that drive the server with real clients
//! (`mod common;` in each test file that needs them).

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs curl with `args` (and `stdin`), or `None` if curl is not installed (CI installs it;
/// a test then prints a note and checks nothing). curl's own failure fails the test.
pub fn curl(args: &[&str], stdin: &[u8]) -> Option<Output> {
    let mut child = match Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("curl not available ({e}): skipping the interop check");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    Some(output)
}
