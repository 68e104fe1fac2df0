#!/usr/bin/env bash
# neon_test.sh - runs the NEON kernels, pool and model tests under qemu via
# tests/run_neon.sh.
# Without the cross compiler or qemu it skips, except under CI=true, where
# their absence is a failure (CI installs them).
cd "$(dirname "$0")/.."
source tests/lib.sh
if ! command -v "${CROSS_CC:-aarch64-linux-gnu-gcc}" >/dev/null 2>&1 ||
   ! command -v "${QEMU:-qemu-aarch64}" >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
        bad "aarch64-linux-gnu-gcc or qemu-aarch64 missing (CI must install gcc-aarch64-linux-gnu qemu-user)"
    else
        echo "neon: SKIPPED - aarch64-linux-gnu-gcc or qemu-aarch64 not installed"
    fi
    done_testing neon
    exit
fi
out=$(bash tests/run_neon.sh 2>&1)
rc=$?
expect_rc "run_neon.sh" "$rc" 0
if grep -q '^kernels: testing neon$' <<<"$out"; then ok; else bad "the neon table was not tested"; fi
if grep -qE '^kernels: [1-9][0-9]* passed, 0 failed$' <<<"$out"; then ok; else bad "kernel test under qemu"; fi
if grep -qE '^pool: [1-9][0-9]* passed, 0 failed$' <<<"$out"; then ok; else bad "pool test under qemu"; fi
if grep -q '^model: kernel tables scalar neon$' <<<"$out"; then ok; else bad "the model test did not run the neon table"; fi
if grep -qE '^model: [1-9][0-9]* passed, 0 failed$' <<<"$out"; then ok; else bad "model test (fixtures vs float64 reference) under qemu"; fi
[ "$rc" -eq 0 ] || grep -v ' passed, ' <<<"$out" | head -n 20
done_testing neon
