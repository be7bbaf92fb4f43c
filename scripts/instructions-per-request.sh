#!/usr/bin/env bash
# A maintainer's tool: how many user-space instructions stage6-server spends on one keep-alive
# `GET /hello`, counted by valgrind's callgrind. Wall-clock benchmarks move by several per cent
# from one run to the next on a shared machine; an instruction count moves by well under one, so
# this is the number to compare before and after a refactoring of the server's hot path.
#
# Usage: scripts/instructions-per-request.sh        (needs valgrind: apt-get install -y valgrind)
#
# What it does:
#   1. cargo build --release -p stage6-http --bins
#   2. starts the release `stage6-server --bench-hello --addr 127.0.0.1:0` under
#      `valgrind --tool=callgrind` (one worker thread) and reads the port it printed;
#   3. drives it with the release `stage6-loadgen`: 10 keep-alive connections, one request in
#      flight on each (--pipeline 1), against /hello, for --requests N;
#   4. stops the server with SIGTERM (it shuts down gracefully, so callgrind writes its file)
#      and takes the total instruction count (Ir) of the whole run;
#   5. does 2 to 4 twice, with 2,000 and with 22,000 requests. Start-up, the 10 connects and
#      the shutdown cost the same in both runs, so the difference divided by 20,000 is the
#      price of one request on an open connection:
#
#        instructions per keep-alive GET /hello: N
#
# The load generator itself runs natively (it is not counted). Figures depend on the compiler
# version; compare two commits with the same toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install -y valgrind)" >&2; exit 1; }

cargo build -q --release -p stage6-http --bins
bin="${CARGO_TARGET_DIR:-$PWD/target}/release"
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# count REQUESTS: prints the instructions the server ran while serving REQUESTS requests.
count() {
  local requests=$1 out="$work/callgrind.$1" log="$work/server.$1" port=""
  valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$work/valgrind.$1" \
    "$bin/stage6-server" --bench-hello --addr 127.0.0.1:0 >"$log" 2>&1 &
  server_pid=$!
  # The server prints "listening on http://127.0.0.1:PORT" once it is bound (slowly, under valgrind).
  for _ in $(seq 1 600); do
    port=$(sed -nE 's|.*listening on http://127\.0\.0\.1:([0-9]+).*|\1|p' "$log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; echo "server died at start" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "server did not print its address" >&2; exit 1; }
  "$bin/stage6-loadgen" "http://127.0.0.1:$port/hello" --connections 10 --pipeline 1 \
    --requests "$requests" --timeout 60000 >"$work/loadgen.$1" 2>&1 \
    || { cat "$work/loadgen.$1" >&2; exit 1; }
  kill -TERM "$server_pid"
  wait "$server_pid" || { cat "$log" >&2; echo "server did not exit cleanly" >&2; exit 1; }
  server_pid=""
  # callgrind's output ends with "totals: <Ir>" (or "summary: <Ir>" in older versions).
  sed -nE 's/^(totals|summary): *([0-9]+).*/\2/p' "$out" | tail -n 1
}

small=$(count 2000)
large=$(count 22000)
echo "instructions for 2,000 requests: $small; for 22,000: $large"
echo "instructions per keep-alive GET /hello: $(( (large - small) / 20000 ))"
