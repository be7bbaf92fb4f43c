//! The future-based crawler against the stage 1 demo server, over real loopback sockets.

use std::net::SocketAddr;

use stage1_blocking::workshop::demo::{DemoConfig, DemoServer};
use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::selector::{Backend, Selector};
use stage3_futures::crawler::{crawl, fetch};
use stage3_futures::{EventLoop, FutureError};

/// What a crawl that never ends most likely means, for the guard's message.
const CRAWL_HANG: &str = "the loop never resolved the future: a callback never scheduled, or a \
    readiness event lost (the crawl's next step is a callback on the last step's future)";

fn paths(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("/{i}")).collect()
}

/// An address on 127.0.0.1 where nothing listens: bind a port, then close it.
fn refused_addr() -> SocketAddr {
    testkit::refused_addr().unwrap()
}

#[test]
fn passes_the_crawler_exam_on_every_backend() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
        // Stage 1's exam: every page (whole and trickled), a 404, garbage, truncated and endless
        // responses. Outcomes come back in the order of the paths, and the loop ends idle.
        for backend in Backend::available() {
            let lp = EventLoop::with_selector(Selector::with_backend(backend).unwrap());
            testkit::check_crawler(|addr, paths| {
                let outcomes = crawl(&lp, addr, paths, |_| {}).unwrap();
                assert!(!lp.has_work(), "{backend:?}: the loop is idle after the crawl");
                assert!(outcomes.iter().map(|o| &o.path).eq(paths), "{backend:?}: in the order asked");
                outcomes.into_iter().map(|o| (o.path, o.result)).collect()
            })
            .unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
        }
    });
}

#[test]
fn report_sees_every_outcome_once() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        let lp = EventLoop::new().unwrap();
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let s = std::rc::Rc::clone(&seen);
        crawl(&lp, server.addr(), &paths(8), move |o| s.borrow_mut().push(o.path.clone())).unwrap();
        let mut seen = seen.take();
        seen.sort_by_key(|p| p[1..].parse::<u32>().unwrap());
        assert_eq!(seen, paths(8));
    });
}

#[test]
fn a_refused_connect_fails_only_its_own_request() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
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
                testkit::check_page(&path, &fut.take_result())
                    .unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
            }
        }
    });
}

#[test]
fn a_cancelled_request_stops_and_leaves_nothing_registered() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, CRAWL_HANG, || {
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        let lp = EventLoop::new().unwrap();
        let fut = fetch(&lp, server.addr(), "/1");
        assert!(fut.cancel());
        lp.run().unwrap();
        assert!(matches!(fut.take_result(), Err(FutureError::Cancelled)));
        assert_eq!(lp.watched(), 0);
    });
}
