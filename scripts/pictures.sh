#!/usr/bin/env bash
# `just pictures`: regenerates the book's pictures in docs/src/images/, with fixed settings, so
# the committed ones can be remade and compared. Every picture is hand-written SVG made by the
# course's own programs:
#
#   timeline-stageN.svg      a crawler's --timeline, 5 pages, demo server delay 100 ms (the
#                            time axis fits the crawl: for the stage chapters)
#   same-scale-stageN.svg    stages 1, 2, 4 and 5 again on one 0-550 ms axis (--timeline-ms 550):
#                            for the introduction's side-by-side comparison
#   tour.svg                 scripts/tour.sh --svg, 5 pages, delay 100 ms
#   loadgen-histogram.svg    stage6-loadgen --histogram against its in-process server,
#                            20 connections, 20,000 requests
#
# Usage: scripts/pictures.sh [OUT_DIR=docs/src/images]
# Timings differ a little from run to run and machine to machine; the shapes do not.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/src/images}"
mkdir -p "$out"

echo "building the crawlers (release)..." >&2
cargo build -q --release --workspace --bins
target_dir="$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin="${target_dir:-target}/release"

settings=(--count 5 --delay 100)
for crawler in stage1-client stage1-threads stage2-client stage3-client stage4-client stage5-client; do
  case "$crawler" in
    stage1-threads) name=stage1-threads ;;
    *) name="${crawler%-client}" ;;
  esac
  "$bin/$crawler" "${settings[@]}" --timeline "$out/timeline-$name.svg" | grep '^timeline:'
done
for n in 1 2 4 5; do
  "$bin/stage$n-client" "${settings[@]}" --timeline-ms 550 --timeline "$out/same-scale-stage$n.svg" |
    grep '^timeline:'
done

scripts/tour.sh --svg "$out/tour.svg" 5 100
"$bin/stage6-loadgen" --connections 20 --requests 20000 --histogram "$out/loadgen-histogram.svg" 2>/dev/null |
  grep '^histogram:'
echo "pictures written to $out on $(date -u +%Y-%m-%d); say so where the book shows them"
