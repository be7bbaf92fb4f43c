//! Exercise 5.6 (the stage 5 chapter): `process::PipeWriter`, an `AsyncWrite` for a child's
//! stdin, feeding `cat` more than a pipe holds while another task reads what comes back.
//! `scripts/exercise.sh check 5.6` runs these with `--features exercises`.
#![cfg(feature = "exercises")]

mod guard;

use std::process::{Command, Stdio};

use stage5_async_await::io::{read_to_end, write_all};
use stage5_async_await::process::{self, PipeWriter};
use stage5_async_await::time::timeout;
use stage5_async_await::{run, spawn};

#[test]
fn cat_gives_back_a_megabyte_fed_through_the_async_pipe() {
    let _guard = guard::watchdog();
    // 1 MiB: far more than a pipe buffer (64 KiB on Linux). With a blocking stdin, writing
    // it all before reading would deadlock: cat stops reading while nobody drains its stdout.
    let payload = stage1_blocking::workshop::testkit::payload(5, 1024 * 1024);
    let expected = payload.clone();
    let (received, status) = run(async move {
        let mut command = Command::new("cat");
        command.stdin(Stdio::piped());
        let mut child = process::spawn(&mut command).unwrap();
        let stdin = PipeWriter::new(child.stdin.take().expect("stdin is piped")).unwrap();
        let stdout = child.stdout.take().expect("stdout is piped");
        let writer = spawn(async move {
            write_all(&stdin, &payload).await.unwrap();
            // `stdin` is dropped here: cat sees EOF and exits once it has copied everything.
        });
        let mut received = Vec::new();
        timeout(guard::WAIT, read_to_end(&stdout, &mut received))
            .await
            .expect("cat's output stopped coming: the writer never woke when the pipe had room again")
            .unwrap();
        timeout(guard::WAIT, writer).await.expect("the writer task never finished").unwrap();
        let status = timeout(guard::WAIT, child.wait()).await.expect("cat never exited").unwrap();
        (received, status)
    });
    assert!(status.success(), "cat exited with {status}");
    stage1_blocking::workshop::testkit::same_bytes("1 MiB through cat", &expected, &received).unwrap();
}

#[test]
fn a_pipe_whose_reader_is_gone_reports_broken_pipe() {
    let _guard = guard::watchdog();
    run(async {
        // `true` exits at once without reading: writing to its stdin must fail, not hang.
        let mut command = Command::new("true");
        command.stdin(Stdio::piped());
        let mut child = process::spawn(&mut command).unwrap();
        let stdin = PipeWriter::new(child.stdin.take().expect("stdin is piped")).unwrap();
        timeout(guard::WAIT, child.wait()).await.expect("true never exited").unwrap();
        let big = vec![0u8; 256 * 1024];
        let err = timeout(guard::WAIT, write_all(&stdin, &big))
            .await
            .expect("a write to a pipe nobody reads hung")
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
    });
}
