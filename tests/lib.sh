# lib.sh - tiny helpers for the CLI test scripts (sourced, not run).
# Each script ends with `done_testing NAME`, which prints "NAME: N passed, N failed".
GEB=${GEB_BIN:-./geb}
T_PASS=0 T_FAIL=0
ok()   { T_PASS=$((T_PASS + 1)); }
bad()  { T_FAIL=$((T_FAIL + 1)); echo "FAIL: $*" >&2; }
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then ok; else bad "$1: got [$2] want [$3]"; fi; }
# expect_rc WHAT GOT WANT
expect_rc() { if [ "$2" -eq "$3" ]; then ok; else bad "$1: exit $2, want $3"; fi; }
done_testing() { echo "$1: $T_PASS passed, $T_FAIL failed"; [ $T_FAIL -eq 0 ]; }
