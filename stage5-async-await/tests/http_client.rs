//! The async HTTP/1.0 GET takes the course's crawler exam (stage 1's `testkit::check_crawler`)
//! on every selector backend, and many GETs run at once under a semaphore.

mod guard;

use std::cell::Cell;

use stage1_blocking::workshop::demo::{DemoConfig, DemoServer};
use stage1_blocking::workshop::testkit;
use stage2_select_callbacks::selector::Backend;
use stage5_async_await::combinators::join_all;
use stage5_async_await::sync::Semaphore;
use stage5_async_await::{Runtime, http, run};

#[test]
fn the_async_get_passes_the_crawler_exam_on_every_backend() {
    let _guard = guard::watchdog();
    // Every page whole and trickled, a 404, garbage, truncated and endless responses: all the
    // GETs of one crawl run at once in one task, as in stage5-client.
    for backend in Backend::available() {
        let runtime = Runtime::with_backend(backend).unwrap();
        testkit::check_crawler(|addr, paths| {
            runtime.block_on(join_all(
                paths.iter().map(|path| async move { (path.clone(), http::get(addr, path).await) }),
            ))
        })
        .unwrap_or_else(|e| panic!("{backend:?}: {e:#}"));
    }
}

#[test]
fn a_closed_port_is_a_refused_connection() {
    let _guard = guard::watchdog();
    let err = run(http::get(testkit::refused_addr().unwrap(), "/1")).unwrap_err();
    testkit::check_refused(&err).unwrap();
}

#[test]
fn concurrent_gets_return_the_demo_pages_with_at_most_n_in_flight() {
    let _guard = guard::watchdog();
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    let addr = server.addr();
    let (outcomes, peak) = run(async move {
        let limit = Semaphore::new(3);
        let in_flight = Cell::new(0usize);
        let peak = Cell::new(0usize);
        let gets = (1..=12).map(|n| {
            let (limit, in_flight, peak) = (&limit, &in_flight, &peak);
            async move {
                let _permit = limit.acquire().await.unwrap();
                in_flight.set(in_flight.get() + 1);
                peak.set(peak.get().max(in_flight.get()));
                let path = format!("/{n}");
                let response = http::get(addr, &path).await;
                in_flight.set(in_flight.get() - 1);
                (path, response)
            }
        });
        let outcomes = join_all(gets).await;
        (outcomes, peak.get())
    });
    assert_eq!(outcomes.len(), 12);
    for (path, outcome) in &outcomes {
        testkit::check_page(path, outcome).unwrap();
    }
    assert!(peak <= 3, "{peak} requests were in flight at once");
}
