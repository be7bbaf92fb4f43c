//! Routing: method + path pattern -> async handler.
//!
//! Patterns are split into segments once, when the route is added: `/users/:id/files/*rest`
//! becomes `Literal("users")`, `Param`, `Literal("files")`, `Rest`. Matching walks the request
//! path segment by segment, comparing slices in place; captured parameters are recorded as
//! offsets into the path (no `String` per segment, no allocation per match).
//!
//! * No route's pattern matches the path: `404 Not Found`.
//! * Some pattern matches but not for this method: `405 Method Not Allowed` with an `Allow`
//!   header listing the methods that would have worked (HEAD is allowed wherever GET is).
//! * HEAD without its own route runs the GET handler; the serializer drops the body.
//!
//! Routes are tried in the order they were added; the first match wins. Paths are matched
//! still percent-encoded, byte for byte: `/a%20b` does not match a literal `/a b`. Trailing
//! slashes matter (`/users/` is not `/users`). `*rest` must be last and captures the remainder
//! of the path, possibly empty.
//!
//! ## Threads: Send + Sync router, non-Send futures
//!
//! A handler is an `Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response>>> + Send + Sync>`.
//! The *function* is `Send + Sync`, so one `Router` is built once, put in an `Arc`, and shared
//! by every worker thread (`--workers N`). The *future* it returns need not be `Send`: each
//! worker runs its own single-threaded executor, and a request's future never leaves the
//! worker that created it. So a handler may hold `Rc`s and `RefCell`s across `.await`, while
//! state shared between workers (captured by the closure) must be thread-safe (`Arc<AtomicU64>`,
//! `Arc<Mutex<..>>`). That is the same split a thread-per-core server makes.

use crate::message::Method;
use crate::request::{MAX_PARAMS, Params, Request};
use crate::response::Response;
use std::future::{Future, ready};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;

/// The future a handler returns: boxed so different handlers fit in one table, not `Send`
/// because it runs on the worker that created it.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Response>>>;

/// A type-erased handler, shareable across worker threads.
pub type Handler = Arc<dyn Fn(Request) -> HandlerFuture + Send + Sync>;

/// One piece of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal this text exactly.
    Literal(Box<str>),
    /// `:name`: any non-empty segment.
    Param,
    /// `*name`: everything left, possibly empty.
    Rest,
}

/// A compiled path pattern.
#[derive(Debug, Clone)]
struct Pattern {
    segments: Vec<Segment>,
    names: Arc<Vec<Box<str>>>,
    /// The whole pattern when it has no `:param` or `*rest`: then matching is one comparison
    /// of the path with it, instead of a walk segment by segment (most routes are like this,
    /// and every request tries the routes before its own).
    exact: Option<Box<str>>,
}

impl Pattern {
    /// Compiles `/a/:b/*c`. Panics on a malformed pattern: patterns are written by the
    /// programmer and a typo should stop the server at start-up, not make a route unreachable.
    fn compile(pattern: &str) -> Pattern {
        let Some(body) = pattern.strip_prefix('/') else {
            panic!("route pattern {pattern:?} must start with '/'");
        };
        let mut segments = Vec::new();
        let mut names: Vec<Box<str>> = Vec::new();
        let pieces: Vec<&str> = body.split('/').collect();
        for (i, piece) in pieces.iter().enumerate() {
            let segment = if let Some(name) = piece.strip_prefix(':') {
                names.push(name.into());
                Segment::Param
            } else if let Some(name) = piece.strip_prefix('*') {
                assert!(i + 1 == pieces.len(), "in {pattern:?}, *{name} must be the last segment");
                names.push(name.into());
                Segment::Rest
            } else {
                Segment::Literal((*piece).into())
            };
            if matches!(segment, Segment::Param | Segment::Rest) {
                let name = names.last().map_or("", |n| &**n);
                assert!(!name.is_empty(), "in {pattern:?}, a parameter has no name");
                assert!(
                    names.iter().filter(|n| &***n == name).count() == 1,
                    "in {pattern:?}, parameter {name} appears twice"
                );
            }
            segments.push(segment);
        }
        assert!(names.len() <= MAX_PARAMS, "{pattern:?} has more than {MAX_PARAMS} parameters");
        let exact = names.is_empty().then(|| pattern.into());
        Pattern { segments, names: Arc::new(names), exact }
    }

    // ANCHOR: matches
    /// Matches `path`, recording captures (offsets into `path`) in `params`.
    fn matches(&self, path: &str, params: &mut Params) -> bool {
        if let Some(exact) = &self.exact {
            return same_bytes(exact.as_bytes(), path.as_bytes());
        }
        let Some(mut rest) = path.strip_prefix('/').map(Some) else {
            return false;
        };
        let mut offset = 1; // where `rest` starts in `path`
        let mut captured = 0; // parameters recorded so far
        for segment in &self.segments {
            if *segment == Segment::Rest {
                params.set(captured, offset.min(path.len()), path.len());
                return true;
            }
            let Some(remaining) = rest else {
                return false; // the path ran out before the pattern
            };
            // (A byte loop, not `str::find`: its searcher costs more to set up than a few
            // bytes of segment cost to scan.)
            let (piece, next) = match remaining.bytes().position(|b| b == b'/') {
                Some(slash) => (&remaining[..slash], Some(&remaining[slash + 1..])),
                None => (remaining, None),
            };
            match segment {
                Segment::Literal(text) if same_bytes(text.as_bytes(), piece.as_bytes()) => {}
                Segment::Param if !piece.is_empty() => {
                    params.set(captured, offset, offset + piece.len());
                    captured += 1;
                }
                _ => return false,
            }
            offset += piece.len() + 1;
            rest = next;
        }
        rest.is_none() // the pattern ran out: the path must have too
    }
    // ANCHOR_END: matches
}

/// Byte equality without a `memcmp` call: segments are a few bytes long, and the libc call
/// showed up as 10% of a pipelined request's CPU time in `perf`.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

struct Route {
    method: Method,
    pattern: Pattern,
    handler: Handler,
}

/// The result of looking a request up.
pub enum RouteMatch<'r> {
    /// A route matched; call `handler` after installing `params` in the request.
    Found {
        /// The route's handler.
        handler: &'r Handler,
        /// Captured parameters.
        params: Params,
    },
    /// The path exists for other methods: answer 405 with this `Allow` value.
    MethodNotAllowed {
        /// Comma-separated methods, e.g. `GET, HEAD, POST`.
        allow: String,
    },
    /// No pattern matches the path.
    NotFound,
}

/// A table of routes. `Send + Sync`: build once, share among workers in an `Arc`.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// An empty router (everything is 404).
    pub fn new() -> Router {
        Router::default()
    }

    // ANCHOR: route
    /// Adds a route. `handler` is an async closure or an `async fn(Request) -> Response`.
    pub fn route<F, Fut>(mut self, method: Method, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        let handler: Handler = Arc::new(move |request| Box::pin(handler(request)));
        self.routes.push(Route { method, pattern: Pattern::compile(pattern), handler });
        self
    }
    // ANCHOR_END: route

    /// `route(Method::Get, ..)`
    pub fn get<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.route(Method::Get, pattern, handler)
    }

    /// `route(Method::Post, ..)`
    pub fn post<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.route(Method::Post, pattern, handler)
    }

    /// `route(Method::Put, ..)`
    pub fn put<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.route(Method::Put, pattern, handler)
    }

    /// `route(Method::Delete, ..)`
    pub fn delete<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.route(Method::Delete, pattern, handler)
    }

    // ANCHOR: find
    /// Finds the handler for `method` and `path`.
    pub fn find(&self, method: Method, path: &str) -> RouteMatch<'_> {
        let mut params = Params::default();
        // HEAD falls back to GET when no route is registered for HEAD itself.
        let fallback = (method == Method::Head).then_some(Method::Get);
        for wanted in std::iter::once(method).chain(fallback) {
            for route in self.routes.iter().filter(|r| r.method == wanted) {
                if route.pattern.matches(path, &mut params) {
                    // Names are attached only now, and only if there are any: cloning the Arc
                    // for every route tried was an atomic increment and decrement per miss.
                    if !route.pattern.names.is_empty() {
                        params.set_names(route.pattern.names.clone());
                    }
                    return RouteMatch::Found { handler: &route.handler, params };
                }
            }
        }
        // No route for this method. Which methods would have matched? (Only on this slow path.)
        let mut allowed: Vec<Method> = Vec::new();
        for route in &self.routes {
            if !allowed.contains(&route.method) && route.pattern.matches(path, &mut params) {
                allowed.push(route.method);
            }
        }
        if allowed.is_empty() {
            return RouteMatch::NotFound;
        }
        if allowed.contains(&Method::Get) && !allowed.contains(&Method::Head) {
            let at = allowed.iter().position(|m| *m == Method::Get).map_or(0, |i| i + 1);
            allowed.insert(at, Method::Head);
        }
        let allow = allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
        RouteMatch::MethodNotAllowed { allow }
    }
    // ANCHOR_END: find

    /// Every method some route answers (plus HEAD where GET is), e.g. `GET, HEAD, POST`.
    fn all_methods(&self) -> String {
        let mut methods: Vec<Method> = Vec::new();
        for route in &self.routes {
            if !methods.contains(&route.method) {
                methods.push(route.method);
            }
        }
        if methods.contains(&Method::Get) && !methods.contains(&Method::Head) {
            let at = methods.iter().position(|m| *m == Method::Get).map_or(0, |i| i + 1);
            methods.insert(at, Method::Head);
        }
        methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Routes `request` and returns the future producing its response (404/405 are ready
    /// immediately).
    pub fn dispatch(&self, mut request: Request) -> HandlerFuture {
        if request.method() == Method::Options && request.path() == "*" {
            // `OPTIONS *` asks about the server as a whole (RFC 9110 section 9.3.7).
            return Box::pin(ready(Response::new(204).header("Allow", self.all_methods())));
        }
        match self.find(request.method(), request.path()) {
            RouteMatch::Found { handler, params } => {
                request.set_params(params);
                // A handler can panic before it returns its future (in the closure's own body,
                // say a `parse().unwrap()` on a parameter). The connection loop only guards the
                // future, so this panic would end the connection's task (the executor catches
                // it) without an answer: catch it here, where it costs one 500.
                catch_unwind(AssertUnwindSafe(|| handler(request)))
                    .unwrap_or_else(|_| Box::pin(ready(Response::error(500).close())))
            }
            RouteMatch::MethodNotAllowed { allow } => {
                Box::pin(ready(Response::error(405).header("Allow", allow)))
            }
            RouteMatch::NotFound => Box::pin(ready(Response::error(404))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::tests::parse_one;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};

    /// Handlers in these tests never wait, so one poll finishes them (no runtime needed).
    fn run(router: &Router, request: &str) -> Response {
        let request = parse_one(request.as_bytes()).expect("test request parses");
        let mut future = router.dispatch(request);
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(response) => response,
            Poll::Pending => panic!("test handler did not finish"),
        }
    }

    fn get(router: &Router, path: &str) -> Response {
        run(router, &format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"))
    }

    fn body(response: &Response) -> String {
        match response.body_ref() {
            crate::response::Body::Full(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    async fn hello(_: Request) -> Response {
        Response::text("hello")
    }

    fn echo_params(names: &'static [&'static str]) -> impl Fn(Request) -> std::future::Ready<Response> {
        move |req: Request| {
            let parts: Vec<String> =
                names.iter().map(|n| format!("{n}={}", req.param(n).unwrap_or("<none>"))).collect();
            ready(Response::text(parts.join(" ")))
        }
    }

    fn app() -> Router {
        Router::new()
            .get("/", hello)
            .get("/users/:id", echo_params(&["id"]))
            .get("/users/:id/files/*path", echo_params(&["id", "path"]))
            .post("/users", |req: Request| async move {
                Response::text(format!("created {}", String::from_utf8_lossy(req.body()))).status(201)
            })
            .delete("/users/:id", echo_params(&["id"]))
            .get("/static/*rest", echo_params(&["rest"]))
    }

    #[test]
    fn root_and_async_fn_handler() {
        let response = get(&app(), "/");
        assert_eq!(response.status_code(), 200);
        assert_eq!(body(&response), "hello");
    }

    #[test]
    fn params_are_captured() {
        assert_eq!(body(&get(&app(), "/users/42")), "id=42");
        assert_eq!(body(&get(&app(), "/users/a%20b")), "id=a%20b");
        assert_eq!(body(&get(&app(), "/users/7/files/a/b/c.txt")), "id=7 path=a/b/c.txt");
        assert_eq!(body(&get(&app(), "/users/7/files/")), "id=7 path=");
    }

    #[test]
    fn rest_may_be_empty_or_absent() {
        assert_eq!(body(&get(&app(), "/static/css/site.css")), "rest=css/site.css");
        assert_eq!(body(&get(&app(), "/static/")), "rest=");
        assert_eq!(body(&get(&app(), "/static")), "rest=");
    }

    #[test]
    fn absolute_form_routes_by_path() {
        let response = run(&app(), "GET http://t/users/9 HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(body(&response), "id=9");
    }

    #[test]
    fn unknown_paths_are_404() {
        for path in ["/nope", "/users", "/users/", "/users/42/", "/users//files/x", "//"] {
            let response = get(&app(), path);
            assert_eq!(response.status_code(), if path == "/users" { 405 } else { 404 }, "{path}");
        }
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let response = run(&app(), "PUT /users/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(response.status_code(), 405);
        assert_eq!(response.header_value("allow"), Some("GET, HEAD, DELETE"));
        let response = run(&app(), "GET /users HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(response.header_value("Allow"), Some("POST"));
    }

    #[test]
    fn options_asterisk_lists_every_method() {
        let response = run(&app(), "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(response.status_code(), 204);
        assert_eq!(response.header_value("allow"), Some("GET, HEAD, POST, DELETE"));
    }

    #[test]
    fn head_falls_back_to_get() {
        let response = run(&app(), "HEAD /users/5 HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(body(&response), "id=5");
    }

    #[test]
    fn first_registered_route_wins() {
        let router = Router::new()
            .get("/a/:x", |_| ready(Response::text("param")))
            .get("/a/literal", |_| ready(Response::text("literal")));
        assert_eq!(body(&get(&router, "/a/literal")), "param");
    }

    #[test]
    fn post_body_reaches_handler() {
        let response = run(&app(), "POST /users HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nbob");
        assert_eq!(response.status_code(), 201);
        assert_eq!(body(&response), "created bob");
    }

    #[test]
    fn handlers_share_thread_safe_state() {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let router = Router::new().get("/count", move |_| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            ready(Response::text(n.to_string()))
        });
        let shared = Arc::new(router);
        let worker = {
            let shared = shared.clone();
            std::thread::spawn(move || body(&get(&shared, "/count")))
        };
        let from_worker = worker.join().unwrap();
        let here = body(&get(&shared, "/count"));
        let mut seen = [from_worker, here];
        seen.sort();
        assert_eq!(seen, ["1", "2"]);
        assert_eq!(hits.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn router_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Router>();
    }

    #[test]
    #[should_panic(expected = "must be the last segment")]
    fn rest_must_be_last() {
        let _ = Router::new().get("/a/*rest/b", hello);
    }

    #[test]
    #[should_panic(expected = "must start with '/'")]
    fn patterns_start_with_slash() {
        let _ = Router::new().get("a", hello);
    }

    #[test]
    #[should_panic(expected = "appears twice")]
    fn duplicate_param_names_are_rejected() {
        let _ = Router::new().get("/:a/:a", hello);
    }
}
