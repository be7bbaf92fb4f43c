#!/usr/bin/env bash
# `just tour`: every stage's crawler fetches the same pages from the same kind of demo server,
# and this prints their one-line summaries side by side. The point of the course in one table:
# stage 1 takes N x delay, every later stage (and stage 1 with a thread per request) about one.
#
# Usage: scripts/tour.sh [--svg FILE.svg] [COUNT=10] [DELAY_MS=100]
#
# The rows: stage 1's two crawlers (one thread; a thread per request), the crawlers of stages
# 2-5 (stage 5 twice: the runtime and the smallest executor), stage 6's load generator, and the
# book's Python programs (docs/python, if python3 is here). Each Rust crawler starts its own
# in-process demo server with DELAY; the others talk to one stage1-demo-server started here.
#
# Stage 6 has no crawler: its row is `stage6-loadgen http://DEMO/1 --connections COUNT
# --requests COUNT`, COUNT requests all in flight at once on the stage 6 runtime against the same
# demo server and delay. That is the crawlers' job (COUNT concurrent GETs, each answered after
# DELAY) except that every request asks for /1: the demo server delays every path alike, and
# the loadgen checks the status, not the page (the crawlers' tests check the pages).
#
# --svg FILE.svg also draws the seconds of every row as a bar chart (hand-written SVG).
# PROFILE=debug runs the debug builds (CI does, to skip a release build; the timings are the
# demo server's delays either way, but a debug build adds a little).
set -euo pipefail
cd "$(dirname "$0")/.."

svg=""
if [ "${1:-}" = "--svg" ]; then
  [ -n "${2:-}" ] || { echo "usage: scripts/tour.sh [--svg FILE.svg] [COUNT] [DELAY_MS]" >&2; exit 2; }
  svg="$2"
  shift 2
fi
count="${1:-10}"
delay="${2:-100}"
case "$count$delay" in
  *[!0-9]* | "") echo "usage: scripts/tour.sh [--svg FILE.svg] [COUNT] [DELAY_MS] (whole numbers)" >&2; exit 2 ;;
esac

profile="${PROFILE:-release}"
case "$profile" in
  release) build=(--release) ;;
  debug) build=() ;;
  *) echo "PROFILE must be release or debug, not $profile" >&2; exit 2 ;;
esac
echo "building the crawlers ($profile)..." >&2
cargo build -q ${build[@]+"${build[@]}"} --workspace --bins
# Run what was just built, wherever cargo was told to put it (CARGO_TARGET_DIR, a
# .cargo/config.toml, or the default target/): cargo itself says where.
target_dir="$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin_dir="${target_dir:-target}/$profile"

# One demo server for the rows that do not start their own (the loadgen, Python).
demo_out="$(mktemp)"
"$bin_dir/stage1-demo-server" --addr 127.0.0.1:0 --delay "$delay" >"$demo_out" 2>&1 &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true; rm -f "$demo_out"' EXIT
demo_addr=""
for _ in $(seq 1 100); do
  demo_addr="$(sed -n 's|.*http://\([0-9.]*:[0-9]*\).*|\1|p' "$demo_out" | head -n 1)"
  [ -n "$demo_addr" ] && break
  sleep 0.05
done
[ -n "$demo_addr" ] || { echo "the demo server did not start: $(cat "$demo_out")" >&2; exit 1; }

rows=()  # "label|summary" for the chart
failed=0
printf '%-28s %s\n' "program" "summary (--count $count --delay $delay)"
printf '%-28s %s\n' "-------" "-------"
row() {  # row LABEL COMMAND...: runs it, prints its last line (the summary)
  local label=$1 out
  shift
  if out="$("$@" 2>/dev/null)"; then
    out="$(printf '%s\n' "$out" | tail -n 1)"
    printf '%-28s %s\n' "$label" "$out"
    rows+=("$label|$out")
  else
    printf '%-28s %s\n' "$label" "FAILED (run: $*)"
    failed=$((failed + 1))
  fi
}

flags=(--count "$count" --delay "$delay")
row "stage1-client" "$bin_dir/stage1-client" "${flags[@]}"
row "stage1-threads" "$bin_dir/stage1-threads" "${flags[@]}"
for n in 2 3 4 5; do
  row "stage$n-client" "$bin_dir/stage$n-client" "${flags[@]}"
done
row "stage5-minimal" "$bin_dir/stage5-minimal" "${flags[@]}"
row "stage6-loadgen" "$bin_dir/stage6-loadgen" "http://$demo_addr/1" --connections "$count" --requests "$count"
if command -v python3 >/dev/null; then
  for program in docs/python/stage[1-5]_*.py; do
    name="$(basename "$program")"
    row "python $name" python3 "$program" --addr "$demo_addr" --count "$count"
  done
else
  echo "(python3 not found: no rows for the book's Python programs)"
fi

if [ -n "$svg" ]; then
  # One bar per row, its length the row's seconds (the number before the final " s").
  printf '%s\n' "${rows[@]}" | awk -F'|' -v count="$count" -v delay="$delay" '
    function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
    {
      n++; label[n] = $1
      t = $2; sub(/ s$/, "", t); sub(/.* /, "", t); secs[n] = t + 0
      if (secs[n] > max) max = secs[n]
    }
    END {
      left = 190; width = 900; bar = 22; top = 50
      height = top + n * bar + 40
      if (max <= 0) max = 1
      scale = (width - left - 90) / max
      printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", width, height, width, height
      printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      printf "<text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\">just tour: %d pages, each answered after %d ms</text>\n", count, delay
      printf "<text x=\"8\" y=\"38\" fill=\"#4a5568\">seconds to fetch them all (shorter is better); Rust in blue, Python in green</text>\n"
      for (i = 1; i <= n; i++) {
        y = top + (i - 1) * bar
        colour = (label[i] ~ /^python/) ? "#38a169" : "#2b6cb0"
        printf "<text x=\"8\" y=\"%.1f\">%s</text>\n", y + 15, esc(label[i])
        printf "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", left, y + 3, secs[i] * scale + 1, bar - 6, colour
        printf "<text x=\"%.1f\" y=\"%.1f\">%.3f s</text>\n", left + secs[i] * scale + 6, y + 15, secs[i]
      }
      printf "</svg>\n"
    }' >"$svg"
  echo "bar chart: $svg"
fi
# A script reading the table can tell a full tour from one with FAILED rows.
[ "$failed" -eq 0 ] || exit 1
