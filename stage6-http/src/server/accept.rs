//! The accept loop, and the task that serves each accepted connection.

use crate::response::Response;
use crate::server::connection::Connection;
use crate::server::worker::Worker;
use stage2_select_callbacks::trace;
use stage5_async_await::combinators::{Either, select};
use stage5_async_await::net::{Accept, TcpListener, TcpStream};
use stage5_async_await::sync::event::Event;
use stage5_async_await::time::sleep;
use stage5_async_await::{spawn, yield_now};
use std::future::{Future, poll_fn};
use std::io::{self, Write as _};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

/// Connections past `max_connections` being answered 503 at once, per worker. Past this too,
/// a new connection is closed without a word: answering costs a task each, and a flood must
/// not turn into a flood of tasks.
const MAX_TURNING_AWAY: usize = 64;

/// How long the accept loop waits after running out of file descriptors before it accepts
/// again (stage 5's `accept` waits 50 ms the same way).
const OUT_OF_DESCRIPTORS_BACKOFF: Duration = Duration::from_millis(50);

// ANCHOR: accept_loop
/// Accepts until shutdown begins, then accepts what is already queued and closes the
/// listening socket (it is dropped on return: this is its only copy). A connection past the
/// worker's share of `max_connections` is answered `503` and closed; so is one that arrives
/// when the process is out of file descriptors (see `answer_from_spare`). Other accept errors
/// are reported and survived.
pub(super) async fn accept_loop(listener: TcpListener, worker: Rc<Worker>, shutdown: &Event) {
    loop {
        match select(listener.accept_or_exhausted(), shutdown.wait()).await {
            Either::Left(Ok(Accept::Connection(stream, peer))) => {
                trace!("http: connection from {peer}");
                admit(stream, &worker);
                // Only does something if the last refill failed (the process was still out).
                worker.refill_spare();
            }
            Either::Left(Ok(Accept::Exhausted)) => answer_from_spare(&listener, &worker).await,
            Either::Left(Err(e)) => {
                // Not eprintln!, which panics once stderr has gone: the server goes on.
                let _ = writeln!(io::stderr(), "stage6-server: accept failed: {e}");
                sleep(Duration::from_millis(100)).await;
            }
            Either::Right(()) => break,
        }
    }
    accept_queued(&listener, &worker).await;
}

/// Gives an accepted connection its task, or a 503 if the worker is full.
fn admit(stream: TcpStream, worker: &Rc<Worker>) {
    // Responses are written whole; Nagle would only delay the last segment of a pipelined
    // burst or a streamed body.
    let _ = stream.set_nodelay(true);
    if worker.open.get() < worker.max_open {
        // Dropping the JoinHandle detaches the task: it runs until the client is done.
        drop(spawn(serve_connection(stream, worker.clone())));
    } else if worker.turning_away.get() < MAX_TURNING_AWAY {
        worker.turning_away.set(worker.turning_away.get() + 1);
        drop(spawn(turn_away(stream, worker.clone())));
    } // else: dropped here, closed without an answer
}
// ANCHOR_END: accept_loop

// ANCHOR: answer_from_spare
/// `accept` failed with `EMFILE` (or its kin): the client is still in the kernel's queue,
/// and would wait there in silence until some connection closes. Instead, close the spare
/// descriptor the worker kept for this, accept the client with the descriptor that frees, and
/// answer it `503` like a connection past `max_connections`. Then wait on the timer before
/// accepting again (the listener stays readable while the process is out, so going straight
/// back would spin), and take a new spare: by then the turned-away connection has usually
/// closed and given its descriptor back. Without a spare, only the wait is left.
async fn answer_from_spare(listener: &TcpListener, worker: &Rc<Worker>) {
    let spare = worker.spare.borrow_mut().take();
    if let Some(spare) = spare {
        drop(spare);
        // Not awaited: another worker may have taken the descriptor first.
        if let Some(Ok(Accept::Connection(stream, peer))) = ready_now(listener.accept_or_exhausted()).await {
            trace!("http: out of descriptors, turning {peer} away with the spare one");
            if worker.turning_away.get() < MAX_TURNING_AWAY {
                worker.turning_away.set(worker.turning_away.get() + 1);
                drop(spawn(turn_away(stream, worker.clone())));
            } // else: dropped here, closed without an answer
        }
    }
    sleep(OUT_OF_DESCRIPTORS_BACKOFF).await;
    worker.refill_spare();
}
// ANCHOR_END: answer_from_spare

// ANCHOR: accept_queued
/// A connection the kernel completed is in the listening socket's queue, and its client
/// has probably sent its request already: closing the socket now would reset it. So before
/// closing, take every queued connection (they are served like any other, and their answers
/// say `Connection: close`). One turn of the loop first lets the reactor see connections that
/// arrived since it last looked.
async fn accept_queued(listener: &TcpListener, worker: &Rc<Worker>) {
    yield_now().await;
    while let Some(Ok((stream, peer))) = ready_now(listener.accept()).await {
        trace!("http: queued connection from {peer} taken at shutdown");
        admit(stream, worker);
    }
}

/// The future's output if it is ready on its first poll, `None` if it would wait.
async fn ready_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    poll_fn(|cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}
// ANCHOR_END: accept_queued

// ANCHOR: serve_connection
/// The connection task. Not an `async fn`: an `async fn` keeps its arguments (`stream`,
/// `worker`) in its state *and* the locals built from them (`connection`), for 40 bytes more
/// in every connection's task. An `async move` block captures the finished `Admitted` once.
pub(super) fn serve_connection(stream: TcpStream, worker: Rc<Worker>) -> impl Future<Output = ()> {
    worker.count(|s| s.connections += 1);
    worker.open.set(worker.open.get() + 1); // given back by `Admitted::drop`
    let mut admitted = Admitted { connection: Connection::new(stream), worker };
    async move {
        let Admitted { connection, worker } = &mut admitted;
        match connection.run(worker).await {
            Ok(()) => trace!("http: connection closed"),
            Err(e) => trace!("http: connection dropped: {e}"),
        }
    }
}

/// A connection counted in its worker's `open` (and maybe `busy`). Giving those back in
/// `Drop` rather than after `run` returns means they are given back however the task ends:
/// returning, a panic the executor catches, or the runtime dropping it at shutdown. A leaked
/// place would shrink `max_connections` for good; a leaked in-flight mark would make every
/// later shutdown wait for its whole deadline.
struct Admitted {
    connection: Connection,
    worker: Rc<Worker>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let worker = &self.worker;
        self.connection.set_busy(worker, false);
        self.connection.release_body(worker);
        worker.give_back(std::mem::take(&mut self.connection.out));
        worker.open.set(worker.open.get() - 1);
    }
}
// ANCHOR_END: serve_connection

/// A connection over the limit: `503` with `Retry-After`, closed politely (the client learns
/// the server is full rather than waiting in a queue or seeing a reset).
async fn turn_away(stream: TcpStream, worker: Rc<Worker>) {
    trace!("http: {} connections open, turning one away", worker.open.get());
    worker.count(|s| s.turned_away += 1);
    let mut connection = Connection::new(stream);
    let busy = Response::error(503).header("Retry-After", "1").close();
    let _ = connection.write_response(&worker, busy, None);
    let _ = connection.close(&worker).await;
    worker.give_back(std::mem::take(&mut connection.out));
    worker.turning_away.set(worker.turning_away.get() - 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::Router;
    use crate::server::config::ServerConfig;
    use stage5_async_await::Runtime;
    use std::sync::Arc;

    /// The connection's state lives in its task for as long as the client keeps the
    /// connection open, idle or not; this keeps an eye on its size (1,512 bytes at first,
    /// 800 after the flush and dispatch rework, 344 once the parser became a loan and no
    /// `async fn` kept its arguments twice: see the chapter; 392 with the defences against
    /// hostile clients: the body's rate clock, its share of the body budget, and the watch
    /// that drops the handler of a client that reset).
    #[test]
    fn connection_future_stays_small() {
        let runtime = Runtime::new().unwrap();
        runtime.block_on(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let worker =
                Rc::new(Worker::new(Arc::new(Router::new()), ServerConfig::default(), Default::default()));
            let future = serve_connection(TcpStream::from_std(client).unwrap(), worker);
            let size = std::mem::size_of_val(&future);
            assert!(size <= 400, "connection future grew to {size} bytes");
        });
    }
}
