#!/usr/bin/env bash
# `just compare`: the code that performs ONE GET in every stage, Rust and its Python twin,
# printed one after the other with a header and a line count each, then a table of what each
# step costs (lines) and what it buys. The pieces are cut from the sources by their
# `// ANCHOR: name` / `# ANCHOR: name` markers (the ones the book includes), so this never
# drifts from the code: a renamed or missing anchor is an error.
#
# Usage: scripts/compare.sh            (everything)
#        scripts/compare.sh --summary  (only the table)
#
# "code lines" leave out blank lines, comment lines (`//`, `///`, `#`) and the anchor markers:
# what a reader has to follow, not what explains it.
set -euo pipefail
cd "$(dirname "$0")/.."

summary_only=0
case "${1:-}" in
  --summary) summary_only=1 ;;
  "") ;;
  *) echo "usage: scripts/compare.sh [--summary]" >&2; exit 2 ;;
esac

# The pieces: stage | language | file:anchor[,file:anchor...] | what it is
pieces=(
  "1|Rust|stage1-blocking/src/http.rs:get,stage1-blocking/src/http.rs:read_to_eof|http::get: connect, write, read to EOF, parse; the thread blocks in each call"
  "1|Python|docs/python/stage1_blocking.py:get|get(): the same four calls on a blocking socket"
  "2|Rust|stage2-select-callbacks/src/crawler.rs:fetch,stage2-select-callbacks/src/crawler.rs:wait,stage2-select-callbacks/src/crawler.rs:get|the crawler's state and callbacks: every step is a function the loop calls when the fd is ready"
  "2|Python|docs/python/stage2_callbacks.py:fetch|Fetcher: connected(), readable() registered with the selector"
  "3|Rust|stage3-futures/src/crawler.rs:fetch,stage3-futures/src/crawler.rs:steps|fetch: each wait is a Future, each step its done-callback; the result is a Future too"
  "3|Python|docs/python/stage3_futures.py:fetch|fetch(): callbacks on Future objects"
  "4|Rust|stage4-tasks/src/get.rs:get,stage4-tasks/src/get.rs:get_resume,stage4-tasks/src/get.rs:read_to_end|Get: a hand-written coroutine, its states and resume(), stepped by a Task"
  "4|Python|docs/python/stage4_tasks.py:get|get(): a generator that yields futures; Python writes the state machine"
  "5|Rust|stage5-async-await/src/http.rs:get|async fn get: the compiler writes the state machine; reads like stage 1"
  "5|Python|docs/python/stage5_asyncio.py:get|async def get(): asyncio streams"
  "6|Rust|stage6-http/src/loadgen.rs:drive|the load generator's connection: keep-alive, pipelining, a timeout per batch, reconnects"
)
# What each step buys, for the table.
buys=(
  ""
  "the baseline: N requests take N x latency (or a thread each)"
  "one thread waits for every socket: N requests take one latency; the price is the code cut into callbacks"
  "a result is an object you can wait on, chain and cancel; the steps are still callbacks"
  "one request reads as one routine again (a Task steps it); by hand it is a long state machine"
  "the compiler writes that state machine: the code of stage 1, the concurrency of stage 2"
  "HTTP/1.1 for real: one connection, many requests, timeouts, errors counted"
)

# cut FILE ANCHOR: the lines between the markers, without any marker line.
cut() {
  local file=$1 anchor=$2
  [ -f "$file" ] || { echo "compare.sh: no file $file" >&2; exit 1; }
  awk -v name="$anchor" '
    $0 ~ "(//|#) ANCHOR: " name "$" { inside = 1; found = 1; next }
    $0 ~ "(//|#) ANCHOR_END: " name "$" { inside = 0; next }
    /(\/\/|#) ANCHOR(_END)?: / { next }
    inside { print }
    END { if (!found) exit 3 }' "$file" || {
    echo "compare.sh: no anchor '$anchor' in $file (was it renamed? update scripts/compare.sh)" >&2
    exit 1
  }
}

# code_lines: count lines that are neither blank nor a comment.
code_lines() {
  grep -Ev '^[[:space:]]*($|//|#)' | wc -l | tr -d ' '
}

declare -A rust_lines python_lines
for piece in "${pieces[@]}"; do
  IFS='|' read -r stage lang sources what <<<"$piece"
  text=""
  IFS=',' read -ra parts <<<"$sources"
  for part in "${parts[@]}"; do
    text+="$(cut "${part%%:*}" "${part##*:}")"$'\n'
  done
  total=$(printf '%s' "$text" | wc -l | tr -d ' ')
  code=$(printf '%s' "$text" | code_lines)
  if [ "$lang" = Rust ]; then rust_lines[$stage]=$code; else python_lines[$stage]=$code; fi
  if [ "$summary_only" -eq 0 ]; then
    printf '\n==== stage %s, %s: %s ====\n' "$stage" "$lang" "${sources//,/ + }"
    printf '     %s\n' "$what"
    printf '     %s code lines (%s with comments and blank lines)\n\n' "$code" "$total"
    printf '%s' "$text"
  fi
done

printf '\n%-6s %-11s %-13s %s\n' "stage" "Rust lines" "Python lines" "what the step buys"
printf '%-6s %-11s %-13s %s\n' "-----" "----------" "------------" "------------------"
for stage in 1 2 3 4 5 6; do
  printf '%-6s %-11s %-13s %s\n' "$stage" "${rust_lines[$stage]:--}" "${python_lines[$stage]:--}" "${buys[$stage]}"
done
echo
echo "(code lines: without blank lines and comments. Stage 6 has no Python twin: its Python"
echo " program is a server. Stage 4's Rust coroutine is written by hand; Python's generator"
echo " and stage 5's async fn are the same machine, written by the compiler.)"
