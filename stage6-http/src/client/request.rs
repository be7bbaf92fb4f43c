//! A request to send, and how it is written on the wire.

use crate::client::error::ClientError;
use crate::grammar::{is_control, is_tchar};

/// A request to send: method, target, extra headers, body. `Host` and `Content-Length` are
/// added when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// `GET`, `POST`, `HEAD`...
    pub method: String,
    /// The request target, e.g. `/users/7?x=1`.
    pub target: String,
    /// Extra headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body (sent with a Content-Length; empty and no length for GET/HEAD).
    pub body: Vec<u8>,
}

impl ClientRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, target: &str) -> ClientRequest {
        ClientRequest {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET target`.
    pub fn get(target: &str) -> ClientRequest {
        ClientRequest::new("GET", target)
    }

    /// `HEAD target`.
    pub fn head(target: &str) -> ClientRequest {
        ClientRequest::new("HEAD", target)
    }

    /// `POST target` with `body`.
    pub fn post(target: &str, body: impl Into<Vec<u8>>) -> ClientRequest {
        ClientRequest { body: body.into(), ..ClientRequest::new("POST", target) }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> ClientRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Whether this is a HEAD request (its response has no body).
    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }

    // ANCHOR: write_to
    /// Appends the request's bytes to `out`. Refuses anything that could split the request
    /// into two on the wire (a CR or LF in a header is how request smuggling starts).
    pub fn write_to(&self, host: &str, out: &mut Vec<u8>) -> Result<(), ClientError> {
        if self.method.is_empty() || !self.method.bytes().all(is_tchar) {
            return Err(ClientError::InvalidRequest("method is not a token"));
        }
        if self.target.is_empty() || self.target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(ClientError::InvalidRequest("target is empty or has spaces or control bytes"));
        }
        let bad_value = |v: &str| v.bytes().any(is_control);
        if bad_value(host) {
            return Err(ClientError::InvalidRequest("host has control bytes"));
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_tchar) || bad_value(value) {
                return Err(ClientError::InvalidRequest("header name or value"));
            }
        }
        let write = |out: &mut Vec<u8>, parts: &[&[u8]]| parts.iter().for_each(|p| out.extend_from_slice(p));
        write(
            out,
            &[
                self.method.as_bytes(),
                b" ",
                self.target.as_bytes(),
                b" HTTP/1.1\r\nHost: ",
                host.as_bytes(),
                b"\r\n",
            ],
        );
        for (name, value) in &self.headers {
            write(out, &[name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
        }
        let needs_length = !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        if needs_length {
            write(out, &[b"Content-Length: ", self.body.len().to_string().as_bytes(), b"\r\n"]);
        }
        write(out, &[b"\r\n", &self.body]);
        Ok(())
    }
    // ANCHOR_END: write_to
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_serialized_and_checked() {
        let mut out = Vec::new();
        ClientRequest::post("/echo", "hi").header("X-A", "1").write_to("h:1", &mut out).unwrap();
        assert_eq!(out, b"POST /echo HTTP/1.1\r\nHost: h:1\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi");
        out.clear();
        ClientRequest::get("/").write_to("h", &mut out).unwrap();
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let bad = [
            ClientRequest::get("/a b"),
            ClientRequest::new("GE T", "/"),
            ClientRequest::get("/").header("X", "a\r\nInjected: 1"),
            ClientRequest::get("/").header("Bad Name", "v"),
        ];
        for request in bad {
            assert!(
                matches!(request.write_to("h", &mut out), Err(ClientError::InvalidRequest(_))),
                "{request:?}"
            );
        }
    }
}
