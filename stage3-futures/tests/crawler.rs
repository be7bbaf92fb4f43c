//! The future-based crawler against the stage 1 demo server, over real loopback sockets.

use std::net::SocketAddr;

use stage1_blocking::demo::{DemoConfig, DemoServer};
use stage1_blocking::testkit;
use stage2_select_callbacks::selector::{Backend, Selector};
use stage3_futures::crawler::{crawl, fetch};
use stage3_futures::{EventLoop, FutureError};

fn paths(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("/{i}")).collect()
}

/// An address on 127.0.0.1 where nothing listens: bind a port, then close it.
fn refused_addr() -> SocketAddr {
    testkit::refused_addr().unwrap()
}

fn crawl_all(config: DemoConfig, count: usize) {
    let server = DemoServer::start(config).unwrap();
    for backend in Backend::available() {
        let lp = EventLoop::with_selector(Selector::with_backend(backend).unwrap());
        let outcomes = crawl(&lp, server.addr(), &paths(count), |_| {}).unwrap();
        assert_eq!(outcomes.len(), count);
        for (outcome, path) in outcomes.iter().zip(paths(count)) {
            assert_eq!(outcome.path, path);
            testkit::check_page(&path, &outcome.result).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
        }
        assert!(!lp.has_work(), "{backend:?}: the loop is idle after the crawl");
    }
}

#[test]
fn fetches_every_page() {
    crawl_all(DemoConfig::instant(), 25);
}

#[test]
fn fetches_every_page_when_the_server_trickles() {
    // 16-byte pieces: each response arrives in several reads, each one a new readable future.
    crawl_all(DemoConfig { trickle: true, ..DemoConfig::instant() }, 5);
}

#[test]
fn report_sees_every_outcome_once() {
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    let lp = EventLoop::new().unwrap();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = std::rc::Rc::clone(&seen);
    crawl(&lp, server.addr(), &paths(8), move |o| s.borrow_mut().push(o.path.clone())).unwrap();
    let mut seen = seen.take();
    seen.sort_by_key(|p| p[1..].parse::<u32>().unwrap());
    assert_eq!(seen, paths(8));
}

#[test]
fn a_refused_connect_fails_only_its_own_request() {
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    let closed = refused_addr();
    for backend in Backend::available() {
        let lp = EventLoop::with_selector(Selector::with_backend(backend).unwrap());
        let good: Vec<_> = paths(4).iter().map(|p| (p.clone(), fetch(&lp, server.addr(), p))).collect();
        let refused = fetch(&lp, closed, "/1");
        lp.run().unwrap();
        match refused.take_result() {
            Err(FutureError::Failed(err)) => testkit::check_refused(&err).unwrap(),
            other => panic!("{backend:?}: expected a refused connect, got {other:?}"),
        }
        for (path, fut) in good {
            testkit::check_page(&path, &fut.take_result()).unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
        }
    }
}

#[test]
fn a_garbage_response_is_an_error_not_a_panic() {
    let addr = testkit::one_shot_server(|_| {
        b"this is not HTTP at all

"
        .to_vec()
    })
    .unwrap();
    let lp = EventLoop::new().unwrap();
    let fut = fetch(&lp, addr, "/1");
    let err = lp.run_until_complete(&fut).unwrap_err();
    assert!(format!("{err:#}").contains("bad response"), "{err:#}");
}

#[test]
fn a_cancelled_request_stops_and_leaves_nothing_registered() {
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    let lp = EventLoop::new().unwrap();
    let fut = fetch(&lp, server.addr(), "/1");
    assert!(fut.cancel());
    lp.run().unwrap();
    assert!(matches!(fut.take_result(), Err(FutureError::Cancelled)));
    assert_eq!(lp.watched(), 0);
}

#[test]
fn a_response_larger_than_max_response_is_an_error() {
    let addr = testkit::one_shot_server(|_| vec![b'x'; stage1_blocking::http::MAX_RESPONSE + 4096]).unwrap();
    let lp = EventLoop::new().unwrap();
    let fut = fetch(&lp, addr, "/1");
    let err = lp.run_until_complete(&fut).unwrap_err();
    assert!(format!("{err:#}").contains("response larger than"), "{err:#}");
}
