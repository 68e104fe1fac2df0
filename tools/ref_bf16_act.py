#!/usr/bin/python3
"""ref_bf16_act.py - expected logits of every model fixture with BF16 weights
AND BF16 activations at the input of every 2-D projection and the output
matrix: what a prompt batch computes where the CPU has AVX512_BF16 (geb's
BF16 matmul rounds its activations to BF16, nearest even, for vdpbf16ps;
decoding keeps FP32 activations and is checked against ref_bf16.txt /
ref.txt).

For each folder in tests/data/models/ it reads the prompt tokens of ref.txt,
loads the folder with ref_model.py's own reader, converts the projections
and the output matrix to BF16 (a no-op for BF16 checkpoints) and sets the
activation hook of ref_model.Model to BF16 rounding, then writes
ref_bf16_act.txt in the ref.txt format (logits at every prompt position,
greedy continuation, perplexity over ppl.txt by the fixture's rule).

Run: /usr/bin/python3 tools/ref_bf16_act.py   (deterministic: no randomness)
"""
import math
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_model as rm  # noqa: E402
import sentencepiece as spm  # noqa: E402


def read_tokens(path):
    for line in open(path):
        if line.startswith("tokens "):
            f = line.split()
            return [int(x) for x in f[2:2 + int(f[1])]]
    raise SystemExit("%s: no tokens line" % path)


def read_keys(path):
    keys = {}
    for line in open(path):
        f = line.split(None, 1)
        if len(f) == 2 and f[0] in ("bos", "perplexity_rule"):
            keys[f[0]] = f[1].strip()
    return keys


def one(d):
    tokens = read_tokens(os.path.join(d, "ref.txt"))
    keys = read_keys(os.path.join(d, "ref.txt"))
    m = rm.Model(*rm.load_folder(d))
    m.use_weights("bf16")
    m.aq = rm.round_bf16
    steps, greedy, margins, err = rm.run_checks(m, tokens)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "tokenizer.model"))
    ids = sp.encode(open(os.path.join(d, "ppl.txt"), encoding="utf-8").read())
    bos = int(keys.get("bos", "-1"))
    if keys.get("perplexity_rule") == "bos_chunks":
        ppl = rm.perplexity_bos(m, ids, bos)
    else:
        ppl = rm.perplexity(m, ids)
    ref = rm.Model(*rm.load_folder(d))
    ref.use_weights("bf16")
    rsteps = np.array([ref.step(c, t, p) for c in [ref.new_cache()] for p, t in enumerate(tokens)])
    rng = float(np.min(steps.max(axis=1) - steps.min(axis=1)))
    dev = float(np.max(np.abs(steps - rsteps)) / rng)
    name = os.path.basename(d)
    c = ["%s: expected outputs from tools/ref_bf16_act.py (float64; projections and output "
         "matrix as BF16, their input vectors rounded to BF16)" % name,
         "max |logit - BF16-weights-only logit|: %.3g of the logit range" % dev,
         "logits written with 7 significant digits"]
    pieces = sp.get_piece_size()
    prompt = sp.decode([t for t in tokens if t != bos])
    rm.write_ref(os.path.join(d, "ref_bf16_act.txt"), c, tokens, steps, greedy, prompt,
                 rm.greedy_text(sp, tokens, greedy, pieces), (rm.PPL_CTX,) + ppl, number=rm.fmt7)
    print("%-30s dev from FP32 activations %.3g, ppl %.6g" % (name, dev, ppl[0]))


def main():
    names = [n for n in sorted(os.listdir(rm.OUT))
             if os.path.isfile(os.path.join(rm.OUT, n, "ref.txt"))]
    st = [n for n in names if any(f.endswith(".safetensors") for f in os.listdir(os.path.join(rm.OUT, n)))]
    for n in st:
        one(os.path.join(rm.OUT, n))
    # A PyTorch fixture is the bit-identical twin of a safetensors one
    # (tools/gen_pt_fixtures.py copies its ref.txt; tests/test_pytorch.c
    # checks the tensors): it gets the twin's file.
    for n in names:
        if n in st:
            continue
        ref = open(os.path.join(rm.OUT, n, "ref.txt"), "rb").read()
        twin = [t for t in st if open(os.path.join(rm.OUT, t, "ref.txt"), "rb").read() == ref]
        if len(twin) != 1:
            raise SystemExit("%s: no single safetensors twin" % n)
        shutil.copyfile(os.path.join(rm.OUT, twin[0], "ref_bf16_act.txt"),
                        os.path.join(rm.OUT, n, "ref_bf16_act.txt"))
        print("%-30s copied from its twin %s" % (n, twin[0]))


if __name__ == "__main__":
    main()
