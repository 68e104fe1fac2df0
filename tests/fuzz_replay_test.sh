#!/usr/bin/env bash
# fuzz_replay_test.sh - replays every fuzz target's seed corpus and
# regression inputs without libFuzzer: each tests/fuzz/fuzz_<name>.c is linked
# with tests/fuzz/replay_main.c and the library (every src/*.c except
# src/main.c) under ASan + UBSan using ${CC:-cc}, then run on
# tests/fuzz/corpus/<name>/ and tests/fuzz/regress/<name>/.
# One pass per target that replays at least one input cleanly.
set -u
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib.sh
source tests/lib.sh
# shellcheck source=tests/fuzz/common.sh
source tests/fuzz/common.sh

cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags="$FUZZ_BASE_FLAGS -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# shellcheck disable=SC2086
if ! fuzz_build_objs "$work/obj" "$cc" $flags 2>"$work/build.log"; then
    cat "$work/build.log" >&2
    bad "library does not build with $cc under sanitizers"
    done_testing fuzz_replay
    exit
fi
for name in $(fuzz_targets); do
    bin=$work/replay_$name
    # shellcheck disable=SC2086
    if ! "$cc" $flags -o "$bin" "tests/fuzz/fuzz_$name.c" tests/fuzz/replay_main.c \
            "$work"/obj/*.o -lm 2>"$work/$name.build"; then
        cat "$work/$name.build" >&2
        bad "fuzz_$name does not build"
        continue
    fi
    dirs=()
    for d in "tests/fuzz/corpus/$name" "tests/fuzz/regress/$name"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    if [ ${#dirs[@]} -eq 0 ]; then
        bad "fuzz_$name has no tests/fuzz/corpus/$name or tests/fuzz/regress/$name"
        continue
    fi
    if "$bin" "${dirs[@]}" >"$work/$name.out" 2>&1; then
        n=$(sed -n 's/^replayed \([0-9]*\) inputs$/\1/p' "$work/$name.out")
        if [ "${n:-0}" -gt 0 ]; then ok; else bad "fuzz_$name: no inputs replayed"; fi
    else
        tail -n 30 "$work/$name.out" >&2
        bad "fuzz_$name: replay failed"
    fi
done
done_testing fuzz_replay
