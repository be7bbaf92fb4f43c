//! The callback crawler against the stage 1 demo server (and a few hand-made servers), on
//! both selector backends.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use stage1_blocking::demo::{DemoConfig, DemoServer};
use stage1_blocking::testkit;
use stage2_select_callbacks::crawler::{self, Outcome};
use stage2_select_callbacks::event_loop::EventLoop;
use stage2_select_callbacks::selector::{Backend, Selector};

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
fn fetches_every_page_with_the_right_body() {
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    for mut lp in loops() {
        let wanted = paths(20);
        let results = crawler::crawl_on(&mut lp, server.addr(), &wanted).unwrap();
        assert_all_pages(&results, &wanted, lp.backend());
        assert_eq!(lp.registered_fds(), 0);
    }
}

#[test]
fn fetches_every_page_when_responses_trickle_in() {
    let config = DemoConfig { trickle: true, ..DemoConfig::instant() };
    let server = DemoServer::start(config).unwrap();
    for mut lp in loops() {
        let wanted = paths(5);
        let results = crawler::crawl_on(&mut lp, server.addr(), &wanted).unwrap();
        assert_all_pages(&results, &wanted, lp.backend());
    }
}

#[test]
fn crawl_uses_the_default_selector() {
    // Runs on whatever SELECTOR says, so `SELECTOR=poll cargo test` covers poll here too.
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    let wanted = paths(3);
    let results = crawler::crawl(server.addr(), &wanted).unwrap();
    let backend = EventLoop::new().unwrap().backend();
    assert_all_pages(&results, &wanted, backend);
}

#[test]
fn unknown_page_is_a_404_response_not_an_error() {
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    for mut lp in loops() {
        let results = crawler::crawl_on(&mut lp, server.addr(), &["/nope".to_string()]).unwrap();
        let response = results[0].1.as_ref().unwrap();
        assert_eq!(response.status, 404, "{:?}", lp.backend());
    }
}

#[test]
fn refused_connect_is_an_error_for_that_request_only() {
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
}

/// Stage 1's one-connection server: reads the request head, answers with `response(head)`.
fn one_shot_server(response: impl FnOnce(&[u8]) -> Vec<u8> + Send + 'static) -> SocketAddr {
    testkit::one_shot_server(response).unwrap()
}

#[test]
fn a_request_larger_than_the_socket_buffers_is_sent_in_pieces() {
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
}

#[test]
fn garbage_from_the_server_is_an_error_not_a_panic() {
    for mut lp in loops() {
        let addr = one_shot_server(|_| b"this is not HTTP at all".to_vec());
        let results = crawler::crawl_on(&mut lp, addr, &["/1".to_string()]).unwrap();
        assert!(results[0].1.is_err(), "{:?}", lp.backend());
    }
}

#[test]
fn truncated_response_is_an_error() {
    for mut lp in loops() {
        let addr = one_shot_server(|_| b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nonly this".to_vec());
        let results = crawler::crawl_on(&mut lp, addr, &["/1".to_string()]).unwrap();
        assert!(results[0].1.is_err(), "{:?}", lp.backend());
    }
}
