//! A keep-alive connection: writes requests, drives the response parser over what it reads.

use crate::client::error::ClientError;
use crate::client::request::ClientRequest;
use crate::client::response::{Head, ResponseEvent, ResponseLimits, ResponseParser};
use stage5_async_await::io::AsyncRead;
use stage5_async_await::net::TcpStream;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;

/// A whole response, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientResponse {
    /// The status code.
    pub status: u16,
    /// The reason phrase (lossily decoded).
    pub reason: String,
    /// Headers in order, names as sent (lossily decoded).
    pub headers: Vec<(String, String)>,
    /// The body, chunk framing removed.
    pub body: Vec<u8>,
    /// The server closes the connection after this response.
    pub close: bool,
}

impl ClientResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What [`Connection::skip_response`] keeps of a response: its status, its size, whether the
/// server closes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSummary {
    /// The status code.
    pub status: u16,
    /// The server closes the connection after this response.
    pub close: bool,
}

/// Opens [`Connection`]s with some limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Client {
    limits: ResponseLimits,
}

impl Client {
    /// A client with the default limits (64 KiB head, 16 MiB body).
    pub fn new() -> Client {
        Client::default()
    }

    /// Caps the response body size; longer responses are errors.
    pub fn max_response(mut self, bytes: u64) -> Client {
        self.limits.max_body = bytes;
        self
    }

    /// Connects to `addr` with the default limits.
    pub async fn connect(addr: SocketAddr) -> Result<Connection, ClientError> {
        Client::new().open(addr).await
    }

    /// Connects to `addr` with this client's limits. Must run inside a stage 5 runtime.
    pub async fn open(&self, addr: SocketAddr) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect(addr).await?;
        // Requests are written whole; Nagle would only hold back a pipelined burst's tail.
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            host: addr.to_string(),
            parser: ResponseParser::new(self.limits, false),
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            out: Vec::new(),
            closed: false,
            eof: false,
            bytes_read: 0,
        })
    }
}

/// One keep-alive connection to a server. Requests are answered in order, so they go
/// through `&mut self`: one exchange at a time (or one pipelined batch).
pub struct Connection {
    stream: TcpStream,
    host: String,
    parser: ResponseParser,
    /// The read buffer, reused for every response: `buf[start..end]` is received, unparsed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Serialized requests, reused.
    out: Vec<u8>,
    /// The server said it closes (or closed): no further request can be sent.
    closed: bool,
    /// The socket returned EOF.
    eof: bool,
    /// Bytes received since the last [`Connection::take_bytes_read`].
    bytes_read: u64,
}

impl Connection {
    /// Bytes received since the last call (the load generator's "MB read").
    pub fn take_bytes_read(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_read)
    }

    /// Sets the `Host` header value (default: the address connected to).
    pub fn set_host(&mut self, host: &str) {
        self.host = host.to_string();
    }

    /// Whether the server closed the connection or announced it would (`Connection: close`,
    /// HTTP/1.0). A closed connection refuses new requests with [`ClientError::Closed`].
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Sends `request` and reads its whole response.
    pub async fn send(&mut self, request: &ClientRequest) -> Result<ClientResponse, ClientError> {
        self.out.clear();
        request.write_to(&self.host, &mut self.out)?;
        self.write_out().await?;
        self.read_response(request.is_head()).await
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<ClientResponse, ClientError> {
        self.send(&ClientRequest::get(path)).await
    }

    /// `POST path` with `body`.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> Result<ClientResponse, ClientError> {
        self.send(&ClientRequest::post(path, body)).await
    }

    /// `HEAD path` (the response has headers and no body).
    pub async fn head(&mut self, path: &str) -> Result<ClientResponse, ClientError> {
        self.send(&ClientRequest::head(path)).await
    }

    // ANCHOR: pipelined
    /// Pipelining: writes every request in one go, then reads the responses, which come back
    /// in the same order. The requests must fit in the socket buffers (small GETs do): we
    /// only start reading once they are all written. If the server closes after answering
    /// some of them, the answered ones are lost with the error; use [`Connection::send`] for
    /// requests that must not be repeated.
    pub async fn send_pipelined(
        &mut self,
        requests: &[ClientRequest],
    ) -> Result<Vec<ClientResponse>, ClientError> {
        self.out.clear();
        for request in requests {
            request.write_to(&self.host, &mut self.out)?;
        }
        self.write_out().await?;
        let mut responses = Vec::with_capacity(requests.len());
        for request in requests {
            responses.push(self.read_response(request.is_head()).await?);
        }
        Ok(responses)
    }
    // ANCHOR_END: pipelined

    /// Writes raw request bytes as they are (the load generator's pre-serialized requests).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    async fn write_out(&mut self) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// Reads the next response whole.
    pub async fn read_response(&mut self, head_request: bool) -> Result<ClientResponse, ClientError> {
        let mut response = ClientResponse {
            status: 0,
            reason: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        };
        self.parser.reset(head_request);
        poll_fn(|cx| {
            self.poll_parse(
                cx,
                &mut |event| match event {
                    Seen::Head { head, bytes, headers } => {
                        response.status = head.status;
                        response.close = head.close;
                        response.reason =
                            String::from_utf8_lossy(&bytes[head.reason.0..head.reason.1]).into_owned();
                        response.headers = headers;
                    }
                    Seen::Body(data) => response.body.extend_from_slice(data),
                },
                true,
            )
        })
        .await?;
        Ok(response)
    }

    // ANCHOR: skip_response
    /// Reads the next response and keeps only its status: the load generator's path. Body
    /// bytes are stepped over in the read buffer; in the steady state nothing is allocated.
    pub async fn skip_response(&mut self, head_request: bool) -> Result<ResponseSummary, ClientError> {
        let mut summary = ResponseSummary { status: 0, close: false };
        self.parser.reset(head_request);
        poll_fn(|cx| {
            self.poll_parse(
                cx,
                &mut |event| {
                    if let Seen::Head { head, .. } = event {
                        summary = ResponseSummary { status: head.status, close: head.close };
                    }
                },
                false,
            )
        })
        .await?;
        Ok(summary)
    }
    // ANCHOR_END: skip_response

    // ANCHOR: poll_parse
    /// Drives the parser over the read buffer, reading more whenever it needs more, until the
    /// response is complete. `seen` receives the head (with the headers, collected only if
    /// `keep_headers`) and each body slice.
    fn poll_parse(
        &mut self,
        cx: &mut Context<'_>,
        seen: &mut dyn FnMut(Seen<'_>),
        keep_headers: bool,
    ) -> Poll<Result<(), ClientError>> {
        loop {
            let bytes = &self.buf[self.start..self.end];
            let mut headers = Vec::new();
            let event = self.parser.advance(bytes, |name, value| {
                if keep_headers {
                    headers.push((
                        String::from_utf8_lossy(name).into_owned(),
                        String::from_utf8_lossy(value).into_owned(),
                    ));
                }
            });
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    self.closed = true; // we no longer know where the next response starts
                    return Poll::Ready(Err(e.into()));
                }
            };
            match event {
                ResponseEvent::Head { head, consumed } => {
                    seen(Seen::Head { head: &head, bytes, headers });
                    self.closed |= head.close;
                    self.start += consumed;
                }
                ResponseEvent::Body { data, consumed } => {
                    seen(Seen::Body(data));
                    self.start += consumed;
                }
                ResponseEvent::Done { consumed } => {
                    self.start += consumed;
                    return Poll::Ready(Ok(()));
                }
                ResponseEvent::NeedMore { consumed } => {
                    self.start += consumed;
                    if self.eof {
                        return Poll::Ready(self.at_eof());
                    }
                    match self.poll_fill(cx) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => {
                            self.closed = true;
                            return Poll::Ready(Err(e));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
    // ANCHOR_END: poll_parse

    /// EOF while the parser wanted more: the end of a close-delimited body, a clean close
    /// before the response began, or a truncated response.
    fn at_eof(&mut self) -> Result<(), ClientError> {
        self.closed = true;
        if self.parser.is_fresh() && self.start == self.end {
            return Err(ClientError::Closed);
        }
        self.parser.finish_eof()?;
        Ok(())
    }

    /// Reads more bytes after `buf[start..end]`: moves the unparsed tail to the front first,
    /// and grows the buffer only for a head longer than it (up to the head limit).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.end == self.buf.len() {
                // A head bigger than the buffer: the parser reports HeadTooLarge at its limit.
                let grown = (self.buf.len() * 2).min(self.parser.limits().max_head + READ_CHUNK);
                self.buf.resize(grown.max(self.buf.len() + 1), 0);
            }
        }
        match self.stream.poll_read(cx, &mut self.buf[self.end..]) {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(n)) => {
                self.end += n;
                self.bytes_read += n as u64;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What [`Connection::poll_parse`] shows its caller.
enum Seen<'a> {
    /// The final head, the bytes its `reason` indexes, the headers (if kept).
    Head { head: &'a Head, bytes: &'a [u8], headers: Vec<(String, String)> },
    /// A slice of the body.
    Body(&'a [u8]),
}
