//! The smallest executor, read first and in one sitting: `block_on`, `spawn`, a waker, one
//! hand-written future (`Io`, a socket wait through stage 2's `Selector`); [`http::get`], in a
//! file of its own, is an `async fn` on top. Only `std`, stage 2 and stage 1's HTTP code.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

pub mod http;

use stage2_select_callbacks::selector::{Events, Interest, Selector, Token};
use stage2_select_callbacks::trace;

// ANCHOR: runtime
/// What `block_on` shares with the futures it polls, through a thread-local while it runs.
struct Runtime {
    selector: RefCell<Selector>, // stage 2's: the only place this thread ever sleeps
    /// fd -> the waker of the task waiting on it. An fd is registered exactly while it is here.
    waiting: RefCell<HashMap<RawFd, Waker>>,
    tasks: RefCell<HashMap<usize, Task>>, // spawned and not finished yet, by id
    next_id: Cell<usize>,
    /// Ids of the tasks to poll next. A Mutex only because a `Waker` must be `Send + Sync`.
    ready: Arc<Mutex<VecDeque<usize>>>,
}

/// A task: a future on the heap, pinned there, since it may hold pointers into itself.
type Task = Pin<Box<dyn Future<Output = ()>>>;

thread_local!(static RUNTIME: RefCell<Option<Rc<Runtime>>> = const { RefCell::new(None) });
const MAIN: usize = 0; // the task id of the future given to `block_on`
// ANCHOR_END: runtime

fn runtime() -> Rc<Runtime> {
    RUNTIME.with_borrow(Option::clone).expect("spawn and Io only work inside block_on")
}

// ANCHOR: waker
/// The waker of task `id`: waking it puts `id` on the ready queue, nothing more. (Not thread
/// park/unpark: this thread sleeps in `select`, and every wake comes from `select` returning.)
struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        trace!("wake task {}", self.id);
        self.ready.lock().unwrap_or_else(PoisonError::into_inner).push_back(self.id);
    }
}
// ANCHOR_END: waker

// ANCHOR: register
impl Runtime {
    fn waker(&self, id: usize) -> Waker {
        Waker::from(Arc::new(TaskWaker { id, ready: Arc::clone(&self.ready) }))
    }

    /// The next id to poll; the lock is released before the poll (a task may wake itself).
    fn next_ready(&self) -> Option<usize> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
    }

    /// Leaves `waker` with the selector: it is woken when `fd` is ready for `interest`.
    fn register(&self, fd: RawFd, interest: Interest, waker: Waker) -> io::Result<()> {
        let mut selector = self.selector.borrow_mut();
        match self.waiting.borrow_mut().insert(fd, waker) {
            None => selector.register(fd, Token(fd as usize), interest),
            Some(_older) => selector.reregister(fd, Token(fd as usize), interest),
        }
    }

    /// Stops waiting on `fd`; returns the waker that was waiting, if any.
    fn forget(&self, fd: RawFd) -> Option<Waker> {
        let waker = self.waiting.borrow_mut().remove(&fd)?;
        let _ = self.selector.borrow_mut().deregister(fd); // fails only if already gone
        Some(waker)
    }
}
// ANCHOR_END: register

// ANCHOR: spawn
/// Adds `future` as a new task, polled by `block_on` once its id comes off the ready queue.
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    let rt = runtime();
    let id = rt.next_id.get() + 1;
    rt.next_id.set(id);
    trace!("spawn task {id}");
    rt.tasks.borrow_mut().insert(id, Box::pin(future));
    rt.waker(id).wake();
}
// ANCHOR_END: spawn

// ANCHOR: block_on
/// Runs `future` and every task spawned meanwhile on this thread until all are done, then
/// returns the future's output. The error is the selector's (it could not be made, or failed).
pub fn block_on<T>(future: impl Future<Output = T>) -> io::Result<T> {
    let rt = Rc::new(Runtime {
        selector: RefCell::new(Selector::new()?),
        waiting: RefCell::default(),
        tasks: RefCell::default(),
        next_id: Cell::new(MAIN),
        ready: Arc::default(),
    });
    assert!(RUNTIME.replace(Some(Rc::clone(&rt))).is_none(), "block_on inside block_on");
    let _installed = Installed(Rc::clone(&rt));
    let mut main = pin!(future); // pinned on this stack frame: it never moves again
    let mut output = None;
    let mut events = Events::with_capacity(64);
    rt.waker(MAIN).wake();
    loop {
        // 1. Poll every task that was woken, in the order of the wakes.
        while let Some(id) = rt.next_ready() {
            let waker = rt.waker(id);
            let mut cx = Context::from_waker(&waker);
            if id == MAIN {
                if output.is_none() {
                    trace!("poll task {MAIN} (main)");
                    if let Poll::Ready(value) = main.as_mut().poll(&mut cx) {
                        output = Some(value);
                    }
                }
                continue;
            }
            // Out of the map while it runs, so that it may spawn (which inserts).
            let Some(mut task) = rt.tasks.borrow_mut().remove(&id) else { continue };
            trace!("poll task {id}");
            match task.as_mut().poll(&mut cx) {
                Poll::Pending => drop(rt.tasks.borrow_mut().insert(id, task)),
                Poll::Ready(()) => trace!("task {id} done"),
            }
        }
        if rt.tasks.borrow().is_empty()
            && let Some(value) = output.take()
        {
            return Ok(value);
        }
        // 2. Nothing to poll: sleep until a socket somebody waits on is ready, wake them.
        trace!("select: {} fd(s) waited on, sleeping", rt.waiting.borrow().len());
        rt.selector.borrow_mut().select(&mut events, None)?;
        trace!("select: woke with {} event(s)", events.len());
        for event in events.iter() {
            let fd = event.token().0 as RawFd;
            trace!("fd {fd} ready");
            // One wake per wait: the fd leaves the selector until its task waits again.
            if let Some(waker) = rt.forget(fd) {
                waker.wake();
            }
        }
    }
}

/// On return or panic: drops the tasks left while their `Io`s can leave the selector.
struct Installed(Rc<Runtime>);

impl Drop for Installed {
    fn drop(&mut self) {
        drop(std::mem::take(&mut *self.0.tasks.borrow_mut())); // not borrowed while they drop
        RUNTIME.replace(None);
    }
}
// ANCHOR_END: block_on

// ANCHOR: io
/// The one hand-written future: runs `op` (a read, a write, a connect check) on `stream`, and
/// while it would block, waits until the selector says `stream` is ready for `interest`.
pub struct Io<'a, F> {
    stream: &'a TcpStream,
    interest: Interest,
    op: F,
}

/// An [`Io`] future: `io(&stream, Interest::READABLE, |mut s| s.read(&mut buf)).await`.
pub fn io<T, F>(stream: &TcpStream, interest: Interest, op: F) -> Io<'_, F>
where
    F: FnMut(&TcpStream) -> io::Result<T>, // named here so closures need no type annotations
{
    Io { stream, interest, op }
}

impl<T, F: FnMut(&TcpStream) -> io::Result<T> + Unpin> Future for Io<'_, F> {
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let this = self.get_mut(); // allowed: nothing in an Io points into the Io (it is Unpin)
        loop {
            match (this.op)(this.stream) {
                // EINTR: a signal arrived before the call did anything. Just try again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Not now: leave our waker with the selector, and say "not yet".
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    runtime().register(this.stream.as_raw_fd(), this.interest, cx.waker().clone())?;
                    return Poll::Pending;
                }
                // Bytes, EOF (`Ok(0)`) or a real error: done either way.
                done => return Poll::Ready(done),
            }
        }
    }
}

impl<F> Drop for Io<'_, F> {
    /// Leaves the selector if still in it (a task dropped while waiting); the borrow of the
    /// stream makes this run before the socket can be closed.
    fn drop(&mut self) {
        if let Some(rt) = RUNTIME.with_borrow(Option::clone) {
            rt.forget(self.stream.as_raw_fd());
        }
    }
}
// ANCHOR_END: io

/// How many fds the running `block_on`'s selector watches now (tests: 0 once nothing waits).
pub fn watched() -> usize {
    runtime().waiting.borrow().len()
}
