//! Exercise 6l.4 (scripts/exercise.sh check 6l.4): the client refuses a response whose body
//! has a content coding it cannot undo (`Content-Encoding` other than `identity`) with
//! `ResponseError::ContentEncoding`, instead of handing compressed bytes to a caller that
//! takes them for the body.
#![cfg(feature = "exercises")]

use stage1_blocking::workshop::testkit::one_shot_server;
use stage5_async_await::Runtime;
use stage6_http::client::{Client, ClientError, ResponseError};

/// One request to a server answering `answer`: the client's result (body or error).
fn fetch(answer: &'static [u8]) -> Result<Vec<u8>, ClientError> {
    let addr = one_shot_server(move |_| answer.to_vec()).unwrap();
    Runtime::new().unwrap().block_on(async {
        let mut conn = Client::connect(addr).await?;
        let response = conn.get("/").await?;
        Ok(response.body)
    })
}

#[test]
fn gzip_and_other_codings_are_refused() {
    let answers: [&'static [u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\n\x1f\x8b\x08",
        b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: identity, gzip\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Encoding: deflate\r\n\r\nabc",
    ];
    for answer in answers {
        let result = fetch(answer);
        assert!(
            matches!(result, Err(ClientError::Response(ResponseError::ContentEncoding))),
            "{:?} -> {result:?}",
            String::from_utf8_lossy(answer)
        );
    }
}

#[test]
fn identity_or_no_coding_is_fine() {
    assert_eq!(fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").unwrap(), b"abc");
    let identity = b"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(fetch(identity).unwrap(), b"abc");
}

#[test]
fn the_error_says_what_it_is() {
    let text = ResponseError::ContentEncoding.to_string();
    assert!(text.contains("Content-Encoding"), "{text}");
}
