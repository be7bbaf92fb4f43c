//! An async HTTP/1.0 GET: stage 1's request bytes, response parser and size limit, with the
//! socket calls replaced by their `.await` versions. Compare with `stage1_blocking::http::get`:
//! the code has the same shape, line for line; only the waiting moved from the thread to the
//! task.
//!
//! [`crawl`] is the crawler of the 500 Lines chapter on top of `get`: start at one page,
//! follow its links, visit each page once, with a bounded number of requests in flight. It is
//! where stage 5's `sync` primitives earn their place: a [`Semaphore`] bounds the fetches, an
//! [`mpsc`] channel brings their results back to the one task that owns the set of pages seen.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use anyhow::Context as _;
use stage1_blocking::http::{MAX_RESPONSE, Response, parse_response, request_bytes, too_large};
use stage2_select_callbacks::trace;

use crate::net::TcpStream;
use crate::runtime::executor::spawn;
use crate::sync::mpsc;
use crate::sync::semaphore::Semaphore;

// ANCHOR: get
/// Connects to `addr`, sends `GET path`, reads until the server closes (HTTP/1.0), parses.
pub async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<Response> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    trace!("GET {path}: connected on fd {}", stream.as_raw_fd()); // for TRACE=1 and --timeline
    stream
        .write_all(&request_bytes(&addr.to_string(), path))
        .await
        .with_context(|| format!("sending GET {path} to {addr}"))?;
    let bytes = read_to_eof(&stream).await.with_context(|| format!("reading the response to GET {path}"))?;
    parse_response(&bytes).with_context(|| format!("GET {path} from {addr}"))
}

/// Reads until the server closes, like stage 1's `read_to_eof`, and gives up past
/// [`MAX_RESPONSE`] bytes: a server that never stops sending costs an error, not our memory.
/// (`EINTR` and `WouldBlock` never reach here: the reactor retries or waits.)
async fn read_to_eof(stream: &TcpStream) -> io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await? {
            0 => return Ok(response),
            n => {
                response.extend_from_slice(&chunk[..n]);
                if response.len() > MAX_RESPONSE {
                    return Err(too_large());
                }
            }
        }
    }
}
// ANCHOR_END: get

/// The same-site links of a page: every `href="/..."`, in the order they appear, without a
/// `#fragment`. Anything else (another site, a relative path, an unterminated quote) is
/// skipped: the page is network input, so a malformed one yields fewer links, never a panic.
pub fn links(body: &[u8]) -> Vec<String> {
    const HREF: &[u8] = b"href=\"";
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(HREF.len()).position(|w| w == HREF) {
        rest = &rest[at + HREF.len()..];
        let Some(end) = rest.iter().position(|&b| b == b'"') else { break };
        let link = &rest[..end];
        rest = &rest[end..];
        let link = link.split(|&b| b == b'#').next().unwrap_or_default();
        let same_site = link.starts_with(b"/") && !link.starts_with(b"//");
        if same_site && link.iter().all(|b| b.is_ascii_graphic()) {
            // ASCII graphic bytes only, so this is valid UTF-8.
            found.push(String::from_utf8_lossy(link).into_owned());
        }
    }
    found
}

// ANCHOR: crawl
/// Crawls the site at `addr` from `start`: fetches a page, queues the links it has not seen,
/// and goes on until no page is queued or in flight, visiting at most `max_pages` pages and
/// never more than `concurrency` at once. `on_page` gets each outcome as it finishes (in
/// the order they finish); returns how many pages were fetched.
///
/// One coordinating loop owns the work queue and the set of pages seen, so neither needs a
/// lock; each fetch is a task of its own, holding a semaphore permit while it runs, and sends
/// its outcome back on a channel.
pub async fn crawl(
    addr: SocketAddr,
    start: &str,
    max_pages: usize,
    concurrency: usize,
    mut on_page: impl FnMut(&str, &anyhow::Result<Response>),
) -> usize {
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    // At most `max_pages` outcomes are ever sent, so a sender never has to wait for room.
    let (done_tx, mut done_rx) = mpsc::channel::<(String, anyhow::Result<Response>)>(max_pages.max(1));
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    if max_pages > 0 {
        seen.insert(start.to_string());
        queue.push_back(start.to_string());
    }
    let (mut in_flight, mut fetched) = (0, 0);
    loop {
        // Start every queued page we have a permit for; wait for a permit while
        // `concurrency` fetches are out (their results queue up in the channel meanwhile).
        while let Some(path) = queue.pop_front() {
            let permit = Arc::clone(&limit).acquire_owned().await.expect("this semaphore is never closed");
            let done = done_tx.clone();
            spawn(async move {
                let outcome = get(addr, &path).await;
                drop(permit); // the next fetch may start as soon as this one is finished
                // The receiver lives until every fetch has reported, so this cannot fail.
                let _ = done.send((path, outcome)).await;
            });
            in_flight += 1;
        }
        if in_flight == 0 {
            return fetched; // nothing queued, nothing out: the crawl is complete
        }
        let (path, outcome) = done_rx.recv().await.expect("the loop keeps a sender alive");
        in_flight -= 1;
        fetched += 1;
        on_page(&path, &outcome);
        if let Ok(response) = &outcome {
            for link in links(&response.body) {
                if seen.len() < max_pages && !seen.contains(&link) {
                    seen.insert(link.clone());
                    queue.push_back(link);
                }
            }
        }
    }
}
// ANCHOR_END: crawl

#[cfg(test)]
mod tests {
    use super::links;

    #[test]
    fn links_are_same_site_hrefs_in_page_order_without_fragments() {
        let page = b"<a href=\"/2\">n</a> <a href=\"http://x/3\">x</a> <a href=\"//y/4\">\
                     <a href=\"rel\"> <a href=\"/5#top\"> <a href=\"/a b\"> <a href=\"/6";
        assert_eq!(links(page), ["/2", "/5"]);
        assert_eq!(links(b""), Vec::<String>::new());
        assert_eq!(links(b"href=\"\xff/\""), Vec::<String>::new());
    }
}
