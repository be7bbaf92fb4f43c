//! The demo application served by `stage6-server`: a page about the workshop at `/` that links
//! the other routes, sanic's hello example, and one route per piece of the server
//! (parameters, queries, bodies, streaming, timers, static files). `tests/demo.rs` drives this
//! same router over real sockets, and with `curl`.

use crate::json;
use crate::query::percent_decode_str;
use crate::request::Request;
use crate::response::Response;
use crate::router::Router;
use crate::static_files::StaticRoot;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The longest `/sleep?ms=N` accepted, so a URL cannot park a task for hours.
pub const MAX_SLEEP_MS: u64 = 10_000;

/// The most lines `/stream/N` produces (a larger N is cut to this).
pub const MAX_STREAM_LINES: u32 = 100_000;

/// Where `mdbook build docs` writes the workshop's book in this source tree.
pub const BOOK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/book");

/// Exactly what the reference servers answer (`scripts/peers/`): for benchmarks, so the
/// comparison is byte for byte.
pub async fn hello(_: Request) -> Response {
    Response::text("Hello, World!").content_type("text/plain")
}

/// The router for `--bench-hello`: only `/` and `/hello`, both `Hello, World!`, like the
/// peers (their benchmark script asks for `/`).
pub fn hello_router() -> Router {
    Router::new().get("/", hello).get("/hello", hello)
}

/// The folder `/static/` serves when none is given: the workshop's book if it has been built
/// (`mdbook build docs`), else none.
pub fn default_root() -> Option<StaticRoot> {
    StaticRoot::new(BOOK_DIR).ok()
}

// ANCHOR: app
/// Builds the demo router. `root`: serve files under `/static/*path` from there (see
/// [`default_root`]); without one, `/static/` says how to get some.
pub fn demo_router(root: Option<StaticRoot>) -> Router {
    // The page is the same for every request: built once, copied into each response.
    let page: Arc<str> = index_page(root.as_ref().map(StaticRoot::root)).into();
    let root = root.map(Arc::new);
    Router::new()
        .get("/", move |_| {
            let page = page.clone();
            async move { Response::html(page.to_string()) }
        })
        // The benchmark route: the same bytes as the reference peers.
        .get("/hello", hello)
        // sanic's hello example: @app.route('/') async def test(request): return json(...)
        .get("/json", |_| async {
            Response::json(json::object(|o| {
                o.str("hello", "world");
            }))
        })
        .get("/users/:id", user)
        .get("/search", search)
        .post("/echo", echo)
        .get("/stream/:lines", stream)
        .get("/sleep", sleep)
        .get("/static/*path", move |req: Request| {
            let root = root.clone();
            async move {
                match root {
                    Some(root) => root.serve(&req, req.param("path").unwrap_or("")),
                    None => no_static_root(),
                }
            }
        })
}
// ANCHOR_END: app

/// A 400 whose body says what was wrong, so a person at a browser can fix the URL.
fn bad_request(why: &str) -> Response {
    Response::text(format!("400 Bad Request: {why}\n")).status(400)
}

/// `/users/:id`: the parameter, percent-decoded, as JSON (the writer escapes it).
async fn user(req: Request) -> Response {
    let Ok(id) = percent_decode_str(req.param("id").unwrap_or(""), false) else {
        return bad_request("the id is not valid percent-encoded UTF-8");
    };
    Response::json(json::object(|o| {
        o.str("id", &id).str("name", &format!("user {id}"));
    }))
}

/// `/search?q=...&limit=N`: the decoded query parameters, or 400 for a malformed query.
async fn search(req: Request) -> Response {
    let (q, limit) = match (req.query_param("q"), req.query_param("limit")) {
        (Ok(q), Ok(limit)) => (q.unwrap_or_default().into_owned(), limit),
        _ => return bad_request("the query string has a malformed %XX escape"),
    };
    let limit = match limit.map(|l| l.parse::<u64>()) {
        None => 10,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_request("limit must be a whole number"),
    };
    Response::json(json::object(|o| {
        o.str("q", &q).uint("limit", limit);
    }))
}

/// `POST /echo`: the body back, with its content type.
async fn echo(req: Request) -> Response {
    let content_type = req.header_str("content-type").unwrap_or("application/octet-stream").to_string();
    Response::new(200).content_type(content_type).body(req.body().to_vec())
}

/// `/stream/N`: N lines produced one by one, sent chunked.
async fn stream(req: Request) -> Response {
    let Some(lines) = req.param("lines").and_then(|n| n.parse::<u32>().ok()) else {
        return bad_request("ask for /stream/N, N a whole number of lines");
    };
    let pieces = (1..=lines.min(MAX_STREAM_LINES)).map(|i| Ok(format!("line {i}\n").into_bytes()));
    Response::new(200).content_type("text/plain; charset=utf-8").stream(Box::new(pieces))
}

// ANCHOR: sleep
/// `/sleep?ms=N`: answers after N milliseconds on the runtime's timer heap. The task waits,
/// not the thread: the worker serves other connections meanwhile, so one thread can hold a
/// thousand of these at once.
async fn sleep(req: Request) -> Response {
    let ms = match req.query_param("ms") {
        Ok(Some(ms)) => ms.parse::<u64>().ok().filter(|&ms| ms <= MAX_SLEEP_MS),
        _ => None,
    };
    let Some(ms) = ms else {
        return bad_request(&format!("ask for /sleep?ms=N, N a whole number from 0 to {MAX_SLEEP_MS}"));
    };
    stage5_async_await::time::sleep(Duration::from_millis(ms)).await;
    Response::text(format!("slept {ms} ms\n"))
}
// ANCHOR_END: sleep

/// The 404 for `/static/...` when the server has no folder to serve.
fn no_static_root() -> Response {
    Response::text(
        "404 Not Found: this server has no folder to serve under /static/.\n\
         Build the workshop's book with `mdbook build docs` and restart the server, \
         or start it with --root DIR.\n",
    )
    .status(404)
}

/// `<`, `>`, `&`, `"` and `'` as character references, so text (or an attribute value) from
/// outside the program, such as a folder's name, cannot add markup to a page.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page at `/`: what the workshop is and what each route shows. `root` is the folder
/// served under `/static/`, if any.
pub fn index_page(root: Option<&Path>) -> String {
    let book = Path::new(BOOK_DIR).canonicalize().ok();
    let files = match root {
        Some(root) if book.as_deref() == Some(root) => {
            format!("the workshop's book, built in <code>{}</code>", escape_html(&root.to_string_lossy()))
        }
        Some(root) => format!("the files in <code>{}</code>", escape_html(&root.to_string_lossy())),
        None => "nothing yet: build the book with <code>mdbook build docs</code> and restart, or \
                 start the server with <code>--root DIR</code>"
            .to_string(),
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Async from scratch: stage 6</title>
<style>
body {{ font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
  background: #fbfbfa; max-width: 44rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }}
h1 {{ font-size: 1.7rem; line-height: 1.2; margin: 0.5rem 0 1rem; }}
h2 {{ font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }}
ul {{ padding-left: 1.2rem; }}
li {{ margin: 0.6rem 0; }}
a {{ color: #0a58b5; }}
code {{ font: 0.88em ui-monospace, Menlo, Consolas, monospace; background: #eeeeec;
  padding: 0.1em 0.3em; border-radius: 4px; overflow-wrap: anywhere; }}
form {{ display: flex; gap: 0.5rem; margin-top: 0.4rem; }}
input, button {{ font: inherit; padding: 0.25rem 0.6rem; }}
input {{ flex: 1; min-width: 0; max-width: 16rem; }}
@media (prefers-color-scheme: dark) {{
  body {{ color: #e4e4e4; background: #1c1c1e; }} h2 {{ border-color: #444; }}
  a {{ color: #78b4ff; }} code {{ background: #2c2c2e; }}
}}
</style>
</head>
<body>
<h1>Async from scratch: stage 6</h1>
<p>This page comes from an HTTP/1.1 server built in a workshop that writes async I/O in Rust
from a blocking socket up: a selector over epoll or poll(2), callbacks, futures, hand-written
coroutines, then an executor, a reactor and timers for <code>async fn</code>. The request
parser, the router, the JSON writer and the connection loop are the last stage, running on
that runtime, one thread per worker.</p>
<h2>Routes</h2>
<ul>
<li><a href="/hello">/hello</a>: <code>Hello, World!</code> as plain text, byte for byte what
the benchmark's reference servers answer.</li>
<li><a href="/json">/json</a>: sanic's hello example, <code>{{"hello":"world"}}</code>.</li>
<li><a href="/users/42">/users/42</a>: the route <code>/users/:id</code>; the parameter comes
back decoded, in JSON.</li>
<li><a href="/search?q=async+rust&amp;limit=3">/search?q=async+rust&amp;limit=3</a>: the
query string, decoded (<code>+</code> is a space).</li>
<li><code>POST /echo</code>: the request body, sent back with its content type.
<form method="post" action="/echo" enctype="text/plain"><input name="text" value="hello">
<button>POST it</button></form></li>
<li><a href="/stream/5">/stream/5</a>: five lines made one at a time and sent as chunks
(<code>Transfer-Encoding: chunked</code>).</li>
<li><a href="/sleep?ms=2000">/sleep?ms=2000</a>: answers after 2 seconds (at most
{MAX_SLEEP_MS} ms) without holding up the thread: open it in several tabs at once and they
all answer 2 seconds later.</li>
<li><a href="/static/">/static/</a>: files from a folder; here {files}.</li>
</ul>
<p>Each route is a handler in <code>stage6-http/src/app.rs</code>; chapter 6 of the book
shows how the server runs it.</p>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_leaves_no_markup() {
        assert_eq!(escape_html(r#"a<b>&"c"'d'é"#), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;é");
        assert_eq!(escape_html("plain"), "plain");
    }

    #[test]
    fn the_page_escapes_the_folder_name_and_links_every_route() {
        let page = index_page(Some(Path::new("/tmp/<b>&x")));
        assert!(page.contains("<code>/tmp/&lt;b&gt;&amp;x</code>"), "{page}");
        assert!(!page.contains("<b>"));
        for link in ["/hello", "/json", "/users/42", "/search?q=async+rust&amp;limit=3", "/stream/5"] {
            assert!(page.contains(&format!(r#"<a href="{link}">"#)), "{link}");
        }
        assert!(page.contains(r#"<a href="/sleep?ms=2000">"#) && page.contains(r#"action="/echo""#));
        assert!(index_page(None).contains("<code>mdbook build docs</code>"));
        // Readable on a phone: the viewport follows the device, and the page has its styles.
        assert!(page.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#));
        assert!(page.contains("<style>\nbody { font: 17px/1.55 system-ui"), "{page}");
    }
}
