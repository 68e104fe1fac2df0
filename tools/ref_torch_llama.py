#!/usr/bin/python3
"""ref_torch_llama.py - a second, independent check of the Llama-family
fixtures: a small PyTorch (1.13, CPU) model written from the semantics of
transformers' LlamaForCausalLM (modeling_llama.py: LlamaRMSNorm,
LlamaRotaryEmbedding with rotate_half, repeat_kv, eager attention with the
softmax in float32, LlamaMLP), sharing no code with tools/ref_model.py.

For every folder tests/data/models/llama-* and mobillama-* (or the folders
given as arguments) it
  - reads config.json, tokenizer_config.json and the safetensors file(s)
    with its own reader (torch.frombuffer);
  - checks the prompt -> ids rule: sentencepiece ids of ref.txt's
    prompt_text, BOS (config.json's bos_token_id) first unless
    tokenizer_config.json says add_bos_token false, equal ref.txt's tokens;
  - runs the prompt in one causal forward pass, in float64 and in float32,
    and reports max |logit - ref.txt| / (logit range) per precision;
  - checks the greedy continuation (argmax of a full pass over prompt +
    generated ids, float64) and the perplexity over ppl.txt by the rule of
    ref.txt's perplexity_rule line.
It asserts float64 agreement to 1e-9 and float32 agreement to 1e-5 of the
logit range, perplexity to 1e-6 (float64) relative, greedy identical.

MobiLlama (MobiLlamaForCausalLM): as its modelling code builds it, k_proj
and v_proj have num_heads * head_dim rows (the kv head count is taken from
k_proj's shape) and a layer without mlp tensors uses the one shared FFN
(layer 0's).  partial_rotary_factor follows transformers' partial-rotary
models (the first int(head_dim * factor) dims rotate with rotate_half over
that width, the rest pass through; plain LlamaAttention would not accept a
factor < 1).

  /usr/bin/python3 tools/ref_torch_llama.py [FOLDER...]
"""
import glob
import json
import math
import os
import struct
import sys

import sentencepiece as spm
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    """{name: tensor} of one file (header: u64 length + JSON)."""
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    n = struct.unpack("<Q", bytes(blob[:8]))[0]
    header = json.loads(bytes(blob[8:8 + n]))
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = DTYPES[info["dtype"]]
        t = torch.frombuffer(blob, dtype=dt, count=(e - b) // torch.tensor([], dtype=dt).element_size(),
                             offset=8 + n + b)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def read_weights(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_safetensors(os.path.join(folder, "model.safetensors"))
    with open(index) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    w = {}
    for name in files:
        w.update(read_safetensors(os.path.join(folder, name)))
    return w


class RMSNorm(torch.nn.Module):
    """LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), times the weight."""

    def __init__(self, weight, eps):
        super().__init__()
        self.weight, self.eps = weight, eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Llama(torch.nn.Module):
    def __init__(self, cfg, w, dtype):
        super().__init__()
        g = lambda name: w[name].to(dtype)
        self.H = cfg["hidden_size"]
        self.NH = cfg["num_attention_heads"]
        self.D = cfg.get("head_dim") or self.H // self.NH
        mobi = "MobiLlamaForCausalLM" in cfg.get("architectures", [])
        k0 = w["model.layers.0.self_attn.k_proj.weight"]
        self.NKV = k0.shape[0] // self.D if mobi else cfg.get("num_key_value_heads", self.NH)
        eps = cfg["rms_norm_eps"]
        self.embed = g("model.embed_tokens.weight")
        self.lm_head = self.embed if cfg.get("tie_word_embeddings") else g("lm_head.weight")
        self.norm = RMSNorm(g("model.norm.weight"), eps)
        self.layers = []
        for i in range(cfg["num_hidden_layers"]):
            p = "model.layers.%d." % i
            m = p if p + "mlp.gate_proj.weight" in w else "model.layers.0."
            self.layers.append(dict(
                ln1=RMSNorm(g(p + "input_layernorm.weight"), eps),
                ln2=RMSNorm(g(p + "post_attention_layernorm.weight"), eps),
                q=g(p + "self_attn.q_proj.weight"), k=g(p + "self_attn.k_proj.weight"),
                v=g(p + "self_attn.v_proj.weight"), o=g(p + "self_attn.o_proj.weight"),
                gate=g(m + "mlp.gate_proj.weight"), up=g(m + "mlp.up_proj.weight"),
                down=g(m + "mlp.down_proj.weight")))
        # LlamaRotaryEmbedding (default / linear rope_type)
        self.rot = int(self.D * cfg.get("partial_rotary_factor", 1.0))
        base = cfg.get("rope_theta", 10000.0)
        inv = 1.0 / (base ** (torch.arange(0, self.rot, 2, dtype=torch.int64).to(dtype) / self.rot))
        sc = cfg.get("rope_scaling")
        if sc is not None:
            assert sc.get("rope_type", sc.get("type")) == "linear"
            inv = inv / sc["factor"]
        self.inv_freq = inv
        self.dtype = dtype

    def rope(self, x, cos, sin):
        xr, xp = x[..., :self.rot], x[..., self.rot:]
        return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)

    def forward(self, ids):
        T = len(ids)
        x = self.embed[torch.tensor(ids)]
        pos = torch.arange(T, dtype=self.dtype)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None], emb.sin()[None]          # [1, T, rot]
        mask = torch.full((T, T), float("-inf"), dtype=self.dtype).triu(1)
        rep = self.NH // self.NKV
        for ly in self.layers:
            h = ly["ln1"](x)
            q = (h @ ly["q"].T).view(T, self.NH, self.D).transpose(0, 1)
            k = (h @ ly["k"].T).view(T, self.NKV, self.D).transpose(0, 1)
            v = (h @ ly["v"].T).view(T, self.NKV, self.D).transpose(0, 1)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            # repeat_kv: kv head g serves query heads g*rep .. g*rep+rep-1
            k = k[:, None].expand(self.NKV, rep, T, self.D).reshape(self.NH, T, self.D)
            v = v[:, None].expand(self.NKV, rep, T, self.D).reshape(self.NH, T, self.D)
            s = q @ k.transpose(1, 2) / math.sqrt(self.D) + mask
            a = torch.softmax(s.to(torch.float32), dim=-1).to(self.dtype) \
                if self.dtype != torch.float64 else torch.softmax(s, dim=-1)
            o = (a @ v).transpose(0, 1).reshape(T, self.NH * self.D)
            x = x + o @ ly["o"].T
            h = ly["ln2"](x)
            x = x + (torch.nn.functional.silu(h @ ly["gate"].T) * (h @ ly["up"].T)) @ ly["down"].T
        return self.norm(x) @ self.lm_head.T


def read_ref(path):
    """tokens, logits rows, greedy ids and the key lines of a ref.txt."""
    ref, logits = {}, []
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.partition(" ")
        if key == "logits":
            n = int(rest.split()[0])
            logits = [[float(v) for v in lines[i + j].split()] for j in range(n)]
            i += n
        else:
            ref[key] = rest
    ref["logits"] = torch.tensor(logits, dtype=torch.float64)
    return ref


def ints(s):
    v = [int(t) for t in s.split()]
    assert v[0] == len(v) - 1
    return v[1:]


def perplexity(model, ids, rule, bos, ctx):
    nll, n = 0.0, 0
    if rule == "bos_chunks":
        wins = [[bos] + ids[c:c + ctx - 1] for c in range(0, len(ids), ctx - 1)]
        first = 1                                   # score every chunk token
    else:
        wins = [ids[c:c + ctx] for c in range(0, len(ids), ctx)]
        first = 1                                   # the window's first token has no context
    for win in wins:
        if len(win) < 2:
            continue
        lp = torch.log_softmax(model.forward(win)[:-1], dim=-1)
        tgt = torch.tensor(win[first:])
        nll -= float(lp[torch.arange(len(win) - 1), tgt].sum())
        n += len(win) - 1
    return math.exp(nll / n)


def check(folder):
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    tc_path = os.path.join(folder, "tokenizer_config.json")
    tc = json.load(open(tc_path)) if os.path.exists(tc_path) else {}
    ref = read_ref(os.path.join(folder, "ref.txt"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
    prompt = json.loads('"%s"' % ref["prompt_text"])
    ids = sp.encode(prompt)
    bos = cfg.get("bos_token_id", sp.bos_id())
    if tc.get("add_bos_token", True):
        ids = [bos] + ids
    assert ids == ints(ref["tokens"]), "%s: prompt ids differ" % folder
    w = read_weights(folder)
    want = ref["logits"]
    rng = float((want.max(dim=1).values - want.min(dim=1).values).min())
    errs = {}
    for name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        with torch.no_grad():
            got = Llama(cfg, w, dt).forward(ids).to(torch.float64)
        errs[name] = float((got - want).abs().max()) / rng
    m64 = Llama(cfg, w, torch.float64)
    greedy = ints(ref["greedy"])
    with torch.no_grad():
        full = m64.forward(ids + greedy[:-1])
        mine = [int(v) for v in full[len(ids) - 1:].argmax(dim=-1)]
        text = open(os.path.join(folder, "ppl.txt"), encoding="utf-8").read()
        ctx, want_ppl = ref["perplexity"].split()
        ppl = perplexity(m64, sp.encode(text), ref["perplexity_rule"], bos, int(ctx))
    ppl_err = abs(ppl - float(want_ppl)) / float(want_ppl)
    ok = errs["float64"] < 1e-9 and errs["float32"] < 1e-5 and mine == greedy and ppl_err < 1e-6
    print("%-28s logits vs ref.txt: float64 %.2e, float32 %.2e of the logit range; greedy %s; "
          "perplexity %.6g vs %s (%.1e) %s" % (os.path.basename(folder), errs["float64"],
                                            errs["float32"], "same" if mine == greedy else "DIFFERS",
                                            ppl, want_ppl, ppl_err, "ok" if ok else "FAIL"))
    return ok


def main():
    folders = sys.argv[1:] or sorted(glob.glob(os.path.join(ROOT, "tests/data/models/llama-*")) +
                                     glob.glob(os.path.join(ROOT, "tests/data/models/mobillama-*")))
    torch.set_num_threads(1)
    bad = [f for f in folders if not check(f)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
