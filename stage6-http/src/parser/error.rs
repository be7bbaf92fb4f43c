//! Everything that can be wrong with a request, and the status code that answers it.

use std::fmt;

// ANCHOR: errors
/// Everything that can be wrong with a request. Each variant maps to one status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The request line is not `method SP target SP version` (400).
    BadRequestLine,
    /// The method is well-formed but not one we implement (501).
    UnknownMethod,
    /// The request target has a forbidden byte or an unusable form (400).
    BadTarget,
    /// The request target is longer than [`Limits::max_target_len`](crate::parser::Limits::max_target_len) (414).
    TargetTooLong,
    /// The version is not `HTTP/x.y` (400).
    BadVersion,
    /// A well-formed version other than HTTP/1.0 and HTTP/1.1 (505).
    UnsupportedVersion,
    /// A header line without a colon, with an empty name or a byte not allowed in a name (400).
    BadHeaderName,
    /// Whitespace between a header name and its colon (400, RFC 9112 section 5.1).
    WhitespaceBeforeColon,
    /// A control character in a header value (400).
    BadHeaderValue,
    /// A header line starting with whitespace: obsolete line folding (400, RFC 9112 section 5.2).
    ObsFold,
    /// A CR not followed by LF (400, RFC 9112 section 2.2).
    BareCr,
    /// A line ended by LF without CR; we insist on CRLF so every parser on the path agrees (400).
    BareLf,
    /// A NUL byte in the head (400).
    Nul,
    /// An HTTP/1.1 request without a Host header (400, RFC 9112 section 3.2).
    MissingHost,
    /// More than one Host header (400, RFC 9112 section 3.2).
    DuplicateHost,
    /// A Host value with bytes no authority can contain (400).
    BadHost,
    /// A Content-Length that is not a plain decimal number (400).
    BadContentLength,
    /// Two different Content-Length values (400, RFC 9112 section 6.3).
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding: the classic request smuggling set-up (400).
    ContentLengthWithTransferEncoding,
    /// A transfer coding other than `chunked` (501, RFC 9112 section 6.1).
    UnknownTransferCoding,
    /// Transfer-Encoding that is empty, repeats `chunked`, or appears in an HTTP/1.0 request (400).
    BadTransferEncoding,
    /// A malformed chunk-size line or a chunk not followed by CRLF (400).
    BadChunk,
    /// More header lines than [`Limits::max_headers`](crate::parser::Limits::max_headers) (431).
    TooManyHeaders,
    /// More header bytes (trailers and chunk extensions included) than
    /// [`Limits::max_header_bytes`](crate::parser::Limits::max_header_bytes) (431).
    HeadersTooLarge,
    /// A body longer than [`Limits::max_body_bytes`](crate::parser::Limits::max_body_bytes) (413).
    BodyTooLarge,
}

impl ParseError {
    /// The status code a server answers this error with (the connection is then closed).
    pub fn status(self) -> u16 {
        match self {
            ParseError::UnknownMethod | ParseError::UnknownTransferCoding => 501,
            ParseError::TargetTooLong => 414,
            ParseError::UnsupportedVersion => 505,
            ParseError::TooManyHeaders | ParseError::HeadersTooLarge => 431,
            ParseError::BodyTooLarge => 413,
            _ => 400,
        }
    }
}
// ANCHOR_END: errors

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ParseError::BadRequestLine => "malformed request line",
            ParseError::UnknownMethod => "method not implemented",
            ParseError::BadTarget => "malformed request target",
            ParseError::TargetTooLong => "request target too long",
            ParseError::BadVersion => "malformed HTTP version",
            ParseError::UnsupportedVersion => "HTTP version not supported",
            ParseError::BadHeaderName => "malformed header name",
            ParseError::WhitespaceBeforeColon => "whitespace between header name and colon",
            ParseError::BadHeaderValue => "control character in header value",
            ParseError::ObsFold => "obsolete header line folding",
            ParseError::BareCr => "CR not followed by LF",
            ParseError::BareLf => "line ended by LF without CR",
            ParseError::Nul => "NUL byte in request head",
            ParseError::MissingHost => "HTTP/1.1 request without Host",
            ParseError::DuplicateHost => "more than one Host header",
            ParseError::BadHost => "malformed Host header",
            ParseError::BadContentLength => "malformed Content-Length",
            ParseError::ConflictingContentLength => "conflicting Content-Length values",
            ParseError::ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            ParseError::UnknownTransferCoding => "transfer coding not implemented",
            ParseError::BadTransferEncoding => "malformed Transfer-Encoding",
            ParseError::BadChunk => "malformed chunked body",
            ParseError::TooManyHeaders => "too many header lines",
            ParseError::HeadersTooLarge => "header section too large",
            ParseError::BodyTooLarge => "body too large",
        };
        write!(f, "{text} ({})", self.status())
    }
}

impl std::error::Error for ParseError {}
