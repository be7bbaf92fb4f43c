//! Worker threads: each runs one stage 5 runtime from its first accept to the end of a
//! graceful shutdown (stop accepting, finish what is in flight, stop).

use crate::router::Router;
use crate::server::accept::accept_loop;
use crate::server::config::ServerConfig;
use crate::server::worker::{ServeStats, Worker, tick_date};
use stage1_blocking::workshop::lock;
use stage2_select_callbacks::trace;
use stage5_async_await::combinators::select;
use stage5_async_await::net::TcpListener;
use stage5_async_await::signal::{SIGINT, SIGTERM, Signal};
use stage5_async_await::sync::event::Event;
use stage5_async_await::time::timeout;
use stage5_async_await::{Runtime, spawn};
use std::future::poll_fn;
use std::io::{self, Write as _};
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex as StdMutex};
use std::task::Poll;
use std::time::SystemTime;

/// What every worker thread shares: the routes, the settings, and the shutdown signals.
pub(super) struct Shared {
    pub(super) router: Arc<Router>,
    pub(super) config: ServerConfig,
    /// Set to begin a graceful shutdown: stop accepting, finish what is in flight.
    pub(super) shutdown: Event,
    /// Set to stop now, without waiting for in-flight requests (a second Ctrl-C).
    pub(super) abort: Event,
    /// Workers still accepting; [`ServerHandle::stop_accepting`] waits for it to reach 0.
    pub(super) accepting: StdMutex<usize>,
    pub(super) accepting_changed: Condvar,
    /// Totals, added by each worker as it stops.
    pub(super) stats: StdMutex<ServeStats>,
    /// Bytes held for arriving request bodies, all workers together (see `Worker::hold`).
    pub(super) body_bytes: Arc<AtomicUsize>,
}

// ANCHOR: run_worker
/// One worker: a runtime that accepts until shutdown begins, then drains. Worker 0 of
/// [`Server::run`] also watches for SIGINT/SIGTERM, through `signals` made before any worker
/// started (see [`ShutdownSignals`]).
pub(super) fn run_worker(
    listener: Option<std::net::TcpListener>,
    shared: Arc<Shared>,
    signals: Option<ShutdownSignals>,
) -> io::Result<()> {
    let Some(listener) = listener else {
        return Ok(());
    };
    // Until this is dropped, `stop_accepting` counts this worker as still accepting.
    let accepting = Accepting(&shared);
    let runtime = Runtime::new()?;
    let worker = Rc::new(Worker::new(shared.router.clone(), shared.config, shared.body_bytes.clone()));
    worker.dates.borrow_mut().at(SystemTime::now());
    let result = runtime.block_on(async {
        // Detached: they live as long as the runtime (dropped with it at the end).
        drop(spawn(tick_date(worker.clone())));
        if let Some(signals) = signals {
            drop(spawn(watch_signals(shared.clone(), signals)));
        }
        let listener = TcpListener::from_std(listener)?;
        accept_loop(listener, worker.clone(), &shared.shutdown).await;
        // accept_loop owned the listener and closed it: new connections are refused now.
        drop(accepting);
        drain(&worker, &shared).await;
        Ok(())
    });
    worker.log.flush();
    // Nothing may wake the drain any more: the tasks dropped with the runtime below give
    // back their in-flight marks (see `Admitted`), and would otherwise wake a finished future.
    worker.drained.borrow_mut().take();
    let mine = ServeStats { abandoned: worker.busy.get() as u64, ..worker.stats.get() };
    *lock(&shared.stats) += mine;
    result
    // The runtime is dropped here, and with it every connection task still alive: the idle
    // keep-alive ones (and any the deadline cut off). Their sockets close.
}

/// One worker's place in the count of workers still accepting (see `stop_accepting`).
struct Accepting<'a>(&'a Shared);

impl Drop for Accepting<'_> {
    fn drop(&mut self) {
        let mut accepting = lock(&self.0.accepting);
        *accepting = accepting.saturating_sub(1);
        self.0.accepting_changed.notify_all();
    }
}
// ANCHOR_END: run_worker

// ANCHOR: drain
/// Graceful shutdown on one worker: tell every connection (the busy ones close after their
/// answer, idle ones as soon as they look), then wait until nothing is in flight, the
/// deadline passes, or a second signal says stop now.
async fn drain(worker: &Worker, shared: &Shared) {
    worker.draining.set(true);
    trace!("http: draining, {} requests in flight", worker.busy.get());
    let nothing_in_flight = poll_fn(|cx| {
        if worker.busy.get() == 0 {
            return Poll::Ready(());
        }
        *worker.drained.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    });
    let _ = timeout(worker.config.shutdown_timeout, select(nothing_in_flight, shared.abort.wait())).await;
}

/// Worker 0's signal watcher: the first SIGINT/SIGTERM begins the graceful shutdown of every
/// worker, a second one aborts it.
async fn watch_signals(shared: Arc<Shared>, mut signals: ShutdownSignals) {
    let name = |signal| if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
    let signal = signals.next().await;
    // writeln! with the error ignored, not eprintln!, which panics once stderr has gone.
    let _ = writeln!(
        io::stderr(),
        "stage6-server: {}: no new connections; finishing requests in flight (up to {:?}; send it again to stop now)",
        name(signal),
        shared.config.shutdown_timeout
    );
    shared.shutdown.set();
    let signal = signals.next().await;
    let _ = writeln!(io::stderr(), "stage6-server: {} again: stopping now", name(signal));
    shared.abort.set();
}

/// SIGINT and SIGTERM, watched from the moment this is made: [`Server::run`] makes it before
/// any worker starts, so a signal sent once the server answers anything is never missed (nor
/// does it kill the process with the default action, as it would before the handlers exist).
pub(super) struct ShutdownSignals {
    int: Signal,
    term: Signal,
}

impl ShutdownSignals {
    /// Installs the handlers (once per process) and starts counting deliveries.
    pub(super) fn new() -> io::Result<ShutdownSignals> {
        Ok(ShutdownSignals { int: Signal::new(SIGINT)?, term: Signal::new(SIGTERM)? })
    }

    /// The next SIGINT or SIGTERM, whichever comes first.
    async fn next(&mut self) -> std::ffi::c_int {
        let mut int = std::pin::pin!(self.int.recv());
        let mut term = std::pin::pin!(self.term.recv());
        poll_fn(|cx| {
            if int.as_mut().poll(cx).is_ready() {
                return Poll::Ready(SIGINT);
            }
            if term.as_mut().poll(cx).is_ready() {
                return Poll::Ready(SIGTERM);
            }
            Poll::Pending
        })
        .await
    }
}
// ANCHOR_END: drain
