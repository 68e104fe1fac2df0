#!/usr/bin/env bash
# hardening_test.sh - issue 12: geb is never silently wrong.  Write errors,
# checkpoints that disagree with their config or hold non-finite values
# (folders written by tools/gen_bad_fixtures.py), inherited stdin, model
# paths, files that change or are not regular files, Ctrl-C during a long
# prompt, and the flags llama.cpp users type.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
M=tests/data/models/geb-f32-gqa3
BAD=tests/data/bad
P="The best way to predict the future is to invent it."
tmp=$(mktemp -d)
chmod 755 "$tmp" # the permission test runs geb as another user
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

lines() { wc -l <"$1" | tr -d ' '; }
# one_line WHAT RC WANT_RC [PATTERN]: exit status, exactly one line on
# stderr ($tmp/err) matching PATTERN, nothing on stdout ($tmp/out)
one_line() {
    local what=$1 rc=$2 want=$3 pat=${4:-.}
    if [ "$rc" -eq "$want" ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q -- "$pat" "$tmp/err" &&
        [ ! -s "$tmp/out" ]; then ok; else
        bad "$what: exit $rc (want $want), stderr [$(head -c 300 "$tmp/err")], stdout $(wc -c <"$tmp/out") bytes"
    fi
}
# closed_pipe CMD...: runs CMD with stdout on a pipe whose only reader has
# already gone (a FIFO opened read-write, then its reader closed), so every
# write meets EPIPE, whatever the timing; stderr to $tmp/err.
closed_pipe() {
    rm -f "$tmp/fifo" && mkfifo "$tmp/fifo"
    exec 8<>"$tmp/fifo" 9>"$tmp/fifo"
    exec 8<&-
    "$@" >&9 2>"$tmp/err"
    local rc=$?
    exec 9>&-
    return $rc
}

# --- write errors: stdout on a full disk is one line and exit 1; a closed
# pipe is a quiet exit 0 (no SIGPIPE death, 141) ---------------------------
cmds=("run -m $M -p hi -n 4"
      "info -m $M"
      "bench -m $M -p 4 -n 2 -r 1 -t 1"
      "perplexity -m $M -f $M/ppl.txt -c 32"
      "tokenize -m $M hello"
      "--help"
      "--version")
for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086
    "$GEB" $c </dev/null >/dev/full 2>"$tmp/err"; rc=$?
    [ $rc -eq 1 ] && [ "$(lines "$tmp/err")" -eq 1 ] && grep -q "No space left" "$tmp/err" && ok ||
        bad "'$c' >/dev/full: exit $rc, stderr [$(cat "$tmp/err")]"
    # shellcheck disable=SC2086
    closed_pipe "$GEB" $c </dev/null; rc=$?
    [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && ok || bad "'$c' to a closed pipe: exit $rc, stderr [$(cat "$tmp/err")]"
    # shellcheck disable=SC2086
    "$GEB" $c </dev/null 2>"$tmp/err" | head -c 1 >/dev/null; rc=${PIPESTATUS[0]}
    [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && ok || bad "'$c' | head -c 1: exit $rc, stderr [$(cat "$tmp/err")]"
done
# tokenize with more ids than a pipe buffer holds, into head
for _ in $(seq 300); do printf '%s ' "$P"; done >"$tmp/long.txt"
"$GEB" tokenize -m $M -f "$tmp/long.txt" </dev/null 2>"$tmp/err" | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ] && ok || bad "long tokenize | head: exit $rc"

# --- checkpoints that disagree with config.json, or are not finite ----------
check_bad() { # DIR PATTERN...: refused with one line holding every PATTERN
    local d=$BAD/$1 rc
    shift
    "$GEB" -m "$d" -p "$P" -n 4 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
    one_line "bad/$(basename "$d")" $rc 1
    for pat in "$@"; do grep -qF -- "$pat" "$tmp/err" && ok || bad "bad/$(basename "$d"): no '$pat' in [$(cat "$tmp/err")]"; done
}
check_bad layers4-config2 "transformer.encoder.layers.2." "not used" "2-layer"
check_bad tied-with-output "transformer.output_layer.weight" "tie_word_embeddings"
check_bad qkv-bias-missing "no tensor" ".bias"
check_bad nan-norm "transformer.encoder.layers.1.input_layernorm.weight" "NaN"
check_bad inf-proj "transformer.encoder.layers.0.self_attention.dense.weight" "infinity"
check_bad overflow-logits "non-finite logit"
"$GEB" perplexity -m $BAD/overflow-logits -f $M/ppl.txt -c 32 </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "perplexity of an overflowing model" $? 1 "non-finite logit"
"$GEB" perplexity -m $BAD/nan-norm -f $M/ppl.txt -c 32 </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "perplexity of a NaN model" $? 1 "NaN"

# --- inherited stdin ---------------------------------------------------------
printf 'The best\nway to\npredict\n' >"$tmp/prompts.txt"
want="" got=""
while read -r l; do
    got+="[$("$GEB" -m $M -p "$l" -n 2 --temp 0)]"
    want+="[$("$GEB" -m $M -p "$l" -n 2 --temp 0 </dev/null)]"
done <"$tmp/prompts.txt"
expect_eq "while read: one run per line, each with its own line" "$got" "$want"
# a stdin that never ends (a FIFO whose writer stays open) is not read with -p
rm -f "$tmp/fifo" && mkfifo "$tmp/fifo"
exec 7<>"$tmp/fifo"
timeout 30 "$GEB" -m $M -p hi -n 1 <"$tmp/fifo" >"$tmp/out" 2>"$tmp/err"; rc=$?
exec 7>&-
expect_rc "-p with an open, silent stdin does not wait for it" $rc 0
a=$(printf '%s' "$P" | "$GEB" -m $M -n 6 --temp 0)
b=$("$GEB" -m $M -p "$P" -n 6 --temp 0 </dev/null)
expect_eq "without -p/-f, piped stdin is the prompt" "$a" "$b"
a=$(printf '%s' "$P" | "$GEB" -m $M -f - -n 6 --temp 0)
expect_eq "-f - reads stdin" "$a" "$b"

# --- model paths ------------------------------------------------------------
"$GEB" -m "" -p hi </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || [ $rc -eq 2 ] && ok || bad "-m '' exit $rc"
one_line "-m ''" 1 1 "empty"
GEB_MODEL="" "$GEB" -p hi </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || [ $rc -eq 2 ] && ok || bad "GEB_MODEL='' exit $rc"
one_line "GEB_MODEL=''" 1 1 "GEB_MODEL is empty"
a=$("$GEB" -m $M/model.safetensors -p "$P" -n 6 --temp 0 </dev/null 2>"$tmp/err")
expect_eq "-m FILE uses its folder" "$a" "$b"
ln -s "$tmp/loop" "$tmp/loop"
"$GEB" -m "$tmp/loop" -p hi </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "-m symlink loop" $? 1 "Too many levels of symbolic links"
"$GEB" -m $M/config.json/x -p hi </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "-m file/x" $? 1 "Not a directory"
cp -r $M "$tmp/locked" && chmod 000 "$tmp/locked"
if [ "$(id -u)" -ne 0 ]; then
    "$GEB" -m "$tmp/locked" -p hi </dev/null >"$tmp/out" 2>"$tmp/err"
    one_line "-m unreadable folder" $? 1 "Permission denied"
elif command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$GEB"; then
    # root reads everything: run this one as nobody
    setpriv --reuid=65534 --regid=65534 --clear-groups "$GEB" -m "$tmp/locked" -p hi </dev/null >"$tmp/out" 2>"$tmp/err"
    one_line "-m unreadable folder (as nobody)" $? 1 "Permission denied"
else
    echo "skip: unreadable folder (root, and cannot run as nobody)"
fi

# --- perplexity's window: min(512, the model's context) ------------------------
MS=tests/data/models/geb-f16-mha # seq_length 128
seq=$(grep -o '"seq_length": *[0-9]*' $MS/config.json | grep -o '[0-9]*$')
expect_eq "fixture context" "$seq" 128
"$GEB" perplexity -m $MS -f $MS/ppl.txt </dev/null >"$tmp/a" 2>"$tmp/err"; rc=$?
expect_rc "perplexity without -c" $rc 0
expect_eq "perplexity without -c: no warning" "$(cat "$tmp/err")" ""
"$GEB" perplexity -m $MS -f $MS/ppl.txt -c "$seq" </dev/null >"$tmp/b" 2>&1
expect_eq "perplexity without -c = with -c seq_length" "$(cat "$tmp/a")" "$(cat "$tmp/b")"
ntok=$("$GEB" tokenize -m $MS -f $MS/ppl.txt </dev/null | wc -w)
expect_eq "perplexity windows of $seq tokens" "$(grep -c '^\[' "$tmp/a")" $(((ntok + seq - 1) / seq))

# --- --truncate says what it dropped -----------------------------------------
ntok=$("$GEB" tokenize -m $M "$P" </dev/null | wc -w)
"$GEB" -m $M -p "$P" -c 8 --truncate --temp 0 -n 2 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "--truncate" $rc 0
grep -q "prompt is $ntok tokens; the first $((ntok - 4)) were dropped" "$tmp/err" && ok ||
    bad "--truncate message: [$(cat "$tmp/err")]"

# --- GEB_KERNEL ---------------------------------------------------------------
GEB_KERNEL=bogus "$GEB" -m $M -p hi -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "GEB_KERNEL=bogus" $? 1 "GEB_KERNEL=bogus"
GEB_KERNEL=scalar "$GEB" -m $M -p hi -n 2 -v </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "GEB_KERNEL=scalar" $rc 0
grep -q "(scalar kernels)" "$tmp/err" && ok || bad "GEB_KERNEL=scalar is used"
GEB_PREFETCH=2 "$GEB" -m $M -p hi -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "GEB_PREFETCH=2" $? 1 "GEB_PREFETCH=2"
for p in 0 1; do
    GEB_PREFETCH=$p "$GEB" -m $M -p hi -n 2 -v </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
    expect_rc "GEB_PREFETCH=$p" $rc 0
    want=off; [ $p = 1 ] && want=on
    grep -q "software prefetch $want" "$tmp/err" && ok || bad "GEB_PREFETCH=$p is used"
done

# --- bench -t ------------------------------------------------------------------
for t in abc 0 1,x; do
    "$GEB" bench -m $M -t "$t" -p 4 -n 2 -r 1 </dev/null >"$tmp/out" 2>"$tmp/err"
    one_line "bench -t $t" $? 2 "-t expects"
done
"$GEB" bench -m $M -t 512 -p 4 -n 2 -r 1 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "bench -t 512" $rc 0
"$GEB" -m $M -t 512 -p hi -n 1 </dev/null >/dev/null 2>"$tmp/err2"
grep -q "warning: 512 threads capped" "$tmp/err" && ok || bad "bench -t 512 warns: [$(cat "$tmp/err")]"
expect_eq "bench -t 512: the same warning as run" "$(cat "$tmp/err")" "$(cat "$tmp/err2")"

# --- the flags llama.cpp users type ------------------------------------------
"$GEB" --version >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "--version" $rc 0
grep -qE '^geb [0-9.]+ \(commit [^)]+\), built with ' "$tmp/out" && ok || bad "--version line 1: [$(cat "$tmp/out")]"
grep -q '^build flags: ' "$tmp/out" && ok || bad "--version build flags: [$(cat "$tmp/out")]"
grep -qE '^kernels: scalar.* \(using [a-z0-9]+\)$' "$tmp/out" && ok || bad "--version kernels: [$(cat "$tmp/out")]"
"$GEB" -m $M -p "$P" -c 0 -n -1 --ignore-eos --temp 0 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "-c 0" $rc 0
grep -q "context of 256 tokens is full" "$tmp/err" && ok || bad "-c 0 is the model's 256: [$(cat "$tmp/err")]"
"$GEB" -m $M -p "$P" -c 40 -n -2 --ignore-eos --temp 0 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "-n -2" $rc 0
grep -q "context of 40 tokens is full" "$tmp/err" && ok || bad "-n -2 fills the context: [$(cat "$tmp/err")]"
s1=$("$GEB" -m $M -p hi -n 1 -s -1 -v </dev/null 2>&1 >/dev/null | grep 'seed =')
s2=$("$GEB" -m $M -p hi -n 1 --seed -1 -v </dev/null 2>&1 >/dev/null | grep 'seed =')
[ -n "$s1" ] && [ -n "$s2" ] && [ "$s1" != "$s2" ] && ok || bad "-s -1: random seeds, printed with -v ([$s1] [$s2])"
"$GEB" -m $M -p hi -n 1 -ngl 0 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "-ngl 0" $rc 0
expect_eq "-ngl 0 is silent" "$(cat "$tmp/err")" ""
"$GEB" -m $M -p hi -n 1 --n-gpu-layers 99 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "-ngl 99" $rc 0
expect_eq "-ngl 99: one warning" "$(lines "$tmp/err")" 1
grep -q "warning: .*CPU" "$tmp/err" && ok || bad "-ngl 99 warning: [$(cat "$tmp/err")]"
a=$("$GEB" -m $M "$P" -n 6 --temp 0 </dev/null)
expect_eq "positional prompt" "$a" "$b"
for f in --no-mmap --mlock; do
    a=$("$GEB" -m $M $f -p "$P" -n 6 --temp 0 </dev/null 2>"$tmp/err"); rc=$?
    expect_rc "$f" $rc 0
    expect_eq "$f: one note" "$(lines "$tmp/err")" 1
    expect_eq "$f: same text" "$a" "$b"
done
"$GEB" -m $M -b 512 -p hi -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "-b 512" $rc 0
expect_eq "-b 512 is silent" "$(cat "$tmp/err")" ""
"$GEB" -m $M --gpu-split 1 -p hi -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "unknown flag" $? 2 "unknown option '--gpu-split'"

# --- model files that are not regular files ------------------------------------
for f in config.json tokenizer.model model.safetensors generation_config.json tokenizer_config.json; do
    rm -rf "$tmp/fifo-m" && cp -r $M "$tmp/fifo-m" && rm -f "$tmp/fifo-m/$f" && mkfifo "$tmp/fifo-m/$f"
    timeout 30 "$GEB" -m "$tmp/fifo-m" -p hi -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
    one_line "FIFO $f" $? 1 "$f is not a regular file"
done
rm -rf "$tmp/fifo-m" && cp -r tests/data/models/chatglm-bf16-sharded "$tmp/fifo-m"
rm "$tmp/fifo-m/model.safetensors.index.json" && mkfifo "$tmp/fifo-m/model.safetensors.index.json"
timeout 30 "$GEB" info -m "$tmp/fifo-m" </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "FIFO index.json" $? 1 "index.json is not a regular file"
rm -f "$tmp/fifo-m/model.safetensors.index.json" "$tmp/fifo-m/config.json"
ln -s /dev/zero "$tmp/fifo-m/config.json"
timeout 30 "$GEB" -m "$tmp/fifo-m" -p hi -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "/dev/zero as config.json" $? 1 "config.json is not a regular file"

# --- a model file truncated while geb has it mapped ----------------------------
# The F32 fixture is used in place through mmap.  GEB_TEST_PAUSE_* (test
# only) makes geb announce a pause on stderr; the copy is truncated there and
# SIGUSR1 ends the pause.
# paused RUN_VAR: starts geb on a fresh copy, truncates it in the pause
paused() {
    rm -rf "$tmp/mm" && cp -r $M "$tmp/mm"
    env "$1=60" "$GEB" -m "$tmp/mm" -p "$P" -n 50 --ignore-eos </dev/null >"$tmp/out" 2>"$tmp/err" &
    local pid=$! i
    for i in $(seq 600); do grep -q "test pause: $1" "$tmp/err" && break; sleep 0.05; done
    truncate -s 4096 "$tmp/mm/model.safetensors"
    kill -USR1 $pid
    wait $pid
}
for var in GEB_TEST_PAUSE_AFTER_MAP GEB_TEST_PAUSE_BEFORE_GEN; do
    paused $var; rc=$?
    expect_rc "truncated during ${var#GEB_TEST_PAUSE_}" $rc 1
    expect_eq "truncated during ${var#GEB_TEST_PAUSE_}: the message" "$(grep -v 'test pause' "$tmp/err")" \
        "geb: model file $tmp/mm/model.safetensors changed or was truncated while in use"
done
# rewritten in place, same size (no SIGBUS: the mapping just reads other
# bytes): the run notices at the end and fails instead of exiting 0
rm -rf "$tmp/mm" && cp -r $M "$tmp/mm"
env GEB_TEST_PAUSE_BEFORE_GEN=60 "$GEB" -m "$tmp/mm" -p "$P" -n 8 --ignore-eos </dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 600); do grep -q "test pause" "$tmp/err" && break; sleep 0.05; done
sz=$(stat -c %s "$tmp/mm/model.safetensors")
printf '\x00\x00\x80\x3f' | dd of="$tmp/mm/model.safetensors" bs=1 seek=$((sz - 64)) conv=notrunc 2>/dev/null
kill -USR1 $pid
wait $pid; rc=$?
expect_rc "rewritten in place during the run" $rc 1
expect_eq "rewritten in place: the message" "$(grep -v 'test pause' "$tmp/err")" \
    "geb: model file $tmp/mm/model.safetensors changed or was truncated while in use: the output may be wrong"
# the pause alone changes nothing
env GEB_TEST_PAUSE_BEFORE_GEN=0 "$GEB" -m $M -p "$P" -n 6 --temp 0 </dev/null >"$tmp/out" 2>"$tmp/err"
expect_eq "GEB_TEST_PAUSE_BEFORE_GEN=0: same text" "$(cat "$tmp/out")" "$b"

# --- a prompt that certainly exceeds the context is refused before the
# (memory-hungry) segmentation; with --truncate it is tokenized whole --------
for _ in $(seq 4000); do printf '%s ' "$P"; done >"$tmp/huge.txt"
"$GEB" -m $M -f "$tmp/huge.txt" -c 64 -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"
one_line "huge prompt" $? 1 "is at least [0-9]* tokens but the context holds 64"
nhuge=$("$GEB" tokenize -m $M -f "$tmp/huge.txt" </dev/null | wc -w)
least=$(sed -E 's/.* is at least ([0-9]+) tokens.*/\1/' "$tmp/err")
[ "$least" -le "$nhuge" ] && ok || bad "the bound $least exceeds the $nhuge ids"
"$GEB" -m $M -f "$tmp/huge.txt" -c 64 -n 1 --truncate </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "huge prompt with --truncate" $rc 0
grep -q "prompt is $nhuge tokens; the first $((nhuge - 32)) were dropped" "$tmp/err" && ok ||
    bad "huge --truncate: [$(cat "$tmp/err")]"
# a prompt of exactly context - 1 tokens is not refused by the bound
ntok=$("$GEB" tokenize -m $M "$P" </dev/null | wc -w)
"$GEB" -m $M -p "$P" -c $((ntok + 1)) -n 1 </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
expect_rc "prompt of context - 1 tokens" $rc 0

# --- Ctrl-C during a long prompt: stops between 256-token batches (GEB_BATCH) ------
for _ in $(seq 100); do printf '%s ' "$P"; done >"$tmp/long.txt"
nlong=$("$GEB" tokenize -m $M -f "$tmp/long.txt" </dev/null | wc -w)
[ "$nlong" -gt 1000 ] && ok || bad "long prompt has $nlong tokens"
GEB_TEST_PAUSE_BEFORE_GEN=60 "$GEB" -m $M -f "$tmp/long.txt" -c 8192 -n 4 -v </dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 600); do grep -q "test pause" "$tmp/err" && break; sleep 0.05; done
kill -INT $pid   # the flag is set; prefill starts when the pause ends
kill -USR1 $pid
wait $pid; rc=$?
expect_rc "SIGINT before a $nlong-token prompt" $rc 130
grep -qE "prompt eval time = .* / +256 tokens" "$tmp/err" && ok ||
    bad "SIGINT: only the first batch of 256 is evaluated: [$(grep 'prompt eval' "$tmp/err")]"

# --- a tiny stack limit: one line, not a crash in the GEMM (the caller is worker 0)
(ulimit -s 96 && "$GEB" -m $M -p "$P" -n 4 </dev/null >"$tmp/out" 2>"$tmp/err"); rc=$?
one_line "ulimit -s 96" $rc 1 "stack limit"

done_testing hardening
