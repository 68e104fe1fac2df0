#!/usr/bin/python3
r"""Expected prompt ids of the built-in chat templates, computed with the
python sentencepiece library from the rule alone (no code shared with
src/chat.c).  Writes tests/data/chat/ids_ref.json.

The rule (include/chat.h, issue 15):
- special-token strings the template itself writes become ids: the
  tokenizer's special table (here: ChatGLM3's nine names appended after the
  pieces for the GLM-style tokenizers), else a CONTROL or USER_DEFINED piece
  of that exact string; a string the tokenizer lacks stays text;
- all other text is encoded by SentencePiece with user-defined pieces never
  matched (the model with every USER_DEFINED piece retyped UNUSED);
- llama-style templates (zephyr, llama2, chatml, bitnet): the text between two
  ids is one encode; only text with no template id before it gets the
  dummy prefix (the others are encoded by the model with add_dummy_prefix
  off: transformers' legacy=false);
- GLM templates (chatglm3, chatglm2): every text piece the format names
  separately is its own encode with the dummy prefix (chatglm3: "\n" and
  the content; chatglm2: the round text);
- BOS (the tokenizer's bos id) first when the tokenizer's family adds it,
  unless the template writes its own (llama2 <s>, bitnet <|begin_of_text|>);
- message text is never scanned for special strings.
Spans: the ids of each message (text shared by two messages counts for the
message its first non-empty piece belongs to).

It also checks its text form against tests/data/chat/render_ref.json (the
published templates rendered by @huggingface/jinja) and, when Python's
jinja2 is installed, against jinja2 with transformers' settings; the one
known difference between the two renderers is printed.

Also trains tests/data/chat/llama_bpe.model (spm_train: BPE, byte fallback,
dummy prefix, identity normalisation, <s> </s>) when it is missing.

Run: /usr/bin/python3 tools/chat_ref/ids.py   (deterministic)
"""
import json
import os
import subprocess
import sys
import tempfile

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "chat")
FORT = "/usr/share/games/fortunes"

GLM3_SPECIALS = ["[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
                 "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"]

# name -> (model path, special table appended after the pieces?, add BOS?)
TOKENIZERS = {
    "geb-f32": ("tests/data/models/geb-f32-gqa3/tokenizer.model", True, False),
    "chatglm-nfkc": ("tests/data/models/chatglm-bf16-sharded/tokenizer.model", True, False),
    "geb-tiny": ("models/geb-tiny/tokenizer.model", True, False),
    "llama": ("tests/data/chat/llama_bpe.model", False, True),
    "user-pieces": ("tests/data/tok/bpe_bf.model", False, True),
}


EX_MODELS = ["tests/data/tok/bpe_bf.model", "tests/data/tok/uni_bf.model",
             "tests/data/tok/bpe_suffix.model", "tests/data/tok/uni.model",
             "tests/data/chat/llama_bpe.model"]
EX_STRINGS = ["Hello world", " leading space", "   three spaces  ", "",
              "a<sep>b[gMASK]c<|user|>d@@e", "▁▁▁▁x ▁▁▁▁", "<|user|>\n你好[gMASK]sop",
              "\n\nnew lines\n", "tab\there 🙂"]


# ---------------------------------------------------------------- protobuf
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def put_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        if v:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def fields(b):
    """(field, wire, raw bytes of the whole field, payload) over a message."""
    i = 0
    while i < len(b):
        start = i
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = varint(b, i)
            yield f, w, b[start:i], v
        elif w == 1:
            i += 8
            yield f, w, b[start:i], None
        elif w == 5:
            i += 4
            yield f, w, b[start:i], None
        elif w == 2:
            n, j = varint(b, i)
            i = j + n
            yield f, w, b[start:i], b[j:i]
        else:
            raise ValueError("wire type %d" % w)


def piece_types(model):
    """Piece types in order (1 NORMAL ... 4 USER_DEFINED ...)."""
    types = []
    for f, w, _, payload in fields(model):
        if f == 1 and w == 2:
            t = 1
            for pf, pw, _, pv in fields(payload):
                if pf == 3 and pw == 0:
                    t = pv
            types.append(t)
    return types


def retype_user(model):
    """The model with USER_DEFINED (4) pieces retyped UNUSED (5)."""
    out = bytearray()
    for f, w, raw, payload in fields(model):
        if f == 1 and w == 2:
            body = bytearray()
            for pf, pw, praw, pv in fields(payload):
                body += b"\x18\x05" if (pf == 3 and pw == 0 and pv == 4) else praw
            out += b"\x0a" + put_varint(len(body)) + bytes(body)
        else:
            out += raw
    return bytes(out)


def no_dummy(model):
    """The model with normalizer_spec.add_dummy_prefix false (a second
    normalizer_spec field merges into the first)."""
    return model + b"\x1a\x02\x18\x00"


# ---------------------------------------------------------------- tokenizer
class Tok:
    def __init__(self, path, specials, add_bos):
        raw = open(os.path.join(ROOT, path), "rb").read()
        self.sp = spm.SentencePieceProcessor(model_proto=raw)
        self.text_sp = spm.SentencePieceProcessor(model_proto=retype_user(raw))
        self.cont_sp = spm.SentencePieceProcessor(model_proto=no_dummy(retype_user(raw)))
        self.types = piece_types(raw)
        n = self.sp.get_piece_size()
        self.special = {s: n + i for i, s in enumerate(GLM3_SPECIALS)} if specials else {}
        self.add_bos = add_bos

    def lookup(self, s):
        if s in self.special:
            return self.special[s]
        i = self.sp.piece_to_id(s)
        if self.sp.id_to_piece(i) == s and self.types[i] in (3, 4):
            return i
        return None

    def encode(self, text, dummy):
        sp = self.text_sp if dummy else self.cont_sp
        return sp.encode(text.encode("utf-8"))


# ---------------------------------------------------------------- templates
# A rendering is a list of ("spec", s, alt, owner) | ("text", s, owner) |
# ("shown", s) | ("break",).  owner: -1 before the messages, the message
# index, or len(messages) for the opened assistant turn.

def glm3(msgs):
    out = [("spec", "[gMASK]", None, -1), ("spec", "sop", "<sop>", -1)]
    for i, m in enumerate(msgs):
        out += [("spec", "<|%s|>" % m["role"], None, i), ("text", "\n", i), ("shown", " "),
                ("break",), ("text", m["content"], i), ("break",)]
    return out + [("spec", "<|assistant|>", None, len(msgs))]


def glm2(msgs):
    out = [("spec", "[gMASK]", None, -1), ("spec", "sop", "<sop>", -1)]
    rnd = 0
    for i, m in enumerate(msgs):
        if m["role"] == "user":
            rnd += 1
            out += [("text", "[Round %d]\n\n问：" % rnd + m["content"] + "\n\n答：", i)]
        else:  # assistant, and geb's system paragraph
            out += [("text", m["content"] + "\n\n", i)]
    return out


def zephyr(msgs):
    out = []
    for i, m in enumerate(msgs):
        out += [("spec", "<|%s|>" % m["role"], None, i), ("text", "\n" + m["content"], i),
                ("spec", "</s>", None, i), ("text", "\n", i)]
    return out + [("spec", "<|assistant|>", None, len(msgs)), ("text", "\n", len(msgs))]


def llama2(msgs):
    out = []
    loop, sysmsg = (msgs[1:], msgs[0]["content"]) if msgs[0]["role"] == "system" else (msgs, None)
    off = len(msgs) - len(loop)
    for k, m in enumerate(loop):
        i = k + off
        if m["role"] == "user":
            if k == 0 and sysmsg is not None:
                content = "<<SYS>>\n" + sysmsg + "\n<</SYS>>\n\n" + m["content"]
                owner = 0
            else:
                content, owner = m["content"], i
            out += [("spec", "<s>", None, owner), ("text", "[INST] " + content.strip(" \t\n\r\v\f") + " [/INST]", owner)]
        else:
            out += [("text", " " + m["content"].strip(" \t\n\r\v\f") + " ", i), ("spec", "</s>", None, i)]
    return out


def chatml(msgs):
    out = []
    for i, m in enumerate(msgs):
        out += [("spec", "<|im_start|>", None, i), ("text", m["role"] + "\n" + m["content"], i),
                ("spec", "<|im_end|>", None, i), ("text", "\n", i)]
    return out + [("spec", "<|im_start|>", None, len(msgs)), ("text", "assistant\n", len(msgs))]


def bitnet(msgs):
    out = [("spec", "<|begin_of_text|>", None, -1)]
    for i, m in enumerate(msgs):
        out += [("text", m["role"].capitalize() + ": " + m["content"].strip(" \t\n\r\v\f"), i),
                ("spec", "<|eot_id|>", None, i)]
    return out + [("text", "Assistant: ", len(msgs))]


TEMPLATES = {"chatglm3": (glm3, "glm", False), "chatglm2": (glm2, "glm", False),
             "zephyr": (zephyr, "llama", False), "llama2": (llama2, "llama", True),
             "chatml": (chatml, "llama", False), "bitnet": (bitnet, "llama", True)}


def text_form(parts):
    return "".join(p[1] for p in parts if p[0] in ("spec", "text", "shown"))


def ids_of(parts, tok, mode, writes_bos, n_msgs):
    ids, owners = [], []
    if tok.add_bos and not writes_bos and tok.sp.bos_id() >= 0:
        ids.append(tok.sp.bos_id())
        owners.append(-1)
    seg, seg_owner = "", None
    any_id = False

    def flush():
        nonlocal seg, seg_owner
        if seg:
            dummy = mode == "glm" or not any_id
            v = tok.encode(seg, dummy)
            ids.extend(v)
            owners.extend([seg_owner] * len(v))
        seg, seg_owner = "", None

    for p in parts:
        if p[0] == "break":
            if mode == "glm":
                flush()
            continue
        if p[0] == "shown":
            continue
        if p[0] == "spec":
            i = tok.lookup(p[1])
            if i is None and p[2]:
                i = tok.lookup(p[2])
            if i is not None:
                flush()
                ids.append(i)
                owners.append(p[3])
                any_id = True
                continue
            s, owner = p[1], p[3]
        else:
            s, owner = p[1], p[2]
        if s and not seg:
            seg_owner = owner
        seg += s
    flush()
    spans = []
    for m in range(n_msgs):
        sel = [k for k, o in enumerate(owners) if o == m]
        if sel:
            spans.append([sel[0], sel[-1] + 1])
        else:
            at = next((k for k, o in enumerate(owners) if o > m), len(ids))
            spans.append([at, at])
    gen = next((k for k, o in enumerate(owners) if o >= n_msgs), len(ids))
    return ids, spans, gen


# ---------------------------------------------------------------- training
def train_llama():
    path = os.path.join(DATA, "llama_bpe.model")
    if os.path.exists(path):
        return
    text = []
    for name in ["fortunes", "literature", "science", "chinese", "tang300"]:
        with open(os.path.join(FORT, name), "rb") as f:
            text.append(f.read().decode("utf-8", "replace"))
    with tempfile.TemporaryDirectory() as d:
        inp = os.path.join(d, "in.txt")
        with open(inp, "w") as f:
            f.write("\n".join(t.replace("\n%\n", "\n") for t in text))
        r = subprocess.run(["spm_train", "--input=" + inp, "--model_prefix=" + os.path.join(d, "m"),
                        "--model_type=bpe", "--vocab_size=2500", "--byte_fallback=true",
                        "--add_dummy_prefix=true", "--remove_extra_whitespaces=false",
                        "--normalization_rule_name=identity", "--split_digits=true",
                        "--character_coverage=0.98", "--num_threads=1",
                        "--max_sentence_length=100000", "--unk_id=0", "--bos_id=1",
                        "--eos_id=2", "--pad_id=-1"], check=False, capture_output=True)
        if not os.path.exists(os.path.join(d, "m.model")):
            sys.exit("spm_train failed: " + r.stderr.decode()[-800:])
        os.replace(os.path.join(d, "m.model"), path)


def main():
    train_llama()
    convs = json.load(open(os.path.join(DATA, "conversations.json")))["conversations"]
    ref = json.load(open(os.path.join(DATA, "render_ref.json")))
    published = json.load(open(os.path.join(DATA, "templates.json")))["templates"]
    try:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    except ImportError:
        env = None
    toks = {k: Tok(*v) for k, v in TOKENIZERS.items()}
    out = {"note": "written by tools/chat_ref/ids.py", "tokenizers": {}, "text": {}}
    bad = 0
    for tname, (fn, mode, writes_bos) in TEMPLATES.items():
        out["text"][tname] = {}
        for c in convs:
            parts = fn(c["messages"])
            txt = text_form(parts)
            out["text"][tname][c["name"]] = txt
            if tname in ref and ref[tname][c["name"]] != txt:
                print("ids.py: %s/%s differs from @huggingface/jinja" % (tname, c["name"]))
            if env is not None and tname in published:
                j = env.from_string(published[tname]).render(
                    messages=c["messages"], add_generation_prompt=True, bos_token="<s>",
                    eos_token="</s>")
                if j != txt:
                    print("ids.py: %s/%s DIFFERS from jinja2: %r" % (tname, c["name"], j))
                    bad += 1
    for kname, tok in toks.items():
        per = out["tokenizers"][kname] = {
            "model": TOKENIZERS[kname][0], "glm3_specials_after_pieces": TOKENIZERS[kname][1],
            "add_bos": tok.add_bos, "templates": {}}
        for tname, (fn, mode, writes_bos) in TEMPLATES.items():
            per["templates"][tname] = {}
            for c in convs:
                ids, spans, gen = ids_of(fn(c["messages"]), tok, mode, writes_bos, len(c["messages"]))
                per["templates"][tname][c["name"]] = {"ids": ids, "spans": spans, "gen_begin": gen}
    # geb_tok_encode_ex on its own: flags 1 (no dummy prefix) and 2 (no
    # user-defined pieces) on models with user symbols, unigram and BPE
    out["encode_ex"] = {"strings": EX_STRINGS, "models": {}}
    for path in EX_MODELS:
        raw = open(os.path.join(ROOT, path), "rb").read()
        variants = {0: raw, 1: no_dummy(raw), 2: retype_user(raw), 3: no_dummy(retype_user(raw))}
        per = out["encode_ex"]["models"][path] = {}
        for flags, proto in variants.items():
            sp = spm.SentencePieceProcessor(model_proto=proto)
            per[str(flags)] = [sp.encode(x.encode("utf-8")) for x in EX_STRINGS]
    with open(os.path.join(DATA, "ids_ref.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("ids.py: %d tokenizers x %d templates x %d conversations; jinja2 %s" %
          (len(toks), len(TEMPLATES), len(convs), "checked" if env else "not installed"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
