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
    exec cargo run -q -p "$crate" -- "$@"

# Run every test of the workspace (the README's test command)
test:
    cargo test --workspace

# What CI checks: formatting, clippy with warnings as errors, doc includes, tests
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    python3 scripts/check-doc-includes.py docs
    cargo test --workspace

# Every stage's crawler against the same settings, one summary line each
tour COUNT="10" DELAY="100":
    scripts/tour.sh {{COUNT}} {{DELAY}}

# The benchmarks (release builds): `just bench` for all, or one of echo | runtime | http.
# Builds the reference programs of scripts/peers on first use (a few minutes).
bench WHAT="all":
    scripts/bench.sh {{WHAT}}

# Build and serve the book on http://127.0.0.1:3000 (installs mdbook with cargo if missing)
docs:
    command -v mdbook >/dev/null || cargo install mdbook --locked
    mdbook serve docs --hostname 127.0.0.1 --open
