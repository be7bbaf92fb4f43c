//! The demo application (`stage6_http::app`) end to end: every route over a real 127.0.0.1
//! socket with its exact bytes, the static files under attack (`..` in every spelling,
//! encoded separators and NULs, symbolic links out of the root), a 3 MiB file byte for byte,
//! and `curl` getting every route. Each test starts its own server on port 0.

mod common;

use common::curl;
use stage1_blocking::workshop::testkit::{TempDir, payload, raw_exchange, same_bytes};
use stage6_http::app::{BOOK_DIR, MAX_SLEEP_MS, default_root, demo_router};
use stage6_http::static_files::StaticRoot;
use stage6_http::{Server, ServerConfig, ServerHandle};
use std::fs;
use std::path::Path;

fn start(root: Option<StaticRoot>) -> ServerHandle {
    Server::bind("127.0.0.1:0".parse().unwrap(), demo_router(root), ServerConfig::default())
        .expect("bind 127.0.0.1:0")
        .spawn()
        .expect("start the server")
}

/// Sends `request` on a new connection and returns the whole answer (the client closes its
/// side after the request, so the server closes after answering it).
fn exchange(server: &ServerHandle, request: &str) -> Vec<u8> {
    raw_exchange(server.addr(), request.as_bytes()).expect("exchange with the server")
}

/// `GET target` on a new connection.
fn get(server: &ServerHandle, target: &str) -> Vec<u8> {
    exchange(server, &format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"))
}

/// The response with its `Date` value (which changes every second) checked for shape and
/// replaced by `*`, as text, so a whole response can be compared with one literal.
fn dateless(response: &[u8]) -> String {
    let text = String::from_utf8_lossy(response).into_owned();
    let start = text.find("\r\nDate: ").expect("a Date header") + "\r\nDate: ".len();
    let date = &text[start..start + 29];
    assert!(date.ends_with(" GMT") && date.as_bytes()[3] == b',', "Date: {date:?}");
    format!("{}*{}", &text[..start], &text[start + 29..])
}

/// Splits a response into its head (without the Date value) and its body.
fn split(response: &[u8]) -> (String, Vec<u8>) {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    (dateless(&response[..end]), response[end..].to_vec())
}

/// The status code of a response.
fn status(response: &[u8]) -> u16 {
    String::from_utf8_lossy(&response[9..12]).parse().expect("a status code")
}

#[test]
fn hello_and_json_exact_bytes() {
    let server = start(None);
    assert_eq!(
        dateless(&get(&server, "/hello")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
    );
    assert_eq!(
        dateless(&get(&server, "/json")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n\
         {\"hello\":\"world\"}"
    );
    // HEAD: the same head, no body.
    assert_eq!(
        dateless(&exchange(&server, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
    );
}

#[test]
fn users_id_is_decoded_and_escaped_as_json() {
    let server = start(None);
    let json = |target: &str| split(&get(&server, target)).1;
    assert_eq!(json("/users/42"), br#"{"id":"42","name":"user 42"}"#);
    assert_eq!(json("/users/caf%C3%A9"), r#"{"id":"café","name":"user café"}"#.as_bytes());
    assert_eq!(json("/users/%22%5C%0A"), br#"{"id":"\"\\\n","name":"user \"\\\n"}"#);
    assert_eq!(
        dateless(&get(&server, "/users/%zz")),
        "HTTP/1.1 400 Bad Request\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 59\r\n\r\n400 Bad Request: the id is not valid percent-encoded UTF-8\n"
    );
    assert_eq!(status(&get(&server, "/users/%FF")), 400, "not UTF-8");
    assert_eq!(status(&get(&server, "/users/")), 404, "no id");
}

#[test]
fn search_decodes_the_query() {
    let server = start(None);
    assert_eq!(
        dateless(&get(&server, "/search?q=async+rust%21&limit=3")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n\
         {\"q\":\"async rust!\",\"limit\":3}"
    );
    assert_eq!(split(&get(&server, "/search")).1, br#"{"q":"","limit":10}"#);
    assert_eq!(
        split(&get(&server, "/search?q=%zz")).1,
        b"400 Bad Request: the query string has a malformed %XX escape\n"
    );
    assert_eq!(
        split(&get(&server, "/search?limit=ten")).1,
        b"400 Bad Request: limit must be a whole number\n"
    );
}

#[test]
fn echo_sends_the_body_back_and_only_answers_post() {
    let server = start(None);
    let body = "\u{e9}\r\n\r\nGET / HTTP/1.1\r\n";
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: x/y\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(
        dateless(&exchange(&server, &request)),
        format!("HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: x/y\r\nContent-Length: 22\r\n\r\n{body}")
    );
    // A chunked upload with no content type: octet-stream.
    let chunked = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    assert_eq!(
        dateless(&exchange(&server, chunked)),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\nabcde"
    );
    assert_eq!(
        dateless(&get(&server, "/echo")),
        "HTTP/1.1 405 Method Not Allowed\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Allow: POST\r\nContent-Length: 23\r\n\r\n405 Method Not Allowed\n"
    );
}

#[test]
fn stream_sends_chunks() {
    let server = start(None);
    assert_eq!(
        dateless(&get(&server, "/stream/3")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Transfer-Encoding: chunked\r\n\r\n7\r\nline 1\n\r\n7\r\nline 2\n\r\n7\r\nline 3\n\r\n0\r\n\r\n"
    );
    assert_eq!(split(&get(&server, "/stream/0")).1, b"0\r\n\r\n");
    assert_eq!(
        split(&get(&server, "/stream/x")).1,
        b"400 Bad Request: ask for /stream/N, N a whole number of lines\n"
    );
}

#[test]
fn sleep_takes_its_query_and_refuses_bad_input() {
    let server = start(None);
    assert_eq!(
        dateless(&get(&server, "/sleep?ms=0")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 11\r\n\r\n\
         slept 0 ms\n"
    );
    let refusal =
        format!("400 Bad Request: ask for /sleep?ms=N, N a whole number from 0 to {MAX_SLEEP_MS}\n");
    let too_long = format!("/sleep?ms={}", MAX_SLEEP_MS + 1);
    for target in
        ["/sleep", "/sleep?ms=", "/sleep?ms=-1", "/sleep?ms=1.5", "/sleep?ms=abc", "/sleep?ms=%zz", &too_long]
    {
        let response = get(&server, target);
        assert_eq!((status(&response), split(&response).1), (400, refusal.clone().into_bytes()), "{target}");
    }
    // The path form of earlier versions is gone.
    assert_eq!(status(&get(&server, "/sleep/5")), 404);
}

/// A directory under the system's temp dir, removed on drop. Its name has `&` and `<` in it,
/// which the `/` page must escape.
struct Fixture(TempDir);

impl Fixture {
    /// top/{secret.txt, www/...}: see the comments for what each file is for.
    fn new() -> Fixture {
        let dir = TempDir::new("stage6-demo-a&b<c>").unwrap();
        let top = dir.path();
        let www = top.join("www");
        fs::create_dir_all(www.join("docs")).unwrap();
        fs::create_dir_all(www.join("empty")).unwrap();
        // Outside the root: what every escape attempt is after.
        fs::write(top.join("secret.txt"), "outside the root\n").unwrap();
        fs::write(www.join("index.html"), "<h1>home</h1>\n").unwrap();
        fs::write(www.join("a.txt"), "alpha\n").unwrap();
        fs::write(www.join("style.css"), "h1{}\n").unwrap();
        fs::write(www.join("app.js"), "go()\n").unwrap();
        fs::write(www.join("data.json"), "{}\n").unwrap();
        fs::write(www.join("logo.PNG"), b"\x89PNG\r\n\x1a\n").unwrap();
        fs::write(www.join("no-extension"), "raw\n").unwrap();
        fs::write(www.join("docs/index.html"), "<p>docs</p>\n").unwrap();
        fs::write(www.join(".hidden"), "dot-files are not served\n").unwrap();
        fs::write(www.join("big.bin"), payload(6, BIG)).unwrap();
        // Links: one inside the root (followed), three out of it (answered like missing files).
        std::os::unix::fs::symlink("a.txt", www.join("link-in.txt")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", www.join("link-out.txt")).unwrap();
        std::os::unix::fs::symlink(top, www.join("link-dir")).unwrap();
        std::os::unix::fs::symlink("/etc", www.join("link-etc")).unwrap();
        Fixture(dir)
    }

    fn root(&self) -> StaticRoot {
        StaticRoot::new(self.0.path().join("www")).unwrap()
    }
}

/// The big file: several of the 64 KiB pieces it is streamed in, and not a multiple of one.
const BIG: usize = 3 * 1024 * 1024 + 12_345;

#[test]
fn the_page_at_slash_links_every_route_and_every_link_works() {
    let fixture = Fixture::new();
    let root = fixture.root();
    let escaped =
        root.root().to_string_lossy().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let server = start(Some(root));
    let (head, page) = split(&get(&server, "/"));
    let page = String::from_utf8(page).unwrap();
    assert!(head.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"), "{head}");
    assert!(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">") && page.ends_with("</html>\n"));
    assert!(page.contains(&format!("the files in <code>{escaped}</code>")), "{page}");
    for route in [
        "/hello",
        "/json",
        "/users/42",
        "/search?q=async+rust&amp;limit=3",
        "/stream/5",
        "/sleep?ms=2000",
        "/static/",
    ] {
        assert!(page.contains(&format!("<a href=\"{route}\">")), "no link to {route}");
    }
    // Follow every link on the page (a sleep of 2 s included): each is a 200.
    let links: Vec<String> = page
        .split("<a href=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        .collect();
    assert_eq!(links.len(), 7);
    for link in &links {
        assert_eq!(status(&get(&server, link)), 200, "{link}");
    }
    // The form posts to /echo the way a browser sends enctype="text/plain".
    assert!(page.contains("<form method=\"post\" action=\"/echo\" enctype=\"text/plain\">"));

    let without_root = start(None);
    let page = String::from_utf8(split(&get(&without_root, "/")).1).unwrap();
    assert!(page.contains("here nothing yet: build the book with <code>mdbook build docs</code>"), "{page}");
}

#[test]
fn static_files_have_their_content_type_and_head() {
    let fixture = Fixture::new();
    let server = start(Some(fixture.root()));
    assert_eq!(
        dateless(&get(&server, "/static/a.txt")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nalpha\n"
    );
    for (file, content_type) in [
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("logo.PNG", "image/png"),
        ("no-extension", "application/octet-stream"),
        ("index.html", "text/html; charset=utf-8"),
    ] {
        let (head, body) = split(&get(&server, &format!("/static/{file}")));
        assert!(head.contains(&format!("\r\nContent-Type: {content_type}\r\n")), "{file}: {head}");
        assert_eq!(body, fs::read(fixture.0.path().join("www").join(file)).unwrap(), "{file}");
    }
    // HEAD: the length of the file, and nothing after the head.
    assert_eq!(
        dateless(&exchange(&server, "HEAD /static/a.txt HTTP/1.1\r\nHost: t\r\n\r\n")),
        "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\n"
    );
    assert_eq!(
        dateless(&exchange(&server, "HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")),
        format!(
            "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: application/octet-stream\r\nContent-Length: {BIG}\r\n\r\n"
        )
    );
}

#[test]
fn a_big_file_arrives_byte_for_byte() {
    let fixture = Fixture::new();
    let server = start(Some(fixture.root()));
    // Twice on one keep-alive connection: the second answer starts where the first ended.
    let request = "GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    let answer = exchange(&server, &request.repeat(2));
    let (head, rest) = split(&answer);
    assert_eq!(
        head,
        format!(
            "HTTP/1.1 200 OK\r\nDate: *\r\nContent-Type: application/octet-stream\r\nContent-Length: {BIG}\r\n\r\n"
        )
    );
    let expected = payload(6, BIG);
    same_bytes("first big.bin", &expected, &rest[..BIG.min(rest.len())]).unwrap();
    let (second_head, second) = split(&rest[BIG..]);
    assert_eq!(second_head, head);
    same_bytes("second big.bin", &expected, &second).unwrap();
}

#[test]
fn directories_serve_index_html_or_redirect_or_404() {
    let fixture = Fixture::new();
    let server = start(Some(fixture.root()));
    assert_eq!(split(&get(&server, "/static/")).1, b"<h1>home</h1>\n");
    assert_eq!(split(&get(&server, "/static/docs/")).1, b"<p>docs</p>\n");
    // Without the slash, the page's relative links would resolve one level up: redirect.
    for (target, location) in [("/static/docs", "/static/docs/"), ("/static", "/static/")] {
        assert_eq!(
            dateless(&get(&server, target)),
            format!(
                "HTTP/1.1 301 Moved Permanently\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Location: {location}\r\nContent-Length: 22\r\n\r\n301 Moved Permanently\n"
            )
        );
    }
    assert_eq!(status(&get(&server, "/static/empty/")), 404, "a directory without index.html");
    assert_eq!(status(&get(&server, "/static/a.txt/")), 404, "a file is not a directory");
    assert_eq!(status(&get(&server, "/static/missing.txt")), 404);
}

#[test]
fn nothing_outside_the_root_can_be_reached() {
    let fixture = Fixture::new();
    let server = start(Some(fixture.root()));
    for (target, expected) in [
        ("/static/../secret.txt", 403),
        ("/static/docs/../../secret.txt", 403),
        ("/static/%2e%2e/secret.txt", 403),
        ("/static/%2E%2E/secret.txt", 403),
        ("/static/.%2e/secret.txt", 403),
        ("http://t/static/../secret.txt", 403),
        ("/static/..%2fsecret.txt", 400),
        ("/static/%2e%2e%2fsecret.txt", 400),
        ("/static/%2E%2E%2Fsecret.txt", 400),
        ("/static/docs%2f..%2f..%2fsecret.txt", 400),
        ("/static/..%5csecret.txt", 400),
        ("/static/..\\secret.txt", 400),
        ("/static/a.txt%00.html", 400),
        ("/static/%00", 400),
        ("/static/%2", 400),
        ("/static/%252e%252e/secret.txt", 404),
        ("/static/link-out.txt", 404),
        ("/static/link-dir/secret.txt", 404),
        ("/static/link-etc/passwd", 404),
        ("/static/.hidden", 404),
        ("/static/%2ehidden", 404),
    ] {
        let response = get(&server, target);
        let text = String::from_utf8_lossy(&response);
        assert_eq!(status(&response), expected, "{target}: {text}");
        assert!(!text.contains("outside the root") && !text.contains("root:"), "{target} leaked: {text}");
    }
    // The body says which rule refused the path.
    assert_eq!(split(&get(&server, "/static/../secret.txt")).1, b"403 Forbidden: path leaves the root\n");
    // A link out of the root is answered exactly like a missing file, whether its target
    // exists or not: nothing about the file system outside the root shows through.
    let missing = get(&server, "/static/no-such-file.txt");
    for target in ["/static/link-out.txt", "/static/link-etc/passwd", "/static/link-etc/no-such-file"] {
        assert_eq!(split(&get(&server, target)), split(&missing), "{target}");
    }
    assert_eq!(split(&get(&server, "/static/..%2fsecret.txt")).1, b"400 Bad Request: malformed path\n");
    assert_eq!(split(&get(&server, "/static/.hidden")).1, b"404 Not Found: no such file\n");
    // A link that stays inside the root is followed. What counts is where the path really
    // ends: out through `link-dir` and back into the root is the root's own `a.txt`.
    assert_eq!(split(&get(&server, "/static/link-in.txt")).1, b"alpha\n");
    assert_eq!(split(&get(&server, "/static/link-dir/www/a.txt")).1, b"alpha\n");
}

#[test]
fn without_a_folder_static_says_how_to_get_one() {
    let server = start(None);
    assert_eq!(
        dateless(&get(&server, "/static/index.html")),
        "HTTP/1.1 404 Not Found\r\nDate: *\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 170\r\n\r\n\
         404 Not Found: this server has no folder to serve under /static/.\n\
         Build the workshop's book with `mdbook build docs` and restart the server, or start it with --root DIR.\n"
    );
}

#[test]
fn the_default_root_is_the_built_book_if_there_is_one() {
    let book = Path::new(BOOK_DIR).canonicalize().ok().filter(|dir| dir.is_dir());
    assert_eq!(default_root().map(|root| root.root().to_path_buf()), book);
}

#[test]
fn curl_gets_every_route() {
    let fixture = Fixture::new();
    let server = start(Some(fixture.root()));
    let url = |path: &str| format!("http://{}{path}", server.addr());
    let body = |args: &[&str]| curl(args, b"").map(|out| out.stdout);
    let Some(page) = body(&[&url("/")]) else { return };
    assert!(String::from_utf8_lossy(&page).contains("<h1>Async from scratch: stage 6</h1>"));
    for (path, expected) in [
        ("/hello", &b"Hello, World!"[..]),
        ("/json", br#"{"hello":"world"}"#),
        ("/users/7", br#"{"id":"7","name":"user 7"}"#),
        ("/search?q=a+b&limit=3", br#"{"q":"a b","limit":3}"#),
        ("/stream/3", b"line 1\nline 2\nline 3\n"),
        ("/sleep?ms=1", b"slept 1 ms\n"),
        ("/static/a.txt", b"alpha\n"),
        ("/static/", b"<h1>home</h1>\n"),
    ] {
        assert_eq!(body(&[&url(path)]).unwrap(), expected, "{path}");
    }
    let echoed =
        curl(&["--data-binary", "@-", "-H", "Content-Type: text/plain", &url("/echo")], b"ping\npong");
    assert_eq!(echoed.unwrap().stdout, b"ping\npong");
    // curl follows the directory's redirect (-L) to the page.
    assert_eq!(body(&["-L", &url("/static/docs")]).unwrap(), b"<p>docs</p>\n");
    same_bytes("curl big.bin", &payload(6, BIG), &body(&[&url("/static/big.bin")]).unwrap()).unwrap();
    let head = String::from_utf8(body(&["--head", &url("/static/big.bin")]).unwrap()).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains(&format!("Content-Length: {BIG}\r\n")),
        "{head}"
    );
    // curl would remove the `..` itself; --path-as-is sends it.
    let status =
        body(&["--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", &url("/static/../secret.txt")]);
    assert_eq!(status.unwrap(), b"403");
}
