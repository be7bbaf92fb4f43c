//! The request a handler receives.
//!
//! A [`Request`] owns one `Vec<u8>` holding the request's head followed by its (de-chunked)
//! body: the only allocation per request in the common case. Everything else (method, path,
//! query, header names and values, route parameters) is a [`Span`] into those bytes, so the
//! accessors return borrowed `&str`/`&[u8]` without copying.

use crate::message::{HeaderSpan, Method, Span, Version};
use std::sync::Arc;

/// The most `:param`/`*rest` captures one route pattern may have.
pub const MAX_PARAMS: usize = 8;

/// Route parameters captured by the router: names shared with the route (an `Arc` of a
/// `Vec`, a thin pointer: no copy per request), values as 16-bit (start, end) offsets into the request's path (the
/// parser keeps targets under 64 KiB), so the table is 32 bytes.
#[derive(Clone, Debug, Default)]
pub struct Params {
    names: Option<Arc<Vec<Box<str>>>>,
    values: [(u16, u16); MAX_PARAMS],
}

impl Params {
    /// Attaches the matched route's parameter names (in capture order).
    pub(crate) fn set_names(&mut self, names: Arc<Vec<Box<str>>>) {
        self.names = Some(names);
    }

    /// Records the value of the parameter number `index` (a range of the path). Patterns
    /// are checked at registration to have at most [`MAX_PARAMS`] captures.
    pub(crate) fn set(&mut self, index: usize, start: usize, end: usize) {
        let (Ok(start), Ok(end)) = (u16::try_from(start), u16::try_from(end)) else {
            return; // unreachable: paths are shorter than 64 KiB
        };
        if let Some(slot) = self.values.get_mut(index) {
            *slot = (start, end);
        }
    }

    /// The (start, end) captured for `name`, relative to the path.
    fn get(&self, name: &str) -> Option<(usize, usize)> {
        let names = self.names.as_ref()?;
        let i = names.iter().position(|n| &**n == name)?;
        let (start, end) = *self.values.get(i)?;
        Some((usize::from(start), usize::from(end)))
    }
}

/// What the parser knows about a complete request, besides its bytes.
pub(crate) struct RequestParts<'a> {
    pub method: Method,
    pub version: Version,
    pub target: Span,
    pub path: Span,
    pub query: Option<Span>,
    pub host: Option<Span>,
    pub headers: &'a [HeaderSpan],
    pub chunked: bool,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

// ANCHOR: request
/// A parsed HTTP request, owning a copy of its bytes.
///
/// Its one allocation holds `head | body | header table`: the head and body as received (the
/// body de-chunked), then 16 bytes per header giving the offsets of its name and value. Putting
/// the table in the same buffer keeps the struct small, so handing a request from the parser
/// to the router to the handler's future moves a few dozen bytes, not a table.
#[derive(Clone, Debug)]
pub struct Request {
    bytes: Vec<u8>,
    method: Method,
    version: Version,
    target: Span,
    path: Span,
    /// Valid only with the `HAS_QUERY` flag (an `Option<Span>` would cost 4 more bytes each).
    query: Span,
    /// Valid only with the `HAS_HOST` flag.
    host: Span,
    body: Span,
    flags: u8,
    params: Params,
}
// ANCHOR_END: request

impl Request {
    /// Copies `head` and `body` into one allocation and keeps the spans found by the parser
    /// (they are offsets into `head`, which is copied first, so they stay valid).
    pub(crate) fn from_parts(head: &[u8], body: &[u8], parts: RequestParts<'_>) -> Request {
        let table_len = parts.headers.len() * HeaderSpan::ENCODED_LEN;
        let mut bytes = Vec::with_capacity(head.len() + body.len() + table_len);
        bytes.extend_from_slice(head);
        bytes.extend_from_slice(body);
        for header in parts.headers {
            header.encode(&mut bytes);
        }
        Request {
            method: parts.method,
            version: parts.version,
            target: parts.target,
            path: parts.path,
            query: parts.query.unwrap_or_default(),
            host: parts.host.unwrap_or_default(),
            body: Span::new(head.len(), head.len() + body.len()),
            flags: flag(HAS_QUERY, parts.query.is_some())
                | flag(HAS_HOST, parts.host.is_some())
                | flag(CHUNKED, parts.chunked)
                | flag(KEEP_ALIVE, parts.keep_alive)
                | flag(EXPECT_CONTINUE, parts.expect_continue),
            params: Params::default(),
            bytes,
        }
    }

    /// Bytes validated by the parser as ASCII (target, names) are always UTF-8; the fallback
    /// is never taken but keeps this free of `unwrap`.
    fn ascii(&self, span: Span) -> &str {
        std::str::from_utf8(span.of(&self.bytes)).unwrap_or("")
    }

    /// The request method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// True for `HEAD`: the response gets headers (with Content-Length) but no body.
    pub fn is_head(&self) -> bool {
        self.method == Method::Head
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request target exactly as sent (`/a?b`, `http://h/a?b`, or `*`).
    pub fn target(&self) -> &str {
        self.ascii(self.target)
    }

    /// The path, still percent-encoded (`/a%20b`). `/` for an absolute-form target with no
    /// path (`http://host`).
    pub fn path(&self) -> &str {
        if self.path.is_empty() { "/" } else { self.ascii(self.path) }
    }

    /// The query string after `?`, still encoded; see [`crate::query`] to decode it.
    pub fn query(&self) -> Option<&str> {
        (self.flags & HAS_QUERY != 0).then(|| self.ascii(self.query))
    }

    /// The value of query parameter `name`, decoded; `Err` when the query has a bad `%XX`.
    pub fn query_param(
        &self,
        name: &str,
    ) -> Result<Option<std::borrow::Cow<'_, str>>, crate::query::DecodeError> {
        match self.query() {
            Some(q) => crate::query::query_value(q, name),
            None => Ok(None),
        }
    }

    /// The host: from an absolute-form target if there was one, else the Host header.
    pub fn host(&self) -> Option<&str> {
        if self.flags & HAS_HOST == 0 {
            return None;
        }
        std::str::from_utf8(self.host.of(&self.bytes)).ok()
    }

    /// The header table (after the body), decoded entry by entry.
    fn header_spans(&self) -> impl Iterator<Item = HeaderSpan> + '_ {
        self.bytes[self.body.end as usize..].chunks_exact(HeaderSpan::ENCODED_LEN).map(HeaderSpan::decode)
    }

    /// The first header called `name` (case-insensitive), as bytes: values may legally hold
    /// non-UTF-8 bytes.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let name = name.as_bytes();
        self.header_spans().find(|h| same_name(h.name.of(&self.bytes), name)).map(|h| h.value.of(&self.bytes))
    }

    /// The first header called `name` if its value is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of header `name`, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let name = name.as_bytes();
        self.header_spans()
            .filter(move |h| same_name(h.name.of(&self.bytes), name))
            .map(|h| h.value.of(&self.bytes))
    }

    /// All headers in order, as (name as sent, value).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.header_spans().map(|h| (self.ascii(h.name), h.value.of(&self.bytes)))
    }

    /// The body (de-chunked if it was sent chunked).
    pub fn body(&self) -> &[u8] {
        self.body.of(&self.bytes)
    }

    /// True if the body arrived with `Transfer-Encoding: chunked`.
    pub fn is_chunked(&self) -> bool {
        self.flags & CHUNKED != 0
    }

    /// Whether the connection stays open after the response (1.1 unless `Connection: close`;
    /// 1.0 only with `Connection: keep-alive`).
    pub fn keep_alive(&self) -> bool {
        self.flags & KEEP_ALIVE != 0
    }

    /// True if the client sent `Expect: 100-continue`.
    pub fn expects_continue(&self) -> bool {
        self.flags & EXPECT_CONTINUE != 0
    }

    /// The route parameter `name` (`:name` or `*name` in the pattern), still percent-encoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        let (start, end) = self.params.get(name)?;
        self.path().get(start..end)
    }

    /// Installs the router's captures (spans relative to [`Request::path`]).
    pub(crate) fn set_params(&mut self, params: Params) {
        self.params = params;
    }
}

// Bits of `Request::flags`: five booleans in one byte keep the struct under 128 bytes, the
// size up to which the compiler copies inline instead of calling `memcpy` (a request is moved
// several times on its way from the parser to its handler).
const HAS_QUERY: u8 = 1;
const HAS_HOST: u8 = 2;
const CHUNKED: u8 = 4;
const KEEP_ALIVE: u8 = 8;
const EXPECT_CONTINUE: u8 = 16;

fn flag(bit: u8, set: bool) -> u8 {
    if set { bit } else { 0 }
}

/// Case-insensitive name comparison without allocating. Length first: most names differ in
/// length, and that costs one comparison.
fn same_name(candidate: &[u8], wanted: &[u8]) -> bool {
    candidate.len() == wanted.len() && candidate.eq_ignore_ascii_case(wanted)
}
