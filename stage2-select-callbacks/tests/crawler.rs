//! The callback crawler against the stage 1 demo server (and a few hand-made servers), on
//! both selector backends.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use stage1_blocking::workshop::demo::{DemoConfig, DemoServer};
use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::crawler::{self, Outcome};
use stage2_select_callbacks::event_loop::EventLoop;
use stage2_select_callbacks::selector::{Backend, Selector};

/// What a crawl that never ends most likely means, for the guard's message.
const CRAWL_HANG: &str = "the crawl never finished: a readiness event lost, a callback dropped \
    before it ran, or a request that never registers its next wait";

fn loops() -> Vec<EventLoop> {
    Backend::available()
        .into_iter()
        .map(|b| EventLoop::with_selector(Selector::with_backend(b).unwrap()))
        .collect()
}

fn paths(n: usize) -> Vec<String> {
    let mut paths: Vec<String> = (1..=n).map(|i| format!("/{i}")).collect();
    paths.push("/".to_string());
    paths
}

fn assert_all_pages(results: &[(String, Outcome)], wanted: &[String], backend: Backend) {
    assert_eq!(results.len(), wanted.len(), "{backend:?}");
    for path in wanted {
        let (_, outcome) = results.iter().find(|(p, _)| p == path).expect("every path has a result");
        testkit::check_page(path, outcome).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
    }
}

#[test]
fn passes_the_crawler_exam_on_every_backend() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
        // Stage 1's exam: every page (whole and trickled), a 404, garbage, truncated and endless
        // responses. After each crawl no fd may stay registered.
        for mut lp in loops() {
            let backend = lp.backend();
            testkit::check_crawler(|addr, paths| {
                let results = crawler::crawl_on(&mut lp, addr, paths).unwrap();
                assert_eq!(lp.registered_fds(), 0, "{backend:?}");
                results
            })
            .unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
        }
    });
}

#[test]
fn crawl_uses_the_default_selector() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
        // Runs on whatever SELECTOR says, so `SELECTOR=poll cargo test` covers poll here too.
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        let wanted = paths(3);
        let results = crawler::crawl(server.addr(), &wanted).unwrap();
        let backend = EventLoop::new().unwrap().backend();
        assert_all_pages(&results, &wanted, backend);
    });
}

#[test]
fn refused_connect_is_an_error_for_that_request_only() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        let closed: SocketAddr = testkit::refused_addr().unwrap();
        for mut lp in loops() {
            let backend = lp.backend();
            let outcomes: Rc<RefCell<Vec<(String, Outcome)>>> = Rc::default();
            for (addr, path) in [(server.addr(), "/1"), (closed, "/2"), (server.addr(), "/3")] {
                let outcomes = outcomes.clone();
                crawler::get(&mut lp, addr, path, move |o| outcomes.borrow_mut().push((path.to_string(), o)));
            }
            lp.run().unwrap();
            let outcomes = outcomes.borrow();
            assert_eq!(outcomes.len(), 3, "{backend:?}");
            for (path, outcome) in outcomes.iter() {
                if path == "/2" {
                    let err = outcome.as_ref().expect_err("nothing listens there");
                    testkit::check_refused(err).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
                } else {
                    testkit::check_page(path, outcome).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
                }
            }
        }
    });
}

/// Stage 1's one-connection server: reads the request head, answers with `response(head)`.
fn one_shot_server(response: impl FnOnce(&[u8]) -> Vec<u8> + Send + 'static) -> SocketAddr {
    testkit::one_shot_server(response).unwrap()
}

#[test]
fn a_request_larger_than_the_socket_buffers_is_sent_in_pieces() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
        for mut lp in loops() {
            // 16 MiB of path: more than any socket buffer takes in one write, so the crawler meets
            // partial writes and WouldBlock, and must resume from where it stopped.
            let path = format!("/{}", "x".repeat(16 * 1024 * 1024));
            let addr = one_shot_server(|request| {
                let body = format!("got {} bytes", request.len());
                format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
            });
            let results = crawler::crawl_on(&mut lp, addr, std::slice::from_ref(&path)).unwrap();
            let response = results[0].1.as_ref().unwrap();
            let request_len = stage1_blocking::http::request_bytes(&addr.to_string(), &path).len();
            assert_eq!(response.body, format!("got {request_len} bytes").into_bytes(), "{:?}", lp.backend());
        }
    });
}
