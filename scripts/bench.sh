#!/usr/bin/env bash
# `just bench`: every benchmark figure quoted in the book, reproducible with one command.
#
# Usage: scripts/bench.sh [runtime|echo|http|all]   (default: all)
#
#   echo     stage 2: 1,000 simultaneous connections each echoing 64 KiB, every byte checked
#   runtime  stage 5 vs tokio's current-thread runtime: spawn, sleeps, pingpong (best of 3 each,
#            run alternately), then idle-connection memory (stage 5 tasks vs stage 1 threads)
#   http     stage 6: the parser micro-bench, then our server against the reference peers with
#            wrk (needs wrk: apt-get install -y wrk), and our load generator against wrk
#
# The reference peers live in ../shared/peers (read-only); they are copied to target/peers and
# built there. They are measuring instruments only, never dependencies of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
root="$PWD"
bin="${CARGO_TARGET_DIR:-$root/target}/bench-release"
peers_src="${PEERS:-$root/../shared/peers}"
peers="$root/target/peers"

say() { printf '\n== %s ==\n' "$*"; }

build_ours() {
  cargo build -q --profile bench-release --workspace --bins
}

copy_peers() {
  [ -d "$peers_src" ] || { echo "reference peers not found at $peers_src (set PEERS=...)" >&2; return 1; }
  mkdir -p "$peers"
  cp -r "$peers_src"/. "$peers"/
  chmod -R u+w "$peers"
  # The pipelined wrk script asks for "/" whatever URLPATH says. The peers answer every path
  # with the same 13 bytes, but our "/" is the workshop's HTML page; ask every server for the
  # same URLPATH so the pipelined rows compare like with like.
  sed -i 's|wrk.format("GET", "/")|wrk.format("GET", os.getenv("URLPATH") or "/")|' "$peers/pipeline16.lua"
  # target/peers sits inside this workspace's directory: an empty [workspace] table tells
  # cargo each peer is a project of its own, not a forgotten member of ours.
  for manifest in "$peers"/*/Cargo.toml; do
    grep -q '^\[workspace\]' "$manifest" || printf '\n[workspace]\n' >> "$manifest"
  done
}

bench_echo() {
  say "stage 2: callback echo server, 1000 connections x 64 KiB"
  "$bin/stage2-echo-bench"
}

best_of_3() {  # best_of_3 LABEL CMD... ; prints the best "<n> in <ms> ms" line of three runs
  local label=$1; shift
  local best="" line ms
  for _ in 1 2 3; do
    line=$("$@" | tail -n 1)
    ms=$(printf '%s\n' "$line" | sed -E 's/.* in ([0-9.]+) ms.*/\1/')
    if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$ms; fi
  done
  printf '%-10s %-28s best of 3: %s ms\n' "$label" "$*" "$best"
}

bench_runtime() {
  copy_peers
  say "building tokio-runtime-bench (reference)"
  (cd "$peers/tokio-runtime-bench" && env -u CARGO_TARGET_DIR cargo build -q --release)
  local tokio="$peers/tokio-runtime-bench/target/release/tokio-runtime-bench"
  say "stage 5 vs tokio current-thread (same workloads, same sizes, same xorshift delays)"
  for w in spawn sleeps pingpong; do
    best_of_3 tokio "$tokio" "$w"
    best_of_3 stage5 "$bin/stage5-bench" "$w"
  done
  say "idle connections: RSS per connection"
  "$bin/stage5-bench" idle
  "$bin/stage5-bench" idle-threads
}

bench_http() {
  say "stage 6: request parser"
  "$bin/stage6-parse-bench"
  command -v wrk >/dev/null || { echo "wrk missing (apt-get install -y wrk): skipping the server runs"; return 0; }
  copy_peers
  say "stage 6 server vs the reference peers (server on CPU 0, wrk -t1 -c50 on CPU 1)"
  local port=18090
  taskset -c 0 "$bin/stage6-server" --addr "127.0.0.1:$port" --bench-hello >/dev/null 2>&1 &
  local pid=$!
  trap 'kill $pid 2>/dev/null' EXIT
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  (cd "$peers" && PID=$pid URLPATH=/hello ./bench.sh "$port")
  python3 "$peers/rss_idle.py" "$port" "$pid" 1000 /hello | sed 's/^/stage6   /'
  kill $pid; wait $pid 2>/dev/null || true
  trap - EXIT
  (cd "$peers" && env -u CARGO_TARGET_DIR RSS=1 ./bench.sh raw hyper)
  say "our load generator vs wrk, both against the raw epoll peer"
  local raw="$peers/raw_epoll_hello/target/release/raw_epoll_hello" rport=18091
  taskset -c 0 "$raw" "$rport" 2>/dev/null &
  local rpid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.1; done
  taskset -c 1 wrk -t1 -c50 -d8s "http://127.0.0.1:$rport/" | grep -E 'Requests/sec'
  taskset -c 1 "$bin/stage6-loadgen" "http://127.0.0.1:$rport/" --connections 50 --duration 8 2>/dev/null | tail -n 12
  kill $rpid; wait $rpid 2>/dev/null || true
}

build_ours
case "$what" in
  echo) bench_echo ;;
  runtime) bench_runtime ;;
  http) bench_http ;;
  all) bench_echo; bench_runtime; bench_http ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
