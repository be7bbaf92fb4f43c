//! `epoll-hello PORT`: about the least work a server can do per HTTP request, to show where the
//! kernel's share ends. One thread, edge-triggered epoll, non-blocking sockets on 127.0.0.1:PORT.
//! A "request" is anything up to a blank line (`\r\n\r\n`): nothing else is parsed, and every
//! request gets the same answer (`200 OK`, `text/plain`, a `Date`, `Hello, World!`), the bytes
//! the other servers of the benchmark send. Pipelined requests found in one read are answered
//! with one write.
//!
//! Memory per idle connection is as small as it gets: a connection owns two `Vec`s that stay
//! empty (no heap) unless a request arrived in pieces or the socket refused part of an answer.
//! The read and write buffers are one of each for the whole server.

use std::io;

const READ_CHUNK: usize = 64 * 1024;
/// A client whose unfinished request grows past this is dropped.
const MAX_UNPARSED: usize = 64 * 1024;
const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: ";
const BODY: &[u8] = b"\r\n\r\nHello, World!";

/// What must outlive one event: the start of a request cut by a read, and answer bytes the
/// socket did not take yet.
#[derive(Default)]
struct Conn {
    unparsed: Vec<u8>,
    unsent: Vec<u8>,
}

/// The server's shared buffers and the `Date` value, formatted at most once a second.
struct Shared {
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
    date_second: libc::time_t,
    date: [u8; 29],
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl Shared {
    /// Formats `Date` as RFC 9110 wants it ("Sun, 06 Nov 1994 08:49:37 GMT") when the second
    /// changed. strftime in the C locale (a Rust program never switches locale) gives the English
    /// names.
    fn refresh_date(&mut self) {
        // SAFETY: time accepts a null pointer (it then only returns the value).
        let now = unsafe { libc::time(std::ptr::null_mut()) };
        if now == self.date_second {
            return;
        }
        self.date_second = now;
        let mut out = [0u8; 64];
        // SAFETY: tm is plain data that gmtime_r fills in; strftime writes at most out.len()
        // bytes into out and the format is a NUL-terminated literal.
        let written = unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            libc::gmtime_r(&now, &mut tm);
            libc::strftime(out.as_mut_ptr().cast(), out.len(), c"%a, %d %b %Y %H:%M:%S GMT".as_ptr(), &tm)
        };
        if written == self.date.len() {
            self.date.copy_from_slice(&out[..written]);
        }
    }
}

/// How many complete requests `buf` holds, and where the last one ends.
fn complete_requests(buf: &[u8]) -> (usize, usize) {
    let (mut count, mut end, mut i) = (0, 0, 3);
    while i < buf.len() {
        if buf[i] == b'\n' && buf[i - 3..i] == *b"\r\n\r" {
            count += 1;
            end = i + 1;
            i += 4;
        } else {
            i += 1;
        }
    }
    (count, end)
}

/// Sends what the socket takes now. Ok(bytes sent), Err if the connection is gone.
fn send_now(fd: libc::c_int, bytes: &[u8]) -> Result<usize, ()> {
    let mut sent = 0;
    while sent < bytes.len() {
        let rest = &bytes[sent..];
        // SAFETY: rest is valid for rest.len() bytes; MSG_NOSIGNAL turns SIGPIPE into EPIPE.
        let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
        if n >= 0 {
            sent += n as usize;
            continue;
        }
        match errno() {
            libc::EAGAIN => break,
            libc::EINTR => continue,
            _ => return Err(()),
        }
    }
    Ok(sent)
}

/// Writes the answers to the complete requests at the front of `input`, behind any answer
/// still waiting. Ok(bytes of input used).
fn answer(fd: libc::c_int, conn: &mut Conn, input: &[u8], shared: &mut Shared) -> Result<usize, ()> {
    let (count, used) = complete_requests(input);
    if count == 0 {
        return Ok(0);
    }
    shared.refresh_date();
    let out = &mut shared.write_buf;
    out.clear();
    for _ in 0..count {
        out.extend_from_slice(HEAD);
        out.extend_from_slice(&shared.date);
        out.extend_from_slice(BODY);
    }
    if conn.unsent.is_empty() {
        let sent = send_now(fd, out)?;
        conn.unsent.extend_from_slice(&out[sent..]);
    } else {
        // Older bytes go first: queue behind them and push what the socket takes.
        conn.unsent.extend_from_slice(out);
        flush(fd, conn)?;
    }
    Ok(used)
}

/// Sends queued answer bytes (on EPOLLOUT, or behind new ones).
fn flush(fd: libc::c_int, conn: &mut Conn) -> Result<(), ()> {
    let sent = send_now(fd, &conn.unsent)?;
    if sent == conn.unsent.len() {
        conn.unsent = Vec::new(); // give the memory back: the idle connection owns nothing
    } else {
        conn.unsent.drain(..sent);
    }
    Ok(())
}

/// Reads until the socket is drained, answering as it goes. Err: close the connection.
fn on_readable(fd: libc::c_int, conn: &mut Conn, shared: &mut Shared, peer_closing: bool) -> Result<(), ()> {
    let mut buf = std::mem::take(&mut shared.read_buf);
    let result = loop {
        // SAFETY: buf is valid for buf.len() bytes of writing.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            match errno() {
                libc::EAGAIN => break Ok(()),
                libc::EINTR => continue,
                _ => break Err(()),
            }
        }
        let got = n as usize;
        if got == 0 {
            break Err(()); // the client hung up
        }
        let step = if conn.unparsed.is_empty() {
            // The usual case: whole requests, answered straight from the shared buffer.
            answer(fd, conn, &buf[..got], shared).map(|used| conn.unparsed.extend_from_slice(&buf[used..got]))
        } else {
            let mut input = std::mem::take(&mut conn.unparsed);
            input.extend_from_slice(&buf[..got]);
            answer(fd, conn, &input, shared).map(|used| {
                input.drain(..used);
                conn.unparsed = if input.is_empty() { Vec::new() } else { input };
            })
        };
        if step.is_err() || conn.unparsed.len() > MAX_UNPARSED {
            break Err(());
        }
        // A short read means the socket is empty (edge-triggered: no need to read until
        // EAGAIN, which would cost one more system call per request), unless the peer is
        // closing: then read on to see the end of the stream.
        if got < buf.len() && !peer_closing {
            break Ok(());
        }
    };
    shared.read_buf = buf;
    result
}

fn listen(port: u16) -> io::Result<libc::c_int> {
    // SAFETY: plain system calls on a descriptor this function owns; every pointer passed
    // points at a live local of the size given with it.
    unsafe {
        let fd = check(libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let one: libc::c_int = 1;
        let len = size_of::<libc::c_int>() as libc::socklen_t;
        check(libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, (&raw const one).cast(), len))?;
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_port = port.to_be();
        addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let addr_len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        check(libc::bind(fd, (&raw const addr).cast(), addr_len))?;
        check(libc::listen(fd, 4096))?;
        Ok(fd)
    }
}

fn watch(epoll: libc::c_int, fd: libc::c_int, events: libc::c_int) -> io::Result<()> {
    let mut event = libc::epoll_event { events: events as u32, u64: fd as u64 };
    // SAFETY: event is a live epoll_event; the kernel copies it.
    check(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event) }).map(drop)
}

fn run(port: u16) -> io::Result<()> {
    let listener = listen(port)?;
    // SAFETY: no pointer involved.
    let epoll = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
    watch(epoll, listener, libc::EPOLLIN | libc::EPOLLET)?;
    eprintln!("epoll-hello: listening on http://127.0.0.1:{port}/");

    let mut shared = Shared {
        read_buf: vec![0; READ_CHUNK],
        write_buf: Vec::with_capacity(READ_CHUNK),
        date_second: -1,
        date: [b' '; 29],
    };
    // A connection's state lives at the index of its descriptor.
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        // SAFETY: events is valid for events.len() entries.
        let ready = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), events.len() as libc::c_int, -1) };
        if ready < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return Err(io::Error::last_os_error());
        }
        for event in &events[..ready as usize] {
            let fd = event.u64 as libc::c_int;
            let flags = event.events as libc::c_int;
            if fd == listener {
                accept_all(epoll, listener, &mut conns);
                continue;
            }
            let Some(conn) = conns.get_mut(fd as usize).and_then(Option::as_mut) else { continue };
            let mut keep = flags & (libc::EPOLLERR | libc::EPOLLHUP) == 0;
            if keep && flags & (libc::EPOLLIN | libc::EPOLLRDHUP) != 0 {
                keep = on_readable(fd, conn, &mut shared, flags & libc::EPOLLRDHUP != 0).is_ok();
            }
            if keep && flags & libc::EPOLLOUT != 0 && !conn.unsent.is_empty() {
                keep = flush(fd, conn).is_ok();
            }
            if !keep {
                conns[fd as usize] = None;
                // SAFETY: fd is a connection this loop accepted and no longer uses; closing
                // it also takes it out of the epoll set.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Takes every waiting connection (edge-triggered: until EAGAIN). A failure to accept, such as
/// running out of descriptors, leaves the rest for the next event.
fn accept_all(epoll: libc::c_int, listener: libc::c_int, conns: &mut Vec<Option<Conn>>) {
    loop {
        let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
        // SAFETY: null address pointers are allowed (we do not want the peer's address).
        let fd = unsafe { libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
        if fd < 0 {
            return;
        }
        let one: libc::c_int = 1;
        let len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: one is a live c_int of the size given.
        unsafe { libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, (&raw const one).cast(), len) };
        let interest = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        if watch(epoll, fd, interest).is_err() {
            // SAFETY: fd was just accepted and is not used anywhere else.
            unsafe { libc::close(fd) };
            continue;
        }
        let index = fd as usize;
        if conns.len() <= index {
            conns.resize_with(index + 1, || None);
        }
        conns[index] = Some(Conn::default());
    }
}

fn main() {
    let port = match std::env::args().nth(1).map(|p| p.parse::<u16>()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: epoll-hello PORT");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(port) {
        eprintln!("epoll-hello: {e}");
        std::process::exit(1);
    }
}
