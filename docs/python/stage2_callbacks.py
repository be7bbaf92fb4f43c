"""Stage 2 in Python: non-blocking sockets, one selector, callbacks.

The twin of stage2-select-callbacks/src/crawler.rs. Every request starts at once; the loop
sleeps in `select()` until some socket is ready and runs the callback registered for it.
A request's steps are split across functions (connected -> writable -> readable): the state
that a blocking function kept in local variables now travels in closures. Ten requests take
about one latency.

This is the crawler of "A Web Crawler With asyncio Coroutines" (A. Jesse Jiryu Davis and Guido
van Rossum, 500 Lines or Less), first version, with its loose ends tied: a `send` that takes
only part of the request, a connect that failed, a response that never ends.

    python3 docs/python/stage2_callbacks.py [--count N] [--delay MS] [--addr HOST:PORT]
"""

import errno
import selectors
import socket

from stage1_blocking import MAX_RESPONSE, parse_response, request_bytes
from workshop import run_crawler_demo

selector = selectors.DefaultSelector()
pending = 0  # requests not finished yet: the loop runs while there are any


# ANCHOR: fetch
def fetch(addr, path, report):
    """Starts one request and returns at once; callbacks do the rest."""
    global pending
    pending += 1
    sock = socket.socket()
    sock.setblocking(False)
    err = sock.connect_ex(addr)  # EINPROGRESS: the handshake goes on without us
    if err not in (0, errno.EINPROGRESS):
        return finish(sock, path, report, OSError(err, "connect failed"))
    request = request_bytes(addr[0], path)
    selector.register(sock, selectors.EVENT_WRITE, lambda: connected(sock, path, request, report))


def connected(sock, path, request, report):
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # did the connect succeed?
    if err:
        return finish(sock, path, report, OSError(err, "connect failed"))
    writable(sock, path, request, report)


def writable(sock, path, request, report):
    try:
        sent = sock.send(request)  # may take only part of it: keep the rest for next time
    except BlockingIOError:
        sent = 0
    except OSError as e:
        return finish(sock, path, report, e)
    rest = request[sent:]
    if rest:
        selector.modify(sock, selectors.EVENT_WRITE, lambda: writable(sock, path, rest, report))
        return
    chunks = []
    selector.modify(sock, selectors.EVENT_READ, lambda: readable(sock, path, chunks, report))


def readable(sock, path, chunks, report):
    try:
        chunk = sock.recv(64 * 1024)
    except BlockingIOError:
        return  # woken for nothing: stay registered, wait again
    except OSError as e:
        return finish(sock, path, report, e)
    if chunk:
        chunks.append(chunk)
        if sum(map(len, chunks)) > MAX_RESPONSE:
            finish(sock, path, report, ValueError(f"the response is larger than {MAX_RESPONSE} bytes"))
        return  # still registered for reading: the same callback runs on the next chunk
    try:
        result = parse_response(b"".join(chunks))  # b"": the server closed, the response is whole
    except ValueError as e:
        result = e
    finish(sock, path, report, result)


def finish(sock, path, report, result):
    global pending
    if sock.fileno() in selector.get_map():
        selector.unregister(sock)  # unregister before close: the fd number may be reused
    sock.close()
    report.response(path, result)
    pending -= 1
# ANCHOR_END: fetch


# ANCHOR: loop
def crawl(addr, paths, report):
    for path in paths:
        fetch(addr, path, report)
    while pending:
        for key, _mask in selector.select():  # sleeps until a socket is ready
            callback = key.data
            callback()
    return 1  # one thread, all requests in flight together
# ANCHOR_END: loop


if __name__ == "__main__":
    run_crawler_demo("stage2.py", "Fetch /1 .. /N concurrently: one selector, callbacks.", crawl)
