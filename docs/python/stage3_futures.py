"""Stage 3 in Python: a Future object stands for a result that is not there yet.

The twin of stage3-futures/src/future.rs and src/crawler.rs. The selector no longer holds
callbacks: it resolves futures (`wait_readable(sock)` returns a Future that becomes done when
the socket is), and whoever wants the result attaches a callback to the future. Results, errors
and "what runs next" now have one shape, which stage 4 will drive with generators.

    python3 docs/python/stage3_futures.py [--count N] [--delay MS] [--addr HOST:PORT]
"""

import errno
import selectors
import socket

from stage1_blocking import MAX_RESPONSE, parse_response, request_bytes
from workshop import run_crawler_demo


# ANCHOR: future
class Future:
    """A result that arrives later: `set_result` once, callbacks run when it does."""

    def __init__(self):
        self.done = False
        self.result = None
        self._callbacks = []

    def add_done_callback(self, fn):
        if self.done:
            fn(self)  # already resolved: run it now
        else:
            self._callbacks.append(fn)

    def set_result(self, result):
        assert not self.done, "a future is resolved once"
        self.done, self.result = True, result
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)
# ANCHOR_END: future


# ANCHOR: loop
class EventLoop:
    """Stage 2's selector loop, except that readiness resolves a future."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()

    def wait(self, sock, event):
        """A future that is resolved (with None) when `sock` is ready for `event`."""
        future = Future()

        def ready():
            self.selector.unregister(sock)
            future.set_result(None)

        self.selector.register(sock, event, ready)
        return future

    def run_until(self, is_finished):
        while not is_finished():
            for key, _mask in self.selector.select():
                key.data()
# ANCHOR_END: loop


# ANCHOR: fetch
def fetch(loop, addr, path):
    """Returns a Future of (status, reason, headers, body) or of the exception that stopped it."""
    outcome = Future()
    sock = socket.socket()
    sock.setblocking(False)
    request = request_bytes(addr[0], path)
    chunks = []

    def fail(error):
        sock.close()
        outcome.set_result(error)

    def on_connected(_):
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return fail(OSError(err, "connect failed"))
        send_rest(request)

    def send_rest(rest):
        try:
            rest = rest[sock.send(rest):]
        except BlockingIOError:
            pass
        except OSError as e:
            return fail(e)
        if rest:
            loop.wait(sock, selectors.EVENT_WRITE).add_done_callback(lambda _: send_rest(rest))
        else:
            loop.wait(sock, selectors.EVENT_READ).add_done_callback(on_readable)

    def on_readable(_):
        try:
            chunk = sock.recv(64 * 1024)
        except BlockingIOError:
            chunk = None  # woken for nothing
        except OSError as e:
            return fail(e)
        if chunk:
            chunks.append(chunk)
            if sum(map(len, chunks)) > MAX_RESPONSE:
                return fail(ValueError(f"the response is larger than {MAX_RESPONSE} bytes"))
        if chunk != b"":
            loop.wait(sock, selectors.EVENT_READ).add_done_callback(on_readable)
            return
        sock.close()
        try:
            outcome.set_result(parse_response(b"".join(chunks)))
        except ValueError as e:
            outcome.set_result(e)

    err = sock.connect_ex(addr)
    if err not in (0, errno.EINPROGRESS):
        fail(OSError(err, "connect failed"))
    else:
        loop.wait(sock, selectors.EVENT_WRITE).add_done_callback(on_connected)
    return outcome
# ANCHOR_END: fetch


# ANCHOR: crawl
def crawl(addr, paths, report):
    loop = EventLoop()
    futures = {path: fetch(loop, addr, path) for path in paths}
    for path, future in futures.items():
        future.add_done_callback(lambda f, path=path: report.response(path, f.result))
    loop.run_until(lambda: all(f.done for f in futures.values()))
    return 1
# ANCHOR_END: crawl


if __name__ == "__main__":
    run_crawler_demo("stage3.py", "Fetch /1 .. /N concurrently: callbacks attached to Future objects.", crawl)
