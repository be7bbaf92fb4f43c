//! The client side of the course's tests: loopback sockets, payloads that show a misplaced
//! byte, and an echo checker that every stage's echo server is held to.
//!
//! Each stage builds an echo server a new way (blocking, callbacks, futures, tasks,
//! `async fn`), and each must pass the *same* exam: many clients at once get exactly their
//! own bytes back, a client that reads slowly is held back without stalling the others or
//! making the server buffer without bound. Writing that exam once, here, with plain blocking
//! sockets, means a later stage cannot pass by testing itself more gently.
//!
//! ```
//! use stage1_blocking::{echo, net, workshop, workshop::testkit};
//!
//! workshop::set_log(false); // no "connected" lines in the test's output
//! let listener = net::bind_listener("127.0.0.1:0".parse()?)?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || echo::serve_thread_per_client(listener.incoming().take(4)));
//! testkit::check_echo(addr, &testkit::EchoLoad { clients: 4, bytes: 64 * 1024, ..Default::default() })?;
//! server.join().expect("the server thread ends after four clients");
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! Everything here returns errors rather than panicking, so a library can call it too; a
//! test simply `unwrap`s. Blocking reads and writes carry [`SAFETY_TIMEOUT`]: a broken server
//! makes a test *fail* with a timeout error instead of hanging forever. The timeout is a
//! safety net, never a way to wait for something (tests in this course do not sleep).
//!
//! Crawlers have their exam too, [`check_crawler`]; [`check_page`] holds one response to the
//! demo server's exact bytes, and [`check_refused`] checks the error of a request to
//! [`refused_addr`].

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use crate::http::Response;

/// How long a blocking test socket waits for a read or a write before it gives up.
pub const SAFETY_TIMEOUT: Duration = Duration::from_secs(30);

// ANCHOR: guarded
/// Runs `body` on a thread of its own and returns what it returns. A broken event loop does
/// not fail, it hangs (a lost wake-up, a task never queued again, a loop that spins): if
/// `body` is still running after `limit`, the test fails with `"still running after {limit:?}:
/// {cause}"` instead, so `cause` should name what most likely broke. A panic in `body` fails
/// the test with its own message.
///
/// The stuck thread is left behind: nothing can stop it from outside, and a thread still
/// running (even spinning) does not keep the test binary from exiting once `main` returns.
#[track_caller]
pub fn guarded<T: Send + 'static>(
    limit: Duration,
    cause: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = mpsc::channel();
    let runner = thread::Builder::new()
        .name(thread::current().name().map_or("guarded".to_string(), |test| format!("{test} (guarded)")))
        .spawn(move || {
            let _ = done.send(body());
        })
        .expect("spawning the guarded thread");
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after {limit:?}: {cause}"),
        // The sender was dropped without sending: `body` panicked.
        Err(mpsc::RecvTimeoutError::Disconnected) => match runner.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the guarded thread sends before it returns"),
        },
    }
}
// ANCHOR_END: guarded

/// Writes `skipped {test}: {why}` to the real stderr, past the test harness's capture, for a
/// test that cannot run on this machine (too few descriptors, no `/proc`) and returns early:
/// it then counts as passed, and this line is how a reader learns it proved nothing here.
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(io::stderr(), "skipped {test}: {why}");
}

/// The soft limit on open descriptors as `sh -c 'ulimit -n'` reports it (`u64::MAX` for
/// unlimited). Stage 1 has no `unsafe` code for `getrlimit`, and a child inherits the limit.
pub fn soft_fd_limit() -> Option<u64> {
    let out = std::process::Command::new("sh").args(["-c", "ulimit -n"]).output().ok()?;
    match String::from_utf8_lossy(&out.stdout).trim() {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// Kernel socket buffer size asked for by [`connect_small_buffers`] and
/// [`small_buffer_listener`]. Loopback buffers normally grow to megabytes, so a 1 MiB echo
/// would fit in them whole and no write would ever wait; with small ones it must.
pub const SMALL_BUFFER: usize = 4096;

/// The random numbers of every test that needs some: xorshift64*, tiny and deterministic, so
/// a failing case number reproduces on every machine (fuzz-style tests, test payloads).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits. The state must not be 0 (it would stay 0).
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Deterministic pseudo-random bytes ([`Rng`]), different for each seed, so a reordered,
/// duplicated or lost chunk cannot go unnoticed the way it could with a repeated pattern.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..len).map(|_| (rng.next_u64() >> 24) as u8).collect()
}

/// `n` connections to the echo server at `addr` that each sent one byte and got it back, and
/// stay open doing nothing: the idle clients of every stage's per-connection memory test. One
/// more byte on the first comes back last, so a server on one thread has finished the echo of
/// every other connection (and counted its memory) before this returns.
pub fn idle_echo_clients(addr: SocketAddr, n: usize) -> io::Result<Vec<TcpStream>> {
    let mut clients = (0..n).map(|_| connect(addr)).collect::<io::Result<Vec<_>>>()?;
    for (i, client) in clients.iter_mut().enumerate() {
        client.write_all(&[i as u8])?;
        if read_exact_vec(client, 1)? != [i as u8] {
            return Err(io::Error::other(format!("idle client {i}: the echo of its one byte was wrong")));
        }
    }
    if let Some(first) = clients.first_mut() {
        first.write_all(b"!")?;
        if read_exact_vec(first, 1)? != b"!" {
            return Err(io::Error::other("idle client 0: the echo of its second byte was wrong"));
        }
    }
    Ok(clients)
}

/// A blocking connection to `addr` with [`SAFETY_TIMEOUT`] on reads and writes.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    with_timeouts(stream)
}

/// Like [`connect`], with [`SMALL_BUFFER`]-sized kernel send and receive buffers.
pub fn connect_small_buffers(addr: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_recv_buffer_size(SMALL_BUFFER)?;
    socket.set_send_buffer_size(SMALL_BUFFER)?;
    socket.connect(&addr.into())?;
    with_timeouts(socket.into())
}

fn with_timeouts(stream: TcpStream) -> io::Result<TcpStream> {
    stream.set_read_timeout(Some(SAFETY_TIMEOUT))?;
    stream.set_write_timeout(Some(SAFETY_TIMEOUT))?;
    Ok(stream)
}

/// A listener on a free port of 127.0.0.1 whose accepted connections inherit
/// [`SMALL_BUFFER`]-sized kernel buffers (blocking; a non-blocking server sets that itself).
pub fn small_buffer_listener() -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_recv_buffer_size(SMALL_BUFFER)?;
    socket.set_send_buffer_size(SMALL_BUFFER)?;
    socket.bind(&addr.into())?;
    socket.listen(crate::net::LISTEN_BACKLOG)?;
    Ok(socket.into())
}

// ANCHOR: tcp_pair
/// Two connected loopback sockets, `(client, server)`, both non-blocking: the smallest world
/// in which a selector has something to report.
pub fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    client.set_nonblocking(true)?;
    server.set_nonblocking(true)?;
    Ok((client, server))
}
// ANCHOR_END: tcp_pair

/// An address on 127.0.0.1 where nothing listens (a port bound a moment ago, then closed), so
/// connecting there is refused.
pub fn refused_addr() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

// ANCHOR: one_shot_server
/// A server for a single connection, on a thread of its own, for feeding a client exact bytes
/// (garbage, a truncated response, an endless one): it reads the request head (up to the
/// blank line, however long), writes `answer(head)` and closes. Returns its address.
///
/// Write errors are ignored: a client may rightly give up before the answer is out (a
/// response too large, say); the test judges the client, not this server.
pub fn one_shot_server(answer: impl FnOnce(&[u8]) -> Vec<u8> + Send + 'static) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::Builder::new().name("one-shot-server".into()).spawn(move || -> io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        // No size limit, unlike the demo server: a test may send a 16 MiB request on purpose.
        let mut head = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        // Only the new bytes (and the 3 before them) can complete the blank line: searching
        // the whole head after every read would be quadratic.
        let mut searched = 0;
        while crate::http::find_head_end(&head[searched..]).is_none() {
            searched = head.len().saturating_sub(3);
            match stream.read(&mut chunk) {
                Ok(0) => return Ok(()), // the client closed before its head ended: no answer
                Ok(n) => head.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let _ = stream.write_all(&answer(&head));
        Ok(())
    })?;
    Ok(addr)
}
// ANCHOR_END: one_shot_server

/// A fresh directory under the system's temp dir, removed (with everything in it) on drop.
/// Its name is `{label}-{pid}-{n}`: unique per process and per call, so tests running in
/// parallel, or a run after a crashed one, never share a directory.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates the directory. `label` says whose it is (and may hold any character a file
    /// name can, for tests of how names are shown).
    pub fn new(label: &str) -> io::Result<TempDir> {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    /// The directory's path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a demo binary did when a test ran it: its exit code and its output, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinRun {
    /// The exit code (`None` if a signal ended it: a crash, such as a stack overflow).
    pub code: Option<i32>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// Runs the binary at `path` (a test gets it from `env!("CARGO_BIN_EXE_<name>")`) with `args`
/// and waits for it to exit. `TRACE` is set to `1` when `trace` is true and removed otherwise,
/// so a developer's own `TRACE=1` cannot change what a test sees.
///
/// Only for runs that end by themselves (a client, `--help`, a usage error, a port in use):
/// there is no timeout, as a server that started would run until killed.
pub fn run_bin(path: &str, args: &[&str], trace: bool) -> io::Result<BinRun> {
    let mut command = std::process::Command::new(path);
    command.args(args).stdin(std::process::Stdio::null());
    if trace {
        command.env("TRACE", "1");
    } else {
        command.env_remove("TRACE");
    }
    Ok(BinRun::from(command.output()?))
}

impl From<std::process::Output> for BinRun {
    fn from(out: std::process::Output) -> BinRun {
        BinRun {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A binary's file name (`stage4-client`), as its usage line names it.
fn bin_name(bin: &str) -> &str {
    std::path::Path::new(bin).file_name().and_then(|n| n.to_str()).unwrap_or(bin)
}

// ANCHOR: check_client_binary
/// The exam every stage's crawler binary takes, run as a learner runs it. Checked:
///
/// * `--count 3 --delay 0`, no set-up: exit 0, the demo server's line first, a `GET /N -> 200
///   OK, 78 bytes` line for each page, and last the summary `"{stage}: 3 requests, 1 thread, ...
///   s"` (`stage` is the binary's name up to its first `-`); nothing on stderr without `TRACE`;
/// * against [`refused_addr`]: one `-> error: ...refused` line per request, the summary, exit 1;
/// * its stdout reader gone (`| head -1`): it ends quietly, exit 0, no panic;
/// * `--help` (usage, exit 0), an unknown flag and a bad value (one line naming it, exit 2);
/// * `--timeline FILE.svg` draws one lane per request ([`check_timeline`]).
pub fn check_client_binary(bin: &str, threads: usize) -> anyhow::Result<()> {
    let name = bin_name(bin);
    let stage = name.split('-').next().unwrap_or(name);
    let out = run_bin(bin, &["--count", "3", "--delay", "0"], false)?;
    ensure_code(&out, 0, "--count 3 --delay 0")?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    if !lines.first().is_some_and(|l| l.starts_with("demo server on http://127.0.0.1:")) {
        bail!("{name}: the first line is not the demo server's:\n{}", out.stdout);
    }
    for n in 1..=3 {
        let line = format!("GET /{n} -> 200 OK, 78 bytes");
        if !lines.contains(&line.as_str()) {
            bail!("{name}: no {line:?} in:\n{}", out.stdout);
        }
    }
    let summary = format!("{stage}: 3 requests, {threads} thread{}, ", if threads == 1 { "" } else { "s" });
    check_summary(name, &out.stdout, &summary)?;
    if !out.stderr.is_empty() {
        bail!("{name}: stderr without TRACE:\n{}", out.stderr);
    }

    let closed = refused_addr()?.to_string();
    let out = run_bin(bin, &["--addr", &closed, "--count", "2"], false)?;
    ensure_code(&out, 1, "a refused --addr")?;
    let refused = out.stdout.lines().filter(|l| l.contains("-> error: ") && l.contains("refused")).count();
    if refused != 2 {
        bail!("{name}: {refused} refused lines for 2 requests:\n{}", out.stdout);
    }
    check_summary(name, &out.stdout, &format!("{stage}: 2 requests, "))?;

    let out = check_reader_gone(bin, &["--count", "3", "--delay", "0"])?;
    if !out.stderr.is_empty() {
        bail!("{name}: stderr with its stdout reader gone:\n{}", out.stderr);
    }
    check_usage_errors(bin)?;
    check_usage_error(bin, &["--count", "ten"], "error: bad value \"ten\" for --count")?;
    check_timeline(bin)
}
// ANCHOR_END: check_client_binary

/// The `--timeline` exam of a crawler binary: `--count 3 --delay 0 --timeline FILE.svg`
/// without `TRACE` exits 0, prints nothing on stderr (recording is not printing), says
/// `timeline: FILE (3 request lanes)`, and writes a whole SVG (`<svg` .. `</svg>`) with one
/// lane labelled `GET /N` for each page.
pub fn check_timeline(bin: &str) -> anyhow::Result<()> {
    let name = bin_name(bin);
    let dir = TempDir::new("timeline-exam")?;
    let file = dir.path().join("crawl.svg");
    let file_arg = file.to_string_lossy().into_owned();
    let out = run_bin(bin, &["--count", "3", "--delay", "0", "--timeline", &file_arg], false)?;
    ensure_code(&out, 0, "--timeline")?;
    if !out.stderr.is_empty() {
        bail!("{name}: stderr with --timeline and no TRACE:\n{}", out.stderr);
    }
    if !out.stdout.contains(&format!("timeline: {file_arg} (3 request lanes)")) {
        bail!("{name}: no 'timeline: {file_arg} (3 request lanes)' line in:\n{}", out.stdout);
    }
    let svg = std::fs::read_to_string(&file).with_context(|| format!("{name}: reading {file_arg}"))?;
    if !svg.starts_with("<svg ") || !svg.trim_end().ends_with("</svg>") {
        bail!("{name}: {file_arg} is not a whole SVG document:\n{svg}");
    }
    let lanes = svg.matches("<text class=\"lane\"").count();
    if lanes != 3 {
        bail!("{name}: {lanes} request lanes for 3 requests in:\n{svg}");
    }
    for n in 1..=3 {
        if !svg.contains(&format!(">GET /{n}</text>")) {
            bail!("{name}: no lane for GET /{n} in:\n{svg}");
        }
    }
    Ok(())
}

/// Which output stream of a program a test takes away from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Its stdout: `demo | head -1`, the reader gone after one line.
    Stdout,
    /// Its stderr: `demo 2>&1 | head -1`, or a terminal that went away.
    Stderr,
}

/// Runs `bin` with `args` (`TRACE` removed) with one output stream, `gone`, whose reader has
/// already gone: every write to it fails with `EPIPE`. The other stream is captured as usual.
///
/// The stream is one end of a socket pair whose other end is closed *before* the program
/// starts, so its very first line fails, on every run: with a pipe whose read end the test
/// closes after `spawn`, a quick program could print everything into the pipe first and
/// pass without ever meeting the error. A program still running after [`SAFETY_TIMEOUT`] is
/// killed ([`wait_with_safety_timeout`]).
pub fn run_with_reader_gone(bin: &str, args: &[&str], gone: Gone) -> io::Result<BinRun> {
    use std::os::unix::net::UnixStream;
    use std::process::{Command, Stdio};
    let (writer, reader) = UnixStream::pair()?;
    drop(reader);
    let dead = Stdio::from(std::os::fd::OwnedFd::from(writer));
    let mut command = Command::new(bin);
    command.args(args).env_remove("TRACE").stdin(Stdio::null());
    match gone {
        Gone::Stdout => command.stdout(dead).stderr(Stdio::piped()),
        Gone::Stderr => command.stdout(Stdio::piped()).stderr(dead),
    };
    Ok(BinRun::from(wait_with_safety_timeout(command.spawn()?)?))
}

/// [`Child::wait_with_output`](std::process::Child::wait_with_output) for at most
/// [`SAFETY_TIMEOUT`]: a program still running then (a server that went on when it should
/// have stopped) is killed, and the wait is a `TimedOut` error instead of a hung test.
pub fn wait_with_safety_timeout(child: std::process::Child) -> io::Result<std::process::Output> {
    let pid = child.id();
    let (done, exited) = mpsc::channel();
    thread::spawn(move || done.send(child.wait_with_output()));
    match exited.recv_timeout(SAFETY_TIMEOUT) {
        Ok(out) => out,
        Err(_) => {
            // kill(1), not libc: no `unsafe` outside the syscall modules.
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("process {pid} still running after {SAFETY_TIMEOUT:?}"),
            ))
        }
    }
}

/// `bin args | head -1`: the reader of stdout goes away while the program still has lines to
/// print. It must end quietly, exit 0, with no panic and no `error:` line on stderr, rather
/// than panic on the failed write (exit 101 and a backtrace), as `println!` does. Made certain
/// with [`run_with_reader_gone`]: the first line already meets `EPIPE`. Returns the run, for
/// checks of the caller's own (stderr may hold progress lines).
pub fn check_reader_gone(bin: &str, args: &[&str]) -> anyhow::Result<BinRun> {
    let out = run_with_reader_gone(bin, args, Gone::Stdout)?;
    if out.code != Some(0) || out.stderr.contains("panicked") || out.stderr.contains("error:") {
        bail!(
            "{bin} {args:?} with its stdout reader gone: exit code {:?}, stderr:\n{}",
            out.code,
            out.stderr
        );
    }
    Ok(out)
}

/// The exam every server binary takes: `--help`, an unknown flag and a bad `--addr` (see
/// [`check_usage_errors`]), and a port already in use: exactly one line on stderr, exit 1.
pub fn check_server_binary(bin: &str) -> anyhow::Result<()> {
    check_usage_errors(bin)?;
    check_usage_error(bin, &["--addr", "not-an-address"], "error: bad value \"not-an-address\" for --addr")?;
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    let out = run_bin(bin, &["--addr", &addr.to_string()], false)?;
    ensure_code(&out, 1, "a port in use")?;
    let expected = format!(
        "error: {addr} is already in use (another program listens there; stop it or pick another port with --addr)\n"
    );
    if out.stderr != expected {
        bail!("{bin}: a port in use gave:\n{}", out.stderr);
    }
    Ok(())
}

/// `--help` prints the usage and exits 0; `--bogus` is a usage error ([`check_usage_error`]).
pub fn check_usage_errors(bin: &str) -> anyhow::Result<()> {
    let name = bin_name(bin);
    let out = run_bin(bin, &["--help"], false)?;
    ensure_code(&out, 0, "--help")?;
    if !out.stdout.contains(&format!("Usage: {name} [OPTIONS]")) {
        bail!("{name}: --help printed no usage:\n{}", out.stdout);
    }
    check_usage_error(bin, &["--bogus"], "error: unknown flag --bogus").map(drop)
}

/// `bin args` is a usage error: exit 2, nothing on stdout, and exactly two lines on stderr,
/// the first starting with `first` and the second `try '{name} --help'`.
pub fn check_usage_error(bin: &str, args: &[&str], first: &str) -> anyhow::Result<BinRun> {
    let name = bin_name(bin);
    let out = run_bin(bin, args, false)?;
    ensure_code(&out, 2, &format!("{name} {args:?}"))?;
    let lines: Vec<&str> = out.stderr.lines().collect();
    let hint = format!("try '{name} --help'");
    if lines.len() != 2 || !lines[0].starts_with(first) || lines[1] != hint || !out.stdout.is_empty() {
        bail!("{name} {args:?}: expected {first:?}... and {hint:?}, got:\n{}", out.stderr);
    }
    Ok(out)
}

fn ensure_code(out: &BinRun, code: i32, what: &str) -> anyhow::Result<()> {
    if out.code != Some(code) {
        bail!(
            "{what}: exit code {:?}, expected {code}\nstdout:\n{}stderr:\n{}",
            out.code,
            out.stdout,
            out.stderr
        );
    }
    Ok(())
}

/// The last line of `stdout` is a summary starting with `prefix` and ending in `" s"`.
fn check_summary(name: &str, stdout: &str, prefix: &str) -> anyhow::Result<()> {
    let last = stdout.lines().last().unwrap_or_default();
    if !last.starts_with(prefix) || !last.ends_with(" s") {
        bail!("{name}: the last line is not a summary starting {prefix:?}:\n{stdout}");
    }
    Ok(())
}

/// Reads until EOF.
pub fn read_all(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(out)
}

/// Reads exactly `n` bytes.
pub fn read_exact_vec(stream: &mut TcpStream, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf)?;
    Ok(buf)
}

/// Sends `request` on a new connection, closes the sending side (as a client that has said
/// everything does), and returns every byte of the answer up to EOF.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = connect(addr)?;
    stream.write_all(request)?;
    // The server may already have answered and closed (a bad request): that is its answer.
    let _ = stream.shutdown(Shutdown::Write);
    read_all(&mut stream)
}

/// One echo round trip on a new connection to `addr`; see [`echo_exchange`].
pub fn echo_round_trip(addr: SocketAddr, data: Vec<u8>, read_size: usize) -> io::Result<Vec<u8>> {
    echo_exchange(connect(addr)?, data, read_size, || {})
}

// ANCHOR: echo_exchange
/// One echo round trip on `stream`: a second thread writes `data` and then closes the sending
/// side, while this thread reads `read_size` bytes at a time until EOF. Returns what came back.
///
/// Two threads, because an echo server that applies back-pressure stops reading from a client
/// that does not read its echo: a client that first wrote everything and then read would wait
/// forever on a full socket buffer. `before_reading` runs before the first read; a *slow
/// reader* blocks in it while its bytes pile up in the server.
pub fn echo_exchange(
    stream: TcpStream,
    data: Vec<u8>,
    read_size: usize,
    before_reading: impl FnOnce(),
) -> io::Result<Vec<u8>> {
    let mut writer = stream.try_clone()?;
    let sender = thread::spawn(move || -> io::Result<()> {
        writer.write_all(&data)?;
        writer.shutdown(Shutdown::Write)
    });
    before_reading();
    let mut reader = stream;
    let mut back = Vec::new();
    let mut buf = vec![0u8; read_size.max(1)];
    let read_result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => back.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
    };
    let sent = sender.join().map_err(|_| io::Error::other("the writing thread panicked"))?;
    read_result?;
    sent?;
    Ok(back)
}
// ANCHOR_END: echo_exchange

/// What [`check_echo`] puts an echo server through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoLoad {
    /// Clients connected at the same time, each sending its own [`payload`].
    pub clients: usize,
    /// Bytes each of them sends (and must get back).
    pub bytes: usize,
    /// Add one more client that sends a mebibyte and reads nothing until every other client
    /// is done: the server must go on serving them while this one is held back.
    pub slow_reader: bool,
    /// Connect with [`SMALL_BUFFER`]-sized kernel buffers, so the kernel cannot absorb the
    /// traffic and the server's own write path (partial writes, waiting) is exercised.
    pub small_buffers: bool,
}

impl Default for EchoLoad {
    /// Eight clients of 256 KiB each, no slow reader, ordinary buffers.
    fn default() -> EchoLoad {
        EchoLoad { clients: 8, bytes: 256 * 1024, slow_reader: false, small_buffers: false }
    }
}

/// Seed of the slow reader's payload (the others use their client number).
const SLOW_READER_SEED: u64 = 999;
/// What the slow reader sends: far more than the socket buffers and any sane server buffer.
const SLOW_READER_BYTES: usize = 1024 * 1024;

// ANCHOR: check_echo
/// Puts the echo server at `addr` through `load` and checks every byte that comes back.
///
/// All clients run at once, each on its own threads, each sending a different [`payload`].
/// Even-numbered clients read their echo 32 KiB at a time, odd-numbered ones 256 bytes at a
/// time, so fast and slow readers share the server. The error names the first client whose
/// bytes differ, and where.
pub fn check_echo(addr: SocketAddr, load: &EchoLoad) -> anyhow::Result<()> {
    let small_buffers = load.small_buffers;
    let connect_one = move || if small_buffers { connect_small_buffers(addr) } else { connect(addr) };

    // The slow reader waits on this channel; it is released once every other client is done.
    let (others_done, wait_for_others) = mpsc::channel::<()>();
    let slow = load.slow_reader.then(|| {
        thread::spawn(move || -> anyhow::Result<()> {
            let data = payload(SLOW_READER_SEED, SLOW_READER_BYTES);
            let stream = connect_one().context("slow reader: connecting")?;
            let back = echo_exchange(stream, data.clone(), 512, || {
                // An Err means the sender was dropped: the others are done either way.
                let _ = wait_for_others.recv();
            })
            .context("slow reader")?;
            same_bytes("slow reader", &data, &back)
        })
    });

    let clients: Vec<_> = (0..load.clients)
        .map(|client| {
            let bytes = load.bytes;
            thread::spawn(move || -> anyhow::Result<()> {
                let data = payload(client as u64, bytes);
                let read_size = if client % 2 == 0 { 32 * 1024 } else { 256 };
                let stream = connect_one().with_context(|| format!("client {client}: connecting"))?;
                let back = echo_exchange(stream, data.clone(), read_size, || {})
                    .with_context(|| format!("client {client}"))?;
                same_bytes(&format!("client {client}"), &data, &back)
            })
        })
        .collect();
    let mut first_error = None;
    for client in clients {
        let result = client.join().unwrap_or_else(|_| Err(anyhow!("a client thread panicked")));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    drop(others_done); // the slow reader may read now
    if let Some(slow) = slow {
        let result = slow.join().unwrap_or_else(|_| Err(anyhow!("the slow reader's thread panicked")));
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
// ANCHOR_END: check_echo

/// Ok if `back == sent`; otherwise an error saying how many bytes came back and where the
/// first difference is (a million-byte `assert_eq!` dump helps nobody).
pub fn same_bytes(who: &str, sent: &[u8], back: &[u8]) -> anyhow::Result<()> {
    if sent == back {
        return Ok(());
    }
    let first_difference =
        sent.iter().zip(back).position(|(a, b)| a != b).unwrap_or(sent.len().min(back.len()));
    bail!(
        "{who}: {} bytes back for {} sent, first difference at byte {first_difference}",
        back.len(),
        sent.len()
    )
}

// ANCHOR: check_page
/// Ok if `result` is the demo server's page for `path`: status 200 and exactly the body
/// [`expected_body`](super::demo::expected_body) promises. Every stage's crawler tests use it.
pub fn check_page<E: fmt::Display>(path: &str, result: &Result<Response, E>) -> anyhow::Result<()> {
    let response = match result {
        Ok(response) => response,
        Err(e) => bail!("GET {path}: {e:#}"),
    };
    if response.status != 200 {
        bail!("GET {path}: status {} {}, expected 200 OK", response.status, response.reason);
    }
    let Some(expected) = super::demo::expected_body(path) else {
        bail!("GET {path}: the demo server has no such page");
    };
    same_bytes(&format!("GET {path}: body"), &expected, &response.body)
}
// ANCHOR_END: check_page

// ANCHOR: check_crawler
/// The crawler exam, which every stage's crawler takes. `crawl(addr, paths)` must fetch every
/// path from `addr` and return one `(path, outcome)` per path, in any order. Checked:
///
/// * 20 numbered pages and the index from a demo server, each byte for byte ([`check_page`]);
/// * the same with the responses trickling in, 16 bytes at a time (many reads per response);
/// * an unknown page: a `404` *response*, not an error;
/// * a garbage response, a truncated one (shorter than its `Content-Length`) and an endless
///   one (over [`MAX_RESPONSE`](crate::http::MAX_RESPONSE)): each an error, not a panic or
///   all of our memory.
pub fn check_crawler<E: fmt::Display>(
    mut crawl: impl FnMut(SocketAddr, &[String]) -> Vec<(String, Result<Response, E>)>,
) -> anyhow::Result<()> {
    use super::demo::{DemoConfig, DemoServer};
    let mut pages: Vec<String> = (1..=20).map(|n| format!("/{n}")).collect();
    pages.push("/".to_string());
    for (how, config) in [
        ("whole", DemoConfig::instant()),
        ("trickled", DemoConfig { trickle: true, ..DemoConfig::instant() }),
    ] {
        let server = DemoServer::start(config).context("starting the demo server")?;
        let wanted = if config.trickle { &pages[..5] } else { &pages[..] };
        let results = crawl(server.addr(), wanted);
        if results.len() != wanted.len() {
            bail!("{how}: {} outcomes for {} paths", results.len(), wanted.len());
        }
        for path in wanted {
            let (_, outcome) = results
                .iter()
                .find(|(p, _)| p == path)
                .with_context(|| format!("{how}: no outcome for {path}"))?;
            check_page(path, outcome).with_context(|| format!("{how} responses"))?;
        }
    }

    let server = DemoServer::start(DemoConfig::instant()).context("starting the demo server")?;
    match crawl(server.addr(), &["/nope".to_string()]).as_slice() {
        [(_, Ok(response))] if response.status == 404 => {}
        [(_, Ok(response))] => bail!("GET /nope: status {}, expected 404", response.status),
        [(_, Err(e))] => bail!("GET /nope: an error ({e:#}) instead of a 404 response"),
        other => bail!("GET /nope: {} outcomes for 1 path", other.len()),
    }

    let bad_answers: [(&str, Vec<u8>); 3] = [
        ("a garbage response", b"this is not HTTP at all\r\n\r\n".to_vec()),
        ("a truncated response", b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nonly this".to_vec()),
        ("an endless response", vec![b'x'; crate::http::MAX_RESPONSE + 4096]),
    ];
    for (what, answer) in bad_answers {
        let addr = one_shot_server(move |_| answer)?;
        match crawl(addr, &["/1".to_string()]).as_slice() {
            [(_, Err(_))] => {}
            [(_, Ok(response))] => bail!("{what} was taken for a {} response", response.status),
            other => bail!("{what}: {} outcomes for 1 path", other.len()),
        }
    }
    Ok(())
}
// ANCHOR_END: check_crawler

/// Ok if `err` (or one of its causes) is an `io::Error` of kind `ConnectionRefused`: what a
/// crawler must report for a port nobody listens on (see [`refused_addr`]).
pub fn check_refused(err: &anyhow::Error) -> anyhow::Result<()> {
    let refused = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io| io.kind() == ErrorKind::ConnectionRefused);
    if refused { Ok(()) } else { bail!("expected a refused connection, got: {err:#}") }
}

#[cfg(test)]
mod tests;
