#!/usr/bin/python3
"""train_tiny.py - train geb-tiny, a few-million-parameter GEB-architecture model.

Builds models/geb-tiny/ (config.json, model.safetensors in BF16, tokenizer.model,
README.md, train_log.txt) and the reference figures in tests/data/tiny/
(heldout.txt, ppl_ref.txt, greedy_ref.txt) from Debian's fortunes and
fortunes-zh text.  Run from the repository root:

    /usr/bin/python3 tools/train_tiny.py            # full run (45 min of training)
    /usr/bin/python3 tools/train_tiny.py --minutes 2 --out /tmp/t --data-out /tmp/t

The PyTorch module follows /work/shared/MODEL-SPEC.md: ChatGLM2-style RoPE on the
first half of each head's dimensions in adjacent pairs, GQA, SwiGLU with
dense_h_to_4h rows [gate; up], RMSNorm without biases, separate query and
key_value projections, untied output matrix, attention scale 1/sqrt(D).

Needs Debian's python3-torch (1.13, CPU), python3-numpy, python3-sentencepiece
and the sentencepiece-tools (spm_train).
"""

import argparse
import glob
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

FORTUNE_DIR = "/usr/share/games/fortunes"
ZH_FILES = ("chinese", "song100", "tang300")   # the fortunes-zh package
SKIP_FILES = ("ascii-art",)                      # pictures, not text
SEED = 1234
HOLDOUT_FRACTION = 0.05
HELDOUT_TARGET_BYTES = 40000
EVAL_CTX = 128
PROMPTS = ("The best way to", "人生")


# ---------------------------------------------------------------- data

def clean_fortune(text):
    """Strip terminal colour codes, overstrike pairs and stray control chars."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = re.sub(r".\x08", "", text)
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).rstrip()


def is_table(text):
    """True for fortunes drawn with box-drawing characters (U+2500..U+257F): the
    Debian reference-card tables in fortunes-zh's `chinese`, 40% of its bytes.
    They are not prose, and a model trained on them answers "人生" with tables."""
    return any(0x2500 <= ord(ch) <= 0x257F for ch in text)


def read_fortunes():
    """All fortunes as (file name, text) in a fixed order."""
    out = []
    for path in sorted(glob.glob(os.path.join(FORTUNE_DIR, "*"))):
        name = os.path.basename(path)
        if "." in name or os.path.islink(path) or name in SKIP_FILES:
            continue
        with open(path, "rb") as f:
            raw = f.read().decode("utf-8", errors="replace")
        for part in re.split(r"(?m)^%\s*$", raw):
            text = clean_fortune(part)
            if text and not is_table(text):
                out.append((name, text))
    return out


def split_fortunes(fortunes):
    """Hold out HOLDOUT_FRACTION of the fortunes, chosen with a fixed seed."""
    idx = list(range(len(fortunes)))
    random.Random(SEED).shuffle(idx)
    n_hold = int(len(idx) * HOLDOUT_FRACTION)
    hold = [fortunes[i] for i in idx[:n_hold]]
    train = [fortunes[i] for i in sorted(idx[n_hold:])]
    return train, hold


def train_tokenizer(train, prefix, vocab_size):
    """Train a BPE SentencePiece model (byte fallback) on the training fortunes.

    Identity normalisation, no dummy prefix and no whitespace squeezing: the
    encoding of a text is then the concatenation of the encodings of its lines
    joined by the <0x0A> byte piece, so fortunes keep their layout exactly."""
    corpus = prefix + ".corpus.txt"
    with open(corpus, "w", encoding="utf-8") as f:
        for _, text in train:
            for line in text.split("\n"):
                if line.strip():
                    f.write(line + "\n")
    subprocess.run(
        ["spm_train", "--input=" + corpus, "--model_prefix=" + prefix,
         "--model_type=bpe", "--vocab_size=%d" % vocab_size,
         "--byte_fallback=true", "--character_coverage=0.995",
         "--normalization_rule_name=identity", "--add_dummy_prefix=false",
         "--remove_extra_whitespaces=false", "--split_digits=true",
         "--max_sentence_length=8192", "--num_threads=2",
         "--input_sentence_size=2000000", "--shuffle_input_sentence=true",
         "--seed_sentencepiece_size=200000", "--minloglevel=1"],
        check=True, stdout=subprocess.DEVNULL)
    os.remove(corpus)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def make_heldout_text(hold, sp):
    """Held-out text: held-out fortunes joined by blank lines, ~40 KB, cut so
    that it encodes to an exact multiple of EVAL_CTX tokens (no partial window)."""
    parts, size = [], 0
    for _, text in hold:
        if size >= HELDOUT_TARGET_BYTES:
            break
        parts.append(text)
        size += len(text.encode("utf-8")) + 2
    text = "\n\n".join(parts) + "\n"
    n = len(sp.encode(text))
    goal = (n // EVAL_CTX) * EVAL_CTX
    cut = len(text)
    while cut > 0 and len(sp.encode(text[:cut])) != goal:
        cut -= 1
    return text[:cut]


# ---------------------------------------------------------------- model

class Linear(torch.nn.Module):
    """y = x W^T without bias, W [out, in].  Computed as a 1x1 convolution because
    Debian's torch links the reference BLAS, while its convolutions go through
    oneDNN and run several times faster (same result up to rounding)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n_out, n_in))

    def forward(self, x):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1]).t().unsqueeze(0)          # [1, in, N]
        y = F.conv1d(x2, self.weight.unsqueeze(-1))                # [1, out, N]
        return y[0].t().reshape(*lead, self.weight.shape[0])


class RMSNorm(torch.nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight."""

    def __init__(self, h, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(h))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(t, d, base):
    """cos/sin [t, R/2] for ChatGLM2 RoPE: theta_i = base^(-2i/R), R = D/2."""
    r = d // 2
    i = torch.arange(0, r // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / r)
    ang = torch.arange(t, dtype=torch.float64)[:, None] * theta[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """Rotate adjacent pairs (2i, 2i+1) of the first D/2 dims; x is [B, heads, T, D]."""
    b, nh, t, d = x.shape
    r = d // 2
    xr = x[..., :r].reshape(b, nh, t, r // 2, 2)
    x0, x1 = xr[..., 0], xr[..., 1]
    y0 = x0 * cos - x1 * sin
    y1 = x1 * cos + x0 * sin
    y = torch.stack((y0, y1), dim=-1).reshape(b, nh, t, r)
    return torch.cat((y, x[..., r:]), dim=-1)


class Attention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.d = c["num_attention_heads"], c["num_key_value_heads"], c["kv_channels"]
        h = c["hidden_size"]
        self.query = Linear(h, self.nh * self.d)
        self.key_value = Linear(h, 2 * self.nkv * self.d)
        self.dense = Linear(self.nh * self.d, h)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.query(x).view(b, t, self.nh, self.d).transpose(1, 2)
        kv = self.key_value(x)
        k = kv[..., :self.nkv * self.d].view(b, t, self.nkv, self.d).transpose(1, 2)
        v = kv[..., self.nkv * self.d:].view(b, t, self.nkv, self.d).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        g = self.nh // self.nkv          # query head j reads kv head j // g
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.d)
        s = s.masked_fill(mask, float("-inf"))
        o = torch.softmax(s, dim=-1) @ v
        return self.dense(o.transpose(1, 2).reshape(b, t, self.nh * self.d))


class MLP(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.f = c["ffn_hidden_size"]
        self.dense_h_to_4h = Linear(c["hidden_size"], 2 * self.f)
        self.dense_4h_to_h = Linear(self.f, c["hidden_size"])

    def forward(self, x):
        gu = self.dense_h_to_4h(x)
        return self.dense_4h_to_h(F.silu(gu[..., :self.f]) * gu[..., self.f:])


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        eps = c["layernorm_epsilon"]
        self.input_layernorm = RMSNorm(c["hidden_size"], eps)
        self.self_attention = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attention(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class GEB(torch.nn.Module):
    """The GEB/ChatGLM2 decoder; parameter names map 1:1 onto checkpoint names."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        h, v = c["hidden_size"], c["padded_vocab_size"]
        self.word_embeddings = torch.nn.Embedding(v, h)
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["num_layers"]))
        self.final_layernorm = RMSNorm(h, c["layernorm_epsilon"])
        self.output_layer = Linear(h, v)
        cos, sin = rope_tables(c["seq_length"], c["kv_channels"], 10000.0)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.init_weights()

    def init_weights(self):
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, 0.0, std)
            if name.endswith("dense.weight") or name.endswith("dense_4h_to_h.weight"):
                torch.nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.c["num_layers"]))

    def forward(self, ids):
        t = ids.shape[1]
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        x = self.word_embeddings(ids)
        cos, sin = self.cos[:t], self.sin[:t]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.output_layer(self.final_layernorm(x))

    def checkpoint_tensors(self):
        """(checkpoint name, float32 tensor) in checkpoint order."""
        out = [("transformer.embedding.word_embeddings.weight", self.word_embeddings.weight)]
        for i, layer in enumerate(self.layers):
            p = "transformer.encoder.layers.%d." % i
            out += [
                (p + "input_layernorm.weight", layer.input_layernorm.weight),
                (p + "self_attention.query.weight", layer.self_attention.query.weight),
                (p + "self_attention.key_value.weight", layer.self_attention.key_value.weight),
                (p + "self_attention.dense.weight", layer.self_attention.dense.weight),
                (p + "post_attention_layernorm.weight", layer.post_attention_layernorm.weight),
                (p + "mlp.dense_h_to_4h.weight", layer.mlp.dense_h_to_4h.weight),
                (p + "mlp.dense_4h_to_h.weight", layer.mlp.dense_4h_to_h.weight),
            ]
        out += [("transformer.encoder.final_layernorm.weight", self.final_layernorm.weight),
                ("transformer.output_layer.weight", self.output_layer.weight)]
        return out


# ---------------------------------------------------------------- bf16 + export

def bf16_bits(a):
    """float32 array -> uint16 BF16 bits, round to nearest, ties to even."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def round_model_to_bf16(model):
    """Replace every weight by its BF16-rounded value (what the engine loads)."""
    with torch.no_grad():
        for _, p in model.checkpoint_tensors():
            p.copy_(torch.from_numpy(bf16_to_f32(bf16_bits(p.detach().numpy()))))


def write_safetensors(path, tensors):
    """Write (name, float32 tensor) pairs as a BF16 safetensors file."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors:
        data = bf16_bits(t.detach().numpy()).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-(8 + len(hj))) % 8)     # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def verify_safetensors(path, tensors):
    """Re-read the file with a separate parser and check layout and contents:
    header length, 8-byte aligned data start, contiguous offsets covering the
    file, BF16 sizes, and bit-equality with torch's own BF16 rounding (RNE)."""
    with open(path, "rb") as f:
        buf = f.read()
    (hlen,) = struct.unpack("<Q", buf[:8])
    assert (8 + hlen) % 8 == 0
    header = json.loads(buf[8:8 + hlen].decode("utf-8"))
    header.pop("__metadata__", None)
    base, end = 8 + hlen, 0
    assert list(header) == [n for n, _ in tensors]
    for name, t in tensors:
        h = header[name]
        assert h["dtype"] == "BF16" and h["shape"] == list(t.shape)
        a, b = h["data_offsets"]
        assert a == end and b - a == 2 * t.numel()
        end = b
        got = np.frombuffer(buf[base + a:base + b], dtype="<u2")
        ref = t.detach().to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16).reshape(-1)
        assert np.array_equal(got, ref), name
    assert base + end == len(buf)


# ---------------------------------------------------------------- eval + generation

@torch.no_grad()
def window_nll(model, ids, ctx):
    """Sum of NLL and count over non-overlapping windows of ctx tokens, each from
    an empty context, scoring every token after the first of its window."""
    total, count = 0.0, 0
    for s in range(0, len(ids), ctx):
        w = ids[s:s + ctx]
        if len(w) < 2:
            continue
        logp = torch.log_softmax(model(torch.tensor([w]))[0].double(), dim=-1)
        tgt = torch.tensor(w[1:])
        total += -logp[:-1].gather(1, tgt[:, None]).sum().item()
        count += len(w) - 1
    return total, count


@torch.no_grad()
def generate(model, prompt_ids, n, temperature=0.0, top_k=0, gen=None):
    """Continue prompt_ids by n tokens: argmax if temperature == 0, else sampling
    with temperature and top-k (torch.Generator gen).  Re-runs the full prefix
    each step, which is fine at this size."""
    ids = list(prompt_ids)
    for _ in range(n):
        ctx = ids[-model.c["seq_length"]:]
        logits = model(torch.tensor([ctx]))[0, -1]
        if temperature == 0.0:
            nxt = int(torch.argmax(logits))
        else:
            logits = logits / temperature
            if top_k > 0:
                kth = torch.topk(logits, top_k).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
        ids.append(nxt)
    return ids[len(prompt_ids):]


def sample_text(model, sp, prompt, n=64, seed=SEED):
    """Sampled continuation (temperature 0.8, top-k 40), decoded, up to </s>."""
    gen = torch.Generator().manual_seed(seed)
    out = generate(model, sp.encode(prompt), n, 0.8, 40, gen)
    if sp.eos_id() in out:
        out = out[:out.index(sp.eos_id())]
    return prompt + sp.decode(out)


def numpy_reference_logits(tensors, c, ids):
    """Logits for every position, computed token by token with a KV cache exactly
    as written in MODEL-SPEC.md (float64 numpy), from checkpoint-named tensors."""
    w = {n: t.detach().double().numpy() for n, t in tensors}
    nh, nkv, d, f = c["num_attention_heads"], c["num_key_value_heads"], c["kv_channels"], c["ffn_hidden_size"]
    r, eps = d // 2, c["layernorm_epsilon"]

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x) + eps) * g

    def rope(x, p):
        y = x.copy()
        for i in range(r // 2):
            a = p * 10000.0 ** (-2.0 * i / r)
            y[2 * i] = x[2 * i] * math.cos(a) - x[2 * i + 1] * math.sin(a)
            y[2 * i + 1] = x[2 * i + 1] * math.cos(a) + x[2 * i] * math.sin(a)
        return y

    cache = [([], []) for _ in range(c["num_layers"])]
    out = []
    for p, t in enumerate(ids):
        x = w["transformer.embedding.word_embeddings.weight"][t].copy()
        for li in range(c["num_layers"]):
            pre = "transformer.encoder.layers.%d." % li
            h = rms(x, w[pre + "input_layernorm.weight"])
            q = w[pre + "self_attention.query.weight"] @ h
            kv = w[pre + "self_attention.key_value.weight"] @ h
            ks, vs = cache[li]
            ks.append([rope(kv[g * d:(g + 1) * d], p) for g in range(nkv)])
            vs.append([kv[nkv * d + g * d:nkv * d + (g + 1) * d] for g in range(nkv)])
            o = []
            for j in range(nh):
                g = j // (nh // nkv)
                qj = rope(q[j * d:(j + 1) * d], p)
                sc = np.array([qj @ ks[u][g] for u in range(p + 1)]) / math.sqrt(d)
                a = np.exp(sc - sc.max())
                a /= a.sum()
                o.append(sum(a[u] * vs[u][g] for u in range(p + 1)))
            x = x + w[pre + "self_attention.dense.weight"] @ np.concatenate(o)
            h = rms(x, w[pre + "post_attention_layernorm.weight"])
            gu = w[pre + "mlp.dense_h_to_4h.weight"] @ h
            z = gu[:f]
            x = x + w[pre + "mlp.dense_4h_to_h.weight"] @ (z / (1 + np.exp(-z)) * gu[f:])
        x = rms(x, w["transformer.encoder.final_layernorm.weight"])
        out.append(w["transformer.output_layer.weight"] @ x)
    return np.array(out)


def self_test():
    """Check the PyTorch module against the per-token numpy reference on random
    weights (GQA 3:1, non-square attention) and the BF16 writer round trip."""
    torch.manual_seed(7)
    c = dict(num_layers=2, hidden_size=40, ffn_hidden_size=72, kv_channels=8,
             num_attention_heads=6, num_key_value_heads=2, padded_vocab_size=64,
             layernorm_epsilon=1e-5, seq_length=32)
    m = GEB(c)
    with torch.no_grad():
        for _, p in m.named_parameters():
            p.copy_(torch.randn(p.shape) * (0.3 if p.dim() == 2 else 1.0) + (1.0 if p.dim() == 1 else 0.0))
    ids = [int(i) for i in torch.randint(0, 64, (20,))]
    ref = numpy_reference_logits(m.checkpoint_tensors(), c, ids)
    with torch.no_grad():
        got = m(torch.tensor([ids]))[0].double().numpy()
    err = np.abs(ref - got).max() / np.abs(ref).max()
    print("self-test: max relative logit error %.3g" % err)
    assert err < 1e-5
    write_safetensors("/tmp/geb_tiny_selftest.safetensors", m.checkpoint_tensors())
    verify_safetensors("/tmp/geb_tiny_selftest.safetensors", m.checkpoint_tensors())
    os.remove("/tmp/geb_tiny_selftest.safetensors")
    print("self-test: ok")


# ---------------------------------------------------------------- training

def batches(data, ctx, batch, gen):
    """Endless random crops of ctx+1 tokens from the token stream."""
    n = len(data) - ctx - 1
    while True:
        starts = torch.randint(0, n, (batch,), generator=gen)
        x = torch.stack([data[s:s + ctx + 1] for s in starts.tolist()])
        yield x[:, :-1], x[:, 1:]


def lr_at(frac, peak, warm=0.05, floor=0.1):
    """Linear warm-up, then cosine decay to floor*peak, by fraction of budget."""
    if frac < warm:
        return peak * frac / warm
    p = min(1.0, (frac - warm) / (1 - warm))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def train(model, data, val, args, log):
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    budget = args.minutes * 60.0
    t0, step, ema = time.time(), 0, None
    it = batches(data, args.ctx, args.batch, gen)
    while True:
        el = time.time() - t0
        frac = el / budget if args.steps == 0 else step / args.steps
        if frac >= 1.0 or el >= budget:
            break
        lr = lr_at(frac, args.lr)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = next(it)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % args.log_every == 0:
            msg = "step %6d  min %6.2f  lr %.2e  loss %.4f  loss_ema %.4f" % (
                step, el / 60, lr, loss.item(), ema)
            if step % (args.log_every * 5) == 0:
                model.eval()     # a 2K-token slice of the held-out text
                tot, cnt = window_nll(model, val[:16 * EVAL_CTX], EVAL_CTX)
                model.train()
                msg += "  heldout2k %.4f" % (tot / cnt)
            log(msg)
    return step, time.time() - t0, ema


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=45.0, help="hard wall-clock cap on training")
    ap.add_argument("--steps", type=int, default=0, help="schedule by steps instead of time")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--ffn", type=int, default=0, help="default 2.75*hidden rounded to 32")
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--ctx", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--out", default="models/geb-tiny")
    ap.add_argument("--data-out", default="tests/data/tiny")
    ap.add_argument("--save", default="/tmp/geb_tiny_state.pt", help="float32 state after training")
    ap.add_argument("--load", default="", help="skip training, export this saved state")
    ap.add_argument("--self-test", action="store_true", help="check the module against a numpy reference")
    args = ap.parse_args()
    if args.self_test:
        torch.set_num_threads(1)
        self_test()
        return

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    random.seed(SEED)
    np.random.seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.data_out, exist_ok=True)
    # --load re-exports a finished run: keep its loss curve and append to it.
    logf = open(os.path.join(args.out, "train_log.txt"), "a" if args.load else "w", encoding="utf-8")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    log("# geb-tiny training log (tools/train_tiny.py) %s" % " ".join(sys.argv[1:]))
    fortunes = read_fortunes()
    train_f, hold_f = split_fortunes(fortunes)
    log("# fortunes: %d train, %d held out" % (len(train_f), len(hold_f)))

    sp = train_tokenizer(train_f, os.path.join(args.out, "tokenizer"), args.vocab)
    vocab_path = os.path.join(args.out, "tokenizer.vocab")
    if os.path.exists(vocab_path):
        os.remove(vocab_path)
    n_pieces = sp.get_piece_size()
    padded = (n_pieces + 63) // 64 * 64

    # Each fortune is <s> text </s>: a prompt with or without a leading BOS is
    # then in distribution, and crops that start mid-stream teach both.
    eos = sp.eos_id()
    ids = []
    for _, text in train_f:
        ids += [sp.bos_id()] + sp.encode(text) + [eos]
    data = torch.tensor(ids, dtype=torch.long)
    heldout = make_heldout_text(hold_f, sp)
    with open(os.path.join(args.data_out, "heldout.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(heldout)
    val = sp.encode(heldout)
    log("# tokens: %d train, %d held-out eval (%d bytes); pieces %d, padded vocab %d" % (
        len(ids), len(val), len(heldout.encode("utf-8")), n_pieces, padded))

    ffn = args.ffn or int(round(2.75 * args.hidden / 32)) * 32
    cfg = {
        "architectures": ["ChatGLMModel"],
        "model_type": "chatglm",
        "num_layers": args.layers,
        "hidden_size": args.hidden,
        "ffn_hidden_size": ffn,
        "kv_channels": args.head_dim,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "multi_query_attention": True,
        "multi_query_group_num": args.kv_heads,
        "padded_vocab_size": padded,
        "layernorm_epsilon": 1e-5,
        "rmsnorm": True,
        "seq_length": args.ctx,
        "tie_word_embeddings": False,
        "add_bias_linear": False,
        "add_qkv_bias": False,
        "torch_dtype": "bfloat16",
        "bos_token_id": sp.bos_id(),
        "eos_token_id": eos,
        "pad_token_id": 0,
    }
    model = GEB(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log("# config: " + json.dumps(cfg, ensure_ascii=False))
    log("# parameters: %d (%.2f M)" % (n_params, n_params / 1e6))

    if args.load:           # re-export a saved run without training
        st = torch.load(args.load)
        model.load_state_dict(st["model"])
        steps, secs, ema = st["steps"], st["secs"], st["ema"]
    else:
        model.train()
        steps, secs, ema = train(model, data, val, args, log)
        torch.save({"model": model.state_dict(), "steps": steps, "secs": secs, "ema": ema},
                   args.save)
    model.eval()
    with torch.no_grad():   # padded embedding rows are never read: store zeros
        model.word_embeddings.weight[n_pieces:].zero_()
    tot32, cnt = window_nll(model, val, EVAL_CTX)
    round_model_to_bf16(model)
    tot, cnt = window_nll(model, val, EVAL_CTX)
    ppl = math.exp(tot / cnt)
    log("# trained %d steps in %.1f min (%d tokens seen); final train loss (ema) %.4f" % (
        steps, secs / 60, steps * args.batch * args.ctx, ema))
    log("# held-out loss %.4f (float32 weights %.4f); perplexity (bf16 weights) %.4f over %d scored tokens" % (
        tot / cnt, tot32 / cnt, ppl, cnt))

    st_path = os.path.join(args.out, "model.safetensors")
    write_safetensors(st_path, model.checkpoint_tensors())
    verify_safetensors(st_path, model.checkpoint_tensors())
    with open(os.path.join(args.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.data_out, "ppl_ref.txt"), "w", encoding="utf-8") as f:
        f.write("# geb perplexity -m models/geb-tiny -f tests/data/tiny/heldout.txt -c %d\n" % EVAL_CTX)
        f.write("# PyTorch float32 with BF16-rounded weights (tools/train_tiny.py).\n")
        f.write("# heldout.txt -> %d ids (EncodeAsIds on the whole file, no BOS/EOS) = %d windows of %d,\n"
                % (len(val), len(val) // EVAL_CTX, EVAL_CTX))
        f.write("# each from an empty context; %d scored tokens (all but the first of each window);\n" % cnt)
        f.write("# log-softmax over all %d logits; mean NLL %.9g\n" % (padded, tot / cnt))
        f.write("perplexity %d %.9g\n" % (EVAL_CTX, ppl))

    with open(os.path.join(args.data_out, "greedy_ref.txt"), "w", encoding="utf-8") as f:
        f.write("# Greedy (argmax) continuations, 32 tokens, PyTorch float32 with BF16-rounded\n")
        f.write("# weights; prompt encoded with EncodeAsIds (no BOS); ids are the 32 generated ids\n")
        f.write("# (</s> is not treated specially).  Written by tools/train_tiny.py.\n")
        for p in PROMPTS:
            pids = sp.encode(p)
            out = generate(model, pids, 32)
            f.write("# prompt ids %s ; text %r\n" % (" ".join(map(str, pids)), p + sp.decode(out)))
            f.write("prompt %s ids %s\n" % (p.encode("utf-8").hex(), " ".join(map(str, out))))

    samples = [sample_text(model, sp, p) for p in PROMPTS]
    for s in samples:
        log("# sample: %r" % s)
    write_readme(args, cfg, n_params, len(ids), len(val), cnt, steps, secs, ema, tot / cnt, ppl, samples)
    logf.close()


def write_readme(args, cfg, n_params, n_train, n_val, cnt, steps, secs, ema, hl, ppl, samples):
    text = """# geb-tiny

A {mp:.2f}M-parameter model with exactly the GEB-1.3B (ChatGLM2-style) architecture,
trained from scratch so that `make run` shows real text without a 2.7 GB download.
It babbles in the style of fortune cookies and classical Chinese poetry; it knows
nothing else.

- Architecture: {L} layers, hidden {H}, SwiGLU inner {F}, {NH} query heads of {D},
  {NKV} key/value heads (GQA), RMSNorm eps 1e-5, RoPE base 10000 on the first half
  of each head (adjacent pairs), untied output matrix, no biases, context {ctx}.
- Tokenizer: SentencePiece BPE, {V} pieces (byte fallback, identity normalisation,
  no dummy prefix), padded vocabulary {PV}; training text is `<s>` fortune `</s>`.
- Weights: BF16 safetensors with the GEB tensor names.
- Data: Debian's `fortunes`, `fortunes-min` and `fortunes-zh` packages (Debian main;
  BSD-style and GPL-3+ respectively), without the box-drawn tables of Debian's
  reference card: {nt} training tokens; 5% of the fortunes (chosen with a fixed
  seed) held out.
- Training: AdamW (betas 0.9/0.95, weight decay 0.1), peak lr {lr:g}, warm-up then
  cosine decay over a {mins:g}-minute wall-clock budget, batch {B} x {ctx} tokens,
  2 CPU threads; {steps} steps in {tmin:.1f} min. The schedule follows wall-clock time,
  so a rebuild is seeded but not bit-identical.
- Final train loss (EMA) {ema:.3f}; held-out loss {hl:.3f}, perplexity **{ppl:.2f}**
  ({cnt} scored tokens of `tests/data/tiny/heldout.txt`, windows of 128, BF16 weights).

Samples (temperature 0.8, top-k 40, PyTorch):

{samples}

Rebuild (about {mins:g} minutes of training on 2 cores; writes this folder and
`tests/data/tiny/`):

    /usr/bin/python3 tools/train_tiny.py

`train_log.txt` holds the loss curve of the run that produced these weights.
""".format(mp=n_params / 1e6, L=cfg["num_layers"], H=cfg["hidden_size"], F=cfg["ffn_hidden_size"],
           NH=cfg["num_attention_heads"], D=cfg["kv_channels"], NKV=cfg["num_key_value_heads"],
           ctx=cfg["seq_length"], V=args.vocab, PV=cfg["padded_vocab_size"], eos=cfg["eos_token_id"],
           nt=n_train, lr=args.lr, mins=args.minutes, B=args.batch, steps=steps, tmin=secs / 60,
           ema=ema, hl=hl, ppl=ppl, cnt=cnt,
           samples="\n\n".join("    " + s.replace("\n", "\n    ") for s in samples))
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
