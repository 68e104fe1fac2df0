#!/usr/bin/env bash
# cli_test.sh - the geb command line end to end, on the fixture models that
# tools/ref_model.py wrote (expected ids, greedy text and perplexity come
# from that float64 reference and the sentencepiece library).
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
M=tests/data/models/geb-f32-gqa3
MB=tests/data/models/chatglm-bf16-sharded
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# hex <-> bytes without xxd (not on every machine)
hex() { od -An -v -tx1 | tr -d ' \n'; }
unhex() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }
# field NAME FILE: the words after "NAME" on its line of a ref.txt
field() { grep -m1 "^$1 " "$2" | cut -d' ' -f2-; }
# the prompt the reference tokenized (hex in ref.txt, so any bytes survive)
prompt_of() { unhex "$(field prompt_hex "$1/ref.txt")"; }

# --- usage and errors: one line on stderr, non-zero exit ------------------
"$GEB" --help >"$tmp/out" 2>"$tmp/err"; expect_rc "--help" $? 0
grep -q "usage: geb" "$tmp/out" && ok || bad "--help prints usage"
"$GEB" --frobnicate </dev/null >"$tmp/out" 2>"$tmp/err"; expect_rc "unknown flag" $? 2
expect_eq "unknown flag: one line" "$(wc -l <"$tmp/err")" 1
"$GEB" -m /nonexistent -p hi </dev/null >"$tmp/out" 2>"$tmp/err"; expect_rc "missing model" $? 1
expect_eq "missing model: one line" "$(wc -l <"$tmp/err")" 1
expect_eq "missing model: no stdout" "$(wc -c <"$tmp/out")" 0
for bad_arg in "-n x" "-t 0" "-c 1" "--temp -1" "--top-p 2" "--min-p -0.5" "--top-k -3" "--repeat-penalty 0"; do
    # shellcheck disable=SC2086
    "$GEB" -m $M $bad_arg -p hi </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || bad "'$bad_arg' must exit 2 with one line (rc $rc)"
done

# --- tokenize: exactly the ids sentencepiece gave the reference ------------
# (the bare SentencePiece ids: sp_tokens where the family adds BOS to a
# prompt, whose `tokens` line then starts with it)
for d in tests/data/models/*/; do
    d=${d%/}
    key=tokens
    grep -q '^sp_tokens ' "$d/ref.txt" && key=sp_tokens
    want=$(field $key "$d/ref.txt" | cut -d' ' -f2-)
    got=$("$GEB" tokenize -m "$d" "$(prompt_of "$d")" </dev/null)
    expect_eq "tokenize $(basename "$d")" "$got" "$want"
    got=$(prompt_of "$d" | "$GEB" tokenize -m "$d")
    expect_eq "tokenize stdin $(basename "$d")" "$got" "$want"
done

# --- greedy generation: the reference's continuation, as text -------------
for d in tests/data/models/*/; do
    d=${d%/}
    want=$(field greedy_text_hex "$d/ref.txt")
    n=$(field greedy "$d/ref.txt" | cut -d' ' -f1)
    got=$("$GEB" -m "$d" -p "$(prompt_of "$d")" --temp 0 -n "$n" --ignore-eos </dev/null | hex)
    expect_eq "greedy text $(basename "$d")" "$got" "$want"
done

# --- the same prompt through -p, -f, -f - and stdin ------------------------
P=$(prompt_of $M)
a=$("$GEB" -m $M -p "$P" --temp 0 -n 12 </dev/null)
printf '%s' "$P" >"$tmp/prompt.txt"
b=$("$GEB" -m $M -f "$tmp/prompt.txt" --temp 0 -n 12 </dev/null)
c=$(printf '%s' "$P" | "$GEB" -m $M --temp 0 -n 12)
d=$(printf '%s' "$P" | "$GEB" -m $M -f - --temp 0 -n 12)
expect_eq "-f equals -p" "$b" "$a"
expect_eq "stdin equals -p" "$c" "$a"
expect_eq "-f - equals -p" "$d" "$a"
# with -p, stdin is read only when asked (-f -): the file's text comes first,
# joined to -p by a space (as ollama joins piped input and the prompt)
e=$(printf 'The best way' | "$GEB" -m $M -f - -p "to predict" --temp 0 -n 12)
f=$("$GEB" -m $M -p "The best way to predict" --temp 0 -n 12 </dev/null)
expect_eq "-f - + -p" "$e" "$f"
g=$(printf 'The best way' | "$GEB" -m $M -p "to predict" --temp 0 -n 12)
h=$("$GEB" -m $M -p "to predict" --temp 0 -n 12 </dev/null)
expect_eq "piped stdin ignored with -p" "$g" "$h"

# --- escapes only with -e, never in files -----------------------------------
a=$("$GEB" tokenize -m $M -e 'a\nb' </dev/null)
b=$("$GEB" tokenize -m $M "$(printf 'a\nb')" </dev/null)
c=$("$GEB" tokenize -m $M 'a\nb' </dev/null)
expect_eq "-e turns \\n into a newline" "$a" "$b"
[ "$c" != "$a" ] && ok || bad "without -e, \\n stays two characters"

# --- sampling: same seed, same text; --echo; stop strings -----------------
a=$("$GEB" -m $M -p "$P" -s 7 -n 24 --ignore-eos </dev/null)
b=$("$GEB" -m $M -p "$P" -s 7 -n 24 --ignore-eos </dev/null)
expect_eq "same seed, same output" "$a" "$b"
a=$("$GEB" -m $M -p "$P" --temp 0 -n 8 </dev/null)
b=$("$GEB" -m $M -p "$P" --temp 0 -n 8 --echo </dev/null)
expect_eq "--echo prints the prompt first" "$b" "$P$a"
full=$("$GEB" -m $M -p "$P" --temp 0 -n 16 --ignore-eos </dev/null)
stop=${full:6:2}
cut=$("$GEB" -m $M -p "$P" --temp 0 -n 16 --ignore-eos -r "$stop" </dev/null)
case "$full" in "$cut$stop"*) ok ;; *) bad "-r '$stop': [$cut] is not the text before the stop in [$full]" ;; esac
[[ "$cut" != *"$stop"* ]] && ok || bad "-r: the stop string is not printed"

# --- context limits ---------------------------------------------------------
"$GEB" -m $M -p "$P" -c 4 </dev/null >"$tmp/out" 2>"$tmp/err"; expect_rc "prompt longer than -c" $? 1
grep -q "context holds 4" "$tmp/err" && ok || bad "long prompt message gives the numbers: $(cat "$tmp/err")"
"$GEB" -m $M -p "$P" -c 8 --truncate --temp 0 -n 2 </dev/null >"$tmp/out" 2>"$tmp/err"
expect_rc "--truncate" $? 0
"$GEB" -m $M -p "$P" -c 50 --temp 0 -n -1 --ignore-eos </dev/null >"$tmp/out" 2>"$tmp/err"
expect_rc "-n -1 runs to the context end" $? 0
grep -q "context of 50 tokens is full" "$tmp/err" && ok || bad "context full message: $(cat "$tmp/err")"
"$GEB" -m $M -p "$P" -c 100000 --temp 0 -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
grep -q "warning: -c 100000 is longer" "$tmp/err" && ok || bad "-c beyond seq_length warns"

"$GEB" -m $M -p "$P" -t 100000 --temp 0 -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
expect_rc "-t too large still runs" $? 0
grep -q "warning: 100000 threads capped" "$tmp/err" && ok || bad "-t cap warns: $(cat "$tmp/err")"

# --- the tokenizer file: tokenizer.model, GEBtokenizer.model or the only *.model
cp -r $M "$tmp/m1" && mv "$tmp/m1/tokenizer.model" "$tmp/m1/GEBtokenizer.model"
expect_eq "GEBtokenizer.model" "$("$GEB" tokenize -m "$tmp/m1" "$P" </dev/null)" "$("$GEB" tokenize -m $M "$P" </dev/null)"
mv "$tmp/m1/GEBtokenizer.model" "$tmp/m1/other.model"
expect_eq "the only *.model" "$("$GEB" tokenize -m "$tmp/m1" "$P" </dev/null)" "$("$GEB" tokenize -m $M "$P" </dev/null)"
cp "$tmp/m1/other.model" "$tmp/m1/second.model"
"$GEB" tokenize -m "$tmp/m1" hi </dev/null >"$tmp/out" 2>"$tmp/err"; expect_rc "two *.model files" $? 1
GEB_MODEL=$M "$GEB" tokenize "$P" </dev/null >"$tmp/out" 2>&1
expect_eq "\$GEB_MODEL" "$(cat "$tmp/out")" "$("$GEB" tokenize -m $M "$P" </dev/null)"

# --- perplexity against the reference (relative 1e-4) -----------------------
for d in tests/data/models/*/; do
    d=${d%/}
    read -r ctx want < <(field perplexity "$d/ref.txt")
    got=$("$GEB" perplexity -m "$d" -f "$d/ppl.txt" -c "$ctx" </dev/null | tail -n 1 | sed 's/^perplexity: //')
    awk -v g="$got" -v w="$want" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= 1e-4 * w + 5e-5) }' \
        && ok || bad "perplexity $(basename "$d"): $got vs $want"
done

# --- perplexity -w bf16: within 2e-3 of the FP32 run, and within 1e-4 of the
# BF16 reference with FP32 activations or of the one with BF16 activations;
# on AVX512_BF16 windows under 16 tokens round them for vdpbf16ps and longer
# ones do not (the F32 GEMM), so a text mixes both: there the issue's 2e-3
# for BF16 activations applies ------------------------------------------
near() { awk -v g="$1" -v w="$2" -v r="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= r * w + 5e-5) }'; }
for d in tests/data/models/*/; do
    d=${d%/}
    [ -f "$d/ref_bf16_act.txt" ] || continue
    read -r ctx f32 < <(field perplexity "$d/ref.txt")
    wb=$d/ref_bf16.txt; [ -f "$wb" ] || wb=$d/ref.txt
    read -r _ want_b < <(field perplexity "$wb")
    read -r _ want_a < <(field perplexity "$d/ref_bf16_act.txt")
    got=$("$GEB" perplexity -w bf16 -m "$d" -f "$d/ppl.txt" -c "$ctx" </dev/null | tail -n 1 | sed 's/^perplexity: //')
    r=1e-4; grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null && r=2e-3
    { near "$got" "$f32" 2e-3 && { near "$got" "$want_b" $r || near "$got" "$want_a" $r; }; } \
        && ok || bad "perplexity -w bf16 $(basename "$d"): $got vs $want_b (FP32 activations) / $want_a (BF16) / $f32 (FP32 run)"
done

# --- MobiLlama's shared FFN is held once in both storage forms that store it once -
held() { "$GEB" info -m "$1" </dev/null | awk '$1 == "f32" && $4 == "held," { print $2 }'; }
h_once=$(held tests/data/models/mobillama-bf16-ffn-once)
h_pt=$(held tests/data/models/pt-mobillama)
h_copies=$(held tests/data/models/mobillama-bf16-ffn-copies)
[ -n "$h_once" ] && [ "$h_pt" = "$h_once" ] && ok || bad "pt-mobillama holds $h_pt KB, ffn-once $h_once KB"
awk -v a="$h_pt" -v b="$h_copies" 'BEGIN { exit !(a + 0 < b + 0) }' && ok ||
    bad "pt-mobillama holds $h_pt KB, not less than the per-layer copies' form's $h_copies KB"

# --- -v timings; info; bench -------------------------------------------------
"$GEB" -m $M -p "$P" -n 4 -v -s 3 </dev/null >"$tmp/out" 2>"$tmp/err"
for k in "load time" "prompt eval time" "eval time" "total time" "bandwidth" "seed = 3"; do
    grep -q "^geb: *$k" "$tmp/err" && ok || bad "-v prints '$k'"
done
"$GEB" -m $M -p "$P" -n 4 </dev/null >"$tmp/out" 2>"$tmp/err"
expect_eq "no stderr without -v" "$(wc -c <"$tmp/err")" 0
"$GEB" info -m $MB >"$tmp/out" 2>&1; expect_rc "info" $? 0
grep -q "family:      chatglm" "$tmp/out" && grep -q "BF16" "$tmp/out" && ok || bad "info: $(cat "$tmp/out")"
"$GEB" bench -m $M -p 16 -n 4 -r 2 -t 1,2 </dev/null >"$tmp/out" 2>"$tmp/err"; expect_rc "bench" $? 0
expect_eq "bench rows" "$(grep -cE '^\| geb-f32-gqa3 .*\| (pp16|tg4) \|' "$tmp/out")" 4
"$GEB" bench -m $M -p 16 -n 4 -r 2 -o json </dev/null >"$tmp/out" 2>"$tmp/err"; expect_rc "bench json" $? 0
expect_eq "bench json: only JSON on stdout" "$(head -c 1 "$tmp/out")$(tail -c 2 "$tmp/out" | head -c 1)" "[]"

# --- a closed stdout ends the run quietly ----------------------------------
# (a long context keeps it generating well after head has gone; its -c
# warning is the only line allowed on stderr)
"$GEB" -m $M -p "$P" -n 20000 -c 40000 --ignore-eos </dev/null 2>"$tmp/err" | head -c 5 >/dev/null
rc=${PIPESTATUS[0]}
expect_rc "closed stdout" "$rc" 0
expect_eq "closed stdout: no noise" "$(grep -vc 'warning: -c 40000' "$tmp/err")" 0

# --- Ctrl-C: what was generated is flushed, -v summary, exit 130 -----------
"$GEB" -m $M -p "$P" -n -1 -c 200000 --ignore-eos -v </dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 50); do [ -s "$tmp/out" ] && break; sleep 0.1; done
sleep 0.3
kill -INT $pid
wait $pid; rc=$?
expect_rc "SIGINT exit status" $rc 130
[ -s "$tmp/out" ] && ok || bad "SIGINT: generated text was flushed"
grep -q "eval time" "$tmp/err" && ok || bad "SIGINT: -v summary printed"

done_testing cli
