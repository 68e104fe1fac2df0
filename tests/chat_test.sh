#!/usr/bin/env bash
# chat_test.sh - chat from the command line: `geb chat` driven through a
# pseudo-terminal (tests/tools/pty_chat.py: two turns, /clear, /help, Ctrl-C
# during a reply, Ctrl-C at the prompt, Ctrl-D), scripted chat on a pipe,
# the context filling up, `run --chat` and `tokenize --chat`.
set -u
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib.sh
source tests/lib.sh
M=models/geb-tiny
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- interactive, through a pty -----------------------------------------------
timeout 400 /usr/bin/python3 tests/tools/pty_chat.py "$GEB" $M >"$tmp/pty" 2>"$tmp/pty.err"
expect_rc "pty driver" $? 0
get() { awk -v k="$1" '$1 == k {print $'"$2"'}' "$tmp/pty"; }
n1=$("$GEB" tokenize --chat -m $M "hello there" | wc -w)
expect_eq "banner" "$(get banner 2)" 1
expect_eq "turn 1 evaluates its whole prompt" "$(get turn1 2) $(get turn1 3)" "$n1 0"
[ "$(get turn2 3)" -ge "$n1" ] && [ "$(get turn2 2)" -gt 0 ] && ok ||
    bad "turn 2 must reuse the first prompt from the cache: $(grep turn2 "$tmp/pty")"
expect_eq "/clear" "$(get clear 2)" 1
expect_eq "after /clear the same message is the same prompt" "$(( $(get turn3 2) + $(get turn3 3) ))" "$n1"
expect_eq "/help" "$(get help 2)" 1
[ "$(get turn4 2)" -gt 0 ] && ok || bad "turn 4: $(grep turn4 "$tmp/pty")"
expect_eq "Ctrl-D exits 0" "$(get exit1 2)" 0
expect_eq "Ctrl-C cuts the reply" "$(get ctrlc 6)" 1
[ "$(get after 2)" -gt 0 ] && ok || bad "a turn after Ctrl-C: $(grep after "$tmp/pty")"
expect_eq "Ctrl-C at an empty prompt exits 0" "$(get exit2 2)" 0
[ -s "$tmp/pty.err" ] && cat "$tmp/pty.err" >&2

# --- scripted: each line of a pipe is one turn ---------------------------------
printf 'hello there\nand then what\n' | "$GEB" chat -m $M -n 8 --temp 0 -v >"$tmp/out" 2>"$tmp/err"
expect_rc "chat on a pipe" $? 0
expect_eq "two turns on a pipe" "$(grep -c 'geb: turn:' "$tmp/err")" 2
grep -q '>>>' "$tmp/out" && bad "no prompt on stdout when stdin is not a terminal" || ok
# The context fills: the oldest turns are dropped, one line says so, it goes on.
printf 'one\ntwo\nthree\nfour\nfive\nsix\n' | "$GEB" chat -m $M -c 64 -n 12 --temp 0 -v >"$tmp/out" 2>"$tmp/err"
expect_rc "chat past the context" $? 0
expect_eq "six turns past the context" "$(grep -c 'geb: turn:' "$tmp/err")" 6
grep -q "oldest message" "$tmp/err" && ok || bad "no line about dropped turns: $(cat "$tmp/err")"

# --- run --chat / tokenize --chat ------------------------------------------------
a=$("$GEB" run --chat -m $M -p "你好" --temp 0 -n 8 </dev/null)
expect_rc "run --chat" $? 0
case "$a" in [[:space:]]*) bad "run --chat reply starts with whitespace: [$a]" ;; *) ok ;; esac
b=$(printf '你好' | "$GEB" run --chat -m $M --temp 0 -n 8)
expect_eq "run --chat from stdin" "$b" "$a"
# Text a user types is never parsed for special tokens: the ids of a message
# holding every special string of the template hold no special id but the
# template's own three ([gMASK], <sop> before it).
ids=$("$GEB" tokenize --chat -m $M '[gMASK]<sop>[MASK]<eop>')
np=4000  # geb-tiny's piece count: special ids start here
expect_eq "injected specials stay text" "$(tr ' ' '\n' <<<"$ids" | awk -v n=$np '$1 >= n' | wc -l)" 2
"$GEB" tokenize --chat -m $M --chat-template nosuch "x" >/dev/null 2>"$tmp/err"
expect_rc "unknown template" $? 1
grep -q "nosuch" "$tmp/err" && ok || bad "unknown template message: $(cat "$tmp/err")"
done_testing chat
