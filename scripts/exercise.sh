#!/usr/bin/env bash
# The book's exercises, checked by tests.
#
#   scripts/exercise.sh list                 every exercise: id, stage, kind, title (checked or not)
#   scripts/exercise.sh show ID              what to do, which files, how it is judged
#   scripts/exercise.sh check ID             judges YOUR working tree for that exercise, one line
#   scripts/exercise.sh solve ID             applies the reference solution (or the break)
#   scripts/exercise.sh reset ID             puts the exercise's files back as committed
#   scripts/exercise.sh verify [ID...]       for the maintainers and CI: in a separate work tree,
#                                            each check fails on the untouched code and passes
#                                            with the solution applied
#
# Two kinds of exercise:
#   build  you write something new (gather, call_later, Notify...). Its tests live in a test
#          file compiled only with the crate's `exercises` feature, so a plain
#          `cargo test --workspace` stays green before you start. check = those tests pass.
#   break  you break something on purpose to see which test catches it. check = the named
#          test now FAILS, and with the expected message. (reset puts the code back.)
#
# Each exercise is a folder scripts/exercises/ID/ holding `exercise.conf` (shell variables,
# below) and `solution.patch` (the reference solution, or for a break-it exercise the break).
#   STAGE=3  KIND=build  TITLE="..."  CRATE=stage3-futures
#   TEST="--test exercise_gather"   cargo test arguments that pick the judging tests
#   FILTER="gather_"                test name filter (optional)
#   EXPECT="text"                   break: the failure message the test must print
# scripts/exercises/unchecked.txt lists the exercises no test can judge here, with the reason.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/scripts/exercises"
export CARGO_TERM_COLOR=never

die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Ids are STAGE.N, where STAGE may carry a letter for one page of a stage (5m.2: stage 5's
# smallest-executor page, exercise 2). They sort by stage number, then page letter (none
# first), then N as a number: 2.9 before 2.10, 5.3 before 5m.1 before 6.1.
ids() {
  (cd "$dir" && for d in */; do [ -f "$d/exercise.conf" ] && printf '%s\n' "${d%/}"; done) |
    sed -E 's/^([0-9]+)([a-z]*)\.([0-9]+)(.*)$/\1\t\2\t\3\t&/' |
    sort -t$'\t' -k1,1n -k2,2 -k3,3n -k4,4 | awk -F'\t' '{print $NF}'
}

load() {  # load ID: reads its conf into STAGE KIND TITLE CRATE TEST FILTER EXPECT
  local id=$1
  [ -f "$dir/$id/exercise.conf" ] || die "no exercise '$id' (scripts/exercise.sh list shows them)"
  STAGE="" KIND="" TITLE="" CRATE="" TEST="" FILTER="" EXPECT=""
  # shellcheck disable=SC1090
  . "$dir/$id/exercise.conf"
  PATCH="$dir/$id/solution.patch"
}

files_of() {  # the files the exercise's patch touches, one per line
  git -C "$1" apply --numstat "$PATCH" | cut -f3
}

run_tests() {  # run_tests TREE: the judging tests in TREE; output in $out, status in $status
  local tree=$1 features=()
  [ "$KIND" = build ] && features=(--features exercises)
  status=0
  # shellcheck disable=SC2086
  out=$(cd "$tree" && timeout 600 cargo test -q -p "$CRATE" "${features[@]}" $TEST -- ${FILTER:-} 2>&1) || status=$?
}

judge() {  # judge TREE: prints one line, returns 0 when the exercise is done
  local tree=$1
  run_tests "$tree"
  if [ "$KIND" = build ]; then
    if [ "$status" = 0 ]; then
      printf 'pass  %s  %s: its tests pass\n' "$ID" "$TITLE"
      return 0
    fi
    local why
    why=$(printf '%s\n' "$out" | grep -E '^error(\[E[0-9]+\])?:|panicked at|^test .* FAILED' | head -n 1 || true)
    printf 'not yet  %s  %s: %s\n' "$ID" "$TITLE" "${why:-the tests fail (run them for details)}"
    return 1
  fi
  if [ "$status" = 0 ]; then
    printf 'not yet  %s  %s: the tests still pass, nothing is broken\n' "$ID" "$TITLE"
    return 1
  fi
  if printf '%s\n' "$out" | grep -qF -- "$EXPECT"; then
    printf 'pass  %s  %s: a test fails with "%s"\n' "$ID" "$TITLE" "$EXPECT"
    return 0
  fi
  local why
  why=$(printf '%s\n' "$out" | grep -E '^error(\[E[0-9]+\])?:|panicked at' | head -n 1 || true)
  printf 'not yet  %s  %s: tests fail, but not with "%s" (%s)\n' "$ID" "$TITLE" "$EXPECT" "${why:-see cargo test output}"
  return 1
}

reset_in() {  # reset_in TREE: the exercise's files as committed (new files removed)
  local tree=$1 f
  while IFS= read -r f; do
    if git -C "$tree" cat-file -e "HEAD:$f" 2>/dev/null; then
      git -C "$tree" checkout -q HEAD -- "$f"
    else
      rm -f "$tree/$f"
    fi
  done < <(files_of "$tree")
}

cmd_list() {
  printf '%-6s %-6s %-6s %s\n' ID STAGE KIND TITLE
  local id
  for id in $(ids); do
    load "$id"
    printf '%-6s %-6s %-6s %s\n' "$id" "$STAGE" "$KIND" "$TITLE"
  done
  printf '\n%s checked exercises. Not checked by a test (and why):\n' "$(ids | wc -l | tr -d ' ')"
  sed 's/^/  /' "$dir/unchecked.txt"
}

cmd_show() {
  load "$1"
  printf '%s (stage %s, %s it): %s\n' "$1" "$STAGE" "$KIND" "$TITLE"
  printf 'files: %s\n' "$(files_of "$root" | paste -sd' ' -)"
  if [ "$KIND" = build ]; then
    printf 'judged by: cargo test -p %s --features exercises %s -- %s\n' "$CRATE" "$TEST" "${FILTER:-}"
  else
    printf 'judged by: cargo test -p %s %s -- %s failing with "%s"\n' "$CRATE" "$TEST" "${FILTER:-}" "$EXPECT"
  fi
  printf 'the book has the full text; the reference %s: scripts/exercises/%s/solution.patch\n' \
    "$([ "$KIND" = build ] && echo solution || echo break)" "$1"
}

cmd_check() { load "$1"; ID=$1; judge "$root"; }

cmd_solve() {
  load "$1"
  git -C "$root" apply --check "$PATCH" 2>/dev/null \
    || die "the solution of $1 does not apply: your changes touch the same lines (scripts/exercise.sh reset $1 first)"
  git -C "$root" apply "$PATCH"
  printf 'applied the reference %s of %s to: %s\n' "$([ "$KIND" = build ] && echo solution || echo break)" "$1" \
    "$(files_of "$root" | paste -sd' ' -)"
}

cmd_reset() {
  load "$1"
  reset_in "$root"
  printf 'reset %s: %s as committed\n' "$1" "$(files_of "$root" | paste -sd' ' -)"
}

cmd_verify() {
  local tree="$root/target/exercise-verify" list failed=0 id start
  export CARGO_TARGET_DIR="${EXERCISE_TARGET_DIR:-$root/target/exercise-target}"
  if [ ! -e "$tree/.git" ]; then
    # A work tree deleted with target/ (cargo clean) is still registered: forget it first.
    git -C "$root" worktree prune
    git -C "$root" worktree add -q --detach --force "$tree" HEAD
  fi
  git -C "$tree" checkout -q --detach --force "$(git -C "$root" rev-parse HEAD)"
  git -C "$tree" clean -qfd
  list=("$@")
  [ ${#list[@]} -gt 0 ] || mapfile -t list < <(ids)
  start=$(date +%s)
  for id in "${list[@]}"; do
    load "$id"
    ID=$id
    if ! git -C "$tree" apply --check "$PATCH" 2>/dev/null; then
      printf 'FAILED %s: solution.patch does not apply to HEAD\n' "$id"
      failed=1
      continue
    fi
    if judge "$tree" >/dev/null; then
      printf 'FAILED %s: the check passes on the untouched code\n' "$id"
      failed=1
      continue
    fi
    git -C "$tree" apply "$PATCH"
    local line
    if line=$(judge "$tree"); then
      printf 'ok     %s\n' "$line"
    else
      printf 'FAILED %s: with the solution applied: %s\n' "$id" "$line"
      printf '%s\n' "$out" | tail -n 30
      failed=1
    fi
    reset_in "$tree"
  done
  printf 'verified %d exercises in %d s\n' "${#list[@]}" "$(( $(date +%s) - start ))"
  return $failed
}

case "${1:-}" in
  list) cmd_list ;;
  show) [ $# = 2 ] || die "usage: scripts/exercise.sh show ID"; cmd_show "$2" ;;
  check) [ $# = 2 ] || die "usage: scripts/exercise.sh check ID"; cmd_check "$2" ;;
  solve) [ $# = 2 ] || die "usage: scripts/exercise.sh solve ID"; cmd_solve "$2" ;;
  reset) [ $# = 2 ] || die "usage: scripts/exercise.sh reset ID"; cmd_reset "$2" ;;
  verify) shift; cmd_verify "$@" ;;
  -h | --help | help | "") sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1'; try 'scripts/exercise.sh --help'" ;;
esac
