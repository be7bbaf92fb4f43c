//! Exercise 3.2 (the book's stage 3 exercises): `crawler::gather`, one future of all the
//! results. Judged with `scripts/exercise.sh check 3.2` (these tests only compile with the
//! `exercises` feature).
#![cfg(feature = "exercises")]

use stage1_blocking::workshop::demo::{DemoConfig, DemoServer, expected_body};
use stage1_blocking::workshop::testkit;
use stage3_futures::crawler::{fetch, gather};
use stage3_futures::{EventLoop, Future};

/// What a test here that never ends most likely means, for the guard's message.
const GATHER_HANG: &str = "the loop never resolved the future: a callback never scheduled, or a \
    readiness event lost (does gather add a done-callback to every input?)";

fn futures(lp: &EventLoop, n: usize) -> Vec<Future<u32>> {
    (0..n).map(|i| lp.create_future(format!("input {i}"))).collect()
}

#[test]
fn gather_resolves_with_every_value_in_the_order_given_not_the_order_done() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, GATHER_HANG, || {
        let lp = EventLoop::new().unwrap();
        let inputs = futures(&lp, 3);
        let all = gather(&lp, inputs.clone());
        // Resolved in reverse order, one per turn of the loop.
        for (i, input) in inputs.iter().enumerate().rev() {
            let input = input.clone();
            lp.call_soon(move || input.set_result(i as u32 * 10).unwrap());
        }
        lp.run_once().unwrap();
        assert!(!all.done(), "gather resolved before every input was done");
        assert_eq!(lp.run_until_complete(&all).unwrap(), [0, 10, 20]);
    });
}

#[test]
fn gather_of_no_futures_is_an_empty_vec() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, GATHER_HANG, || {
        let lp = EventLoop::new().unwrap();
        let all = gather::<u32>(&lp, Vec::new());
        assert_eq!(lp.run_until_complete(&all).unwrap(), Vec::<u32>::new());
    });
}

#[test]
fn gather_fails_with_the_first_failure() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, GATHER_HANG, || {
        let lp = EventLoop::new().unwrap();
        let inputs = futures(&lp, 3);
        let all = gather(&lp, inputs.clone());
        inputs[2].set_exception(anyhow::anyhow!("input 2 broke")).unwrap();
        inputs[0].set_result(1).unwrap();
        let err = lp.run_until_complete(&all).unwrap_err();
        assert!(
            format!("{err:#}").contains("input 2 broke"),
            "gather's error should be the input's: {err:#}"
        );
        // The input that never finished does not keep gather waiting: the failure decided it.
        assert!(!inputs[1].done());
    });
}

#[test]
fn gather_fails_when_an_input_is_cancelled() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, GATHER_HANG, || {
        let lp = EventLoop::new().unwrap();
        let inputs = futures(&lp, 2);
        let all = gather(&lp, inputs.clone());
        inputs[0].set_result(1).unwrap();
        assert!(inputs[1].cancel());
        let err = lp.run_until_complete(&all).unwrap_err();
        assert!(format!("{err:#}").contains("cancelled"), "a cancelled input should fail gather: {err:#}");
    });
}

#[test]
fn a_crawl_with_gather_gets_every_page() {
    testkit::guarded(testkit::SAFETY_TIMEOUT, GATHER_HANG, || {
        let server = DemoServer::start(DemoConfig::instant()).unwrap();
        let lp = EventLoop::new().unwrap();
        let paths: Vec<String> = (1..=5).map(|n| format!("/{n}")).collect();
        let responses = paths.iter().map(|path| fetch(&lp, server.addr(), path)).collect();
        let pages = lp.run_until_complete(&gather(&lp, responses)).unwrap();
        assert_eq!(pages.len(), paths.len());
        for (path, page) in paths.iter().zip(&pages) {
            assert_eq!(page.status, 200, "{path}");
            assert_eq!(Some(page.body.clone()), expected_body(path), "{path}");
        }
    });
}
