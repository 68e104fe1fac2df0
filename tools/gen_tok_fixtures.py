#!/usr/bin/python3
r"""Writes the tokenizer fixtures in tests/data/tok/ with the python
sentencepiece library as the independent reference.

It trains several small SentencePiece models on fortunes (English) and the
Chinese fortune files, covering BPE and unigram, byte_fallback on and off,
nmt_nfkc / nmt_nfkc_cf / identity normalization, add_dummy_prefix and
remove_extra_whitespaces on and off, treat_whitespace_as_suffix, user-defined
and control symbols, split_digits and a custom unk_surface.  Then it builds a
fixed set of test strings and records, for every model, the library's ids and
decoded text for each string, plus the library's decoding of random id
sequences (byte pieces, control and unknown ids mixed in).

Fixture format: text fields are escaped UTF-8: valid printable characters
as they are, "\\" for a backslash, "\xNN" for any other byte (controls,
invalid UTF-8).  tests/data/tok/strings.txt holds the test strings, one per
line.  tests/data/tok/<model>.txt holds one case per line, tab-separated;
its E lines follow strings.txt line by line:
    E <ids, space-separated> <decoded text, or "\=" if it equals the input>
    D <ids, space-separated> <decoded text>
    M <piece count> <unk id> <bos id> <eos id>   (ids -1 when absent)
    P <id> <piece string>
An empty id list is written as "-".  Python's sentencepiece accepts bytes, so
invalid UTF-8 inputs are passed to the library as they are.

Run: /usr/bin/python3 tools/gen_tok_fixtures.py   (deterministic: fixed seeds,
one training thread).
"""
import os
import random
import sys

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "tok")
FORT = "/usr/share/games/fortunes"
EN_FILES = ["fortunes", "literature", "science", "computers", "people"]
ZH_FILES = ["chinese", "tang300", "song100"]

USER = ["<sep>", "[gMASK]", "<|user|>", "@@", "▁▁▁▁"]

# Custom rules (codepoints in hex): multi-character sources (longest match
# wins), deletions' neighbours, expansions; the denormalizer rewrites the
# decoded text.
NORM_RULES = """41\t61
42\t62
66 66\t46 46
66 66 69\t2A
FF01\t21
3000\t20
9\t20 20
E9\t65 301
2126\t3A9
"""
DENORM_RULES = """21\tFF01
2E\t3002
61 62\t41 42
"""

MODELS = {
    # ChatGLM-like: BPE + byte fallback + digit splitting + user symbols.
    "bpe_bf": dict(model_type="bpe", vocab_size=2000, byte_fallback=True,
                   split_digits=True, user_defined_symbols=USER,
                   control_symbols=["<ctl>"]),
    # Raw BPE: identity normalization, no dummy prefix, whitespace kept.
    "bpe_raw": dict(model_type="bpe", vocab_size=1500,
                    normalization_rule_name="identity", add_dummy_prefix=False,
                    remove_extra_whitespaces=False, unk_surface="<?>",
                    pad_id=3, allow_whitespace_only_pieces=True),
    # BPE with the whitespace marker as a suffix.
    "bpe_suffix": dict(model_type="bpe", vocab_size=1600,
                       treat_whitespace_as_suffix=True,
                       user_defined_symbols=["<sep>"]),
    # BPE keeping whitespace runs but adding the dummy prefix: the decoder
    # strips only the first leading U+2581 here.
    "bpe_ws": dict(model_type="bpe", vocab_size=1500, byte_fallback=True,
                   normalization_rule_name="identity",
                   remove_extra_whitespaces=False),
    # Default unigram.
    "uni": dict(model_type="unigram", vocab_size=2000),
    # Unigram with byte fallback, case folding, user symbols, split digits.
    "uni_bf": dict(model_type="unigram", vocab_size=2500, byte_fallback=True,
                   normalization_rule_name="nmt_nfkc_cf", split_digits=True,
                   user_defined_symbols=USER, bos_id=-1, eos_id=1, unk_id=2,
                   pad_id=0),
    # Unigram with custom normalization and denormalization rules.
    "uni_rules": dict(model_type="unigram", vocab_size=1500,
                      normalization_rule_tsv="norm_rules.tmp.tsv",
                      denormalization_rule_tsv="denorm_rules.tmp.tsv"),
    # Unigram, identity, no dummy prefix, whitespace kept, byte fallback.
    "uni_raw": dict(model_type="unigram", vocab_size=1500, byte_fallback=True,
                    normalization_rule_name="identity", add_dummy_prefix=False,
                    remove_extra_whitespaces=False, split_by_whitespace=False,
                    max_sentencepiece_length=8),
}


def read_fortunes(names):
    """Returns the fortunes of the given files as a list of strings."""
    out = []
    for n in names:
        with open(os.path.join(FORT, n), "rb") as f:
            text = f.read().decode("utf-8", "replace")
        for block in text.split("\n%\n"):
            block = block.strip("\n")
            if block:
                out.append(block)
    return out


def training_text(rng):
    """A few thousand lines of English and Chinese, one sentence a line."""
    en = [l for b in read_fortunes(EN_FILES) for l in b.split("\n") if l.strip()]
    zh = [l for b in read_fortunes(ZH_FILES) for l in b.split("\n") if l.strip()]
    rng.shuffle(en)
    rng.shuffle(zh)
    return en[:12000] + zh[:2500]


def train(name, opts, train_file):
    """Trains one model into OUT/<name>.model and returns its processor."""
    prefix = os.path.join(OUT, name)
    # relative names, run from OUT: the model records them in trainer_spec
    args = dict(input=os.path.basename(train_file), model_prefix=name, character_coverage=0.98,
                hard_vocab_limit=False, num_threads=1, seed_sentencepiece_size=200000,
                input_sentence_size=0, minloglevel=2)
    args.update(opts)
    spm.SentencePieceTrainer.train(**args)
    os.remove(prefix + ".vocab")
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


SPECIAL = [
    "", " ", "  ", "\t", "\n", "\r\n", "a", " a", "a ", "  a  b  ", "\ta\tb\t",
    "line1\nline2\r\nline3", "hello world", "Hello, World!", "  leading",
    "trailing   ", "multiple     spaces   here", "中文", " 中文 ", "你好，世界！",
    "Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３", "ﬁne ﬂow ﬀ", "①②③ ⑩", "ｶﾀｶﾅ ﾊﾟﾋﾟ",
    "é vs e\u0301", "n\u0303o\u0308\u0323", "😀🎉👍🏽", "𠀀𠀁𪚥", "\u200b\u200d\ufeff",
    "x" * 1000, "ab" * 700, "中" * 500, "1234567890" * 20, "3.14159 and 2,718",
    "<sep>", "a<sep>b", "[gMASK]sop", "<|user|> hi", "@@@@", "▁", "▁▁ ▁",
    "<s>", "</s>", "<unk>", "<0x41>", "\u3000全角空格\u3000", "™ ℃ ℡ ㍿", "Ⅻ ⅷ",
    "\x00", "a\x00b", "\x7f\x01\x1b[33m", "¼ ½ ¾", "Å Ω K", "ǅ ǈ", "ß ẞ",
    "ﾟ", "〜～", "…", "ＡＢＣ  ｄｅｆ", "   ", "\t\t", "\n\n\n", "a\u00a0b",
    "a\u2028b", "x\u0300\u0301\u0302", "🇯🇵🇺🇸", "👨‍👩‍👧", "\U0010ffff", "\ue000",
]

INVALID = [
    b"\xff", b"\xc3", b"ab\xffcd", b"\xe4\xb8", b"\xe4\xb8\xad\xe4", b"\xc0\xaf",
    b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x80\x80",
    b" \xfe \xff ", b"\xe4\xb8\xad\xff\xe6\x96\x87", b"\xf0\x9f\x98", b"\xef\xbf\xbd",
    b"a\xc3(b", b"\xe2\x82", b"\xe2\x82\xac\xe2", b"\xf0\x9f\x98\x80\x9f",
]

EXTRA_CHARS = ("ＡＢＣａｂｃ０１２ｶﾞﾊﾟ①⑳㈱㌔ﬁﬂ™é\u0301\u0308ñ😀🎉𠀀𪚥\u3000\t\r\n"
               "  ,.!?;:'\"()[]{}<>@#$%^&*-_=+/\\|~`ÀÉÎÕÜçøåæœ한국어Ελληνικάрусский")


def make_strings(rng):
    """The shared test set: special cases, fortune lines, and mutations."""
    en = read_fortunes(EN_FILES + ["wisdom", "zippy", "work"])
    zh = read_fortunes(ZH_FILES)
    cases = [s.encode("utf-8") for s in SPECIAL] + list(INVALID)
    for _ in range(700):
        cases.append(rng.choice(en)[:rng.randint(1, 160)].encode("utf-8"))
    for _ in range(500):
        cases.append(rng.choice(zh)[:rng.randint(1, 80)].encode("utf-8"))
    for _ in range(400):  # mixed English and Chinese with odd whitespace
        parts = []
        for _ in range(rng.randint(1, 5)):
            src = rng.choice(en) if rng.random() < 0.5 else rng.choice(zh)
            a = rng.randint(0, max(0, len(src) - 1))
            parts.append(src[a:a + rng.randint(1, 40)])
            parts.append(rng.choice(["", " ", "  ", "\t", "\n", "\r\n", " \u3000"]))
        cases.append("".join(parts).encode("utf-8"))
    for _ in range(300):  # random draws from a pool of awkward characters
        n = rng.randint(1, 30)
        cases.append("".join(rng.choice(EXTRA_CHARS) for _ in range(n)).encode("utf-8"))
    for _ in range(150):  # random bytes spliced into text: invalid UTF-8
        b = bytearray(rng.choice(en)[:60].encode("utf-8") + rng.choice(zh)[:20].encode("utf-8"))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randint(0, len(b))
            b[pos:pos] = bytes([rng.randint(0x80, 0xff)])
        if rng.random() < 0.3 and len(b) > 2:  # or cut a character in half
            b = b[:rng.randint(1, len(b) - 1)]
        cases.append(bytes(b))
    for _ in range(30):  # long words and long lines
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(50, 400)))
        cases.append((w + " " + rng.choice(zh)[:50] * 3).encode("utf-8"))
    return cases


def random_ids(rng, sp):
    """A random id sequence biased towards byte, control and unknown ids."""
    n = sp.get_piece_size()
    byte_ids = [i for i in range(n) if sp.is_byte(i)]
    special = [i for i in range(n) if sp.is_control(i) or sp.is_unknown(i)]
    ws = [i for i in range(n) if sp.id_to_piece(i).startswith("\u2581")]
    ids = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if byte_ids and r < 0.4:
            # bytes of a real UTF-8 character, sometimes cut short
            ch = rng.choice("中文é😀ñ한𠀀a\n").encode("utf-8")
            if rng.random() < 0.3:
                ch = ch[:rng.randint(1, len(ch))]
            ids += [sp.piece_to_id("<0x%02X>" % c) for c in ch]
        elif byte_ids and r < 0.5:
            ids.append(rng.choice(byte_ids))
        elif r < 0.6:
            ids.append(rng.choice(special))
        elif ws and r < 0.75:
            ids.append(rng.choice(ws))
        else:
            ids.append(rng.randrange(n))
    return ids


def crafted_ids(sp):
    """Sequences that probe how the decoder strips the first U+2581: after
    a bare U+2581 piece, after control/unknown/byte/special ids."""
    n = sp.get_piece_size()
    ws = [i for i in range(n) if sp.id_to_piece(i).startswith("\u2581")][:3]
    bare = [i for i in range(n) if sp.id_to_piece(i) == "\u2581"]
    ctl = [i for i in range(n) if sp.is_control(i)][:1]
    unk = [sp.unk_id()]
    byte = [sp.piece_to_id("<0x41>")] if sp.piece_to_id("<0x41>") != sp.unk_id() else []
    heads = [bare, ctl, unk, byte, bare + ctl, ctl + bare, bare + bare, bare + unk]
    out = []
    for h in heads:
        for w in ws:
            out.append(h + [w] + ws)
    return out


def esc(b):
    """Escapes bytes for a fixture field (see the module comment)."""
    out = []
    for ch in b.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # an undecodable byte
            out.append("\\x%02x" % (o - 0xDC00))
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


def idstr(ids):
    return " ".join(map(str, ids)) if ids else "-"


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(1234)
    train_file = os.path.join(OUT, "train.tmp.txt")
    with open(train_file, "w", encoding="utf-8") as f:
        f.write("\n".join(training_text(rng)) + "\n")
    os.chdir(OUT)
    with open("norm_rules.tmp.tsv", "w") as f:
        f.write(NORM_RULES)
    with open("denorm_rules.tmp.tsv", "w") as f:
        f.write(DENORM_RULES)
    cases = make_strings(random.Random(42))
    with open(os.path.join(OUT, "strings.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("".join(esc(b) + "\n" for b in cases))
    try:
        for name, opts in MODELS.items():
            sp = train(name, opts, train_file)
            drng = random.Random(7)
            lines = ["M\t%d\t%d\t%d\t%d" % (sp.get_piece_size(), sp.unk_id(), sp.bos_id(), sp.eos_id())]
            for i in sorted(set([0, 1, 2, 3, sp.get_piece_size() - 1] +
                                drng.sample(range(sp.get_piece_size()), 40))):
                lines.append("P\t%d\t%s" % (i, esc(sp.id_to_piece(i).encode("utf-8"))))
            for b in cases:
                ids = sp.encode(b)
                dec = sp.decode(ids).encode("utf-8", "surrogateescape")
                lines.append("E\t%s\t%s" % (idstr(ids), "\\=" if dec == b else esc(dec)))
            for ids in crafted_ids(sp) + [random_ids(drng, sp) for _ in range(400)]:
                dec = sp.decode(ids).encode("utf-8", "surrogateescape")
                lines.append("D\t%s\t%s" % (idstr(ids), esc(dec)))
            with open(os.path.join(OUT, name + ".txt"), "w", encoding="utf-8", newline="") as f:
                f.write("\n".join(lines) + "\n")
            print("%s: %d pieces, %d cases" % (name, sp.get_piece_size(), len(lines)))
    finally:
        for f in (train_file, "norm_rules.tmp.tsv", "denorm_rules.tmp.tsv"):
            os.remove(f)


if __name__ == "__main__":
    sys.exit(main())
