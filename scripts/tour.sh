#!/usr/bin/env bash
# `just tour`: every stage's crawler fetches the same pages from the same kind of demo server,
# and this prints their one-line summaries side by side. The point of the course in one table:
# stage 1 takes N x delay, every later stage about one delay.
#
# Usage: scripts/tour.sh [COUNT=10] [DELAY_MS=100]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-10}"
delay="${2:-100}"

clients=()
for dir in stage[0-9]-*/; do
  dir="${dir%/}"
  n="${dir:5:1}"
  [ -f "$dir/src/bin/stage$n-client.rs" ] && clients+=("$dir:stage$n-client")
done
[ "${#clients[@]}" -gt 0 ] || { echo "no stage has a client demo yet" >&2; exit 1; }

echo "building ${#clients[@]} client demos (release)..." >&2
cargo build -q --release --workspace --bins
# Run what was just built, wherever cargo was told to put it (CARGO_TARGET_DIR, a
# .cargo/config.toml, or the default target/): cargo itself says where.
target_dir="$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin_dir="${target_dir:-target}/release"

printf '%-26s %s\n' "crate" "summary (--count $count --delay $delay)"
printf '%-26s %s\n' "-----" "-------"
for entry in "${clients[@]}"; do
  crate="${entry%%:*}"
  bin="${entry##*:}"
  # Each client starts its own in-process demo server; its summary is the last line it prints.
  if out="$("$bin_dir/$bin" --count "$count" --delay "$delay" 2>/dev/null)"; then
    printf '%-26s %s\n' "$crate" "$(printf '%s\n' "$out" | tail -n 1)"
  else
    printf '%-26s %s\n' "$crate" "FAILED (run: cargo run -p $crate -- --count $count --delay $delay)"
  fi
done
