"""Stage 1 in Python: a blocking HTTP/1.0 GET, ten of them one after another.

The twin of stage1-blocking/src/http.rs and src/bin/stage1-client.rs. Every socket call waits:
`connect` for the handshake, `recv` for bytes, `sendall` until the kernel took them all. Ten
requests to a server that answers after 100 ms take about a second.

    python3 docs/python/stage1_blocking.py [--count N] [--delay MS] [--addr HOST:PORT]
"""

import socket

from workshop import run_crawler_demo

MAX_RESPONSE = 16 * 1024 * 1024  # the network's bytes are not ours to trust: bound them


# ANCHOR: request_bytes
def request_bytes(host, path):
    """An HTTP/1.0 GET: request line, Host header, blank line. No body."""
    return f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
# ANCHOR_END: request_bytes


def parse_response(data):
    """Bytes read until the server closed -> (status, reason, headers, body), or ValueError."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("the response ended before its head did")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"not a status line: {status_line!r}")
    headers = []
    for field in fields:
        name, colon, value = field.partition(":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"not a header field: {field!r}")
        headers.append((name, value.strip()))
    for name, value in headers:
        if name.lower() == "content-length":
            if not value.isdigit() or len(body) < int(value):
                raise ValueError(f"the body is shorter than Content-Length: {value}")
            body = body[:int(value)]
    return int(code), reason, headers, body


# ANCHOR: get
def get(addr, path):
    """Connects, sends the request, reads until the server closes: the thread waits in each call."""
    with socket.create_connection(addr) as sock:
        sock.sendall(request_bytes(addr[0], path))  # send() may take only part: sendall loops
        chunks, size = [], 0
        while True:
            chunk = sock.recv(64 * 1024)  # sleeps until bytes (or the end) arrive
            if not chunk:
                break  # b"": the server closed its side, the response is complete
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise ValueError(f"the response is larger than {MAX_RESPONSE} bytes")
    return parse_response(b"".join(chunks))
# ANCHOR_END: get


# ANCHOR: crawl
def crawl(addr, paths, report):
    for path in paths:
        try:
            report.response(path, get(addr, path))  # one whole round trip at a time
        except (OSError, ValueError) as e:
            report.response(path, e)
    return 1  # one thread
# ANCHOR_END: crawl


if __name__ == "__main__":
    run_crawler_demo("stage1.py", "Fetch /1 .. /N one after another, with blocking sockets.", crawl)
