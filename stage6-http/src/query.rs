//! Percent-decoding and query strings.
//!
//! Paths and query strings arrive percent-encoded (`/a%20b?q=x+y`). Decoding returns a
//! `Cow`: borrowed when there was nothing to decode (the common case costs no allocation),
//! owned otherwise. A `%` not followed by two hex digits is an error rather than being passed
//! through, so `%zz` can never mean two different things to two layers of the server. `+`
//! means space only in a query string (HTML form encoding), never in a path.

use crate::grammar::hex_value;
use std::borrow::Cow;
use std::fmt;

/// Why a percent-encoded string could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` at byte `at` not followed by two hex digits.
    BadEscape {
        /// Offset of the `%`.
        at: usize,
    },
    /// The decoded bytes are not UTF-8 (only from the `_str` functions).
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadEscape { at } => write!(f, "bad percent escape at byte {at}"),
            DecodeError::NotUtf8 => f.write_str("percent-decoded text is not UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

// ANCHOR: decode
/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`).
pub fn percent_decode(input: &[u8], plus_is_space: bool) -> Result<Cow<'_, [u8]>, DecodeError> {
    let needs_work = |b: &u8| *b == b'%' || (plus_is_space && *b == b'+');
    let Some(first) = input.iter().position(needs_work) else {
        return Ok(Cow::Borrowed(input));
    };
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let high = input.get(i + 1).copied().and_then(hex_value);
                let low = input.get(i + 2).copied().and_then(hex_value);
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(DecodeError::BadEscape { at: i });
                };
                out.push(high << 4 | low);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(Cow::Owned(out))
}
// ANCHOR_END: decode

/// [`percent_decode`] for text: the result must be UTF-8.
pub fn percent_decode_str(input: &str, plus_is_space: bool) -> Result<Cow<'_, str>, DecodeError> {
    match percent_decode(input.as_bytes(), plus_is_space)? {
        Cow::Borrowed(_) => Ok(Cow::Borrowed(input)),
        Cow::Owned(bytes) => String::from_utf8(bytes).map(Cow::Owned).map_err(|_| DecodeError::NotUtf8),
    }
}

/// Iterator over the decoded `name=value` pairs of a query string (`a=1&b=&c`). Empty pieces
/// (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
#[derive(Clone, Debug)]
pub struct QueryPairs<'a> {
    rest: &'a str,
}

/// Splits and decodes a query string (the part after `?`).
pub fn parse_query(query: &str) -> QueryPairs<'_> {
    QueryPairs { rest: query }
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = Result<(Cow<'a, str>, Cow<'a, str>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (piece, rest) = self.rest.split_once('&').unwrap_or((self.rest, ""));
            self.rest = rest;
            if piece.is_empty() {
                continue;
            }
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let pair =
                percent_decode_str(name, true).and_then(|name| Ok((name, percent_decode_str(value, true)?)));
            return Some(pair);
        }
    }
}

/// The decoded value of the first `name` in `query`. Pairs before it must decode cleanly
/// too: a malformed query is rejected as a whole rather than half-read.
pub fn query_value<'a>(query: &'a str, name: &str) -> Result<Option<Cow<'a, str>>, DecodeError> {
    for pair in parse_query(query) {
        let (n, v) = pair?;
        if n == name {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_decode_borrows() {
        assert!(matches!(percent_decode(b"/plain/path", false), Ok(Cow::Borrowed(_))));
        assert!(matches!(percent_decode_str("a+b", false), Ok(Cow::Borrowed("a+b"))));
    }

    #[test]
    fn escapes_decode_in_either_case() {
        assert_eq!(percent_decode(b"a%20b%2Fc%2fd", false).unwrap(), &b"a b/c/d"[..]);
        assert_eq!(percent_decode_str("caf%C3%A9", false).unwrap(), "café");
        assert_eq!(percent_decode(b"%00", false).unwrap(), &b"\0"[..]);
    }

    #[test]
    fn plus_is_space_only_when_asked() {
        assert_eq!(percent_decode_str("a+b%2B", true).unwrap(), "a b+");
        assert_eq!(percent_decode_str("a+b%2B", false).unwrap(), "a+b+");
    }

    #[test]
    fn invalid_escapes_are_errors() {
        assert_eq!(percent_decode(b"%", false), Err(DecodeError::BadEscape { at: 0 }));
        assert_eq!(percent_decode(b"ab%2", false), Err(DecodeError::BadEscape { at: 2 }));
        assert_eq!(percent_decode(b"x%zz", false), Err(DecodeError::BadEscape { at: 1 }));
        assert_eq!(percent_decode(b"%%41", false), Err(DecodeError::BadEscape { at: 0 }));
        assert_eq!(percent_decode_str("%ff", false), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn query_pairs() {
        let pairs: Vec<(String, String)> = parse_query("a=1&&b=&c&d=x%3Dy=z&e=hello+world")
            .map(|p| p.map(|(n, v)| (n.into_owned(), v.into_owned())))
            .collect::<Result<_, _>>()
            .unwrap();
        let expected = [("a", "1"), ("b", ""), ("c", ""), ("d", "x=y=z"), ("e", "hello world")];
        assert_eq!(pairs.len(), expected.len());
        for ((n, v), (en, ev)) in pairs.iter().zip(expected) {
            assert_eq!((n.as_str(), v.as_str()), (en, ev));
        }
        assert_eq!(parse_query("").count(), 0);
    }

    #[test]
    fn query_value_finds_first_and_rejects_bad_queries() {
        assert_eq!(query_value("a=1&a=2", "a").unwrap().as_deref(), Some("1"));
        assert_eq!(query_value("a=1", "b").unwrap(), None);
        assert_eq!(query_value("x=%G0&a=1", "a"), Err(DecodeError::BadEscape { at: 0 }));
        assert_eq!(query_value("na%6De=v", "name").unwrap().as_deref(), Some("v"));
    }
}
