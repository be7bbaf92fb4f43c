//! `stage5-bench`: the workloads of the tokio reference program (scripts/peers/tokio-runtime)
//! on the stage 5 runtime, same sizes, same xorshift delays, same output line
//! `<workload>: <n> in <ms> ms`, so both can be run side by side. Plus `idle`: RSS per idle
//! connection held by an in-process stage 5 echo server, and `idle-threads`: the same for
//! stage 1's thread-per-client echo server.
//!
//! Build it in release (`cargo build --profile bench-release -p stage5-async-await --bin
//! stage5-bench`), like the tokio bench (fat LTO, one codegen unit).

use std::net::{SocketAddr, TcpStream as StdStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stage1_blocking::workshop::{cli, memory};
use stage2_select_callbacks::echo::EchoStats;
use stage2_select_callbacks::sys;
use stage5_async_await::echo;
use stage5_async_await::net::{TcpListener, TcpStream};
use stage5_async_await::time::sleep;
use stage5_async_await::{Runtime, process, spawn, yield_now};

fn main() {
    let args = cli::Cli::new(
        "stage5-bench",
        "Runtime workloads (same as the tokio reference bench) and idle-connection memory.",
    )
    .positional("WORKLOAD", "spawn | sleeps | pingpong | idle | idle-threads | all (default all)")
    .positional(
        "N",
        "size (defaults: spawn 1000000, sleeps 100000, pingpong 100000, idle 10000, idle-threads 1000)",
    )
    .positional(
        "ADDR",
        "idle-clients only: the server to connect to (the idle workload runs its clients this way)",
    )
    .parse();
    let what = args.positionals().first().cloned().unwrap_or_else(|| "all".into());
    // N, or the workload's default size (a bad N: one line naming it, one pointing at --help, exit 2).
    let n = |default: usize| args.positional_or(1, "N", default);
    match what.as_str() {
        "spawn" => bench("spawn", n(1_000_000), spawn_join),
        "sleeps" => bench("sleeps", n(100_000), sleeps),
        "pingpong" => bench("pingpong", n(100_000), pingpong),
        "idle" => idle(n(10_000)),
        "idle-threads" => idle_threads(n(1_000)),
        // Both N and ADDR, or a usage error (`idle` is the only one that runs it this way).
        "idle-clients" if args.positionals().len() == 3 => {
            let addr = args.positional_or(2, "ADDR", SocketAddr::from(([127, 0, 0, 1], 0)));
            idle_clients(addr, n(0))
        }
        "idle-clients" => args.bad_value(
            "WORKLOAD",
            "idle-clients",
            "needs N and ADDR (the idle workload runs it that way)",
        ),
        "all" => {
            // Each workload in a fresh process, as the tokio bench is run: a heap grown by
            // 1,000,000 tasks would otherwise hide the idle connections' memory.
            let exe = std::env::current_exe().unwrap_or_else(|e| cli::fail(format!("current_exe: {e}")));
            for workload in ["spawn", "sleeps", "pingpong", "idle", "idle-threads"] {
                match std::process::Command::new(&exe).arg(workload).status() {
                    Ok(status) if status.success() => {}
                    Ok(status) => cli::fail(format!("{workload}: {status}")),
                    Err(e) => cli::fail(format!("{workload}: {e}")),
                }
            }
        }
        other => {
            args.bad_value("WORKLOAD", other, "expected spawn, sleeps, pingpong, idle, idle-threads or all")
        }
    }
}

/// Times one workload on a fresh runtime, like the tokio bench: the clock starts before
/// `block_on` and stops after it.
async fn nothing() {}

fn bench<F: std::future::Future<Output = usize>>(name: &str, n: usize, workload: impl FnOnce(usize) -> F) {
    let rt = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    rt.block_on(nothing());
    let t0 = Instant::now();
    let done = rt.block_on(workload(n));
    cli::say(format_args!("{name}: {done} in {:.1} ms", t0.elapsed().as_secs_f64() * 1e3));
}

// ANCHOR: workloads
async fn spawn_join(n: usize) -> usize {
    let handles: Vec<_> = (0..n).map(|i| spawn(async move { i })).collect();
    let mut sum = 0usize;
    for h in handles {
        sum = sum.wrapping_add(h.await.expect("task failed"));
    }
    assert_eq!(sum, (0..n).fold(0usize, |a, b| a.wrapping_add(b)));
    n
}

async fn sleeps(n: usize) -> usize {
    // The tokio bench's xorshift, so both runtimes sleep the same sequence of delays.
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let fired = Rc::new(std::cell::Cell::new(0usize));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = x % 101;
            let fired = fired.clone();
            spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                fired.set(fired.get() + 1);
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task failed");
    }
    assert_eq!(fired.get(), n, "every sleep fires");
    n
}

async fn pingpong(n: usize) -> usize {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let server = spawn(async move {
        let (s, _) = listener.accept().await.expect("accept");
        s.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; 64];
        loop {
            if s.read_exact(&mut buf).await.is_err() {
                break;
            }
            s.write_all(&buf).await.expect("server write");
        }
    });
    let c = TcpStream::connect(addr).await.expect("connect");
    c.set_nodelay(true).expect("nodelay");
    let mut buf = [7u8; 64];
    for _ in 0..n {
        c.write_all(&buf).await.expect("client write");
        c.read_exact(&mut buf).await.expect("client read");
    }
    drop(c);
    server.await.expect("server task");
    n
}
// ANCHOR_END: workloads

/// Resident memory of this process in bytes: `VmRSS` from Linux's /proc, elsewhere (macOS)
/// what `ps -o rss=` says; 0 if neither answers.
fn rss_bytes() -> u64 {
    memory::resident_kib().map_or(0, |kib| kib * 1024)
}

/// Checks every connection still echoes (one byte each), so the figure is for live ones.
fn check_echo(clients: &mut [StdStream]) {
    use std::io::{Read, Write};
    for (i, c) in clients.iter_mut().enumerate() {
        let b = [(i % 251) as u8];
        c.write_all(&b).expect("write");
        let mut back = [0u8; 1];
        c.read_exact(&mut back).expect("read back");
        assert_eq!(back, b);
    }
}

/// The client side of `idle`, run as a child process so that the server's process holds
/// only server-side sockets: connect `n` clients to `addr`, say "connected", wait for
/// stdin to close, check every connection echoes, say "echoed N".
fn idle_clients(addr: SocketAddr, n: usize) {
    use std::io::Read;
    sys::raise_nofile_limit().ok();
    let mut clients: Vec<StdStream> = (0..n)
        .map(|i| StdStream::connect(addr).unwrap_or_else(|e| cli::fail(format!("client {i}: {e}"))))
        .collect();
    cli::say(format_args!("connected {n}"));
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    check_echo(&mut clients);
    cli::say(format_args!("echoed {}", clients.len()));
}

// ANCHOR: idle
/// RSS per idle connection of the stage 5 echo server (this process), with the `n` clients
/// in a child process.
fn idle(n: usize) {
    let soft = sys::raise_nofile_limit().unwrap_or(1024) as usize;
    let n = if soft < n + 100 {
        cli::say(format_args!("(RLIMIT_NOFILE is {soft}: {} connections instead of {n})", soft - 100));
        soft - 100
    } else {
        n
    };
    let rt = Runtime::new().unwrap_or_else(|e| cli::fail(format!("cannot start the runtime: {e}")));
    let listener = rt
        .block_on(async { TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))) })
        .unwrap_or_else(|e| cli::fail(format!("bind: {e}")));
    let addr = listener.local_addr().expect("local_addr");
    let exe = std::env::current_exe().unwrap_or_else(|e| cli::fail(format!("current_exe: {e}")));
    let before = rss_bytes();
    let stats = Arc::new(EchoStats::default());
    let (per, echoed) = rt.block_on(async move {
        // stage5-echo's accept loop: a task per client.
        let server_stats = stats.clone();
        spawn(async move {
            if let Err(e) = echo::serve(listener, server_stats).await {
                cli::fail(format!("accept: {e}"));
            }
        });
        let mut command = std::process::Command::new(exe);
        command
            .arg("idle-clients")
            .arg(n.to_string())
            .arg(addr.to_string())
            .stdin(std::process::Stdio::piped());
        let mut child =
            process::spawn(&mut command).unwrap_or_else(|e| cli::fail(format!("spawn clients: {e}")));
        let mut lines = child.stdout.take().expect("piped").lines();
        let first = lines.next_line().await.ok().flatten().unwrap_or_default();
        if first != format!("connected {n}") {
            cli::fail(format!("client process said {first:?}"));
        }
        // The kernel finished every handshake; wait until our accept loop has taken them
        // all, then one more turn so every echo task is parked in readable().
        while (stats.accepted() as usize) < n {
            sleep(Duration::from_millis(5)).await;
        }
        yield_now().await;
        let per = rss_bytes().saturating_sub(before) as f64 / n as f64;
        drop(child.stdin.take()); // EOF: the child checks every connection echoes
        let echoed = lines.next_line().await.ok().flatten().unwrap_or_default();
        let _ = child.wait().await;
        (per, echoed)
    });
    cli::say(format_args!(
        "idle: {n} connections, {per:.0} bytes RSS per connection (stage 5 echo, one thread; {echoed})"
    ));
}

/// The same for stage 1's blocking echo handler with a thread per client (`n` threads).
fn idle_threads(n: usize) {
    let soft = sys::raise_nofile_limit().unwrap_or(1024) as usize;
    let n = n.min(soft.saturating_sub(100) / 2);
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let before = rss_bytes();
    let threads_before = thread_count();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            // stage 1's per-client function, on a thread of its own (as stage1-echo-threads).
            std::thread::spawn(move || stage1_blocking::echo::handle_client(stream));
        }
    });
    let mut clients: Vec<StdStream> = (0..n).map(|_| StdStream::connect(addr).expect("connect")).collect();
    // Every client has been served once (so its thread exists and its stack is in use).
    check_echo(&mut clients);
    // Where the count is known (Linux), also wait until every handler thread is up.
    while threads_before.is_some_and(|before| thread_count().unwrap_or(0) < before + 1 + n) {
        std::thread::yield_now();
    }
    let per = rss_bytes().saturating_sub(before) as f64 / n as f64;
    cli::say(format_args!(
        "idle-threads: {n} connections, {per:.0} bytes RSS per connection (stage 1 echo handler, a thread each)"
    ));
}
// ANCHOR_END: idle

/// This process's thread count, from Linux's /proc; `None` elsewhere.
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|v| v.trim().parse().ok())
}
