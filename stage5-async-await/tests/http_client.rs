//! The async HTTP/1.0 GET against stage 1's demo server, many at once under a semaphore.

use std::cell::Cell;

use stage1_blocking::demo::{DemoConfig, DemoServer, expected_body};
use stage5_async_await::combinators::join_all;
use stage5_async_await::sync::Semaphore;
use stage5_async_await::{http, run};

#[test]
fn concurrent_gets_return_the_demo_bodies_with_at_most_n_in_flight() {
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    let addr = server.addr();
    let (bodies, peak) = run(async move {
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
                let response = http::get(addr, &path).await.unwrap();
                in_flight.set(in_flight.get() - 1);
                assert_eq!(response.status, 200);
                (path, response.body)
            }
        });
        let bodies = join_all(gets).await;
        (bodies, peak.get())
    });
    assert_eq!(bodies.len(), 12);
    for (path, body) in bodies {
        assert_eq!(Some(body), expected_body(&path), "{path}");
    }
    assert!(peak <= 3, "{peak} requests were in flight at once");
}

#[test]
fn a_404_is_a_response_and_a_closed_port_an_error() {
    let server = DemoServer::start(DemoConfig::instant()).unwrap();
    let addr = server.addr();
    let r = run(http::get(addr, "/nope")).unwrap();
    assert_eq!(r.status, 404);
    drop(server);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    assert!(run(http::get(closed, "/1")).is_err());
}
