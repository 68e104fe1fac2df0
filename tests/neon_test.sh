#!/usr/bin/env bash
# neon_test.sh - runs the NEON kernels, pool, model and attention tests under qemu via
# tests/run_neon.sh (the type kernels with and without the dot product).
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
# The cross-compiled tests are the same binaries in both passes of make test
# (the sanitizers are x86 builds): run them once, in the normal pass.
case "${GEB_BIN:-}" in
*build-asan*)
    echo "neon: skipped in the sanitizer pass (the qemu tests run in the normal pass)"
    done_testing neon
    exit ;;
esac
out=$(bash tests/run_neon.sh 2>&1)
rc=$?
expect_rc "run_neon.sh" "$rc" 0
if grep -q '^kernels: testing neon, software prefetch o' <<<"$out"; then ok; else bad "the neon table was not tested"; fi
if grep -qE '^kernels: [1-9][0-9]* passed, 0 failed$' <<<"$out"; then ok; else bad "kernel test under qemu"; fi
if grep -qE '^pool: [1-9][0-9]* passed, 0 failed$' <<<"$out"; then ok; else bad "pool test under qemu"; fi
if grep -q '^model: kernel tables scalar neon$' <<<"$out"; then ok; else bad "the model test did not run the neon table"; fi
if grep -qE '^model: [1-9][0-9]* passed, 0 failed$' <<<"$out"; then ok; else bad "model test (fixtures vs float64 reference) under qemu"; fi
if grep -q '^attention: testing neon$' <<<"$out" && grep -qE '^attention: [1-9][0-9]* passed, 0 failed$' <<<"$out"; then ok; else bad "attention test of the neon table under qemu"; fi
# The type kernels: both NEON variants under -cpu max, plain NEON without dotprod.
dot=$(sed -n '/^run_neon: test_types under -cpu max$/,/^types: [0-9]* passed/p' <<<"$out")
nodot=$(sed -n '/^run_neon: test_types under -cpu cortex-a53$/,/^types: [0-9]* passed/p' <<<"$out")
if grep -q '^types: testing neon+dotprod$' <<<"$dot" && grep -q '^types: testing neon$' <<<"$dot"; then ok; else bad "both NEON type-kernel variants under -cpu max"; fi
if grep -q '^types: testing neon$' <<<"$nodot" && grep -q '^types: neon+dotprod not supported here, skipped$' <<<"$nodot"; then ok; else bad "plain NEON type kernels under -cpu cortex-a53"; fi
if [ "$(grep -cE '^types: [1-9][0-9]* passed, 0 failed$' <<<"$out")" -eq 2 ]; then ok; else bad "type test under qemu (twice)"; fi
[ "$rc" -eq 0 ] || grep -v ' passed, ' <<<"$out" | head -n 20
done_testing neon
