#!/usr/bin/env bash
# run_neon.sh - cross-compiles the kernel, pool, model, type and attention tests for
# AArch64 and runs them under qemu-aarch64, so the NEON table is tested on an
# x86 machine, alone against the scalar reference and inside the whole forward
# pass.  The kernel test must report that it tested "neon" and that it was the
# best table (GEB_TEST_EXPECT_KERNEL).  The type test runs twice: on a CPU
# with the dot-product extension (-cpu max), where both NEON variants must be
# tested and neon+dotprod chosen, and on one without (-cpu cortex-a53), where
# plain neon must be chosen (GEB_TEST_EXPECT_QK).  Exit status: 0 if all pass.
#   bash tests/run_neon.sh          (or: make neon)
set -u
cd "$(dirname "$0")/.."
CROSS=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
for tool in "$CROSS" "$QEMU"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run_neon: $tool not found (Debian: apt-get install gcc-aarch64-linux-gnu qemu-user)" >&2
        exit 2
    fi
done
out=build-arm
mkdir -p "$out"
cflags="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wshadow -Werror -Iinclude -Itests -pthread"
srcs=$(ls src/*.c | grep -v "^src/main.c$")  # the library; the x86 kernel files compile to nothing
status=0
for t in kernels pool model types attention; do
    # -static so qemu needs no AArch64 sysroot at run time.
    if ! $CROSS $cflags -static -o "$out/test_$t" "tests/test_$t.c" $srcs -lm; then
        echo "run_neon: cross-compiling test_$t failed" >&2
        status=1
        continue
    fi
    if [ "$t" = types ]; then
        runs=("max neon+dotprod,neon" "cortex-a53 neon")
    else
        runs=("default")
    fi
    for run in "${runs[@]}"; do
        set -- $run
        qemu_cpu=()
        [ "$1" != default ] && qemu_cpu=(-cpu "$1") && echo "run_neon: test_$t under -cpu $1"
        # A hang (e.g. a lost wakeup in the pool) must fail, not block the run.
        GEB_TEST_QUICK=1 GEB_TEST_EXPECT_KERNEL=neon GEB_TEST_EXPECT_QK=${2:-} timeout 900 "$QEMU" "${qemu_cpu[@]}" "$out/test_$t"
        rc=$?
        [ $rc -eq 124 ] && echo "run_neon: test_$t timed out under qemu" >&2
        [ $rc -ne 0 ] && status=1
    done
done
exit $status
