//! The access log: one line per request, gathered in a worker's buffer and written to stdout
//! when 16 KiB have gathered, and once a second.

use std::cell::RefCell;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::time::Instant;

/// The access log is written when this much has gathered (and every second).
const LOG_FLUSH_AT: usize = 16 * 1024;

/// What the access log remembers of a request while its handler runs.
pub(crate) struct LogEntry {
    /// `GET /path HTTP/1.1`, copied before the request moves into its handler.
    pub request_line: String,
    /// When the handler was started.
    pub start: Instant,
}

/// One worker's log lines not written yet.
#[derive(Default)]
pub(crate) struct AccessLog {
    lines: RefCell<Vec<u8>>,
}

impl AccessLog {
    // ANCHOR: access_log
    /// Adds one line: peer, date, request line, status, body bytes (`-` when streamed with no
    /// known length), handler time. The connection asks the kernel for the peer address only
    /// when logging, rather than keeping it in every connection.
    pub fn write(
        &self,
        peer: Option<SocketAddr>,
        date: &[u8],
        entry: &LogEntry,
        status: u16,
        body: Option<u64>,
    ) {
        let mut log = self.lines.borrow_mut();
        // Written straight into the buffer (writes to a Vec cannot fail).
        let _ = match peer {
            Some(peer) => write!(log, "{peer} "),
            None => write!(log, "- "),
        };
        log.extend_from_slice(b"[");
        log.extend_from_slice(date);
        let _ = write!(log, "] \"{}\" {status} ", entry.request_line.escape_debug());
        let _ = match body {
            Some(bytes) => write!(log, "{bytes}"),
            None => write!(log, "-"),
        };
        let _ = writeln!(log, " {}us", entry.start.elapsed().as_micros());
        let full = log.len() >= LOG_FLUSH_AT;
        drop(log);
        if full {
            self.flush();
        }
    }
    // ANCHOR_END: access_log

    /// Writes the gathered lines. A blocking write to stdout: fine for a log that is off by
    /// default and flushed in 16 KiB pieces, but a stdout nobody reads would stall the worker
    /// (a production server hands its log to a thread or to the kernel's syslog).
    pub fn flush(&self) {
        let mut log = self.lines.borrow_mut();
        if !log.is_empty() {
            let _ = io::stdout().lock().write_all(&log);
            log.clear();
        }
    }
}
