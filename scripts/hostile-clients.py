#!/usr/bin/env python3
"""Two hostile-client measurements of the release stage6-server (Linux: reads /proc).

  scripts/hostile-clients.py trickle   20 connections each send 600 kB of chunked body in
                                       1-byte chunks and never finish; prints the server's RSS
                                       growth per connection.
  scripts/hostile-clients.py hangup    1,000 clients ask for /sleep?ms=5000 and reset; prints
                                       how long until the server (1,000 places) serves a new
                                       client again.

Build first: cargo build --release -p stage6-http --bins
"""

import socket
import struct
import subprocess
import sys
import time

SERVER = "target/release/stage6-server"


def start(*args):
    proc = subprocess.Popen([SERVER, "--addr", "127.0.0.1:0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    banner = proc.stdout.readline()
    host, port = banner.split("http://")[1].split(" ")[0].split(":")
    return proc, (host, int(port))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def get_hello(addr):
    with socket.create_connection(addr) as s:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return s.recv(4096)


def trickle(connections=20, body=600_000):
    proc, addr = start()
    get_hello(addr)
    before = rss_kib(proc.pid)
    socks = []
    framing = b"1\r\nx\r\n" * body
    for _ in range(connections):
        s = socket.create_connection(addr)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        socks.append(s)
    for s in socks:
        s.sendall(framing)  # 3 MB of framing for 600 kB of body; no last chunk
    time.sleep(2)  # let the server read everything that was sent (a measurement, not a test)
    after = rss_kib(proc.pid)
    grown = (after - before) / connections
    print(f"trickle: RSS {before} KiB -> {after} KiB with {connections} connections "
          f"holding {body} bytes of chunked body each: {grown:.0f} KiB per connection")
    proc.terminate()
    proc.wait()


def hangup(clients=1000):
    proc, addr = start("--max-connections", str(clients))
    socks = []
    for _ in range(clients):
        s = socket.create_connection(addr)
        s.sendall(b"GET /sleep?ms=5000 HTTP/1.1\r\nHost: t\r\n\r\n")
        socks.append(s)
    time.sleep(0.5)  # every request reaches its handler
    reset_at = time.monotonic()
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    # One new client at a time: it is served once the server has freed a place.
    while not get_hello(addr).startswith(b"HTTP/1.1 200"):
        pass
    first = time.monotonic() - reset_at
    # All places free: `clients` connections held open at once, every one answered.
    held = []
    for _ in range(clients):
        s = socket.create_connection(addr)
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        held.append(s)
    ok = sum(1 for s in held if s.recv(4096).startswith(b"HTTP/1.1 200"))
    every = time.monotonic() - reset_at
    print(f"hangup: {clients} clients reset during /sleep?ms=5000; a new client served after "
          f"{first * 1000:.0f} ms; {ok} of {clients} new clients served at once "
          f"{every * 1000:.0f} ms after the resets")
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    {"trickle": trickle, "hangup": hangup}[sys.argv[1] if len(sys.argv) > 1 else "trickle"]()
