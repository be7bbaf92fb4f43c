//! The crawler that follows links (`http::crawl`, `stage5-client --crawl`): it visits exactly
//! the pages the demo server's links lead to, each once, every one byte for byte, and the demo
//! server never sees more requests in flight than the crawl's concurrency.

mod guard;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use stage1_blocking::workshop::demo::{DemoConfig, DemoServer};
use stage1_blocking::workshop::testkit;
use stage5_async_await::{http, run};

/// A broken runtime could leave the crawl waiting forever: give up with a message instead.
const GUARD: Duration = guard::WAIT;

/// Crawls a fresh demo server (20 ms per request) from `/` on another thread; returns the
/// paths visited (in the order they finished), each checked against the demo's page, and the
/// server's peak of connections in flight and its request count.
fn crawl_demo(max_pages: usize, concurrency: usize) -> (Vec<String>, usize, u64) {
    let config = DemoConfig { delay: Duration::from_millis(20), trickle: false };
    let server = DemoServer::start(config).unwrap();
    let addr = server.addr();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut visited = Vec::new();
        let mut bad = Vec::new();
        let fetched = run(http::crawl(addr, "/", max_pages, concurrency, |path, outcome| {
            if let Err(e) = testkit::check_page(path, outcome) {
                bad.push(format!("{e:#}"));
            }
            visited.push(path.to_string());
        }));
        let _ = tx.send((fetched, visited, bad));
    });
    let (fetched, visited, bad) = rx.recv_timeout(GUARD).unwrap_or_else(|_| {
        panic!(
            "the crawl did not finish within {GUARD:?}: likely a lost wake-up (a fetch's outcome \
             sent on the channel without waking the crawl's loop, or a semaphore permit released \
             without waking its waiter)"
        )
    });
    assert!(bad.is_empty(), "pages that differ from the demo's: {bad:?}");
    assert_eq!(fetched, visited.len(), "crawl's count against the pages it reported");
    (visited, server.peak_connections(), server.requests_served())
}

fn expected(max_pages: usize) -> BTreeSet<String> {
    std::iter::once("/".to_string()).chain((1..max_pages).map(|n| format!("/{n}"))).collect()
}

#[test]
fn the_crawl_visits_each_linked_page_once_with_at_most_concurrency_in_flight() {
    let _guard = guard::watchdog();
    // `/` links to /1../10 and /N to /N+1: 25 pages are `/` and /1 .. /24.
    let (visited, peak, served) = crawl_demo(25, 3);
    let unique: BTreeSet<String> = visited.iter().cloned().collect();
    assert_eq!(unique.len(), visited.len(), "a page was visited twice: {visited:?}");
    assert_eq!(unique, expected(25));
    assert_eq!(served, 25, "the demo server saw a request the crawl did not report");
    assert!(peak <= 3, "the demo server saw {peak} requests in flight, more than --max-concurrency 3");
}

#[test]
fn fewer_pages_than_the_index_links_stops_at_max_pages() {
    let _guard = guard::watchdog();
    let (visited, peak, _) = crawl_demo(4, 2);
    assert_eq!(visited.iter().cloned().collect::<BTreeSet<_>>(), expected(4));
    assert_eq!(visited.len(), 4);
    assert!(peak <= 2, "{peak} requests in flight, more than 2");
}

#[test]
fn stage5_client_crawl_prints_each_page_the_peak_and_the_summary() {
    let _guard = guard::watchdog();
    let out = testkit::run_bin(
        env!("CARGO_BIN_EXE_stage5-client"),
        &["--crawl", "/", "--max-pages", "12", "--max-concurrency", "4", "--delay", "0"],
        false,
    )
    .unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    let gets: BTreeSet<&str> =
        out.stdout.lines().filter_map(|l| l.strip_prefix("GET ")?.split(' ').next()).collect();
    let want = expected(12);
    assert_eq!(gets, want.iter().map(String::as_str).collect());
    let lines: Vec<&str> = out.stdout.lines().collect();
    let n = lines.len();
    assert!(lines[n - 2].starts_with("demo server: 12 requests, at most "), "{}", out.stdout);
    assert!(lines[n - 1].starts_with("stage5: 12 requests, 1 thread, "), "{}", out.stdout);
    let bad = testkit::run_bin(env!("CARGO_BIN_EXE_stage5-client"), &["--crawl", "x"], false).unwrap();
    assert_eq!(bad.code, Some(2), "{bad:?}");
}
