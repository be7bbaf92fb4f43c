#!/usr/bin/env bash
# `just bench`: the benchmark figures quoted in the book, from a clone of this repository.
#
# Usage: scripts/bench.sh [echo|runtime|http|all]   (default: all)
#
#   echo     stage 2: 1,000 simultaneous connections each echoing 64 KiB, every byte checked
#   runtime  stage 5 against tokio's current-thread runtime, same workloads (spawn, sleeps,
#            pingpong; three rounds, the two run alternately, best of 3 kept), then the memory
#            of an idle connection (stage 5 tasks against stage 1 threads)
#   http     stage 6: the parser micro-bench; then our server, the raw epoll server, hyper and
#            nginx, one at a time: memory per idle keep-alive connection and wrk's figures;
#            then our load generator against wrk
#
# The reference programs ("peers": tokio, hyper, a raw epoll server, nginx's config) are in
# scripts/peers/. They are measuring instruments, not part of the workspace: this script builds
# them on first use into target/peers, with the same settings as our `bench-release` profile.
# Optional: taskset (server on CPU 0, client on CPU 1), wrk and nginx (apt-get install -y wrk
# nginx-light). Whatever is missing is named, and the rows that need it are skipped.
# Settings from the environment: DUR=8s (each wrk run), CONNS=50, PIPE=16, IDLE_CONNS=1000,
# SERVER_CPU=0, CLIENT_CPU=1, BASEPORT=18090 (four ports from there).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
what=${1:-all}

usage() { sed -n '2,20p' "$0" | cut -c3-; }
case "$what" in
  echo | runtime | http | all) ;;
  -h | --help) usage; exit 0 ;;
  *) { echo "error: no benchmark \"$what\""; usage; } >&2; exit 2 ;;
esac

target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target=$root/$target ;; esac
bin=$target/bench-release      # ours
peers=$root/scripts/peers      # the reference programs' sources
peers_bin=$target/peers/release
logs=$target/bench-logs        # wrk's and the servers' raw output
mkdir -p "$logs"

DUR=${DUR:-8s}
CONNS=${CONNS:-50}
export PIPE=${PIPE:-16}        # read by scripts/peers/pipeline.lua
IDLE_CONNS=${IDLE_CONNS:-1000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BASEPORT=${BASEPORT:-18090}

# Thousands of connections at once: take the hard limit on descriptors (children inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say() { printf '\n== %s ==\n' "$*"; }
note() { printf 'note: %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# Building

# build_ours PACKAGE:BINARY... : our benchmark binaries, bench-release profile.
build_ours() {
  local args=() item names=()
  for item in "$@"; do
    args+=(-p "${item%%:*}" --bin "${item#*:}")
    names+=("${item#*:}")
  done
  say "building ${names[*]} (bench-release: fat LTO, one codegen unit; first time: a few minutes) ..."
  nice cargo build --profile bench-release "${args[@]}"
}

# build_peer NAME : scripts/peers/NAME, its own Cargo project with its own Cargo.lock.
peers_announced=""
build_peer() {
  local name=$1
  if [ -z "$peers_announced" ]; then
    if [ -x "$peers_bin/$name" ]; then
      say "building the reference peers (already built: checking they are up to date) ..."
    else
      say "building the reference peers (first time: a few minutes) ..."
    fi
    peers_announced=1
  fi
  echo "-- scripts/peers/$name"
  nice cargo build --release --locked --manifest-path "$peers/$name/Cargo.toml" \
    --target-dir "$target/peers"
}

# ---------------------------------------------------------------------------------------------
# Pinning and servers

pinning=""
if have taskset; then
  pinning=1
fi
pinning_noted=""
note_pinning() {
  if [ -z "$pinning" ] && [ -z "$pinning_noted" ]; then
    note "taskset not found: no pinning (server and client share every CPU; figures are noisier)"
    pinning_noted=1
  fi
}

# on_cpu CPU COMMAND... : runs COMMAND pinned to CPU when taskset is there.
on_cpu() {
  local cpu=$1
  shift
  if [ -n "$pinning" ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server NAME PORT COMMAND... : starts it on SERVER_CPU, waits (10 s at most) until the
# port answers; sets server_pid (taskset execs the command, so $! is the server itself).
server_pid=""
start_server() {
  local name=$1 port=$2
  shift 2
  if port_open "$port"; then
    echo "port $port is already taken by another program: skipping $name (set BASEPORT=...)" >&2
    return 1
  fi
  if [ -n "$pinning" ]; then
    taskset -c "$SERVER_CPU" "$@" >"$logs/$name.log" 2>&1 &
  else
    "$@" >"$logs/$name.log" 2>&1 &
  fi
  server_pid=$!
  local _
  for _ in $(seq 100); do
    port_open "$port" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start listening on $port (its output: $logs/$name.log)" >&2
  stop_server
  return 1
}

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# ---------------------------------------------------------------------------------------------
# echo

bench_echo() {
  build_ours stage2-select-callbacks:stage2-echo-bench
  say "stage 2: callback echo server, 1000 connections x 64 KiB"
  "$bin/stage2-echo-bench"
}

# ---------------------------------------------------------------------------------------------
# runtime

# run_ms COMMAND... : runs one workload, prints the milliseconds of its last line
# ("<workload>: <n> in <ms> ms").
run_ms() {
  local line
  line=$("$@" | tail -n 1) || { echo "failed: $*" >&2; return 1; }
  printf '%s\n' "$line" | sed -E 's/.* in ([0-9.]+) ms$/\1/'
}

# lowest NUMBER... : the smallest of its arguments.
lowest() { printf '%s\n' "$@" | sort -n | head -n 1; }

bench_runtime() {
  build_ours stage5-async-await:stage5-bench
  build_peer tokio-runtime
  local tokio=$peers_bin/tokio-runtime ours=$bin/stage5-bench w t s
  say "stage 5 against tokio current-thread: same workloads, same sizes; 3 rounds, alternately"
  printf '%-9s %-7s %10s   %s\n' workload runtime best "the three runs (ms)"
  for w in spawn sleeps pingpong; do
    local tokio_runs=() our_runs=()
    for _ in 1 2 3; do
      t=$(run_ms "$tokio" "$w")
      s=$(run_ms "$ours" "$w")
      tokio_runs+=("$t")
      our_runs+=("$s")
    done
    printf '%-9s %-7s %7s ms   %s\n' "$w" tokio "$(lowest "${tokio_runs[@]}")" "${tokio_runs[*]}"
    printf '%-9s %-7s %7s ms   %s\n' "$w" stage5 "$(lowest "${our_runs[@]}")" "${our_runs[*]}"
  done
  say "idle connections: memory per connection (stage 5 tasks, then stage 1 threads)"
  "$ours" idle
  "$ours" idle-threads
}

# ---------------------------------------------------------------------------------------------
# http

tick=$(getconf CLK_TCK 2>/dev/null || echo 100)

# cpu_ticks PID : user + system CPU time of PID in clock ticks (empty where /proc is missing).
cpu_ticks() {
  if [ -r "/proc/$1/stat" ]; then awk '{print $14 + $15}' "/proc/$1/stat"; fi
}

wrk_header() {
  printf '%-8s %-7s %11s %9s %9s %8s %10s %8s  %s\n' \
    server mode req/s avg_lat p99_lat srv_cpu srv_us/req wrk_cpu errors
}

# wrk_row NAME MODE PORT PID : one wrk run (MODE plain, or pipe for PIPE requests per write),
# one row. srv_cpu: the server's CPU time over the run's wall time; srv_us/req: the server's CPU
# microseconds per answer (what does not depend on how fast the client is); wrk_cpu near 100%
# means the client was the limit.
wrk_row() {
  local name=$1 mode=$2 port=$3 pid=$4 out script=() c0 c1 times
  out=$logs/$name-$mode.txt
  if [ "$mode" != plain ]; then script=(-s "$peers/pipeline.lua"); fi
  c0=$(cpu_ticks "$pid")
  times=$({ TIMEFORMAT='%R %U %S'; time on_cpu "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DUR" --latency \
    ${script[@]+"${script[@]}"} "http://127.0.0.1:$port/hello" >"$out" 2>&1; } 2>&1)
  c1=$(cpu_ticks "$pid")
  awk -v name="$name" -v mode="$mode" -v c0="$c0" -v c1="$c1" -v tick="$tick" -v times="$times" '
    /^ +Latency +[0-9]/ { avg = $2 }   # not "Latency Distribution"
    /^ +99%/          { p99 = $2 }
    / requests in /   { n = $1 }
    /^Requests\/sec/  { rps = $2 }
    /Socket errors/   { err = $0; sub(/.*Socket errors: */, "", err); gsub(/ /, "", err) }
    /Non-2xx/         { non2xx = $NF }
    END {
      split(times, t, " ")   # wall, user, system seconds of wrk
      wrk_cpu = (t[1] > 0) ? sprintf("%.0f%%", (t[2] + t[3]) / t[1] * 100) : "n/a"
      srv_cpu = "n/a"; us = "n/a"
      if (c0 != "" && c1 != "" && t[1] > 0) {
        cpu = (c1 - c0) / tick
        srv_cpu = sprintf("%.0f%%", cpu / t[1] * 100)
        if (n > 0) us = sprintf("%.2f", cpu * 1e6 / n)
      }
      if (mode != "plain") p99 = "n/a"   # per batch, not per request: not comparable
      if (avg == "") avg = "n/a"
      if (p99 == "") p99 = "n/a"
      if (rps == "") rps = "failed"
      e = (err == "" ? "none" : err) (non2xx == "" ? "" : ",non2xx=" non2xx)
      printf "%-8s %-7s %11s %9s %9s %8s %10s %8s  %s\n", name, mode, rps, avg, p99, srv_cpu, us, wrk_cpu, e
    }' "$out"
}

# measure_server NAME PORT COMMAND... : a fresh server: its idle RSS line, then wrk's rows.
rss_lines=()
measure_server() {
  local name=$1 port=$2 line
  shift 2
  start_server "$name" "$port" "$@" || return 0
  if [ -n "$python" ]; then
    line=$("$python" "$peers/rss_idle.py" "$port" "$server_pid" "$IDLE_CONNS" /hello 2>&1) || true
    rss_lines+=("$(printf '%-8s %s' "$name" "$line")")
    sleep 0.5
  fi
  if [ -n "$wrk" ]; then
    on_cpu "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port/hello" >/dev/null 2>&1 || true
    wrk_row "$name" plain "$port" "$server_pid"
    if [ "$PIPE" -gt 0 ]; then wrk_row "$name" "pipe$PIPE" "$port" "$server_pid"; fi
  fi
  stop_server
  sleep 1 # let the closed connections' TIME_WAIT and the CPU settle
}

bench_http() {
  build_ours stage6-http:stage6-parse-bench stage6-http:stage6-server stage6-http:stage6-loadgen
  say "stage 6: request parser"
  "$bin/stage6-parse-bench"

  wrk="" nginx="" python="" linux=""
  if have wrk; then wrk=wrk; else note "wrk not found (apt-get install -y wrk): no req/s rows"; fi
  if have nginx; then nginx=$(command -v nginx)
  elif [ -x /usr/sbin/nginx ]; then nginx=/usr/sbin/nginx
  else note "nginx not found (apt-get install -y nginx-light): no nginx rows"; fi
  if have python3; then python=python3; else note "python3 not found: no idle-memory rows"; fi
  if [ "$(uname -s)" = Linux ]; then linux=1; else note "not Linux: no rows for the raw epoll server"; fi
  note_pinning

  build_peer hyper-hello
  if [ -n "$linux" ]; then build_peer epoll-hello; fi

  if [ -n "$wrk" ] || [ -n "$python" ]; then
    compare_servers
  else
    note "neither wrk nor python3: no server rows"
  fi
  if [ -n "$linux" ]; then loadgen_against_wrk; fi
}

# One server at a time, each freshly started: our stage 6 server, then the reference servers.
compare_servers() {
  local plan="" where=""
  if [ -n "$pinning" ]; then where=" on CPU $SERVER_CPU"; fi
  if [ -n "$python" ]; then plan="idle memory"; fi
  if [ -n "$wrk" ]; then
    plan="${plan:+$plan, }a 2 s warm-up, then wrk -t1 -c$CONNS -d$DUR${pinning:+ on CPU $CLIENT_CPU}, plain and pipelined"
  fi
  say "our server, the raw epoll server, hyper, nginx: one at a time, freshly started$where; each: $plan"
  if [ -n "$wrk" ]; then wrk_header; fi
  measure_server stage6 "$BASEPORT" "$bin/stage6-server" --addr "127.0.0.1:$BASEPORT" --bench-hello
  if [ -n "$linux" ]; then
    measure_server epoll "$((BASEPORT + 1))" "$peers_bin/epoll-hello" "$((BASEPORT + 1))"
  fi
  measure_server hyper "$((BASEPORT + 2))" "$peers_bin/hyper-hello" "$((BASEPORT + 2))"
  if [ -n "$nginx" ]; then
    # A config of its own, written (not patched) from the template: port and folder filled in.
    local dir=$target/peers/nginx
    mkdir -p "$dir"
    sed -e "s|@PORT@|$((BASEPORT + 3))|g" -e "s|@DIR@|$dir|g" "$peers/nginx.conf.in" >"$dir/nginx.conf"
    measure_server nginx "$((BASEPORT + 3))" "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
  fi
  if [ "${#rss_lines[@]}" -gt 0 ]; then
    say "idle memory: a fresh server, $IDLE_CONNS keep-alive connections after one GET each (rss_idle.py)"
    printf '%s\n' "${rss_lines[@]}"
  fi
  if [ -n "$wrk" ]; then echo "(wrk's full output: $logs)"; fi
}

# Two clients, one server: wrk and stage6-loadgen in turn against the raw epoll server.
loadgen_against_wrk() {
  local port=$((BASEPORT + 1))
  say "our load generator${wrk:+ against wrk}, loading the raw epoll server (1 thread, $CONNS connections, $DUR)"
  start_server epoll "$port" "$peers_bin/epoll-hello" "$port" || return 0
  if [ -n "$wrk" ]; then
    printf 'wrk:            '
    on_cpu "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DUR" "http://127.0.0.1:$port/hello" | grep 'Requests/sec'
  fi
  echo "stage6-loadgen:"
  on_cpu "$CLIENT_CPU" "$bin/stage6-loadgen" "http://127.0.0.1:$port/hello" \
    --connections "$CONNS" --duration "$DUR" 2>/dev/null
  stop_server
}

case "$what" in
  echo) bench_echo ;;
  runtime) bench_runtime ;;
  http) bench_http ;;
  all)
    bench_echo
    bench_runtime
    bench_http
    ;;
esac
