#!/usr/bin/env bash
# tiny_test.sh - geb perplexity on the shipped models/geb-tiny agrees with the
# PyTorch figure tools/train_tiny.py wrote (relative 1e-3), on the same
# held-out text and windows: a second, independent check of the engine.
set -u
cd "$(dirname "$0")/.."
source tests/lib.sh
read -r ctx want < <(grep '^perplexity ' tests/data/tiny/ppl_ref.txt | cut -d' ' -f2-)
got=$("$GEB" perplexity -m models/geb-tiny -f tests/data/tiny/heldout.txt -c "$ctx" </dev/null | tail -n 1 | sed 's/^perplexity: //')
echo "geb perplexity $got, PyTorch $want"
awk -v g="$got" -v w="$want" 'BEGIN { d = (g - w) / w; if (d < 0) d = -d; exit !(d < 1e-3) }' \
    && ok || bad "perplexity $got vs PyTorch $want"
out=$("$GEB" -m models/geb-tiny -p "The" -n 8 -s 1 </dev/null)
[ -n "$out" ] && ok || bad "geb-tiny generates text"
done_testing tiny
