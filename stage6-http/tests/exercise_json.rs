//! Exercise 6.4 (scripts/exercise.sh check 6.4): `json::write_i128` writes every i128 with all
//! its digits (an f64 keeps only 53 bits of them), and `raw` on both writers appends
//! pre-serialized JSON as it is, commas and all.
#![cfg(feature = "exercises")]

use stage6_http::json::{self, write_i128};

fn i128_text(v: i128) -> String {
    let mut out = String::new();
    write_i128(&mut out, v);
    out
}

#[test]
fn write_i128_keeps_every_digit() {
    assert_eq!(i128_text(0), "0");
    assert_eq!(i128_text(-7), "-7");
    assert_eq!(i128_text(i128::MAX), "170141183460469231731687303715884105727");
    assert_eq!(i128_text(i128::MIN), "-170141183460469231731687303715884105728");
    // 2^53 + 1: the first integer an f64 cannot hold (write_f64 would print ...992).
    assert_eq!(i128_text(9_007_199_254_740_993), "9007199254740993");
    // Appends, as the other write_ functions do.
    let mut out = String::from("[");
    write_i128(&mut out, -1);
    assert_eq!(out, "[-1");
}

#[test]
fn raw_values_go_in_unchanged_with_the_right_commas() {
    let cached = r#"{"id":7,"tags":["a","b"]}"#;
    let body = json::object(|o| {
        o.raw("user", cached).int("n", 1).raw("list", "[1,2]");
    });
    assert_eq!(body, r#"{"user":{"id":7,"tags":["a","b"]},"n":1,"list":[1,2]}"#);
    let body = json::array(|a| {
        a.raw("true").str("x").raw(cached);
    });
    assert_eq!(body, r#"[true,"x",{"id":7,"tags":["a","b"]}]"#);
    // The key is still escaped: only the value is trusted.
    assert_eq!(
        json::object(|o| {
            o.raw("a\"b", "null");
        }),
        r#"{"a\"b":null}"#
    );
}
