//! `stage2-echo-bench`: a thousand clients at once against the callback echo server.
//!
//! Starts the stage 2 echo server on its own thread (or uses `--addr`), opens `--connections`
//! connections at once, sends `--size` KiB down each while reading the echo back, checks
//! every byte, and prints how long it took. The client side is one thread too: a small loop
//! over the same [`Selector`], with one state machine per connection.
//!
//! Run it optimised: `cargo run --release -p stage2-select-callbacks --bin stage2-echo-bench`.

use std::io::{ErrorKind, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use stage1_blocking::net::bind_listener;
use stage1_blocking::workshop::cli::{self, Cli};
use stage2_select_callbacks::echo::EchoServer;
use stage2_select_callbacks::net::{connect_nonblocking, send_nosignal, take_connect_error};
use stage2_select_callbacks::selector::{Events, Interest, Selector, Token};
use stage2_select_callbacks::sys;

/// The pattern repeats every 251 bytes (a prime), so it never lines up with chunk sizes and a
/// chunk delivered to the wrong place or twice is caught.
const PERIOD: usize = 251;

fn main() {
    let args = Cli::new(
        "stage2-echo-bench",
        "Open many connections at once to the stage 2 echo server and check every echoed byte.",
    )
    .option("--addr", "ADDR", "echo server to test (default: start one in-process)")
    .option("--connections", "N", "simultaneous connections (default 1000)")
    .option("--size", "KIB", "KiB sent and echoed per connection (default 64)")
    .parse();
    let addr: Option<SocketAddr> = args.value("--addr");
    let connections: usize = args.value_or("--connections", 1000);
    let size = args.value_or::<usize>("--size", 64) * 1024;

    // Each connection is one fd here, and one more in the server when it runs in-process.
    let per_connection = if addr.is_some() { 1 } else { 2 };
    if let Err(e) = ensure_fd_limit(connections * per_connection + 64) {
        cli::fail(e);
    }

    let (server, target) = match addr {
        Some(addr) => (None, addr),
        None => match bind_listener(([127, 0, 0, 1], 0).into()).and_then(EchoServer::start) {
            Ok(server) => {
                let addr = server.addr();
                (Some(server), addr)
            }
            Err(e) => cli::fail(format!("cannot start the echo server: {e}")),
        },
    };

    let start = Instant::now();
    if let Err(e) = run_clients(target, connections, size) {
        cli::fail(format!("{e:#}"));
    }
    let elapsed = start.elapsed();

    if let Some(server) = &server {
        let stats = server.stats();
        cli::say(format_args!(
            "server: {} connections, {} MiB echoed, reading paused {} times (back-pressure), \
             at most {} KiB buffered per connection",
            stats.accepted(),
            stats.bytes_echoed() / (1024 * 1024),
            stats.read_pauses(),
            stats.max_buffered() / 1024,
        ));
    }
    cli::say(format_args!(
        "stage2-echo-bench: {connections} connections x {} KiB echoed, every byte correct, {:.3} s",
        size / 1024,
        elapsed.as_secs_f64()
    ));
}

/// Raises the soft open-file limit if the run needs more, or says which limit stops it.
fn ensure_fd_limit(needed: usize) -> anyhow::Result<()> {
    let needed = needed as u64;
    let (soft, _) = sys::nofile_limit().context("reading the open-file limit")?;
    let hard = sys::nofile_ceiling().context("reading the open-file limit")?;
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        bail!(
            "this run needs about {needed} open files but the hard limit (ulimit -Hn) is {hard}; \
             use fewer --connections or raise the limit"
        );
    }
    let raised = sys::raise_nofile_limit().context("raising the open-file limit")?;
    cli::say(format_args!("raised the open-file limit from {soft} to {raised}"));
    Ok(())
}

/// One client connection's progress.
struct Client {
    stream: TcpStream,
    connected: bool,
    sent: usize,
    received: usize,
    /// Where this connection's pattern starts, so neighbours send different bytes.
    shift: usize,
    done: bool,
}

fn expected(client: &Client, offset: usize) -> u8 {
    ((offset + client.shift) % PERIOD) as u8
}

fn run_clients(addr: SocketAddr, connections: usize, size: usize) -> anyhow::Result<()> {
    let mut selector = Selector::new()?;
    // ramp[i] = i % PERIOD, long enough that any connection's next bytes are one slice of it.
    let ramp: Vec<u8> = (0..size + PERIOD).map(|i| (i % PERIOD) as u8).collect();
    let mut clients = Vec::with_capacity(connections);
    for i in 0..connections {
        let stream =
            connect_nonblocking(addr).with_context(|| format!("connection {i}: connect to {addr}"))?;
        let both = Interest::READABLE.add(Interest::WRITABLE);
        selector.register(stream.as_raw_fd(), Token(i), both)?;
        clients.push(Client { stream, connected: false, sent: 0, received: 0, shift: i * 13, done: false });
    }

    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    let mut remaining = connections;
    while remaining > 0 {
        selector.select(&mut events, None)?;
        for event in events.iter() {
            let i = event.token().0;
            let client = &mut clients[i];
            if client.done {
                continue;
            }
            if !client.connected {
                take_connect_error(&client.stream).with_context(|| format!("connection {i}: connect"))?;
                client.connected = true;
            }
            if event.is_writable() && client.sent < size {
                send_some(client, &ramp, size).with_context(|| format!("connection {i}: send"))?;
                if client.sent == size {
                    // All sent: tell the server (EOF), and stop asking for writable.
                    client.stream.shutdown(Shutdown::Write)?;
                    selector.reregister(client.stream.as_raw_fd(), Token(i), Interest::READABLE)?;
                }
            }
            if event.is_readable()
                && receive_some(client, &mut buf, size).with_context(|| format!("connection {i}"))?
            {
                selector.deregister(client.stream.as_raw_fd())?;
                client.done = true;
                remaining -= 1;
            }
        }
    }
    Ok(())
}

/// Sends what the socket takes of the rest of this connection's bytes.
fn send_some(client: &mut Client, ramp: &[u8], size: usize) -> std::io::Result<()> {
    while client.sent < size {
        let from = (client.sent + client.shift) % PERIOD;
        let chunk = &ramp[from..from + (size - client.sent)];
        match send_nosignal(&client.stream, chunk) {
            Ok(n) => client.sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads and checks what is there; true once the whole echo and the server's EOF arrived.
fn receive_some(client: &mut Client, buf: &mut [u8], size: usize) -> anyhow::Result<bool> {
    loop {
        match client.stream.read(buf) {
            Ok(0) if client.received == size => return Ok(true),
            Ok(0) => bail!("the server closed after {} of {size} bytes", client.received),
            Ok(n) => {
                if client.received + n > size {
                    bail!("the server sent more than the {size} bytes we sent");
                }
                for (k, &byte) in buf[..n].iter().enumerate() {
                    let offset = client.received + k;
                    if byte != expected(client, offset) {
                        return Err(anyhow!("byte {offset}: got {byte}, sent {}", expected(client, offset)));
                    }
                }
                client.received += n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
