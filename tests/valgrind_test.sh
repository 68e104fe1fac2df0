#!/usr/bin/env bash
# valgrind_test.sh - one memcheck pass over geb's main paths on models/geb-tiny:
# generation (1 and 2 threads), tokenize, perplexity, info, and error paths
# (missing folder, truncated checkpoint, bad flag).  memcheck sees what the
# sanitizer build does not: reads of uninitialised memory.  Any memcheck error
# or definite leak exits 99.  Skipped (with a line saying so) when valgrind is
# missing or the binary is the ASan build, which valgrind cannot run.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh

if ! command -v valgrind >/dev/null; then
    echo "valgrind: not installed, skipped"
    done_testing valgrind
    exit
fi
if ldd "$GEB" 2>/dev/null | grep -q 'libasan\|libubsan'; then
    echo "valgrind: $GEB is a sanitizer build, skipped"
    done_testing valgrind
    exit
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
M=models/geb-tiny
vg=(valgrind -q --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect)

# vg_run WHAT WANT_RC ARGS...: runs geb under memcheck and checks the status.
vg_run() {
    local what=$1 want=$2
    shift 2
    "${vg[@]}" "$GEB" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq "$want" ]; then ok; else bad "$what: exit $rc, want $want"; sed -n 1,20p "$tmp/err" >&2; fi
}

vg_run "generate, 1 thread" 0 -m $M -p "The best way to" -n 12 -s 1 -t 1
vg_run "generate, 2 threads, greedy" 0 -m $M -p "人生" -n 12 --temp 0 -t 2
vg_run "tokenize" 0 tokenize -m $M "你好, world  ☃"
printf 'The quick brown fox jumps over the lazy dog.\n人生如梦。\n' >"$tmp/text.txt"
vg_run "perplexity" 0 perplexity -m $M -f "$tmp/text.txt" -c 16 -t 1
vg_run "info" 0 info -m $M

vg_run "missing folder" 1 -m "$tmp/nowhere" -p hi -n 1
mkdir "$tmp/trunc"
cp $M/config.json $M/tokenizer.model "$tmp/trunc/"
head -c 100000 $M/model.safetensors >"$tmp/trunc/model.safetensors"
vg_run "truncated checkpoint" 1 -m "$tmp/trunc" -p hi -n 1
vg_run "bad flag" 2 -m $M --top-p 7 -p hi

done_testing valgrind
