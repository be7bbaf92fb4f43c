#!/usr/bin/env python3
"""What a server keeps per idle connection, and after its clients have gone.

Starts the server command given after `--`, opens N connections that each send one byte and
read it back, then leaves them open and idle, and prints the server's resident memory (VmRSS,
Linux only). Then closes them all, gives the server a moment, and prints it again.

    ulimit -n $(ulimit -Hn)   # N client sockets here, N accepted ones in the server
    cargo build --release -p stage2-select-callbacks
    scripts/idle-rss.py --clients 10000 --addr 127.0.0.1:17002 -- \\
        target/release/stage2-echo --addr 127.0.0.1:17002

A measurement, not a test: it sleeps (to let the server settle) and prints figures.
"""

import argparse
import socket
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def connect(host, port, deadline):
    while True:
        try:
            return socket.create_connection((host, port), timeout=10)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the server is still starting


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--addr", required=True, help="host:port the server listens on")
    parser.add_argument("command", nargs="+", help="the server command line (after --)")
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    port = int(port)

    server = subprocess.Popen(args.command, stdout=subprocess.DEVNULL)
    try:
        first = connect(host, port, time.monotonic() + 30)
        first.close()
        time.sleep(0.5)
        before = rss_kib(server.pid)
        clients = []
        for i in range(args.clients):
            s = connect(host, port, time.monotonic() + 30)
            s.sendall(b"x")
            if s.recv(1) != b"x":
                sys.exit(f"client {i}: no echo")
            clients.append(s)
        time.sleep(1)
        idle = rss_kib(server.pid)
        for s in clients:
            s.close()
        time.sleep(2)
        after = rss_kib(server.pid)
    finally:
        server.kill()
        server.wait()
    n = args.clients
    print(f"{args.command[0]}: RSS {before / 1024:.1f} MiB before, "
          f"{idle / 1024:.1f} MiB with {n} idle connections "
          f"({(idle - before) / n:.2f} KiB each), "
          f"{after / 1024:.1f} MiB after they closed")


if __name__ == "__main__":
    main()
