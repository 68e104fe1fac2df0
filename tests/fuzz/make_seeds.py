#!/usr/bin/python3
"""make_seeds.py - writes the seed corpora of the fuzz targets owned by the
checkpoint reader: tests/fuzz/corpus/{json,safetensors,st_index}/.

Uses only the Python standard library (json, struct), independently of the C
code.  Run from the repository root:  /usr/bin/python3 tests/fuzz/make_seeds.py
The output is committed; rerunning rewrites the same files.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes) in file order."""
    header, off, blob = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blob += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:  # the reference writer pads the header with spaces to 8 bytes
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def json_seeds():
    put("json", "config.json", json.dumps({
        "architectures": ["ChatGLMModel"], "add_bias_linear": False, "add_qkv_bias": False,
        "ffn_hidden_size": 5632, "hidden_size": 2048, "kv_channels": 128,
        "layernorm_epsilon": 1e-05, "multi_query_attention": True, "num_key_value_heads": 4,
        "num_attention_heads": 16, "num_layers": 24, "padded_vocab_size": 64896,
        "seq_length": 4096, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "eos_token_id": [2, 64795], "rope_ratio": None}, indent=2))
    put("json", "index.json", json.dumps({
        "metadata": {"total_size": 2727198720},
        "weight_map": {"transformer.output_layer.weight": "model-00002-of-00002.safetensors",
                       "transformer.embedding.word_embeddings.weight":
                           "model-00001-of-00002.safetensors"}}, indent=2))
    put("json", "header.json", '{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16",'
        '"shape":[64896,2048],"data_offsets":[0,265814016]}}   ')
    put("json", "strings.json", '["", "\\"\\\\\\/\\b\\f\\n\\r\\t", "\\u0041\\u00e9\\u4e2d",'
        ' "\\ud83d\\ude00", "a\\u0000b", "人生 😀", "\\uDBFF\\uDFFF"]')
    put("json", "numbers.json", "[0, -0, 7, -12, 1.5, -0.25, 1e-05, 1E+2, 25e-1, 0.1,"
        " 9223372036854775807, -9223372036854775808, 9223372036854775808,"
        " 9007199254740993, 1.7976931348623157e308, 4.9406564584124654e-324]")
    put("json", "literals.json", ' [true, false, null, {}, [], "", {"a": {"b": [[]]}}] ')
    put("json", "nested.json", "[" * 63 + '{"k":1}' + "]" * 63)
    put("json", "dup.json", '{"a": 1, "a": 2, "b": {"a": 3}}')
    put("json", "tokenizer_config.json", json.dumps({
        "name_or_path": "GEB-1.3B", "remove_space": False, "do_lower_case": False,
        "tokenizer_class": "ChatGLMTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]}},
        ensure_ascii=False))


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def u16(*v):
    return struct.pack("<%dH" % len(v), *v)


def safetensors_seeds():
    put("safetensors", "good.safetensors", safetensors([
        ("a.float", "F32", [2], f32(1.5, -2.25)),
        ("b.half", "F16", [2, 3], u16(0x0000, 0x8001, 0x03ff, 0x3c00, 0x7c00, 0x7e00)),
        ("c.bf16", "BF16", [2, 2], u16(0x3f80, 0x4049, 0xff80, 0x7fc0)),
        ("d.int8", "I8", [3], b"\xff\x00\x7f"),
        ("e.empty", "F32", [0, 5], b""),
        ("f.scalar", "BF16", [], u16(0x4000)),
    ], metadata={"format": "pt"}))
    layers = []
    for i in range(2):
        p = "transformer.encoder.layers.%d." % i
        layers += [(p + "input_layernorm.weight", "BF16", [4], u16(0x3f80) * 4),
                   (p + "self_attention.query.weight", "BF16", [4, 4], u16(0x3c00) * 16),
                   (p + "mlp.dense_4h_to_h.weight", "F16", [4, 2], u16(0x3800) * 8)]
    put("safetensors", "layers.safetensors", safetensors(layers))
    put("safetensors", "unpadded.safetensors", safetensors(
        [("w", "F32", [1, 1, 1, 1, 1, 1, 1, 2], f32(0.5, 2.0))], pad=False))
    put("safetensors", "others.safetensors", safetensors([
        (n, n, [2], b"\0" * (2 * s)) for n, s in [("F64", 8), ("I64", 8), ("I32", 4),
        ("I16", 2), ("U8", 1), ("U16", 2), ("U32", 4), ("U64", 8), ("BOOL", 1),
        ("F8_E4M3", 1), ("F8_E5M2", 1)]]))
    put("safetensors", "empty_header.safetensors", struct.pack("<Q", 2) + b"{}")
    # Two rejected ones, so error paths are in the corpus from the start.
    bad = safetensors([("x", "F32", [2], f32(1, 2)), ("y", "F32", [1], f32(3))])
    put("safetensors", "overlap.safetensors", bad.replace(b"[8,12]", b"[4,8] "))
    put("safetensors", "short.safetensors", b"\x02\0\0\0")
    # Structured form (header, NUL, data; fuzz_safetensors adds the length).
    for name in ("good", "layers", "others"):
        with open(os.path.join(ROOT, "safetensors", name + ".safetensors"), "rb") as f:
            img = f.read()
        n = struct.unpack("<Q", img[:8])[0]
        put("safetensors", name + ".structured", img[8:8 + n] + b"\0" + img[8 + n:])
    # Shapes whose element or byte count overflows 64 bits (rejected).
    put("safetensors", "overflow.structured",
        b'{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}'
        b"\0\0\0\0\0")
    put("safetensors", "overflow_bytes.structured",
        b'{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}\0\0\0\0\0')
    put("safetensors", "many.structured", json.dumps(
        {"t%d" % i: {"dtype": "BF16", "shape": [2], "data_offsets": [4 * i, 4 * i + 4]}
         for i in range(40)}, separators=(",", ":")).encode() + b"\0" + u16(0x3f80) * 80)


def index_seeds():
    def idx(m):
        return json.dumps({"metadata": {"total_size": 26}, "weight_map": m}, indent=2)
    put("st_index", "good.json", idx({"x": "a.safetensors", "y": "a.safetensors",
                                      "z": "b.safetensors"}))
    put("st_index", "one.json", idx({"z": "b.safetensors"}))
    put("st_index", "extra.json", idx({"extra": "b.safetensors", "x": "a.safetensors"}))
    put("st_index", "missing_shard.json", idx({"x": "c.safetensors"}))
    put("st_index", "missing_tensor.json", idx({"w": "a.safetensors"}))
    put("st_index", "bad_shard.json", idx({"x": "bad.safetensors"}))
    put("st_index", "dir_shard.json", idx({"x": "sub"}))
    put("st_index", "slash.json", idx({"x": "../a.safetensors"}))
    put("st_index", "twice.json", '{"weight_map": {"x": "a.safetensors", "x": "a.safetensors"}}')
    put("st_index", "no_map.json", '{"metadata": {}}')


if __name__ == "__main__":
    json_seeds()
    safetensors_seeds()
    index_seeds()
