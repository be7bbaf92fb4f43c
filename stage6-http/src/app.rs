//! The demo application served by `stage6-server`: the seed's sanic example and a few routes
//! that show each piece (parameters, queries, bodies, streaming, timers, static files).
//! Integration tests drive this same router over real sockets.

use crate::json;
use crate::request::Request;
use crate::response::Response;
use crate::router::Router;
use crate::static_files::StaticRoot;
use std::sync::Arc;
use std::time::Duration;

/// The longest `/sleep/:ms` accepted, so a URL cannot park a task for hours.
const MAX_SLEEP_MS: u64 = 10_000;

/// Exactly what the reference peers answer (`/work/shared/peers`): for benchmarks, so the
/// comparison is byte for byte.
pub async fn hello(_: Request) -> Response {
    Response::text("Hello, World!").content_type("text/plain")
}

/// The router for `--bench-hello`: only `/` and `/hello`, like the peers.
pub fn hello_router() -> Router {
    Router::new().get("/", hello).get("/hello", hello)
}

// ANCHOR: app
/// Builds the demo router. `root`: serve files under `/static/*path` from there.
pub fn demo_router(root: Option<StaticRoot>) -> Router {
    let root = root.map(Arc::new);
    Router::new()
        // The benchmark routes: the same bytes as the reference peers.
        .get("/", hello)
        .get("/hello", hello)
        // The seed's sanic example: @app.route('/') async def test(request): return json(...)
        .get("/json", |_| async {
            Response::json(json::object(|o| {
                o.str("hello", "ahui");
            }))
        })
        .get("/users/:id", user)
        .get("/search", search)
        .post("/echo", echo)
        .get("/stream/:lines", stream)
        .get("/sleep/:ms", sleep)
        .get("/static/*path", move |req: Request| {
            let root = root.clone();
            async move {
                match root {
                    Some(root) => root.response(req.param("path").unwrap_or("")),
                    None => Response::error(404),
                }
            }
        })
}
// ANCHOR_END: app

async fn user(req: Request) -> Response {
    let id = req.param("id").unwrap_or("");
    Response::json(json::object(|o| {
        o.str("id", id).str("name", &format!("user {id}"));
    }))
}

/// `/search?q=...&limit=N`: the decoded query parameters, or 400 for a malformed query.
async fn search(req: Request) -> Response {
    let (q, limit) = match (req.query_param("q"), req.query_param("limit")) {
        (Ok(q), Ok(limit)) => (q.unwrap_or_default().into_owned(), limit),
        _ => return Response::error(400),
    };
    let limit = match limit.map(|l| l.parse::<u64>()) {
        None => 10,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Response::error(400),
    };
    Response::json(json::object(|o| {
        o.str("q", &q).uint("limit", limit);
    }))
}

/// Echoes the body with its content type.
async fn echo(req: Request) -> Response {
    let content_type = req.header_str("content-type").unwrap_or("application/octet-stream").to_string();
    Response::new(200).content_type(content_type).body(req.body().to_vec())
}

/// `/stream/N`: N lines produced one by one, sent chunked.
async fn stream(req: Request) -> Response {
    let Some(lines) = req.param("lines").and_then(|n| n.parse::<u32>().ok()) else {
        return Response::error(400);
    };
    let pieces = (1..=lines.min(100_000)).map(|i| Ok(format!("line {i}\n").into_bytes()));
    Response::new(200).content_type("text/plain; charset=utf-8").stream(Box::new(pieces))
}

/// `/sleep/MS`: answers after MS milliseconds on the runtime's timer heap, without blocking
/// the worker: other connections are served meanwhile.
async fn sleep(req: Request) -> Response {
    let Some(ms) = req.param("ms").and_then(|n| n.parse::<u64>().ok()) else {
        return Response::error(400);
    };
    let ms = ms.min(MAX_SLEEP_MS);
    stage5_async_await::time::sleep(Duration::from_millis(ms)).await;
    Response::text(format!("slept {ms} ms\n"))
}
