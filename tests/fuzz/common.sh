# common.sh - shared by tests/fuzz/run.sh and tests/fuzz_replay_test.sh
# (sourced, not run).  Builds the library objects (every src/*.c except
# src/main.c) the way the Makefile does, including the per-file instruction
# set flags of the SIMD kernel files, so fuzz targets link against exactly
# the code that ships.

# fuzz_isa_flags FILE CC: extra flags a source file needs (mirrors the Makefile).
fuzz_isa_flags() {
    case "$("$2" -dumpmachine)" in
    *x86_64*)
        case "$(basename "$1")" in
        kernels_avx2.c) echo "-mavx2 -mfma -mf16c" ;;
        kernels_avx512.c) echo "-mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c" ;;
        esac ;;
    esac
}

# fuzz_build_objs OUTDIR CC FLAGS...: compiles the library into OUTDIR/*.o.
# Prints the failing command and returns 1 if any file does not compile.
fuzz_build_objs() {
    local out=$1 cc=$2 src obj
    shift 2
    mkdir -p "$out"
    rm -f "$out"/*.o
    for src in src/*.c; do
        [ "$src" = src/main.c ] && continue
        obj="$out/$(basename "${src%.c}").o"
        # shellcheck disable=SC2046
        if ! "$cc" "$@" $(fuzz_isa_flags "$src" "$cc") -c -o "$obj" "$src"; then
            echo "fuzz: failed to compile $src with $cc $*" >&2
            return 1
        fi
    done
}

# The flags every fuzz build shares (the project's language and warnings).
FUZZ_BASE_FLAGS="-std=c11 -D_GNU_SOURCE -Iinclude -g -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread"

# fuzz_targets [NAME...]: the target names (fuzz_<name>.c), all if none given.
fuzz_targets() {
    local f
    if [ $# -gt 0 ]; then printf '%s\n' "$@"; return; fi
    for f in tests/fuzz/fuzz_*.c; do
        [ -f "$f" ] || continue
        f=$(basename "$f" .c)
        echo "${f#fuzz_}"
    done
}
