//! The workloads of `stage5-bench` (stage5-async-await/src/bin/stage5-bench.rs), written
//! against tokio's current-thread runtime so `scripts/bench.sh runtime` can put the two side by
//! side. Same sizes, same delays, same checks, same last line: `<workload>: <n> in <ms> ms`.
//!
//!     tokio-runtime spawn [N]     spawn N tasks that each return their index, join them all (1,000,000)
//!     tokio-runtime sleeps [N]    N tasks sleeping 0-100 ms each, from a fixed xorshift sequence (100,000)
//!     tokio-runtime pingpong [N]  N 64-byte round trips over one loopback TCP connection (100,000)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = args.first().map(String::as_str).unwrap_or("spawn");
    let size = |default: usize| match args.get(1) {
        None => default,
        Some(n) => n.parse().unwrap_or_else(|_| usage(&format!("N must be a number, not {n:?}"))),
    };
    match workload {
        "spawn" => time("spawn", size(1_000_000), spawn_join),
        "sleeps" => time("sleeps", size(100_000), sleeps),
        "pingpong" => time("pingpong", size(100_000), pingpong),
        other => usage(&format!("unknown workload {other:?}")),
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("tokio-runtime: {problem}\nusage: tokio-runtime spawn|sleeps|pingpong [N]");
    std::process::exit(2);
}

/// Runs one workload on a fresh runtime, timed as stage5-bench times its own: the runtime is
/// built and has run one empty `block_on` before the clock starts.
fn time<F: Future<Output = usize>>(name: &str, n: usize, workload: impl FnOnce(usize) -> F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start tokio's runtime");
    rt.block_on(async {});
    let start = Instant::now();
    let done = rt.block_on(workload(n));
    println!("{name}: {done} in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
}

async fn spawn_join(n: usize) -> usize {
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
    let mut sum = 0usize;
    for handle in handles {
        sum = sum.wrapping_add(handle.await.expect("task failed"));
    }
    assert_eq!(sum, (0..n).fold(0usize, usize::wrapping_add));
    n
}

async fn sleeps(n: usize) -> usize {
    // stage5-bench's delays: xorshift64 from the same seed, each reduced to 0..=100 ms.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    // stage 5 counts with an Rc<Cell>; tokio::spawn wants Send futures, so an atomic here
    // (one uncontended add per task, nothing next to a timer).
    let fired = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let delay = Duration::from_millis(state % 101);
            let fired = fired.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                fired.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task failed");
    }
    assert_eq!(fired.load(Ordering::Relaxed), n, "every sleep fires");
    n
}

async fn pingpong(n: usize) -> usize {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    // The echoing end: reads 64 bytes, writes them back, until the client hangs up.
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut buf = [0u8; 64];
        while stream.read_exact(&mut buf).await.is_ok() {
            stream.write_all(&buf).await.expect("server write");
        }
    });
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");
    let mut buf = [7u8; 64];
    for _ in 0..n {
        client.write_all(&buf).await.expect("client write");
        client.read_exact(&mut buf).await.expect("client read");
    }
    drop(client);
    server.await.expect("server task");
    n
}
