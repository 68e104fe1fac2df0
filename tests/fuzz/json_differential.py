#!/usr/bin/python3
"""json_differential.py - compares geb's JSON reader with Python's json module
(made strict: UTF-8 only, no NaN/Infinity, no lone surrogates, no overflow to
infinity, nesting <= 64, no U+0000 in keys) on every file of the given
directories (default: the json seeds and the scratch fuzz corpus).

Both must accept or reject each document alike, and for accepted ones
Python's reading of geb's re-serialized tree must equal Python's reading of
the input (integers outside int64 compare as doubles, as geb stores them).
Run from the repository root; builds tests/fuzz/json_dump.c with cc.
"""
import json
import math
import os
import subprocess
import sys
import tempfile


def python_view(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None

    def no_constants(name):
        raise ValueError(name)

    try:
        value = json.loads(text, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return None

    def check(x, depth):
        if isinstance(x, str):
            x.encode("utf-8")  # raises on a lone surrogate
        elif isinstance(x, float) and math.isinf(x):
            raise ValueError("overflow")
        elif isinstance(x, (list, dict)):
            if depth >= 64:
                raise ValueError("too deep")
            items = x.items() if isinstance(x, dict) else enumerate(x)
            for k, y in items:
                if isinstance(k, str):
                    k.encode("utf-8")
                    if "\0" in k:
                        raise ValueError("NUL in key")
                check(y, depth + 1)

    try:
        check(value, 0)
    except (ValueError, UnicodeEncodeError):
        return None
    return (value,)


def as_geb(x):
    """Python's exact big integers become doubles, as geb stores them."""
    if isinstance(x, bool):
        return x
    if isinstance(x, int) and not -2**63 <= x < 2**63:
        return float(x)
    if isinstance(x, list):
        return [as_geb(y) for y in x]
    if isinstance(x, dict):
        return {k: as_geb(y) for k, y in x.items()}
    return x


def main():
    dirs = sys.argv[1:] or ["tests/fuzz/corpus/json", "build-fuzz/corpus/json"]
    files = sorted(os.path.join(d, f) for d in dirs if os.path.isdir(d) for f in os.listdir(d))
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "json_dump")
        subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-Iinclude", "-Itests/fuzz",
                        "tests/fuzz/json_dump.c", "src/json.c", "src/common.c", "-o", exe, "-lm"],
                       check=True)
        bad = accepted = 0
        for i in range(0, len(files), 200):
            chunk = files[i:i + 200]
            lines = subprocess.run([exe] + chunk, capture_output=True, check=True).stdout
            for path, line in zip(chunk, lines.split(b"\n")):
                with open(path, "rb") as f:
                    want = python_view(f.read())
                if (want is None) != (line == b"REJECT"):
                    bad += 1
                    print("accept/reject differs:", path,
                          "python", "rejects" if want is None else "accepts")
                elif want is not None:
                    accepted += 1
                    if json.loads(line.decode("utf-8")) != as_geb(want[0]):
                        bad += 1
                        print("values differ:", path)
    print("%d documents (%d accepted), %d differences" % (len(files), accepted, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
