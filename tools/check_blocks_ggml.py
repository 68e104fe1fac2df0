#!/usr/bin/python3
"""check_blocks_ggml.py - checks ref_model.py's Q8_0 and Q4_0 (quantize, then
dequantize) bit for bit against ggml's own C code, through llama.cpp's
`llama-quantize` as ../shared/peers/ builds it.

It writes a small Llama-shaped F32 GGUF with ../shared/peers/gguf_shape.py,
fills its 2-D tensors with test values (normal at several scales, rows with
exact .5 ties of x/d, zero blocks, a largest magnitude occurring twice with
both signs), quantizes it with llama-quantize to q8_0 and q4_0, decodes the
blocks of every tensor that came out in that type (fp16 d, then int8 q, or
nibbles: element j low, j+16 high) and compares with ref_model.q8_0 / q4_0
on the same F32 values: the dequantized values must be identical.

Needs the peers' build (~/.cache/geb-peers/llama.cpp with build/bin and
gguf-py); not part of `make fixtures`.
  /usr/bin/python3 tools/check_blocks_ggml.py
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.expanduser("~/.cache/geb-peers/llama.cpp")
sys.path.insert(0, os.path.join(PEERS, "gguf-py"))
sys.path.insert(0, HERE)
import gguf  # noqa: E402
import ref_model  # noqa: E402

QUANTIZE = os.path.join(PEERS, "build", "bin", "llama-quantize")
SHAPE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "peers", "gguf_shape.py")
if not os.path.exists(SHAPE):
    SHAPE = "/work/shared/peers/gguf_shape.py"


def test_values(shape, rng, k):
    """Normal values at a per-tensor scale, with crafted rows."""
    a = rng.standard_normal(shape) * (10.0 ** rng.uniform(-3, 1))
    flat = a.reshape(-1, 32)
    if flat.shape[0] > 8:
        flat[0] = 0.0                                    # a zero block
        flat[1] = np.arange(32) - 15.5                   # Q8_0: d=16.5/127, ties? no: control
        flat[2] = np.concatenate([[127.0], np.arange(31) + 0.5])   # d = 1: x/d = n + .5 exactly
        flat[3] = np.concatenate([[-127.0], -(np.arange(31) + 0.5)])
        flat[4] = rng.standard_normal(32)
        flat[4][5], flat[4][20] = 3.0, -3.0              # largest magnitude twice, + first
        flat[5] = rng.standard_normal(32)
        flat[5][7], flat[5][9] = -3.0, 3.0               # largest magnitude twice, - first
        flat[6] = np.concatenate([[-8.0], np.arange(31) * 0.5 - 7.5])  # Q4_0: d = 1, x + 8.5 ties
    return a.astype(np.float32)


def decode(t):
    """Dequantized float64 values of a Q8_0 / Q4_0 tensor of a GGUFReader."""
    raw = np.asarray(t.data).view(np.uint8).reshape(-1)
    if t.tensor_type == gguf.GGMLQuantizationType.Q8_0:
        b = raw.reshape(-1, 34)
        d = b[:, :2].copy().view(np.float16).astype(np.float64)
        q = b[:, 2:].copy().view(np.int8).astype(np.float64)
        return q * d
    b = raw.reshape(-1, 18)
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    qs = b[:, 2:]
    q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float64) - 8.0
    return q * d


def main():
    rng = np.random.default_rng(20261201)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "f32.gguf")
        env = dict(os.environ, PYTHONPATH=os.path.join(PEERS, "gguf-py"))
        subprocess.run([sys.executable, SHAPE, src, "--layers", "2", "--hidden", "96",
                        "--ffn", "160", "--heads", "6", "--kv-heads", "2", "--vocab", "256",
                        "--ctx", "64"], check=True, env=env, stdout=subprocess.DEVNULL)
        r = gguf.GGUFReader(src, "r+")
        values = {}
        for k, t in enumerate(r.tensors):
            if len(t.shape) == 2:
                v = test_values(np.asarray(t.data).shape, rng, k)
                t.data[...] = v
                values[t.name] = v
        r.data.flush()
        del r
        for t in gguf.GGUFReader(src).tensors:      # the file holds the test values
            if t.name in values:
                assert np.array_equal(np.asarray(t.data), values[t.name]), t.name
        # The tie rows tell roundf (half away from zero, ggml's reference)
        # from round-to-even: 0.5 -> 1, 1.5 -> 2, 2.5 -> 3.
        tie = np.concatenate([[127.0], np.arange(31) + 0.5])
        assert list(ref_model.q8_0(tie)[1:4]) == [1.0, 2.0, 3.0]
        total = 0
        for qt, fn in (("q8_0", ref_model.q8_0), ("q4_0", ref_model.q4_0)):
            out = os.path.join(tmp, qt + ".gguf")
            subprocess.run([QUANTIZE, src, out, qt], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            want_type = getattr(gguf.GGMLQuantizationType, qt.upper())
            n = 0
            for t in gguf.GGUFReader(out).tensors:
                if t.tensor_type != want_type:
                    continue
                got = decode(t).reshape(-1)
                mine = fn(values[t.name].astype(np.float64)).reshape(-1)
                bad = np.nonzero(got != mine)[0]
                assert bad.size == 0, "%s %s: %d of %d values differ, first at %d: %r vs %r" % (
                    qt, t.name, bad.size, got.size, bad[0], got[bad[0]], mine[bad[0]])
                n += got.size
            assert n > 0, "llama-quantize wrote no %s tensor" % qt
            print("%s: %d values in %s tensors identical to ggml's" % (qt, n, qt))
            total += n
    print("%d values, 0 differences" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
