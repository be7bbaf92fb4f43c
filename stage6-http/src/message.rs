//! The words of an HTTP message: [`Method`], [`Version`], and the [`Span`]s that say where a
//! piece of a request lies in its bytes.
//!
//! A leaf: this module imports nothing from the crate, so the parser, the request, the
//! response writer and the router can all use these types without depending on each other.

use std::fmt;

/// The request methods this server implements. Any other well-formed method token gets
/// `501 Not Implemented` (RFC 9110 section 9.1), as does `CONNECT` and `TRACE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    #[default]
    Get,
    /// `HEAD`: like GET, but the response carries no body.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `PATCH`
    Patch,
    /// `OPTIONS`
    Options,
}

impl Method {
    /// The method as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
        }
    }

    /// Recognises a method token (methods are case-sensitive). Written as slice patterns so
    /// the compiler emits a length switch and byte compares instead of `memcmp` calls.
    pub fn from_bytes(token: &[u8]) -> Option<Method> {
        Some(match token {
            [b'G', b'E', b'T'] => Method::Get,
            [b'H', b'E', b'A', b'D'] => Method::Head,
            [b'P', b'O', b'S', b'T'] => Method::Post,
            [b'P', b'U', b'T'] => Method::Put,
            [b'D', b'E', b'L', b'E', b'T', b'E'] => Method::Delete,
            [b'P', b'A', b'T', b'C', b'H'] => Method::Patch,
            [b'O', b'P', b'T', b'I', b'O', b'N', b'S'] => Method::Options,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP versions this server speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`: one request per connection unless the client asks for keep-alive.
    Http10,
    /// `HTTP/1.1`: persistent connections by default, Host required, chunked bodies.
    #[default]
    Http11,
}

impl Version {
    /// The version as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

// ANCHOR: span
/// A half-open byte range `start..end` into a request's bytes. `u32` keeps header tables
/// small; the parser's limits keep every offset far below 4 GiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

// ANCHOR_END: span

impl Span {
    /// The span `start..end` (offsets are below the parser's limits, so they fit in u32).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    /// The bytes this span covers.
    pub fn of<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.start as usize..self.end as usize]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// True when the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Where one header's name and value are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderSpan {
    /// The name, as sent (compare it case-insensitively).
    pub name: Span,
    /// The value without surrounding whitespace.
    pub value: Span,
}

impl HeaderSpan {
    /// Bytes one header occupies in a request's header table.
    pub(crate) const ENCODED_LEN: usize = 16;

    /// Appends the four offsets, little-endian. `#[inline]` (and `decode` too): called once
    /// per header from `request.rs`, another module and often another codegen unit, where the
    /// compiler would not inline it unasked; the call cost 20 instructions per request
    /// (`scripts/instructions-per-request.sh`).
    #[inline]
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for n in [self.name.start, self.name.end, self.value.start, self.value.end] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }

    /// Reads back what [`HeaderSpan::encode`] wrote (`entry` is exactly 16 bytes).
    #[inline]
    pub(crate) fn decode(entry: &[u8]) -> HeaderSpan {
        let word = |i: usize| {
            let mut four = [0u8; 4];
            four.copy_from_slice(&entry[i * 4..i * 4 + 4]);
            u32::from_le_bytes(four)
        };
        HeaderSpan {
            name: Span { start: word(0), end: word(1) },
            value: Span { start: word(2), end: word(3) },
        }
    }
}
