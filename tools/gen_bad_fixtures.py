#!/usr/bin/python3
"""gen_bad_fixtures.py - model folders that must be refused, for
tests/hardening_test.sh, written into tests/data/bad/.

Each folder is the F32 fixture tests/data/models/geb-f32-gqa3 (written by
tools/ref_model.py) with one thing made wrong, so every other part of it is
known to load and run:

  layers4-config2   the file holds 4 layers, config.json says num_layers 2
                    (geb must name an unused tensor of layer 2)
  tied-with-output  tie_word_embeddings true, but the file has an output matrix
  qkv-bias-missing  add_qkv_bias true, no bias tensors in the file
  nan-norm          one NaN in layer 1's input_layernorm.weight (BF16 file, so
                    the norm is converted at load)
  inf-proj          one +Inf in layer 0's self_attention.dense.weight (F32 file,
                    used in place through mmap: checked all the same)
  overflow-logits   every weight finite, but an output matrix of 1e38s: the
                    logits overflow float32 to +-Inf at run time

The tensors are read and written with ref_model.py's safetensors reader and
writer (independent of geb's C reader).  Deterministic: rerunning rewrites
identical files.  Run: /usr/bin/python3 tools/gen_bad_fixtures.py
"""

import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ref_model  # noqa: E402  (st_read / st_write only)

ROOT = os.path.dirname(HERE)
SRC = os.path.join(ROOT, "tests", "data", "models", "geb-f32-gqa3")
OUT = os.path.join(ROOT, "tests", "data", "bad")
LAYER = "transformer.encoder.layers.%d."


def load_source():
    with open(os.path.join(SRC, "config.json")) as f:
        cfg = json.load(f)
    t = ref_model.st_read(os.path.join(SRC, "model.safetensors"))
    return cfg, t


def ordered(tensors, n_layers):
    """The tensors in the order ref_model.py writes them: embedding, layer by
    layer, final norm, output."""
    names = ["transformer.embedding.word_embeddings.weight"]
    per_layer = ["input_layernorm.weight", "self_attention.query.weight",
                 "self_attention.key_value.weight", "self_attention.dense.weight",
                 "post_attention_layernorm.weight", "mlp.dense_h_to_4h.weight",
                 "mlp.dense_4h_to_h.weight"]
    for i in range(n_layers):
        names += [LAYER % i + n for n in per_layer]
    names += ["transformer.encoder.final_layernorm.weight", "transformer.output_layer.weight"]
    return [(n, tensors[n]) for n in names if n in tensors]


def write(name, cfg, tensors, n_layers, dtype="F32", why=""):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    cfg = dict(cfg)
    cfg["torch_dtype"] = {"F32": "float32", "BF16": "bfloat16"}[dtype]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    shutil.copyfile(os.path.join(SRC, "tokenizer.model"), os.path.join(d, "tokenizer.model"))
    ref_model.st_write(os.path.join(d, "model.safetensors"),
                       [(n, dtype, a) for n, a in ordered(tensors, n_layers)],
                       {"format": "pt"})
    with open(os.path.join(d, "WHY"), "w") as f:
        f.write(why + "\n")


def main():
    cfg, t = load_source()
    L = cfg["num_layers"]
    assert L == 2, "geb-f32-gqa3 changed: expected 2 layers"

    # 4 layers in the file (layers 2, 3 are copies of 0, 1), config says 2.
    t4 = dict(t)
    for i in range(2, 4):
        for n, a in t.items():
            if n.startswith(LAYER % (i - 2)):
                t4[LAYER % i + n[len(LAYER % (i - 2)):]] = a
    write("layers4-config2", cfg, t4, 4, "BF16",
          "the file has 4 layers; config.json says num_layers 2")

    c = dict(cfg, tie_word_embeddings=True)
    write("tied-with-output", c, t, L, "BF16",
          "tie_word_embeddings is true but the file has transformer.output_layer.weight")

    c = dict(cfg, add_qkv_bias=True)
    write("qkv-bias-missing", c, t, L, "BF16",
          "add_qkv_bias is true but the file has no bias tensors")

    tn = dict(t)
    norm = tn[LAYER % 1 + "input_layernorm.weight"].copy()
    norm[5] = np.nan
    tn[LAYER % 1 + "input_layernorm.weight"] = norm
    write("nan-norm", cfg, tn, L, "BF16",
          "transformer.encoder.layers.1.input_layernorm.weight[5] is NaN")

    ti = dict(t)
    dense = ti[LAYER % 0 + "self_attention.dense.weight"].copy()
    dense[3, 7] = np.inf
    ti[LAYER % 0 + "self_attention.dense.weight"] = dense
    write("inf-proj", cfg, ti, L, "F32",
          "transformer.encoder.layers.0.self_attention.dense.weight[3, 7] is +Inf")

    # 1e38 * (a normalised hidden state of 72 values) cannot be represented
    # in float32 (max 3.4e38): every logit is +-Inf (or NaN) while the
    # weights themselves are finite.
    to = dict(t)
    out = to["transformer.output_layer.weight"]
    to["transformer.output_layer.weight"] = np.full(out.shape, 1e38)
    assert np.isfinite(ref_model.bf16_bits_to_f64(ref_model.to_bf16_bits(np.array([1e38])))).all()
    write("overflow-logits", cfg, to, L, "BF16",
          "transformer.output_layer.weight is all 1e38: finite weights, infinite logits")


if __name__ == "__main__":
    main()
