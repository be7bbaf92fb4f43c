//! Exercise 6.3 (scripts/exercise.sh check 6.3): `Router::fallback(handler)` runs instead of
//! the 404 for a path no route matches; a known path with the wrong method still gets its 405.
#![cfg(feature = "exercises")]

use stage6_http::response::Body;
use stage6_http::{Parsed, Parser, Request, Response, Router};
use std::task::{Context, Poll, Waker};

/// Parses one GET/POST request for `path` with the real parser.
fn request(method: &str, path: &str) -> Request {
    let bytes = format!("{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n");
    match Parser::default().parse(bytes.as_bytes()) {
        Ok(Parsed::Complete { request, .. }) => request,
        other => panic!("the test request did not parse: {other:?}"),
    }
}

/// The handlers here never wait, so one poll finishes them.
fn answer(router: &Router, method: &str, path: &str) -> Response {
    let mut future = router.dispatch(request(method, path));
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(response) => response,
        Poll::Pending => panic!("a test handler did not finish in one poll"),
    }
}

/// A full body's bytes (these handlers answer with whole bodies only).
fn body(response: &Response) -> &[u8] {
    match response.body_ref() {
        Body::Full(bytes) => bytes,
        Body::Empty => b"",
        other => panic!("unexpected body {other:?}"),
    }
}

fn router() -> Router {
    Router::new().get("/users/:id", |_: Request| async { Response::text("a user") }).fallback(
        |req: Request| {
            let path = req.path().to_string();
            async move { Response::text(format!("fallback for {path}")).status(418) }
        },
    )
}

#[test]
fn the_fallback_answers_paths_no_route_matches() {
    let router = router();
    for path in ["/", "/nothing/here", "/users", "/users/7/extra"] {
        let response = answer(&router, "GET", path);
        assert_eq!(response.status_code(), 418, "GET {path}: the fallback should answer, not the 404");
        assert_eq!(
            body(&response),
            format!("fallback for {path}").as_bytes(),
            "GET {path}: the fallback handler receives the request itself"
        );
    }
}

#[test]
fn matched_routes_and_405_are_untouched() {
    let router = router();
    let found = answer(&router, "GET", "/users/7");
    assert_eq!((found.status_code(), body(&found)), (200, &b"a user"[..]));
    let wrong_method = answer(&router, "POST", "/users/7");
    assert_eq!(wrong_method.status_code(), 405, "a known path with the wrong method stays a 405");
    assert_eq!(wrong_method.header_value("Allow"), Some("GET, HEAD"));
}

#[test]
fn without_a_fallback_it_is_still_404() {
    let router = Router::new().get("/", |_: Request| async { Response::text("root") });
    assert_eq!(answer(&router, "GET", "/missing").status_code(), 404);
}
