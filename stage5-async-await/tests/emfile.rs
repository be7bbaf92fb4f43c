//! An accept loop out of fds must back off on a timer, not spin; `accept_or_exhausted` must
//! say it is out instead. Its own test binary: it lowers this process's fd limit (and its
//! tests take [`ONE_AT_A_TIME`], as each uses up every fd it can).

mod guard;

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use stage5_async_await::net::{Accept, TcpListener};
use stage5_async_await::time::sleep;
use stage5_async_await::{run, spawn};

/// Each test uses up the process's fds: two at once would take each other's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Opens `/dev/null` until the process is out of fds (its soft limit lowered first, to a few
/// above what is open, so this takes a handful of files rather than thousands).
fn use_up_fds() -> Vec<std::fs::File> {
    let open = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(64) as u64;
    stage2_select_callbacks::sys::set_nofile_soft_limit(open + 8).unwrap();
    let mut hog = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        hog.push(f);
    }
    hog
}

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
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let polls = Rc::new(Cell::new(0));
    let accepted_peer = run({
        let polls = polls.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            // A client connects (the kernel completes the handshake; it waits in the backlog).
            let client = std::net::TcpStream::connect(addr).unwrap();
            let hog = use_up_fds();
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

#[test]
fn accept_or_exhausted_reports_running_out_at_once_then_accepts_once_an_fd_is_free() {
    let _guard = guard::watchdog();
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut hog = use_up_fds();
        // Out of fds: the answer is `Exhausted` on the first poll, not a wait (`accept`
        // would be asleep on its back-off timer here).
        match first_poll(listener.accept_or_exhausted()) {
            Some(Ok(Accept::Exhausted)) => {}
            Some(Ok(Accept::Connection(..))) => panic!("accepted with no fd free"),
            Some(Err(e)) => panic!("accept_or_exhausted failed: {e}"),
            None => panic!("accept_or_exhausted waited instead of reporting EMFILE"),
        }
        // It does not consume the connection: freeing one fd is enough to accept it.
        drop(hog.pop());
        match first_poll(listener.accept_or_exhausted()) {
            Some(Ok(Accept::Connection(_stream, peer))) => {
                assert_eq!(peer, client.local_addr().unwrap())
            }
            Some(Ok(Accept::Exhausted)) => panic!("still exhausted with one fd free"),
            Some(Err(e)) => panic!("accept_or_exhausted failed: {e}"),
            None => panic!("the queued connection was lost: accept_or_exhausted waits"),
        }
    });
}

/// What `future` gives on its first poll, `None` if it would wait.
fn first_poll<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(std::task::Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
