//! Subprocesses, signals and the protocol adapter, over real pipes, processes and sockets.

mod guard;

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use stage5_async_await::net::{TcpListener, TcpStream};
use stage5_async_await::process;
use stage5_async_await::protocol::{self, Protocol, Transport};
use stage5_async_await::signal::{SIGUSR1, SIGUSR2, Signal};
use stage5_async_await::time::timeout;
use stage5_async_await::{run, spawn};

/// A failure detector, never a wait: shorter than the watchdog, so this message comes first.
const GUARD: Duration = guard::WAIT;

#[test]
fn child_lines_arrive_in_order_with_the_exit_status() {
    let _guard = guard::watchdog();
    let (lines, errors, status) = run(async {
        let mut child = process::spawn(
            Command::new("sh").arg("-c").arg("for i in 1 2 3; do echo line $i; done; echo oops >&2; exit 3"),
        )
        .unwrap();
        let mut out = child.stdout.take().unwrap().lines();
        let mut err = child.stderr.take().unwrap().lines();
        let mut lines = Vec::new();
        while let Some(line) = timeout(GUARD, out.next_line()).await.unwrap().unwrap() {
            lines.push(line);
        }
        let mut errors = Vec::new();
        while let Some(line) = err.next_line().await.unwrap() {
            errors.push(line);
        }
        let status = timeout(GUARD, child.wait()).await.unwrap().unwrap();
        (lines, errors, status)
    });
    assert_eq!(lines, ["line 1", "line 2", "line 3"]);
    assert_eq!(errors, ["oops"]);
    assert_eq!(status.code(), Some(3));
}

#[test]
fn waiting_for_a_child_that_outlives_its_pipes() {
    let _guard = guard::watchdog();
    // stdout closes at once (exec'd sleep keeps nothing open... it inherits the pipe, so
    // close it explicitly), the exit comes later: wait must sleep on the pidfd/SIGCHLD.
    let status = run(async {
        let mut child =
            process::spawn(Command::new("sh").arg("-c").arg("exec >&- 2>&-; sleep 0.05; exit 0")).unwrap();
        let mut out = child.stdout.take().unwrap().lines();
        assert_eq!(out.next_line().await.unwrap(), None);
        timeout(GUARD, child.wait()).await.unwrap().unwrap()
    });
    assert!(status.success());
}

#[test]
fn spawning_a_missing_program_is_an_error() {
    let _guard = guard::watchdog();
    let err = run(async { process::spawn(&mut Command::new("/nonexistent/program")).err().unwrap() });
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn a_signal_wakes_the_task_waiting_for_it() {
    let _guard = guard::watchdog();
    run(async {
        let mut usr1 = Signal::new(SIGUSR1).unwrap();
        let waiter = spawn(async move {
            usr1.recv().await;
            "got SIGUSR1"
        });
        // The handler writes to the self-pipe, the dispatcher thread wakes the task through
        // the runtime's eventfd.
        stage5_async_await::sys::raise_signal(SIGUSR1).unwrap();
        assert_eq!(timeout(GUARD, waiter).await.unwrap().unwrap(), "got SIGUSR1");
    });
}

#[test]
fn each_delivery_is_reported_once() {
    let _guard = guard::watchdog();
    run(async {
        let mut usr2 = Signal::new(SIGUSR2).unwrap();
        for _ in 0..3 {
            stage5_async_await::sys::raise_signal(SIGUSR2).unwrap();
            timeout(GUARD, usr2.recv()).await.expect("signal lost");
        }
    });
}

/// The echo protocol, recording the callbacks it gets.
struct Echo {
    transport: Option<Transport>,
    log: Rc<RefCell<Vec<String>>>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.log.borrow_mut().push("made".into());
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            t.write(data);
        }
    }
    fn eof_received(&mut self) -> bool {
        self.log.borrow_mut().push("eof".into());
        false
    }
    fn connection_lost(&mut self, error: Option<io::Error>) {
        self.log.borrow_mut().push(format!("lost {:?}", error.map(|e| e.kind())));
    }
}

#[test]
fn a_protocol_echoes_and_sees_every_callback() {
    let _guard = guard::watchdog();
    let log = Rc::new(RefCell::new(Vec::new()));
    let reply = run({
        let log = log.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spawn(protocol::serve(listener, move || Echo { transport: None, log: log.clone() }));
            let client = TcpStream::connect(addr).await.unwrap();
            let payload = stage1_blocking::workshop::testkit::payload(1, 200_000);
            // Write everything, then EOF; read the echo until the server closes.
            let writer = {
                let client = Rc::new(client);
                let w = client.clone();
                let payload = payload.clone();
                let writer = spawn(async move {
                    w.write_all(&payload).await.unwrap();
                    w.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut got = Vec::new();
                timeout(GUARD, client.read_to_end(&mut got)).await.unwrap().unwrap();
                writer.await.unwrap();
                got
            };
            server.abort();
            assert_eq!(writer, payload);
            writer.len()
        }
    });
    assert_eq!(reply, 200_000);
    assert_eq!(*log.borrow(), ["made", "eof", "lost None"]);
}

#[test]
fn a_dropped_signal_wait_leaves_no_waker_behind() {
    let _guard = guard::watchdog();
    // SIGWINCH: no other test of this binary uses it, and it is never raised here, so the only
    // waits on it are ours.
    let signum = libc::SIGWINCH;
    let waiting = || stage5_async_await::signal::waiting(signum);
    run(async move {
        // 1,000 tasks each poll a wait once (its waker goes into the process-wide list), then
        // drop it (the timeout gives up at once).
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                spawn(async move {
                    let mut signal = Signal::new(signum).unwrap();
                    assert!(timeout(Duration::ZERO, signal.recv()).await.is_err());
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(waiting(), 0, "dropped Signal::recv futures left their wakers in the list");
        // A live wait is listed; aborting its task drops it and takes it off the list.
        let waiter = spawn(async move { Signal::new(signum).unwrap().recv().await });
        stage5_async_await::yield_now().await;
        assert_eq!(waiting(), 1, "the live wait is listed");
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(waiting(), 0, "an aborted task's Signal::recv left its waker in the list");
    });
}

/// Waits (yielding to the loop, never sleeping) until process `pid` is gone from `/proc`: a
/// zombie keeps its entry until its parent reaps it with `waitpid`.
#[cfg(target_os = "linux")] // reads /proc, which only Linux has among the systems we build on
async fn until_reaped(pid: u32, what: &str) {
    let path = format!("/proc/{pid}");
    let gone = timeout(GUARD, async {
        while std::path::Path::new(&path).exists() {
            stage5_async_await::yield_now().await;
        }
    })
    .await;
    gone.unwrap_or_else(|_| {
        panic!("{what}: process {pid} still in /proc after {GUARD:?}: never reaped (a zombie)")
    });
}

#[test]
#[cfg(target_os = "linux")] // see until_reaped
fn a_dropped_child_is_reaped_in_the_background() {
    let _guard = guard::watchdog();
    run(async {
        // The child waits for a line on stdin: dropping the Child closes stdin, so it exits
        // *after* the drop, while nobody waits for it any more.
        let mut command = Command::new("sh");
        command.arg("-c").arg("read line").stdin(std::process::Stdio::piped());
        let child = process::spawn(&mut command).unwrap();
        let pid = child.id();
        drop(child);
        until_reaped(pid, "a dropped child").await;
    });
}

#[test]
#[cfg(target_os = "linux")] // see until_reaped
fn kill_on_drop_stops_the_child_of_an_aborted_wait() {
    let _guard = guard::watchdog();
    run(async {
        let pid = Rc::new(std::cell::Cell::new(0));
        let waiter = spawn({
            let pid = pid.clone();
            async move {
                let mut child = process::spawn(Command::new("sleep").arg("1000")).unwrap().kill_on_drop(true);
                pid.set(child.id());
                child.wait().await
            }
        });
        stage5_async_await::yield_now().await; // the task spawned the child and waits for it
        assert_ne!(pid.get(), 0);
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        until_reaped(pid.get(), "the child of an aborted wait, with kill_on_drop").await;
    });
}

#[test]
#[cfg(target_os = "linux")] // see until_reaped
fn a_child_dropped_outside_any_runtime_is_reaped_too() {
    let _guard = guard::watchdog();
    let mut command = Command::new("sh");
    command.arg("-c").arg("read line").stdin(std::process::Stdio::piped());
    // Spawned inside a runtime, dropped after it is gone: a thread reaps it.
    let child = run(async { process::spawn(&mut command).unwrap() });
    let pid = child.id();
    drop(child);
    run(until_reaped(pid, "a child dropped outside any runtime"));
}

/// An echo protocol that lends its transport out, so the test can look at its buffer.
struct SharedEcho(Rc<RefCell<Option<Transport>>>);

impl Protocol for SharedEcho {
    fn connection_made(&mut self, transport: Transport) {
        *self.0.borrow_mut() = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &*self.0.borrow() {
            t.write(data);
        }
    }
}

#[test]
fn an_idle_protocol_connection_holds_no_buffer() {
    let _guard = guard::watchdog();
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let transport = Rc::new(RefCell::new(None));
        let server = spawn({
            let transport = transport.clone();
            async move {
                let (stream, _) = listener.accept().await.unwrap();
                protocol::serve_connection(stream, SharedEcho(transport)).await;
            }
        });
        let client = TcpStream::connect(addr).await.unwrap();
        let payload = stage1_blocking::workshop::testkit::payload(2, 10_000);
        client.write_all(&payload).await.unwrap();
        let mut echo = vec![0u8; payload.len()];
        timeout(GUARD, client.read_exact(&mut echo)).await.expect("no echo: a wake was lost").unwrap();
        assert_eq!(echo, payload);
        // Everything was echoed and the server waits for more: its transport holds nothing.
        let capacity = transport.borrow().as_ref().map(Transport::buffer_capacity);
        assert_eq!(capacity, Some(0), "an idle connection keeps its outgoing buffer allocated");
        server.abort();
    });
}
