//! # Stage 2: one thread, many sockets, a selector and callbacks
//!
//! Stage 1 gave each request the whole thread, and the thread spent nearly all its time asleep
//! inside `read`. Here the sockets are *non-blocking*: a call that cannot finish now returns
//! `WouldBlock` instead of sleeping. One thread hands all its sockets to a [`selector::Selector`],
//! sleeps in one place until *some* socket is ready, and runs the callback that was waiting for
//! that socket. Ten requests now overlap, and take about one latency instead of ten.
//!
//! * [`selector`]: the `Selector` (poll(2) everywhere, epoll on Linux).
//! * [`event_loop`]: the `EventLoop` that runs a callback when its fd is ready.
//! * [`crawler`]: seed 003's callback crawler, every request at once on one thread.
//! * [`echo`]: a callback echo server with per-connection write buffers and back-pressure.
//! * [`buffer`]: [`buffer::WriteBuffer`], the pending output and water marks every echo server uses.
//! * [`net`]: non-blocking connect and its `SO_ERROR` check; `send` without `SIGPIPE`.
//! * [`sys`]: the only `unsafe` code, thin syscall wrappers.
//! * [`trace`](mod@trace): `TRACE=1` prints what the loop decides.

pub mod buffer;
pub mod crawler;
pub mod echo;
pub mod event_loop;
pub mod net;
pub mod selector;
#[allow(unsafe_code)] // the crate's one syscall module: every block has a SAFETY comment
pub mod sys;
pub mod trace;
