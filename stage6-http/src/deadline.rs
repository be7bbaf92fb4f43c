//! A connection's read deadline, armed lazily.
//!
//! The obvious way to bound a wait is `timeout(limit, stream.readable()).await`: arm a timer,
//! wait, disarm the timer. On a keep-alive connection that is a timer insert and a timer
//! removal (plus a clock read and a lookup of the current runtime) for *every* request, to
//! guard against an event (the client going quiet for a minute) that almost never happens.
//!
//! [`ReadDeadline`] keeps one timer per connection armed across waits, and only ever moves
//! it when it fires:
//!
//! ```text
//!  wait(deadline = now + 60 s)    timer armed at t+60          (the first wait only)
//!  wait(deadline = now + 60 s)    timer at t+60 is earlier: left alone, no heap work
//!  ...                            (thousands of requests)
//!  timer fires at t+60            wanted deadline is later: re-armed at it (once a minute)
//!  timer fires at the deadline    timed out
//! ```
//!
//! A timer that fires *earlier* than the deadline being waited for costs one spurious
//! wake-up, and is re-armed; a timer that would fire *later* than the deadline (a request's
//! own, shorter deadline) is moved earlier at once. So a wait never ends late, and a busy
//! connection touches the timer heap once per timeout period instead of twice per request.

use stage5_async_await::net::TcpStream;
use stage5_async_await::time::{Sleep, sleep_until};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

// ANCHOR: read_deadline
/// The timer bounding a connection's reads; see the module documentation.
#[derive(Default)]
pub(crate) struct ReadDeadline {
    /// Armed at the earliest deadline of some wait, possibly an older wait's: it may fire
    /// before the current deadline, never after it.
    timer: Option<Sleep>,
}

impl ReadDeadline {
    /// Waits until `stream` is readable (true) or `deadline` has passed (false). A plain
    /// `fn` returning a `poll_fn`: its state is the three captured words, nothing more.
    pub(crate) fn wait_readable_until<'a>(
        &'a mut self,
        stream: &'a TcpStream,
        deadline: Instant,
    ) -> impl Future<Output = bool> + 'a {
        poll_fn(move |cx| {
            if stream.poll_readable(cx).is_ready() {
                return Poll::Ready(true);
            }
            let timer = self.timer.get_or_insert_with(|| sleep_until(deadline));
            if timer.deadline() > deadline {
                timer.reset(deadline); // would fire too late for this wait
            }
            loop {
                match Pin::new(&mut *timer).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    // Armed at this deadline (or a later one moved down to it) and fired.
                    Poll::Ready(()) if timer.deadline() >= deadline => return Poll::Ready(false),
                    // Fired for an earlier wait's deadline: the connection has been busy
                    // since. Re-arm at the one that counts now (the next poll arms it).
                    Poll::Ready(()) => timer.reset(deadline),
                }
            }
        })
    }
}
// ANCHOR_END: read_deadline

#[cfg(test)]
mod tests {
    use super::*;
    use stage5_async_await::Runtime;
    use stage5_async_await::time::timeout;
    use std::time::Duration;

    /// A connected pair on 127.0.0.1: (our async end, the client's blocking end).
    fn pair() -> (TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (TcpStream::from_std(server).unwrap(), client)
    }

    /// Arms the timer at `deadline` by starting a wait and abandoning it, the way a wait
    /// that ends because bytes arrived leaves its timer behind.
    async fn arm(read_deadline: &mut ReadDeadline, stream: &TcpStream, deadline: Instant) {
        // A fresh socket is believed readable until a read says otherwise.
        let nothing = stream.try_read(&mut [0; 1]).unwrap_err();
        assert_eq!(nothing.kind(), std::io::ErrorKind::WouldBlock);
        let abandoned = timeout(Duration::ZERO, read_deadline.wait_readable_until(stream, deadline)).await;
        assert!(abandoned.is_err(), "nothing was sent, the wait cannot have ended");
    }

    #[test]
    fn a_timer_left_by_an_earlier_wait_does_not_end_a_later_wait_early() {
        Runtime::new().unwrap().block_on(async {
            let (stream, _client) = pair();
            let mut read_deadline = ReadDeadline::default();
            let now = Instant::now();
            arm(&mut read_deadline, &stream, now + Duration::from_millis(5)).await;
            let later = now + Duration::from_millis(40);
            assert!(!read_deadline.wait_readable_until(&stream, later).await);
            assert!(Instant::now() >= later, "the wait ended at the old deadline");
        });
    }

    #[test]
    fn an_earlier_deadline_moves_the_timer_down() {
        Runtime::new().unwrap().block_on(async {
            let (stream, _client) = pair();
            let mut read_deadline = ReadDeadline::default();
            arm(&mut read_deadline, &stream, Instant::now() + Duration::from_secs(3600)).await;
            let soon = Instant::now() + Duration::from_millis(5);
            let waited =
                timeout(Duration::from_secs(20), read_deadline.wait_readable_until(&stream, soon)).await;
            assert_eq!(waited, Ok(false), "the wait must end at its own deadline, not the armed one");
        });
    }

    #[test]
    fn bytes_end_the_wait() {
        Runtime::new().unwrap().block_on(async {
            let (stream, mut client) = pair();
            let mut read_deadline = ReadDeadline::default();
            std::io::Write::write_all(&mut client, b"x").unwrap();
            let far = Instant::now() + Duration::from_secs(20);
            assert!(read_deadline.wait_readable_until(&stream, far).await);
        });
    }
}
