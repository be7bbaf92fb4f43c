"""Stage 6 in Python: a small HTTP/1.1 server on asyncio, keep-alive included.

The twin, in spirit, of stage6-http (whose parser, router and limits are much stricter): one
coroutine per connection reads a request head, answers, and loops while the client keeps the
connection alive. Bad input gets a 4xx and the connection closes; the rest keeps serving.

    python3 docs/python/stage6_server.py [--port N]        serve until Ctrl-C
    python3 docs/python/stage6_server.py --selftest N       serve on a free port, send N
                                                            keep-alive requests, check, exit
"""

import asyncio
import json
import signal
import sys
import time

from workshop import UsageParser

MAX_HEAD = 8 * 1024  # bytes of request head we accept (431 beyond)
MAX_BODY = 1024 * 1024  # bytes of body we accept (413 beyond)
IDLE_TIMEOUT = 10  # seconds a keep-alive connection may wait for its next request
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Content Too Large", 431: "Request Header Fields Too Large", 505: "HTTP Version Not Supported"}


class BadRequest(Exception):
    def __init__(self, status, why):
        super().__init__(why)
        self.status = status


# ANCHOR: parse
def parse_head(head):
    """b'GET /x HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n' -> (method, target, version, {name: value})."""
    lines = head.decode("latin-1").split("\r\n")[:-2]
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/"):
        raise BadRequest(400, f"not a request line: {lines[0]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest(505 if version.startswith("HTTP/") else 400, f"version {version!r}")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, f"not a header field: {line!r}")
        name = name.lower()
        if name in headers and name in ("content-length", "host"):
            raise BadRequest(400, f"{name} twice")
        headers[name] = value.strip()
    if "transfer-encoding" in headers:
        raise BadRequest(400, "this small server reads no chunked bodies")
    return method, target, version, headers
# ANCHOR_END: parse


# ANCHOR: route
def route(method, target, body):
    """The application: (status, content type, body bytes)."""
    if target == "/hello" and method in ("GET", "HEAD"):
        return 200, "text/plain", b"Hello, world!"
    if target == "/json" and method in ("GET", "HEAD"):
        return 200, "application/json", json.dumps({"message": "Hello, world!"}).encode()
    if target == "/echo":
        if method != "POST":
            return 405, "text/plain", b"POST only\n"
        return 200, "application/octet-stream", body
    return 404, "text/plain", b"not found\n"
# ANCHOR_END: route


def response_bytes(status, content_type, body, keep_alive, head_only=False):
    head = (f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n" + ("" if keep_alive else "Connection: close\r\n") + "\r\n")
    return head.encode() + (b"" if head_only else body)


# ANCHOR: connection
async def serve_connection(reader, writer, stats):
    try:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                return  # the client left (or idled too long) between requests
            except asyncio.LimitOverrunError:
                raise BadRequest(431, "request head too large")
            method, target, version, headers = parse_head(head)
            length = headers.get("content-length", "0")
            if not length.isdigit():
                raise BadRequest(400, f"Content-Length {length!r}")
            if int(length) > MAX_BODY:
                raise BadRequest(413, f"a body of {length} bytes")
            body = await reader.readexactly(int(length))
            wants_close = headers.get("connection", "").lower() == "close"
            keep_alive = version == "HTTP/1.1" and not wants_close
            status, content_type, payload = route(method, target, body)
            writer.write(response_bytes(status, content_type, payload, keep_alive, method == "HEAD"))
            await writer.drain()  # back-pressure: wait while the client reads slowly
            stats["requests"] += 1
            if not keep_alive:
                return
    except BadRequest as e:
        writer.write(response_bytes(e.status, "text/plain", f"{e}\n".encode(), keep_alive=False))
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client went away in the middle of a request
    finally:
        writer.close()
# ANCHOR_END: connection


async def selftest(port, count, stats):
    """N keep-alive requests over one connection, each answer checked byte for byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    expected = response_bytes(200, "text/plain", b"Hello, world!", keep_alive=True)
    for _ in range(count):
        writer.write(b"GET /hello HTTP/1.1\r\nHost: selftest\r\n\r\n")
        answer = await reader.readexactly(len(expected))
        if answer != expected:
            raise SystemExit(f"error: unexpected answer {answer!r}")
    writer.write(b"GET /nope HTTP/1.1\r\nHost: selftest\r\nConnection: close\r\n\r\n")
    if not (await reader.read()).startswith(b"HTTP/1.1 404 "):
        raise SystemExit("error: /nope did not answer 404")
    writer.close()


async def main(args):
    stats = {"requests": 0}
    server = await asyncio.start_server(lambda r, w: serve_connection(r, w, stats), "127.0.0.1",
                                        0 if args.selftest else args.port, limit=MAX_HEAD)
    port = server.sockets[0].getsockname()[1]
    start = time.perf_counter()
    async with server:
        if args.selftest:
            await selftest(port, args.selftest, stats)
        else:
            print(f"stage6.py listening on http://127.0.0.1:{port}/hello (Ctrl-C stops it)", flush=True)
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
    print(f"stage6.py: {stats['requests']} requests, 1 thread, {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    parser = UsageParser(prog="stage6.py", description="A small HTTP/1.1 server on asyncio.")
    parser.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (default 8081)")
    parser.add_argument("--selftest", type=int, metavar="N", default=0,
                        help="serve on a free port, send N keep-alive requests, check them, exit")
    try:
        asyncio.run(main(parser.parse_args()))
    except OSError as e:
        print(f"error: stage6.py: {e}", file=sys.stderr)
        sys.exit(1)
