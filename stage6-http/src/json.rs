//! A small JSON writer: enough to answer `{"hello": "world"}` the way sanic's hello example
//! does, with escaping done right.
//!
//! Values are written straight into a `String` while closures describe the nesting, so the
//! shape of the code matches the shape of the document and brackets can never be unbalanced:
//!
//! ```
//! let body = stage6_http::json::object(|o| {
//!     o.str("hello", "world").int("n", 3).array("xs", |a| {
//!         a.bool(true).null();
//!     });
//! });
//! assert_eq!(body, r#"{"hello":"world","n":3,"xs":[true,null]}"#);
//! ```
//!
//! Decisions: non-finite numbers (NaN, infinities) are written as `null`, as JavaScript's
//! `JSON.stringify` does, because JSON has no spelling for them and a handler should not have
//! to handle an error for a value it computed. Strings are UTF-8 already (`&str`), so
//! non-ASCII text (including U+2028/U+2029, legal in JSON) passes through unchanged; only `"`,
//! `\` and control characters are escaped.

use std::fmt::Write;

// ANCHOR: escape
/// Appends `s` as a JSON string literal (with quotes).
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // Every byte handled here is ASCII, so `i` is a char boundary.
        out.push_str(&s[run_start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}
// ANCHOR_END: escape

/// Appends a number; NaN and infinities become `null`. Integral values print without a
/// fraction (`3`), very large or small magnitudes in exponent form (`1e300`), and every
/// value reads back as the same f64 (Rust prints the shortest round-tripping digits).
pub fn write_f64(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null");
    } else if v == 0.0 || (1e-5..1e16).contains(&v.abs()) {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{v:e}");
    }
}

/// Builds a JSON object; see the module example.
pub fn object(build: impl FnOnce(&mut ObjectWriter<'_>)) -> String {
    let mut out = String::new();
    write_object(&mut out, build);
    out
}

/// Builds a JSON array.
pub fn array(build: impl FnOnce(&mut ArrayWriter<'_>)) -> String {
    let mut out = String::new();
    write_array(&mut out, build);
    out
}

/// Appends an object to `out` (for callers reusing a buffer).
pub fn write_object(out: &mut String, build: impl FnOnce(&mut ObjectWriter<'_>)) {
    out.push('{');
    build(&mut ObjectWriter { out, first: true });
    out.push('}');
}

/// Appends an array to `out`.
pub fn write_array(out: &mut String, build: impl FnOnce(&mut ArrayWriter<'_>)) {
    out.push('[');
    build(&mut ArrayWriter { out, first: true });
    out.push(']');
}

/// Writes the members of one object; every method returns `self` for chaining.
pub struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl ObjectWriter<'_> {
    fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(':');
        self.out
    }

    /// `"key": "value"`
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        write_str(self.key(key), value);
        self
    }

    /// `"key": 1.5` (NaN/infinite: `null`)
    pub fn num(&mut self, key: &str, value: f64) -> &mut Self {
        write_f64(self.key(key), value);
        self
    }

    /// `"key": -3`
    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    /// `"key": 3` for unsigned values (u64 does not fit i64).
    pub fn uint(&mut self, key: &str, value: u64) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    /// `"key": true`
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// `"key": null`
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key).push_str("null");
        self
    }

    /// `"key": {...}`
    pub fn object(&mut self, key: &str, build: impl FnOnce(&mut ObjectWriter<'_>)) -> &mut Self {
        write_object(self.key(key), build);
        self
    }

    /// `"key": [...]`
    pub fn array(&mut self, key: &str, build: impl FnOnce(&mut ArrayWriter<'_>)) -> &mut Self {
        write_array(self.key(key), build);
        self
    }
}

/// Writes the elements of one array; every method returns `self` for chaining.
pub struct ArrayWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl ArrayWriter<'_> {
    fn next(&mut self) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out
    }

    /// A string element.
    pub fn str(&mut self, value: &str) -> &mut Self {
        write_str(self.next(), value);
        self
    }

    /// A number element (NaN/infinite: `null`).
    pub fn num(&mut self, value: f64) -> &mut Self {
        write_f64(self.next(), value);
        self
    }

    /// An integer element.
    pub fn int(&mut self, value: i64) -> &mut Self {
        let _ = write!(self.next(), "{value}");
        self
    }

    /// An unsigned integer element.
    pub fn uint(&mut self, value: u64) -> &mut Self {
        let _ = write!(self.next(), "{value}");
        self
    }

    /// `true` or `false`.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.next().push_str(if value { "true" } else { "false" });
        self
    }

    /// `null`.
    pub fn null(&mut self) -> &mut Self {
        self.next().push_str("null");
        self
    }

    /// A nested object.
    pub fn object(&mut self, build: impl FnOnce(&mut ObjectWriter<'_>)) -> &mut Self {
        write_object(self.next(), build);
        self
    }

    /// A nested array.
    pub fn array(&mut self, build: impl FnOnce(&mut ArrayWriter<'_>)) -> &mut Self {
        write_array(self.next(), build);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        write_str(&mut out, s);
        out
    }

    #[test]
    fn the_seed_example() {
        assert_eq!(
            object(|o| {
                o.str("hello", "world");
            }),
            r#"{"hello":"world"}"#
        );
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quoted(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(quoted("a\nb\rc\td"), r#""a\nb\rc\td""#);
        assert_eq!(quoted("\u{0}\u{1}\u{8}\u{c}\u{1f}"), r#""\u0000\u0001\u0008\u000c\u001f""#);
        // DEL is not a JSON control character.
        assert_eq!(quoted("\u{7f}"), "\"\u{7f}\"");
    }

    #[test]
    fn non_ascii_passes_through() {
        assert_eq!(quoted("café ☕ 😀 \u{2028}\u{2029}"), "\"café ☕ 😀 \u{2028}\u{2029}\"");
        assert_eq!(quoted("é\"é"), "\"é\\\"é\"");
    }

    #[test]
    fn empty_containers() {
        assert_eq!(object(|_| {}), "{}");
        assert_eq!(array(|_| {}), "[]");
        assert_eq!(
            array(|a| {
                a.array(|_| {}).object(|_| {});
            }),
            "[[],{}]"
        );
    }

    #[test]
    fn numbers() {
        let nums = array(|a| {
            a.num(0.0)
                .num(-0.0)
                .num(1.0)
                .num(-2.5)
                .num(0.1)
                .num(1e21)
                .num(1e-7)
                .num(123456789.125)
                .num(f64::NAN)
                .num(f64::INFINITY)
                .num(f64::NEG_INFINITY)
                .int(i64::MIN)
                .uint(u64::MAX);
        });
        assert_eq!(
            nums,
            "[0,-0,1,-2.5,0.1,1e21,1e-7,123456789.125,null,null,null,-9223372036854775808,18446744073709551615]"
        );
    }

    #[test]
    fn numbers_round_trip() {
        for v in [0.1, 1.0 / 3.0, 2.0f64.powi(60), 5e-324, f64::MAX, 1e16, 9.999e15, 1e-5] {
            let mut s = String::new();
            write_f64(&mut s, v);
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
        }
    }

    #[test]
    fn nesting() {
        let doc = object(|o| {
            o.str("name", "x")
                .object("inner", |o| {
                    o.bool("t", true).bool("f", false).null("n");
                })
                .array("list", |a| {
                    a.int(1).str("two").object(|o| {
                        o.int("three", 3);
                    });
                });
        });
        assert_eq!(doc, r#"{"name":"x","inner":{"t":true,"f":false,"n":null},"list":[1,"two",{"three":3}]}"#);
    }

    #[test]
    fn keys_are_escaped_too() {
        assert_eq!(
            object(|o| {
                o.int("a\"b", 1);
            }),
            r#"{"a\"b":1}"#
        );
    }
}
