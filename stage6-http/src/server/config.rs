//! Every limit and timeout of the server, with its default and the reason it exists.

use crate::parser::Limits;
use std::time::{Duration, Instant};

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
    /// ...but moving is not enough: a byte every ten seconds never stalls, and would hold the
    /// connection and its buffers forever. So the whole body must also arrive by
    /// [`ServerConfig::body_deadline`], `body_timeout` plus one second per `min_body_rate`
    /// bytes received (Apache's `mod_reqtimeout` rule), or `408`. In bytes per second;
    /// 0 turns the rule off. Default 500: a trickle is cut after about `body_timeout`, while an
    /// upload at 4 kbit/s or more is never cut.
    pub min_body_rate: u32,
    /// Most bytes all connections together may hold for request bodies that are still
    /// arriving (each holds at most `max_body_bytes` and a little more, see the chapter). A
    /// request whose body would go past it gets `503` and the connection closes: many
    /// connections each sending a body up to the limit must not add up to all the memory.
    /// Default 64 MiB (64 bodies of the default 1 MiB arriving at once).
    pub body_budget: usize,
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
            min_body_rate: 500,
            body_budget: 64 * 1024 * 1024,
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            access_log: false,
        }
    }
}
// ANCHOR_END: config

impl ServerConfig {
    // ANCHOR: body_deadline
    /// When a body that started arriving at `start` must be complete, given the `received`
    /// bytes of it so far: `body_timeout` for free, plus one second for every `min_body_rate`
    /// bytes. A body arriving faster than the rate pushes its deadline away faster than time
    /// catches up with it; one arriving slower meets it. `None` with the rule turned off.
    pub fn body_deadline(&self, start: Instant, received: u64) -> Option<Instant> {
        if self.min_body_rate == 0 {
            return None;
        }
        let earned = Duration::from_millis(received.saturating_mul(1000) / u64::from(self.min_body_rate));
        start.checked_add(self.body_timeout.saturating_add(earned))
    }
    // ANCHOR_END: body_deadline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_deadline_grows_with_the_bytes_received() {
        let config =
            ServerConfig { body_timeout: Duration::from_secs(30), min_body_rate: 500, ..Default::default() };
        let start = Instant::now();
        let after = |received| config.body_deadline(start, received).unwrap() - start;
        assert_eq!(after(0), Duration::from_secs(30));
        // A trickle of a byte every ten seconds has earned next to nothing after 30 s.
        assert_eq!(after(3), Duration::from_millis(30_006));
        // An upload at exactly 500 B/s stays 30 s ahead of its deadline forever.
        assert_eq!(after(500 * 3600), Duration::from_secs(30 + 3600));
        assert_eq!(after(250), Duration::from_millis(30_500));
        assert_eq!(after(u64::MAX), Duration::from_secs(30) + Duration::from_millis(u64::MAX / 500));
        assert_eq!(ServerConfig { min_body_rate: 0, ..config }.body_deadline(start, 10), None);
    }
}
