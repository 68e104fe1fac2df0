#!/usr/bin/python3
"""gen_pt_fixtures.py - PyTorch (torch.save) test checkpoints, written by the
real torch.save of Debian's python3-torch, from the safetensors fixtures of
tools/ref_model.py.

    /usr/bin/python3 tools/gen_pt_fixtures.py      (after tools/ref_model.py)

Into tests/data/models/ (each folder gets config.json, tokenizer.model,
ref.txt and ppl.txt of its safetensors twin, so tests/test_model.c and
tests/cli_test.sh check it against the float64 reference):

  pt-f32-gqa3      geb-f32-gqa3 as one F32 pytorch_model.bin
  pt-bf16-mqa      geb-bf16-mqa as BF16
  pt-f16-mha       geb-f16-mha as F16
  pt-bf16-sharded  chatglm-bf16-sharded as pytorch_model-0000N-of-00003.bin
                   + pytorch_model.bin.index.json (same tensor -> shard split)
  pt-views         geb-f16-mha with every layer's query and key_value a view
                   into one storage (nonzero storage offsets), saved under the
                   archive folder name "weights/", plus an int64 buffer
  geb-shared-ffn   a new safetensors model (written and referenced by
                   tools/ref_model.py's own functions) whose layers all hold
                   the same FFN weights, copied per layer
  pt-shared-ffn    its PyTorch twin: every layer's mlp tensors are the same
                   tensor object, so torch.save stores them once
  pt-llama-sharded llama-bf16-mqa-tied-sharded (Llama names, tied, BOS/EOS
                   list) as two pytorch_model-0000N-of-00002.bin + index
  pt-mobillama     mobillama-bf16-ffn-copies as MobiLlama's own code saves
                   it: one LlamaMLP object in every layer, so every layer's
                   mlp keys point at one storage each (stored once)
  (the Llama-family twins also get tokenizer_config.json,
  generation_config.json and the ref_*.txt of the weight-type references)

Into tests/data/pt/ (read by tests/test_pytorch.c):

  legacy.bin       torch.save(..., _use_new_zipfile_serialization=False)
  evil_system.bin  a torch.save archive whose pickle calls os.system
  evil_eval.bin    ... builtins.eval
  deflated.bin     pt-f16-mha's archive with its data entries deflated
  zip64.bin        pt-f16-mha's archive re-packed by this tool's own zip
                   writer with every ZIP64 record forced (torch only writes
                   them past 4 GB)
  small.bin        a few tensors of every storage class geb lists
  module_p2.bin    an nn.Module's state_dict() (with its _metadata), protocol 2
  module_p4.bin    the same with pickle_protocol=4 (twin of both: module.safetensors)
  twin of each: the same name with .safetensors, where one exists

and the fuzz seeds: tests/fuzz/corpus/zip/ (small archives: torch.save's,
this tool's classic and ZIP64 repacks, a deflated one, the structured form
of tests/fuzz/fuzz_zip.c) and tests/fuzz/corpus/pickle/ (data.pkl of some
fixtures, and pickles of Python's own pickle module: protocol 4, calls of
os.system and eval, deep and self-referencing lists, wide integers).

Deterministic: torch.save writes no timestamps in 1.13 and the tensors come
from the safetensors files, so reruns give identical files; legacy.bin
is only written when absent, since its storage keys are object addresses
(the legacy format names storages by id()) and would differ every run.
"""

import collections
import json
import os
import shutil
import struct
import sys
import zipfile
import zlib

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "data", "models")
PT = os.path.join(ROOT, "tests", "data", "pt")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
sys.path.insert(0, os.path.join(ROOT, "tools"))

COPIED = ["config.json", "tokenizer.model", "ref.txt", "ppl.txt"]
OPTIONAL = ["tokenizer_config.json", "generation_config.json"]  # copied where the twin has them


# --------------------------------------------------------------------------
# Reading safetensors as raw bits (no rounding anywhere).

def st_raw(path):
    """{name: torch tensor} with exactly the file's bits, in file order."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack_from("<Q", buf, 0)
    header = json.loads(buf[8:8 + n])
    out = collections.OrderedDict()
    items = [(k, v) for k, v in header.items() if k != "__metadata__"]
    items.sort(key=lambda kv: kv[1]["data_offsets"][0])
    np_of = {"F32": np.float32, "F16": np.float16, "BF16": np.int16}
    for name, info in items:
        b, e = info["data_offsets"]
        a = np.frombuffer(buf[8 + n + b:8 + n + e], dtype=np_of[info["dtype"]]).copy()
        t = torch.from_numpy(a.reshape(info["shape"]))
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t
    return out


def folder_tensors(d):
    """All tensors of a safetensors fixture folder, and the shard of each."""
    idx = os.path.join(d, "model.safetensors.index.json")
    if not os.path.exists(idx):
        return st_raw(os.path.join(d, "model.safetensors")), None
    with open(idx) as f:
        wm = json.load(f)["weight_map"]
    out = collections.OrderedDict()
    for shard in sorted(set(wm.values())):
        out.update(st_raw(os.path.join(d, shard)))
    return out, wm


def new_folder(name, twin):
    """Empties tests/data/models/name and copies the twin's non-weight files."""
    d = os.path.join(MODELS, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for f in COPIED:
        shutil.copyfile(os.path.join(MODELS, twin, f), os.path.join(d, f))
    for f in sorted(os.listdir(os.path.join(MODELS, twin))):
        if f in OPTIONAL or (f.startswith("ref_") and f.endswith(".txt")):
            shutil.copyfile(os.path.join(MODELS, twin, f), os.path.join(d, f))
    return d


def save(obj, path, stem=None):
    """torch.save into path; the archive's top folder is the file's stem in
    torch 1.13, so stem (if given) is saved under that name and renamed."""
    tmp = os.path.join(os.path.dirname(path), (stem or "pytorch_model") + ".bin")
    torch.save(obj, tmp)
    if tmp != path:
        os.replace(tmp, path)


# --------------------------------------------------------------------------
# The model fixtures.

def plain(name, twin):
    t, _ = folder_tensors(os.path.join(MODELS, twin))
    d = new_folder(name, twin)
    save(t, os.path.join(d, "pytorch_model.bin"))


def sharded(name, twin):
    t, wm = folder_tensors(os.path.join(MODELS, twin))
    d = new_folder(name, twin)
    shards = sorted(set(wm.values()))
    new_map = {}
    for i, shard in enumerate(shards):
        fname = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(shards))
        part = collections.OrderedDict((k, v) for k, v in t.items() if wm[k] == shard)
        save(part, os.path.join(d, fname), stem="pytorch_model-%05d-of-%05d" % (i + 1, len(shards)))
        for k in part:
            new_map[k] = fname
    total = sum(v.numel() * v.element_size() for v in t.values())
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(new_map.items()))},
                  f, indent=2)
        f.write("\n")


def views(name, twin):
    """Every layer's query and key_value become slices of one tensor."""
    t, _ = folder_tensors(os.path.join(MODELS, twin))
    p = "transformer.encoder.layers.%d.self_attention."
    L = 0
    while (p % L) + "query.weight" in t:
        L += 1
    parts, names = [], []
    for i in range(L):
        for n in ("query.weight", "key_value.weight"):
            names.append((p % i) + n)
            parts.append(t[(p % i) + n])
    big = torch.cat(parts)               # one storage for all of them
    row = 0
    for n, a in zip(names, parts):
        v = big[row:row + a.shape[0]]
        assert v.storage_offset() == row * a.shape[1] and torch.equal(v, a)
        t[n] = v
        row += a.shape[0]
    t["transformer.position_ids"] = torch.arange(7, dtype=torch.int64)  # a buffer geb ignores
    d = new_folder(name, twin)
    save(t, os.path.join(d, "pytorch_model.bin"), stem="weights")


def shared_storage(name, twin):
    """MobiLlama's layers hold one LlamaMLP: every layer's mlp tensor of a
    role becomes layer 0's tensor object (the twin's copies are equal), so
    torch.save writes each once and every key points at that storage."""
    t, _ = folder_tensors(os.path.join(MODELS, twin))
    first = {}
    for n in list(t):
        parts = n.split(".")
        if len(parts) == 6 and parts[:2] == ["model", "layers"] and parts[3] == "mlp":
            role = ".".join(parts[3:])
            if role in first:
                assert torch.equal(first[role], t[n]), n
                t[n] = first[role]
            else:
                first[role] = t[n]
    assert len(first) == 3, first.keys()
    d = new_folder(name, twin)
    path = os.path.join(d, "pytorch_model.bin")
    save(t, path)
    storages = [e for e in zipfile.ZipFile(path).namelist() if "/data/" in e]
    assert len(storages) == len({id(v) for v in t.values()}), (len(storages), len(t))


def shared_ffn():
    """geb-shared-ffn (safetensors, by ref_model.py) and pt-shared-ffn."""
    import ref_model as rm
    m = dict(name="geb-shared-ffn", layout="geb", dtype="BF16", shards=1,
             L=3, H=64, NH=4, NKV=2, D=16, F=88, rope_ratio=None, eps=1e-5,
             seq=128, norm="identity", seed=5005)
    orig = rm.make_weights

    def shared_weights(*args, **kw):
        """ref_model's weights with layer 0's FFN in every layer."""
        w = orig(*args, **kw)
        first = {}
        out = []
        for n, a in w:
            for k in ("mlp.dense_h_to_4h.weight", "mlp.dense_4h_to_h.weight"):
                if n.endswith(k):
                    a = first.setdefault(k, a)
            out.append((n, a))
        return out

    rm.make_weights = shared_weights
    try:
        tok = os.path.join(MODELS, "geb-f32-gqa3", "tokenizer.model")
        r = rm.build_model(m, tok, rm.ppl_text())
    finally:
        rm.make_weights = orig
    print("geb-shared-ffn: seed %d margin %.3g ppl %.4g" % (r["seed"], r["margin"], r["ppl"]))
    t, _ = folder_tensors(os.path.join(MODELS, "geb-shared-ffn"))
    first = {}
    for n in list(t):
        for k in ("mlp.dense_h_to_4h.weight", "mlp.dense_4h_to_h.weight"):
            if n.endswith(k):
                assert torch.equal(t[n], first.setdefault(k, t[n]))
                t[n] = first[k]            # the same tensor object for every layer
    d = new_folder("pt-shared-ffn", "geb-shared-ffn")
    save(t, os.path.join(d, "pytorch_model.bin"))


# --------------------------------------------------------------------------
# A zip writer of our own (stored entries), for the forced-ZIP64 archive.

def zip_entries(path):
    """(name, bytes) of every entry, in archive order."""
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write_zip(path, entries, zip64=False, align=64):
    """Stored entries, each data start aligned to `align` by padding the local
    extra field, as torch does; zip64: every size/offset in the central
    directory is 0xFFFFFFFF with the values in a ZIP64 extra field, and the
    end records are ZIP64 ones plus a classic EOCD of 0xFFFF... values."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        off = len(out)
        crc = zlib.crc32(data)
        extra = b""
        if zip64:
            extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        pad = (-(off + 30 + len(nb) + len(extra) + 4)) % align
        extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad   # "FB" padding, as torch writes
        sz = 0xFFFFFFFF if zip64 else len(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0, 0x21,
                           crc, sz, sz, len(nb), len(extra)) + nb + extra + data
        if zip64:
            cx = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc,
                                   0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(cx), 0, 0, 0, 0,
                                   0xFFFFFFFF) + nb + cx
        else:
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, crc,
                                   len(data), len(data), len(nb), 0, 0, 0, 0, 0, off) + nb
    cd_off = len(out)
    out += central
    n = len(entries)
    if zip64:
        e64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_off)
        out += struct.pack("<IIQI", 0x07064B50, 0, e64, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                           0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_off, 0)
    with open(path, "wb") as f:
        f.write(out)
    return bytes(out)


# --------------------------------------------------------------------------
# tests/data/pt/.

class Evil:
    """Pickles as a call of fn(arg): what a hostile checkpoint does."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def st_write_raw(path, tensors):
    """A safetensors file of torch tensors, bits as they are."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int64: "I64", torch.uint8: "U8", torch.float64: "F64", torch.int32: "I32",
             torch.int16: "I16", torch.int8: "I8", torch.bool: "BOOL"}
    header, blobs, off = {}, [], 0
    for n, t in tensors.items():
        raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[n] = {"dtype": names[t.dtype], "shape": list(t.shape),
                     "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def small_state():
    """A few tensors of each storage class geb knows, shapes awkward."""
    g = torch.Generator().manual_seed(7)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 5, generator=g)
    sd["f16"] = torch.randn(7, generator=g).half()
    sd["bf16"] = torch.randn(2, 3, 2, generator=g).bfloat16()
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["i64"] = torch.arange(5, dtype=torch.int64)
    sd["u8"] = torch.arange(3, dtype=torch.uint8)
    sd["f64"] = torch.ones(2, dtype=torch.float64)
    sd["row"] = sd["f32"][1:2]                     # a view with an offset
    sd["param"] = torch.nn.Parameter(torch.randn(4, generator=g))
    return sd


def pt_files():
    os.makedirs(PT, exist_ok=True)
    sd = small_state()
    save(sd, os.path.join(PT, "small.bin"), stem="archive")
    st_write_raw(os.path.join(PT, "small.safetensors"),
                 collections.OrderedDict((k, v.detach()) for k, v in sd.items()))
    legacy = os.path.join(PT, "legacy.bin")
    if not os.path.exists(legacy):  # its storage keys are object addresses: kept once written
        torch.save(sd, legacy, _use_new_zipfile_serialization=False)
    # A module's own state_dict() carries _metadata (a BUILD opcode); protocol 4
    # adds FRAME, SHORT_BINUNICODE, MEMOIZE.
    torch.manual_seed(3)
    mod = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4),
                              torch.nn.Embedding(5, 2).half())
    msd = mod.state_dict()
    save(msd, os.path.join(PT, "module_p2.bin"), stem="module_p2")
    torch.save(msd, os.path.join(PT, "module_p4.bin"), pickle_protocol=4)
    st_write_raw(os.path.join(PT, "module.safetensors"), msd)
    sd_evil = collections.OrderedDict(sd)
    sd_evil["x"] = Evil(os.system, "echo this must never run")
    save(sd_evil, os.path.join(PT, "evil_system.bin"), stem="archive")
    sd_evil["x"] = Evil(eval, "1+1")
    save(sd_evil, os.path.join(PT, "evil_eval.bin"), stem="archive")
    src = os.path.join(MODELS, "pt-f16-mha", "pytorch_model.bin")
    entries = zip_entries(src)
    with zipfile.ZipFile(os.path.join(PT, "deflated.bin"), "w") as z:
        for n, data in entries:
            info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data, zipfile.ZIP_DEFLATED if "/data/" in n else zipfile.ZIP_STORED)
    write_zip(os.path.join(PT, "zip64.bin"), entries, zip64=True)
    shutil.copyfile(os.path.join(MODELS, "geb-f16-mha", "model.safetensors"),
                    os.path.join(PT, "zip64.safetensors"))


# --------------------------------------------------------------------------
# Fuzz seeds.

def pickle_seeds():
    """Hostile and odd pickles beside the real ones."""
    import pickle
    s = {}
    s["proto4.pkl"] = pickle.dumps(collections.OrderedDict(a=1, b=[1.5, None, True], c=(1, 2, 3)),
                                   protocol=4)
    s["system.pkl"] = pickle.dumps(Evil(os.system, "true"), protocol=2)
    s["eval.pkl"] = pickle.dumps(Evil(eval, "1"), protocol=2)
    deep = []
    for _ in range(100):
        deep = [deep]
    s["deep.pkl"] = pickle.dumps(deep, protocol=2)
    self_ref = []
    self_ref.append(self_ref)
    s["cycle.pkl"] = pickle.dumps(self_ref, protocol=2)
    s["bigint.pkl"] = pickle.dumps([2 ** 63 - 1, -2 ** 63, 2 ** 64, -1, 255, 65536], protocol=2)
    s["bytes.pkl"] = pickle.dumps({"k": b"\x00\x01", "s": "x" * 300}, protocol=3)
    return s


def structured(entries):
    """fuzz_zip's structured form: 'S', then per entry its name, NUL, a method
    byte, a 16-bit length and the bytes (the harness writes the zip)."""
    out = bytearray(b"S")
    for name, data, method in entries:
        out += name.encode() + b"\0" + bytes([method]) + struct.pack("<H", len(data)) + data
    return bytes(out)


def seeds():
    """Small inputs only (libFuzzer mutates the whole file each run)."""
    zd, pd = os.path.join(CORPUS, "zip"), os.path.join(CORPUS, "pickle")
    for d in (zd, pd):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    for name in ("small.bin", "evil_eval.bin", "legacy.bin"):
        shutil.copyfile(os.path.join(PT, name), os.path.join(zd, name))
    small = zip_entries(os.path.join(PT, "small.bin"))
    write_zip(os.path.join(zd, "classic.zip"), small)
    write_zip(os.path.join(zd, "zip64.zip"), small, zip64=True)
    with zipfile.ZipFile(os.path.join(zd, "deflated.zip"), "w") as z:
        for n, data in small:
            info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data, zipfile.ZIP_DEFLATED if "/data/" in n else zipfile.ZIP_STORED)
    with open(os.path.join(zd, "small.structured"), "wb") as f:
        f.write(structured([(n, d, 0) for n, d in small]))
    one = [(n, d, 0) for n, d in zip_entries(os.path.join(PT, "evil_system.bin"))]
    with open(os.path.join(zd, "evil.structured"), "wb") as f:
        f.write(structured(one))
    for name in ("pt-views", "pt-shared-ffn", "pt-f16-mha"):
        for n, data in zip_entries(os.path.join(MODELS, name, "pytorch_model.bin")):
            if n.endswith("data.pkl"):
                with open(os.path.join(pd, name + ".pkl"), "wb") as f:
                    f.write(data)
    for n, data in small + zip_entries(os.path.join(PT, "module_p4.bin")):
        if n.endswith("data.pkl") and "module" in n:
            with open(os.path.join(pd, "module_p4.pkl"), "wb") as f:
                f.write(data)
        elif n.endswith("data.pkl"):
            with open(os.path.join(pd, "small.pkl"), "wb") as f:
                f.write(data)
    for n, data in pickle_seeds().items():
        with open(os.path.join(pd, n), "wb") as f:
            f.write(data)


def main():
    torch.manual_seed(0)
    plain("pt-f32-gqa3", "geb-f32-gqa3")
    plain("pt-bf16-mqa", "geb-bf16-mqa")
    plain("pt-f16-mha", "geb-f16-mha")
    sharded("pt-bf16-sharded", "chatglm-bf16-sharded")
    views("pt-views", "geb-f16-mha")
    shared_ffn()
    sharded("pt-llama-sharded", "llama-bf16-mqa-tied-sharded")
    shared_storage("pt-mobillama", "mobillama-bf16-ffn-copies")
    pt_files()
    seeds()
    for root in (MODELS, PT):
        for d, _, files in sorted(os.walk(root)):
            for f in sorted(files):
                if f.endswith(".bin"):
                    p = os.path.join(d, f)
                    print("%-60s %8d bytes" % (os.path.relpath(p, ROOT), os.path.getsize(p)))


if __name__ == "__main__":
    sys.exit(main())
