# The workshop's recipes. `just` with no arguments lists them.
# Installing `just` is optional: every recipe is one or two plain commands you can copy.

# Recipe arguments also reach the shell as $1, $2, ...: `run` passes its ARGS on with "$@",
# so an argument with spaces in it stays one argument.
set positional-arguments

# List the recipes
default:
    @just --list

# Run stage N's main demo, e.g. `just run 2 --count 20 --delay 50`
run N *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    stage="$1"
    shift
    crate=""
    case "$stage" in
      *[!0-9]* | "") ;;
      *) crate="$(ls -d stage"$stage"-*/ 2>/dev/null | head -n1 | tr -d /)" || true ;;
    esac
    if [ -z "$crate" ]; then
      echo "error: no stage \"$stage\"; the stages are: $(ls -d stage[0-9]-*/ | cut -c6 | paste -sd' ')" >&2
      exit 2
    fi
    # Not `cargo run -q`: a first build takes a minute, and cargo's progress (on stderr) shows
    # it is working. The demo's own output is on stdout, as always.
    exec cargo run -p "$crate" -- "$@"

# The book's exercises: `just exercise list`, `just exercise check 2.4`, solve ID, reset ID, show ID
[no-exit-message]
exercise *ARGS:
    @scripts/exercise.sh "$@"

# Run every test of the workspace (the README's test command)
test:
    cargo test --workspace

# What CI checks (.ci/run): formatting, clippy (Linux and macOS targets), docs, book links, tests
check:
    .ci/run

# Says what this machine lacks for the workshop: Rust version, descriptor limit, selector, tools
doctor:
    scripts/doctor.sh

# Every crawler (and the Python ones), same settings, a summary line each: tour [--svg FILE] [COUNT] [DELAY]
tour *ARGS:
    scripts/tour.sh "$@"

# The book's pictures (docs/src/images/): the stages' timelines, the tour's chart, a histogram
pictures:
    scripts/pictures.sh

# The code of one GET in every stage, Rust and Python, with line counts, then a table (--summary: only it)
compare *ARGS:
    scripts/compare.sh "$@"

# The benchmarks (release builds): `just bench` for all, or one of echo | runtime | http.
# Builds the reference programs of scripts/peers on first use (a few minutes).
bench WHAT="all":
    scripts/bench.sh {{WHAT}}

# Serve the book with live reload, on PORT or the first free port from 3000 (installs mdbook if missing)
docs PORT="":
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v mdbook >/dev/null; then
      echo "mdbook is missing: installing it with 'cargo install mdbook --locked' (it compiles, a few minutes, once)..."
      cargo install mdbook --locked
    fi
    port="${1:-}"
    if [ -z "$port" ]; then
      # The first port from 3000 that nobody answers on (bash's /dev/tcp tries a connect).
      port=3000
      while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
      done
    fi
    # The live-reload build goes to target/book-live, never to docs/book: stage6-server serves
    # docs/book, and a live-reload page there would keep asking it for /__livereload.
    echo "serving the book on http://127.0.0.1:$port (Ctrl-C stops; 'mdbook build docs' makes docs/book for stage6-server)"
    exec mdbook serve docs --hostname 127.0.0.1 --port "$port" --dest-dir "$PWD/target/book-live" --open
