"""Stage 4 in Python: generators yield futures; a Task steps them; a scheduler runs the tasks.

The twin of stage4-tasks/src/coroutine.rs, task.rs and scheduler.rs. A request is written top
to bottom again, as in stage 1, but each wait is a `yield` of a future. The Task sends the
future's result back into the generator when the future resolves: `Task.step` is the future's
callback. `yield from` delegates to a sub-coroutine (`send_all`, `read_to_end`). In Rust,
stage 4 writes these generators by hand as state machines; stage 5's `async fn` is this file.

This follows the third crawler of "A Web Crawler With asyncio Coroutines" (500 Lines or Less)
and the Task/Scheduler of Python Cookbook recipe 12.12 (generators as tasks).

    python3 docs/python/stage4_tasks.py [--count N] [--delay MS] [--addr HOST:PORT]
"""

import collections
import errno
import selectors
import socket

from stage1_blocking import MAX_RESPONSE, parse_response, request_bytes
from stage3_futures import Future
from workshop import run_crawler_demo


# ANCHOR: scheduler
class Scheduler:
    """A ready queue of steps to run, and stage 3's selector turning readiness into results."""

    def __init__(self):
        self.ready = collections.deque()
        self.selector = selectors.DefaultSelector()
        self.tasks = 0  # tasks not finished yet

    def call_soon(self, fn, *args):
        self.ready.append((fn, args))

    def wait(self, sock, event):
        future = Future()

        def on_ready():
            self.selector.unregister(sock)
            future.set_result(None)

        self.selector.register(sock, event, on_ready)
        return future

    def run(self):
        while self.tasks:
            while self.ready:  # run everything that can run...
                fn, args = self.ready.popleft()
                fn(*args)
            if self.tasks:  # ...then sleep until a socket is ready
                for key, _mask in self.selector.select():
                    key.data()
# ANCHOR_END: scheduler


# ANCHOR: task
class Task(Future):
    """Drives a generator: each future it yields, once resolved, sends its result back in."""

    def __init__(self, scheduler, coroutine):
        super().__init__()
        self.scheduler, self.coroutine = scheduler, coroutine
        scheduler.tasks += 1
        scheduler.call_soon(self.step, None)

    def step(self, value):
        try:
            future = self.coroutine.send(value)  # run until the next yield
        except StopIteration as done:  # the generator returned: that is the task's result
            self.scheduler.tasks -= 1
            self.set_result(done.value)
            return
        # The future's callback puts the next step on the ready queue.
        future.add_done_callback(lambda f: self.scheduler.call_soon(self.step, f.result))
# ANCHOR_END: task


# ANCHOR: get
def send_all(scheduler, sock, data):
    while data:
        try:
            data = data[sock.send(data):]
        except BlockingIOError:
            yield scheduler.wait(sock, selectors.EVENT_WRITE)


def read_to_end(scheduler, sock):
    chunks, size = [], 0
    while True:
        try:
            chunk = sock.recv(64 * 1024)
        except BlockingIOError:
            yield scheduler.wait(sock, selectors.EVENT_READ)
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_RESPONSE:
            raise ValueError(f"the response is larger than {MAX_RESPONSE} bytes")


def get(scheduler, addr, path):
    """Stage 1's get, with a yield wherever stage 1 blocked."""
    with socket.socket() as sock:
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        if err == errno.EINPROGRESS:
            yield scheduler.wait(sock, selectors.EVENT_WRITE)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect failed")
        yield from send_all(scheduler, sock, request_bytes(addr[0], path))
        data = yield from read_to_end(scheduler, sock)
    return parse_response(data)
# ANCHOR_END: get


# ANCHOR: crawl
def fetch(scheduler, addr, path, report):
    try:
        result = yield from get(scheduler, addr, path)
    except (OSError, ValueError) as e:
        result = e
    report.response(path, result)


def crawl(addr, paths, report):
    scheduler = Scheduler()
    for path in paths:
        Task(scheduler, fetch(scheduler, addr, path, report))
    scheduler.run()
    return 1
# ANCHOR_END: crawl


if __name__ == "__main__":
    run_crawler_demo("stage4.py", "Fetch /1 .. /N concurrently: generators stepped by tasks.", crawl)
