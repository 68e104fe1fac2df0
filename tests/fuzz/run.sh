#!/usr/bin/env bash
# run.sh - builds every libFuzzer target tests/fuzz/fuzz_<name>.c and runs
# each for FUZZ_SECONDS (default 60) seconds.
#
#   bash tests/fuzz/run.sh                 # all targets (what `make fuzz` does)
#   FUZZ_SECONDS=300 bash tests/fuzz/run.sh json safetensors
#
# Conventions (for every engineer adding a target):
#   tests/fuzz/fuzz_<name>.c      defines LLVMFuzzerTestOneInput (and may
#                                 define LLVMFuzzerInitialize)
#   tests/fuzz/corpus/<name>/     seed inputs (committed, small)
#   tests/fuzz/regress/<name>/    inputs that once crashed, kept after the fix
#   tests/fuzz/<name>.dict        optional libFuzzer dictionary
# The library (every src/*.c except src/main.c) is built once with
# -fsanitize=fuzzer-no-link,address,undefined; a file that does not compile
# stops the run.  Seeds and regressions are copied into a scratch corpus
# build-fuzz/corpus/<name>/ (kept between runs, never written into the repo);
# crashes land in build-fuzz/artifacts/<name>/.  The last lines give the
# executions per target; the exit status is non-zero if any target failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/fuzz/common.sh
source tests/fuzz/common.sh

cc=${FUZZ_CC:-clang}
secs=${FUZZ_SECONDS:-60}
out=build-fuzz
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
flags="$FUZZ_BASE_FLAGS -O1 $san"
mapfile -t targets < <(fuzz_targets "$@")
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in tests/fuzz/" >&2; exit 1; }

echo "fuzz: building the library with $cc"
# shellcheck disable=SC2086
fuzz_build_objs "$out/obj" "$cc" $flags -fsanitize=fuzzer-no-link
for t in "${targets[@]}"; do
    [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz: no tests/fuzz/fuzz_$t.c" >&2; exit 1; }
    # shellcheck disable=SC2086
    "$cc" $flags -fsanitize=fuzzer -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" "$out"/obj/*.o -lm ||
        { echo "fuzz: failed to build fuzz_$t" >&2; exit 1; }
done

summary=() failed=0
for t in "${targets[@]}"; do
    corpus=$out/corpus/$t art=$out/artifacts/$t log=$out/logs/$t.log
    mkdir -p "$corpus" "$art" "$out/logs"
    for d in "tests/fuzz/corpus/$t" "tests/fuzz/regress/$t"; do
        [ -d "$d" ] && find "$d" -type f ! -name '.*' -exec cp -t "$corpus" {} +
    done
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$art/")
    [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
    echo "fuzz: running fuzz_$t for ${secs}s (log: $log)"
    rc=0
    "$out/fuzz_$t" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    n=$(find "$corpus" -type f | wc -l)
    if [ $rc -eq 0 ]; then
        status=ok
    else
        status="FAILED (exit $rc)"
        failed=1
        grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' "$log" | head -n 8 >&2 || true
    fi
    summary+=("$(printf 'fuzz_%-14s %12s execs %8s exec/s %6s corpus  %s' "$t" "${execs:-?}" "${rate:-?}" "$n" "$status")")
done
printf '%s\n' "${summary[@]}"
exit $failed
