#!/usr/bin/python3
"""gen_bench_model.py - writes a GEB-1.3B-shaped checkpoint with random BF16
weights, for benchmarking (`make bench`).

    tools/gen_bench_model.py OUTDIR [--family geb|llama] [--layers N] [--seed S]
                             [--pytorch PTDIR]

OUTDIR gets config.json (the real GEB-1.3B hyper-parameters of MODEL-SPEC.md,
num_layers overridable for quick tests), model.safetensors (GEB tensor names,
untied output, ~2.7 GB at 24 layers) and tokenizer.model (the test tokenizer:
fewer pieces than padded_vocab_size, which the engine supports).

--family llama writes a TinyLlama-1.1B-shaped checkpoint instead (MODEL-SPEC.md's
Llama section: 22 layers by default, Hugging Face LlamaForCausalLM tensor names
and config.json, untied lm_head, ~2.2 GB), with the Llama-style test tokenizer
(360 pieces, fewer than vocab_size 32000) and a tokenizer_config.json that adds
BOS as TinyLlama's does.

The file is streamed tensor by tensor in chunks, never held in memory.  Speed
matters more than randomness: a pool of normal BF16 values is drawn once and
each chunk is a slice of it at a random offset, rescaled to about the
tensor's 1/sqrt(fan_in) by shifting the BF16 exponent field (pool values are
clamped away from zero so the shift never underflows).  The data goes to
model.safetensors.tmp and is renamed at the end, so an interrupted run leaves
no half-written model.safetensors behind.

--pytorch PTDIR also writes the same weights as a BF16 pytorch_model.bin
(torch.save of Debian's python3-torch) into PTDIR, with the same config.json
and tokenizer.model, to compare load times of the two formats.  The tensors
are numpy memmaps of model.safetensors viewed as torch tensors, so nothing
is copied in memory; an existing model.safetensors with the same layer count
and seed is reused.
"""

import argparse
import json
import math
import os
import shutil
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "data", "models")
TOKENIZER = {"geb": os.path.join(MODELS, "geb-bf16-mqa", "tokenizer.model"),
             "llama": os.path.join(MODELS, "llama-f32-gqa4", "tokenizer.model")}
DEFAULT_LAYERS = {"geb": 24, "llama": 22}

POOL = 1 << 24          # pool of random BF16 values (32 MB)
CHUNK = 1 << 23         # values written per write() call (16 MB)


def geb_config(layers, tiny=False):
    """The GEB-1.3B config.json values (MODEL-SPEC.md), with num_layers set;
    tiny: every width shrunk (for testing this tool, not for benchmarks)."""
    if tiny:
        return dict(geb_config(layers), hidden_size=128, ffn_hidden_size=344, kv_channels=32,
                    num_attention_heads=4, num_key_value_heads=2, padded_vocab_size=1000)
    return {"architectures": ["ChatGLMModel"], "model_type": "chatglm",
            "num_layers": layers, "hidden_size": 2048, "ffn_hidden_size": 5632,
            "kv_channels": 128, "num_attention_heads": 16, "num_key_value_heads": 4,
            "padded_vocab_size": 64896, "layernorm_epsilon": 1e-5, "seq_length": 4096,
            "tie_word_embeddings": False, "add_bias_linear": False,
            "add_qkv_bias": False, "torch_dtype": "bfloat16", "eos_token_id": 2,
            "use_cache": True}


def llama_config(layers, tiny=False):
    """TinyLlama-1.1B's config.json values (MODEL-SPEC.md), with
    num_hidden_layers set; tiny: every width shrunk (tests of this tool)."""
    if tiny:
        return dict(llama_config(layers), hidden_size=128, intermediate_size=344,
                    num_attention_heads=4, num_key_value_heads=2, vocab_size=1000)
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": layers,
            "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
            "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
            "rope_scaling": None, "hidden_act": "silu", "attention_bias": False,
            "mlp_bias": False, "tie_word_embeddings": False, "bos_token_id": 1,
            "eos_token_id": 2, "torch_dtype": "bfloat16", "use_cache": True}


# Written next to the Llama checkpoint: TinyLlama's tokenizer adds BOS.
LLAMA_TOKENIZER_CONFIG = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
                          "eos_token": "</s>", "unk_token": "<unk>", "legacy": False,
                          "model_max_length": 2048, "tokenizer_class": "LlamaTokenizer"}


def llama_tensor_list(c):
    """(name, shape, scale) in Hugging Face Llama order, same scale rules as
    tensor_list: 1/sqrt(fan_in) for projections, 0 for RMSNorm weights."""
    H, F, NH = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"]
    NKV, V = c["num_key_value_heads"], c["vocab_size"]
    D = H // NH
    out = [("model.embed_tokens.weight", (V, H), 1.0)]
    p = "model.layers.%d."
    for i in range(c["num_hidden_layers"]):
        out += [(p % i + "input_layernorm.weight", (H,), 0),
                (p % i + "self_attn.q_proj.weight", (NH * D, H), 1 / math.sqrt(H)),
                (p % i + "self_attn.k_proj.weight", (NKV * D, H), 1 / math.sqrt(H)),
                (p % i + "self_attn.v_proj.weight", (NKV * D, H), 1 / math.sqrt(H)),
                (p % i + "self_attn.o_proj.weight", (H, NH * D), 1 / math.sqrt(NH * D)),
                (p % i + "post_attention_layernorm.weight", (H,), 0),
                (p % i + "mlp.gate_proj.weight", (F, H), 1 / math.sqrt(H)),
                (p % i + "mlp.up_proj.weight", (F, H), 1 / math.sqrt(H)),
                (p % i + "mlp.down_proj.weight", (H, F), 1 / math.sqrt(F))]
    out += [("model.norm.weight", (H,), 0),
            ("lm_head.weight", (V, H), 1 / math.sqrt(H))]
    return out


def tensor_list(c):
    """(name, shape, scale) in file order; scale 0 marks an RMSNorm weight."""
    H, F, D = c["hidden_size"], c["ffn_hidden_size"], c["kv_channels"]
    NH, NKV, V = c["num_attention_heads"], c["num_key_value_heads"], c["padded_vocab_size"]
    out = [("transformer.embedding.word_embeddings.weight", (V, H), 1.0)]
    p = "transformer.encoder.layers.%d."
    for i in range(c["num_layers"]):
        out += [(p % i + "input_layernorm.weight", (H,), 0),
                (p % i + "self_attention.query.weight", (NH * D, H), 1 / math.sqrt(H)),
                (p % i + "self_attention.key_value.weight", (2 * NKV * D, H), 1 / math.sqrt(H)),
                (p % i + "self_attention.dense.weight", (H, NH * D), 1 / math.sqrt(NH * D)),
                (p % i + "post_attention_layernorm.weight", (H,), 0),
                (p % i + "mlp.dense_h_to_4h.weight", (2 * F, H), 1 / math.sqrt(H)),
                (p % i + "mlp.dense_4h_to_h.weight", (H, F), 1 / math.sqrt(F))]
    out += [("transformer.encoder.final_layernorm.weight", (H,), 0),
            ("transformer.output_layer.weight", (V, H), 1 / math.sqrt(H))]
    return out


def to_bf16(x):
    """float32 array -> BF16 bits, round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def make_pool(rng):
    """N(0,1) values as BF16 bits, |x| clamped to [2^-8, 8] so that an exponent
    shift of up to -100 stays in the normal range; the pool is POOL + CHUNK
    long so any offset below POOL gives a full chunk."""
    x = rng.standard_normal(POOL + CHUNK, dtype=np.float32)
    x = np.copysign(np.clip(np.abs(x), 2.0 ** -8, 8.0), x)
    return to_bf16(x)


def shifted(pool, shift, cache={}):
    """The pool scaled by 2^shift: the shift is added to the BF16 exponent
    field with the sign bit kept apart (cached: only a couple of shifts)."""
    if shift not in cache:
        mag = (pool & 0x7FFF).astype(np.int32) + (shift << 7)
        assert mag.min() > 0x7F and mag.max() < 0x7F80, "exponent out of range"
        cache[shift] = (mag.astype(np.uint16) | (pool & 0x8000)).astype(np.uint16)
    return cache[shift]


def write_tensor(f, shape, scale, pool, rng):
    """Streams one tensor: RMSNorm weights are 1 + small noise, matrices are
    slices of the pool scaled by 2^round(log2(scale)), at random offsets."""
    n = int(np.prod(shape))
    if scale == 0:
        f.write(to_bf16(1.0 + 0.1 * rng.standard_normal(n, dtype=np.float32)).tobytes())
        return
    src = shifted(pool, int(round(math.log2(scale))))
    done = 0
    while done < n:
        m = min(CHUNK, n - done)
        off = int(rng.integers(0, POOL))
        f.write(src[off:off + m].data)
        done += m


def write_pytorch(st_path, tensors, outdir, ptdir):
    """torch.save of the safetensors' tensors (as memmaps, no copy) to
    ptdir/pytorch_model.bin, plus config.json and tokenizer.model."""
    import collections
    import torch
    with open(st_path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    base = 8 + n
    mm = np.memmap(st_path, dtype=np.int16, mode="c")   # copy-on-write: torch wants writable
    sd = collections.OrderedDict()
    for name, shape, _ in tensors:
        b, e = header[name]["data_offsets"]
        a = mm[(base + b) // 2:(base + e) // 2].reshape(shape)
        sd[name] = torch.from_numpy(a).view(torch.bfloat16)
    os.makedirs(ptdir, exist_ok=True)
    final = os.path.join(ptdir, "pytorch_model.bin")
    tmp = final + ".tmp"
    torch.save(sd, tmp)
    for f in ("config.json", "tokenizer.model", "tokenizer_config.json"):
        if os.path.exists(os.path.join(outdir, f)):
            shutil.copyfile(os.path.join(outdir, f), os.path.join(ptdir, f))
    os.replace(tmp, final)
    print("wrote %s: %.2f GB" % (final, os.path.getsize(final) / 1e9))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--family", choices=("geb", "llama"), default="geb",
                    help="geb = GEB-1.3B (default), llama = TinyLlama-1.1B")
    ap.add_argument("--layers", type=int, default=None,
                    help="layer count (default 24 for geb, 22 for llama)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests of this tool
    ap.add_argument("--pytorch", metavar="PTDIR",
                    help="also write the weights as a BF16 pytorch_model.bin into PTDIR")
    a = ap.parse_args()
    if a.layers is None:
        a.layers = DEFAULT_LAYERS[a.family]
    if a.layers < 1:
        ap.error("--layers must be >= 1")
    if a.family == "llama":
        cfg = llama_config(a.layers, a.tiny)
        tensors = llama_tensor_list(cfg)
    else:
        cfg = geb_config(a.layers, a.tiny)
        tensors = tensor_list(cfg)
    os.makedirs(a.outdir, exist_ok=True)

    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in tensors:
        nbytes = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + nbytes]}
        off += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)       # data starts 8-byte aligned

    final = os.path.join(a.outdir, "model.safetensors")
    stamp = os.path.join(a.outdir, ".gen_bench_model")
    made = "layers %d seed %d tiny %d\n" % (a.layers, a.seed, a.tiny)
    if a.family != "geb":           # the GEB stamp stays as it was
        made = "family %s " % a.family + made
    if a.pytorch and os.path.exists(final) and os.path.exists(stamp) and open(stamp).read() == made:
        write_pytorch(final, tensors, a.outdir, a.pytorch)
        return 0
    rng = np.random.default_rng(a.seed)
    pool = make_pool(rng)
    tmp = final + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        per_layer = 7 if a.family == "geb" else 9
        for i, (name, shape, scale) in enumerate(tensors):
            write_tensor(f, shape, scale, pool, rng)
            if i % (2 * per_layer) == 0:
                print("  %s (%.2f GB written)" % (name, f.tell() / 1e9), flush=True)
    assert os.path.getsize(tmp) == 8 + len(h) + off
    with open(os.path.join(a.outdir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    if a.family == "llama":
        with open(os.path.join(a.outdir, "tokenizer_config.json"), "w") as f:
            json.dump(LLAMA_TOKENIZER_CONFIG, f, indent=2)
            f.write("\n")
    shutil.copyfile(TOKENIZER[a.family], os.path.join(a.outdir, "tokenizer.model"))
    os.replace(tmp, final)
    with open(stamp, "w") as f:
        f.write(made)
    print("wrote %s: %d layers, %.3f G params, %.2f GB" % (a.outdir, a.layers, off / 2e9,
                                                            os.path.getsize(final) / 1e9))
    if a.pytorch:
        write_pytorch(final, tensors, a.outdir, a.pytorch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
