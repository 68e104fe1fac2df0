#!/usr/bin/env bash
# Runs every test binary in $1 and every tests/*_test.sh script, then prints
# one closing line "N passed, N failed" with the totals.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
pass=0 fail=0 broken=0
count() {  # adds the "N passed, N failed" line of one runner's output
    local line
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then broken=$((broken + 1)); return; fi
    pass=$((pass + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")))
    fail=$((fail + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
}
out=$(mktemp)
for t in "$build"/test_*; do
    [ -x "$t" ] && [ "${t%.[od]}" = "$t" ] || continue
    "$t" >"$out" 2>&1; rc=$?
    tail -n 1 "$out"
    if [ $rc -ne 0 ]; then grep -v ' passed, ' "$out" | head -n 30; fi
    count "$out"
    [ $rc -ne 0 ] && ! grep -qE '[1-9][0-9]* failed' "$out" && { echo "$t exited $rc"; broken=$((broken + 1)); }
done
for s in tests/*_test.sh; do
    [ -f "$s" ] || continue
    GEB_BIN=${GEB_BIN:-$build/geb} bash "$s" >"$out" 2>&1; rc=$?
    tail -n 1 "$out"
    if [ $rc -ne 0 ]; then grep -v ' passed, ' "$out" | head -n 30; fi
    count "$out"
    [ $rc -ne 0 ] && ! grep -qE '[1-9][0-9]* failed' "$out" && { echo "$s exited $rc"; broken=$((broken + 1)); }
done
rm -f "$out"
fail=$((fail + broken))
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
