#!/bin/sh
# `just doctor`: what this machine has and lacks for the workshop, in a few lines.
# It only looks; it installs nothing. Exit status 1 if something required is missing.
# POSIX sh, so that it runs the same on Linux, macOS and WSL2.
cd "$(dirname "$0")/.." || exit 1

status=0
ok() { printf 'ok       %s\n' "$*"; }
missing() { printf 'MISSING  %s\n' "$*"; status=1; }
note() { printf 'note     %s\n' "$*"; }

# "1.85" or "1.85.0" -> 1085000, for comparing with the shell's arithmetic.
version_number() {
  echo "$1" | awk -F. '{ printf "%d\n", $1 * 1000000 + $2 * 1000 + $3 }'
}

# --- the system ----------------------------------------------------------------------------
system="$(uname -s)"
case "$system" in
  Linux)
    if grep -qi microsoft /proc/version 2>/dev/null; then
      ok "system: Linux under WSL2 (fine: everything runs as on Linux)"
    else
      ok "system: Linux"
    fi
    ;;
  Darwin)
    ok "system: macOS (the course type-checks there; its tests run on Linux only, see the book's set-up page)"
    ;;
  MINGW* | MSYS* | CYGWIN*)
    missing "system: $system: native Windows cannot build the course (it uses Unix sockets and poll);" \
      "use WSL2 or the dev container (.devcontainer/)"
    ;;
  *)
    note "system: $system: untested; the poll(2) backend may work"
    ;;
esac

# --- the Rust toolchain --------------------------------------------------------------------
needed="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n 1)"
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
  missing "Rust: no cargo/rustc on PATH; install it from https://rustup.rs (needs $needed or newer)"
else
  have="$(rustc --version | awk '{print $2}')"
  if [ "$(version_number "${have%%-*}")" -ge "$(version_number "$needed")" ]; then
    ok "Rust: rustc $have (the workspace needs $needed or newer)"
  else
    missing "Rust: rustc $have is older than the $needed the workspace needs: rustup update stable"
  fi
fi

# --- open-file limit -----------------------------------------------------------------------
soft="$(ulimit -Sn)"
hard="$(ulimit -Hn)"
# Tests raise the soft limit themselves, as far as the hard one (and, on macOS, OPEN_MAX,
# 10240); the ones holding a few hundred sockets skip, saying so, when they cannot get them.
# Stage 1's test has no unsafe code to raise it, so it needs the soft limit itself.
ceiling="$hard"
if [ "$system" = Darwin ] && { [ "$hard" = unlimited ] || [ "$hard" -gt 10240 ]; }; then
  ceiling=10240
fi
limits="open files: soft $soft, hard $hard"
if [ "$ceiling" != unlimited ] && [ "$ceiling" -lt 1024 ]; then
  note "$limits: tests that hold hundreds of sockets will skip (raise the hard limit to run them)"
elif [ "$soft" != unlimited ] && [ "$soft" -lt 1024 ]; then
  note "$limits: tests raise it to $ceiling, but stage 1's cannot and skips; 'ulimit -n 1024' first to run it"
else
  ok "$limits (tests that need more raise the soft limit up to $ceiling)"
fi

# --- which selector backend ----------------------------------------------------------------
if [ "${SELECTOR:-}" = poll ]; then
  ok "selector: poll(2) (SELECTOR=poll is set)"
elif [ "$system" = Linux ]; then
  ok "selector: epoll (Linux); SELECTOR=poll runs the poll(2) backend that macOS uses"
else
  ok "selector: poll(2) (the course has epoll for Linux and poll for everything else; no kqueue)"
fi

# --- optional tools ------------------------------------------------------------------------
have_tools=""
lack_tools=""
for tool in just mdbook curl nc wrk python3 valgrind; do
  if command -v "$tool" >/dev/null 2>&1; then
    have_tools="$have_tools $tool"
  else
    lack_tools="$lack_tools $tool"
  fi
done
[ -n "$have_tools" ] && ok "optional tools present:$have_tools"
if [ -n "$lack_tools" ]; then
  note "optional tools missing:$lack_tools (none is required; the book's set-up page says what each is for)"
fi

if [ "$status" -eq 0 ]; then
  echo "ready: cargo run -p stage6-http, cargo test --workspace"
fi
exit "$status"
