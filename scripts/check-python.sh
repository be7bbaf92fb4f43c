#!/usr/bin/env bash
# Runs every Python program of the book once (docs/python/), the way a learner would, against
# the course's demo server, and checks the summary line and the exit status. CI runs it.
#
# Usage: scripts/check-python.sh        (needs python3 >= 3.8; builds the demo server if missing)
set -euo pipefail
cd "$(dirname "$0")/../docs/python"
py="${PYTHON:-python3}"
failed=0

check() {  # check NAME EXPECTED-SUMMARY-REGEX COMMAND...
  local name=$1 pattern=$2 out
  shift 2
  if ! out=$("$@" 2>&1); then
    printf 'FAILED %s: exit status %s\n%s\n' "$name" "$?" "$out"
    failed=1
    return
  fi
  if ! printf '%s\n' "$out" | tail -n 1 | grep -Eq "$pattern"; then
    printf 'FAILED %s: the last line is not a summary line:\n%s\n' "$name" "$out"
    failed=1
    return
  fi
  printf 'ok     %-30s %s\n' "$name" "$(printf '%s\n' "$out" | tail -n 1)"
}

summary='^stage[1-6]\.py: [0-9]+ requests, 1 thread, [0-9]+\.[0-9]{3} s$'
for program in stage1_blocking stage2_callbacks stage3_futures stage4_tasks stage5_asyncio; do
  check "$program.py" "$summary" "$py" "$program.py" --count 5 --delay 20
  check "$program.py --trickle" "$summary" "$py" "$program.py" --count 2 --delay 5 --trickle
done
check "stage6_server.py" '^stage6\.py: 201 requests, 1 thread' "$py" stage6_server.py --selftest 200

# A usage error is one line plus a hint, exit status 2.
for program in stage1_blocking stage6_server; do
  status=0
  out=$("$py" "$program.py" --no-such-flag 2>&1) || status=$?
  if [ "$status" != 2 ] || [ "$(printf '%s\n' "$out" | wc -l)" -gt 2 ]; then
    printf 'FAILED %s --no-such-flag: exit %s, said:\n%s\n' "$program.py" "$status" "$out"
    failed=1
  else
    printf 'ok     %-30s usage error: %s\n' "$program.py" "$(printf '%s\n' "$out" | head -n 1)"
  fi
done
exit $failed
