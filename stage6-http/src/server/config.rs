//! Every limit and timeout of the server, with its default and the reason it exists.

use crate::parser::Limits;
use std::time::Duration;

// ANCHOR: config
/// Server settings. Every timeout exists because without it one misbehaving client holds a
/// connection (an fd, a task, its buffers) forever; every limit, because without it one client
/// (or a crowd) can take all of a resource.
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// Parser limits (target, headers, body).
    pub limits: Limits,
    /// Worker threads, each with its own runtime and listening socket. Default 1.
    pub workers: usize,
    /// Most connections served at once, shared out evenly over the workers. One more is
    /// accepted, answered `503 Service Unavailable` and closed, instead of being left in the
    /// kernel's queue where the client cannot tell a full server from a dead one. Default 10,000.
    pub max_connections: usize,
    /// Close a keep-alive connection idle this long between requests. Default 60 s.
    pub idle_timeout: Duration,
    /// A request's head (request line and headers) must arrive completely within this time of
    /// its first byte, or it gets `408 Request Timeout`: the slowloris attack trickles a header
    /// byte now and then to hold a connection forever. Default 30 s.
    pub header_timeout: Duration,
    /// Once the head is in, each read of the body must bring bytes within this time, or `408`.
    /// It bounds a stalled upload, not a slow one: a big body on a slow link keeps going as
    /// long as it moves (nginx's `client_body_timeout` works the same way). Default 30 s.
    pub body_timeout: Duration,
    /// A write must make progress within this time (a client that never reads). Default 30 s.
    pub write_timeout: Duration,
    /// After a shutdown request, how long in-flight requests get to finish before the workers
    /// stop anyway. Default 10 s.
    pub shutdown_timeout: Duration,
    /// Print one line per request to stdout (`--log`). Default off: at 100k requests a second
    /// the log would cost more than the requests.
    pub access_log: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            workers: 1,
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            access_log: false,
        }
    }
}
// ANCHOR_END: config
