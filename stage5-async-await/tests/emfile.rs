//! An accept loop out of fds must back off on a timer, not spin. Its own test binary: it
//! lowers this process's fd limit.

mod guard;

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use stage5_async_await::net::TcpListener;
use stage5_async_await::time::sleep;
use stage5_async_await::{run, spawn};

/// Counts how often the wrapped future is polled.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: Rc<Cell<usize>>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.inner.as_mut().poll(cx)
    }
}

#[test]
fn accept_backs_off_while_out_of_fds_then_recovers() {
    let _guard = guard::watchdog();
    let polls = Rc::new(Cell::new(0));
    let accepted_peer = run({
        let polls = polls.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            // A client connects (the kernel completes the handshake; it waits in the backlog).
            let client = std::net::TcpStream::connect(addr).unwrap();
            // Use up every remaining fd.
            let open = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(64) as u64;
            stage2_select_callbacks::sys::set_nofile_soft_limit(open + 8).unwrap();
            let mut hog = Vec::new();
            while let Ok(f) = std::fs::File::open("/dev/null") {
                hog.push(f);
            }
            let accept = spawn(CountPolls { inner: Box::pin(async move { listener.accept().await }), polls });
            // Out of fds for a while (accept keeps failing with EMFILE), then free them.
            sleep(Duration::from_millis(300)).await;
            drop(hog);
            let (stream, peer) = accept.await.unwrap().unwrap();
            drop(stream);
            assert_eq!(peer, client.local_addr().unwrap());
            peer
        }
    });
    assert!(accepted_peer.ip().is_loopback());
    // With a 50 ms back-off, ~300 ms of EMFILE is about 6 retries; a loop that spun on
    // EMFILE would have polled thousands of times.
    assert!(polls.get() < 50, "accept was polled {} times while out of fds", polls.get());
}
