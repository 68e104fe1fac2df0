#!/bin/bash
# bench.sh - `make bench`: benchmarks ./geb on a GEB-1.3B-shaped checkpoint.
#
#   BENCH_DIR=/path bash tools/bench.sh [extra `geb bench` options]
#
# The checkpoint (random BF16 weights, ~2.7 GB) is generated once by
# tools/gen_bench_model.py into BENCH_DIR (default /tmp/geb-bench-1.3b) and
# reused on later runs; delete the folder to regenerate it.  GEB_BIN selects
# another binary (default ./geb).
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/tmp/geb-bench-1.3b}
PYTHON=${PYTHON:-/usr/bin/python3}
GEB_BIN=${GEB_BIN:-./geb}

if [ ! -f "$BENCH_DIR/model.safetensors" ]; then
    echo "bench.sh: generating a GEB-1.3B-shaped checkpoint in $BENCH_DIR (once)" >&2
    "$PYTHON" tools/gen_bench_model.py "$BENCH_DIR"
fi
if [ ! -x "$GEB_BIN" ]; then
    echo "bench.sh: $GEB_BIN not built (run make)" >&2
    exit 1
fi
exec "$GEB_BIN" bench -m "$BENCH_DIR" "$@"
