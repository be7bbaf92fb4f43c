#!/usr/bin/env python3
"""Memory a server spends on each idle keep-alive connection.

Usage: rss_idle.py PORT PID [N=1000] [PATH=/]

Reads the resident memory (RSS) of process PID, opens N connections to 127.0.0.1:PORT, sends
one `GET PATH` on each and reads the whole answer (so every connection has been served once and
is now idle, as a browser's kept-alive connection is), waits a second, reads the RSS again and
checks that every connection is still open. Prints one line:

    base_rss_kb=... idle_rss_kb=... conns=N per_conn_kb=...

where per_conn_kb = (idle_rss_kb - base_rss_kb) / N. The server should be freshly started: a
process that already held more connections keeps some of that memory.
"""

import resource
import socket
import subprocess
import sys
import time


def rss_kb(pid):
    """VmRSS of pid in kB: from /proc on Linux, from ps elsewhere."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return int(subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True,
                              check=True).stdout.strip())


def read_answer(sock):
    """Reads one response with a Content-Length body; returns False if the server hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        body += chunk
    return True


def still_open(sock):
    """True if nothing (in particular no end of stream) is waiting on the socket."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2])
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    path = sys.argv[4] if len(sys.argv) > 4 else "/"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n + 50:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    base = rss_kb(pid)
    conns = []
    for i in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(request)
        if not read_answer(sock):
            sys.exit(f"rss_idle: the server closed connection {i} before answering")
        conns.append(sock)
    time.sleep(1.0)  # let the server go quiet with every connection idle
    idle = rss_kb(pid)
    open_ = sum(still_open(sock) for sock in conns)
    for sock in conns:
        sock.close()
    print(f"base_rss_kb={base} idle_rss_kb={idle} conns={open_} per_conn_kb={(idle - base) / n:.1f}")


if __name__ == "__main__":
    main()
