"""The Python programs' scaffolding: flags, the demo server, the report and the summary line.

This is the twin of stage1-blocking/src/workshop/ on the Rust side: nothing here is part of a
lesson. Each stageN_*.py program hands its crawl to `run_crawler_demo`, which

* reads the same flags as the Rust crawlers (--addr, --count, --delay, --trickle, --help),
* starts the course's demo server (the Rust `stage1-demo-server`, built on first use) unless
  --addr names one, so Python and Rust talk to the very same server,
* prints one line per response and the summary line every stage prints, e.g.
  `stage2.py: 10 requests, 1 thread, 0.104 s`,
* exits 2 with one line on a usage error, 1 if a response was wrong.

Python 3.8+ standard library only.
"""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class UsageError(Exception):
    """A bad flag or value: one line on stderr and exit status 2."""


class UsageParser(argparse.ArgumentParser):
    """argparse, with the course's usage errors: one line, a hint, exit status 2."""

    def error(self, message):
        print(f"error: {message}\ntry '{self.prog} --help'", file=sys.stderr)
        sys.exit(2)


def parse_args(name, about, argv=None):
    parser = UsageParser(prog=name, description=about)
    parser.add_argument("--addr", metavar="ADDR",
                        help="server to fetch from, e.g. 127.0.0.1:8000 (default: start the demo server)")
    parser.add_argument("--count", metavar="N", type=int, default=10, help="fetch /1 .. /N (default 10)")
    parser.add_argument("--delay", metavar="MS", type=int, default=100,
                        help="started demo server: delay per request in ms (default 100)")
    parser.add_argument("--trickle", action="store_true",
                        help="started demo server: send responses in small pieces")
    args = parser.parse_args(argv)
    if args.count < 1:
        raise UsageError(f"--count must be at least 1, not {args.count}")
    if args.delay < 0:
        raise UsageError(f"--delay must not be negative, not {args.delay}")
    if args.addr is not None:
        args.addr = split_addr(args.addr)
    return args


def split_addr(text):
    """'127.0.0.1:8000' -> ('127.0.0.1', 8000), or a UsageError."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"invalid value for --addr: {text!r} (expected HOST:PORT, e.g. 127.0.0.1:8000)")
    return host.strip("[]"), int(port)


def demo_server_binary():
    """The Rust demo server, built with cargo the first time (with a line saying so)."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "debug" / "stage1-demo-server"
    if not binary.exists():
        print("building the demo server (cargo build -p stage1-blocking; first time takes a minute) ...",
              file=sys.stderr, flush=True)
        subprocess.run(["cargo", "build", "-q", "-p", "stage1-blocking", "--bin", "stage1-demo-server"],
                       cwd=REPO, check=True)
    return binary


@contextlib.contextmanager
def demo_server(delay_ms, trickle):
    """Starts the demo server on a free port of 127.0.0.1; yields (host, port); stops it."""
    command = [str(demo_server_binary()), "--addr", "127.0.0.1:0", "--delay", str(delay_ms)]
    if trickle:
        command.append("--trickle")
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        banner = server.stdout.readline()  # "demo server on http://127.0.0.1:PORT (delay ...)"
        found = re.search(r"http://([\d.]+):(\d+)", banner)
        if not found:
            raise RuntimeError(f"the demo server did not start (it said {banner!r})")
        print(banner.rstrip())
        yield found.group(1), int(found.group(2))
    finally:
        server.terminate()
        server.wait()


def expected_body(path):
    """What the demo server sends for `path` (the Rust `expected_body`), None for a 404."""
    number = path[1:]
    if not path.startswith("/") or not number.isdigit() or str(int(number)) != number:
        return None
    n = int(number)
    return (f'<html><title>page {n}</title><p>This is page {n}.</p>'
            f'<a href="/{n + 1}">next</a></html>\n').encode()


class Report:
    """Collects the responses: one line each, checked against what the demo server sends."""

    def __init__(self, checked):
        self.checked = checked
        self.bad = 0

    def response(self, path, result):
        if isinstance(result, Exception):
            print(f"GET {path} -> error: {result}")
            self.bad += 1
            return
        status, reason, _headers, body = result
        print(f"GET {path} -> {status} {reason}, {len(body)} bytes")
        if self.checked and (status != 200 or body != expected_body(path)):
            print(f"GET {path}: not the page the demo server sends", file=sys.stderr)
            self.bad += 1


def run_crawler_demo(name, about, crawl, argv=None):
    """Flags, demo server, timing and summary line around `crawl(addr, paths, report)`.

    `crawl` fetches every path, calls `report.response(path, result)` for each, and returns how
    many threads it used.
    """
    try:
        args = parse_args(name, about, argv)
    except UsageError as e:
        print(f"error: {e}\ntry '{name} --help'", file=sys.stderr)
        sys.exit(2)
    paths = [f"/{n}" for n in range(1, args.count + 1)]
    with contextlib.ExitStack() as stack:
        addr = args.addr or stack.enter_context(demo_server(args.delay, args.trickle))
        report = Report(checked=args.addr is None)
        start = time.perf_counter()
        try:
            threads = crawl(addr, paths, report)
        except OSError as e:
            print(f"error: {name}: {e} (is a server listening on {addr[0]}:{addr[1]}?)", file=sys.stderr)
            sys.exit(1)
        elapsed = time.perf_counter() - start
    plural = "thread" if threads == 1 else "threads"
    print(f"{name}: {len(paths)} requests, {threads} {plural}, {elapsed:.3f} s")
    if report.bad:
        sys.exit(1)
