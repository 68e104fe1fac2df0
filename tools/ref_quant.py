#!/usr/bin/python3
"""ref_quant.py - independent reference for geb's weight type conversions.

Writes, under tests/data/quant/ (read by tests/test_types.c):
  conv_in.f32        float32 values with the edge cases of 16-bit rounding
  conv_f16.u16       their binary16 bits (numpy's float16 cast: nearest even)
  conv_bf16.u16      their bfloat16 bits (integer rounding, nearest even)
  quant_in.f32       NB blocks of 32 float32 weights (edge-case blocks first)
  q8_0.bin, q4_0.bin the expected ggml blocks (34 and 18 bytes each)
  q8_0_deq.f32, q4_0_deq.f32   the blocks dequantized with the fp16 scale

Written from the formulas of ggml's reference quantizers (types.h), all in
float32 arithmetic like the C code, with numpy only:
  Q8_0: d = absmax/127, id = d ? 1/d : 0, q = round half away(x*id)
  Q4_0: m = first element of largest |x| (sign kept), d = m/-8,
        id = d ? 1/d : 0, q = min(15, trunc(x*id + 8.5)); element j in the
        low nibble of byte j, element j+16 in the high nibble.
Run: /usr/bin/python3 tools/ref_quant.py   (deterministic; seed fixed)
"""
import os
import struct

import numpy as np

F = np.float32
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "quant")


def f16_bits(x):
    with np.errstate(over="ignore"):  # overflow to inf is one of the cases
        return int(np.array([x], dtype=np.float32).astype(np.float16).view(np.uint16)[0])


def bf16_bits(x):
    u = int(np.array([x], dtype=np.float32).view(np.uint32)[0])
    if (u & 0x7FFFFFFF) > 0x7F800000:
        return (u >> 16) | 0x40
    lower, upper = u & 0xFFFF, u >> 16
    if lower > 0x8000 or (lower == 0x8000 and (upper & 1)):
        upper += 1
    return upper & 0xFFFF


def round_half_away(v):
    # v is a float32; in float64 |v| + 0.5 is exact, so floor is exact too.
    a = np.floor(abs(float(v)) + 0.5)
    return int(-a if v < 0 else a)


def f16_value(bits):
    return np.array([bits], dtype=np.uint16).view(np.float16).astype(np.float32)[0]


def q8_0(block):
    amax = F(max(abs(F(v)) for v in block))
    d = F(amax / F(127))
    inv = F(F(1) / d) if d != 0 else F(0)
    q = [round_half_away(F(F(v) * inv)) for v in block]
    dh = f16_bits(d)
    raw = struct.pack("<H", dh) + struct.pack("<32b", *q)
    deq = [F(F(qi) * f16_value(dh)) for qi in q]
    return raw, deq


def q4_0(block):
    amax, m = F(0), F(0)
    for v in block:  # strictly greater: the first of equal magnitudes wins
        if abs(F(v)) > amax:
            amax, m = abs(F(v)), F(v)
    d = F(m / F(-8))
    inv = F(F(1) / d) if d != 0 else F(0)
    q = []
    for v in block:
        t = F(F(F(v) * inv) + F(8.5))
        q.append(min(15, int(np.trunc(float(t)))))
    dh = f16_bits(d)
    qs = bytes((q[j] | (q[j + 16] << 4)) for j in range(16))
    deq = [F(F(qi - 8) * f16_value(dh)) for qi in q]
    return struct.pack("<H", dh) + qs, deq


def conv_inputs():
    v = [0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), float("nan"),
         65504.0, 65519.0, 65520.0, 65536.0, 1e10, -1e10, 3.4e38]
    # binary16 ties: halfway between neighbours, both parities.
    for base in (1.0, 2.0, 0.5, 1024.0, 1.5):
        ulp = base * 2.0 ** -10
        v += [base + ulp / 2, base + 1.5 * ulp, base + ulp / 2 * 1.0000001, -(base + 1.5 * ulp)]
    # binary16 subnormals (unit 2^-24), their ties, the boundary with normals.
    u = 2.0 ** -24
    v += [u, u / 2, u * 0.50001, 1.5 * u, 2.5 * u, 3.5 * u, 1023.5 * u, 1023.4 * u,
          2.0 ** -14, 2.0 ** -14 - u / 2, -3.5 * u, 2.0 ** -26, 2.0 ** -30, 1e-45]
    # bfloat16 ties: the 16 dropped bits exactly 0x8000 with even and odd kept bits.
    for bits in (0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0xBF818000,
                 0x7F7FFFFF, 0x7F7F8000, 0x00008000, 0x00018000, 0x007FFFFF):
        v.append(float(np.array([bits], dtype=np.uint32).view(np.float32)[0]))
    rng = np.random.default_rng(7)
    v += list(rng.standard_normal(200) * np.exp2(rng.integers(-30, 20, 200)))
    return np.array(v, dtype=np.float32)


def quant_blocks():
    b = []
    b.append([0.0] * 32)                                    # zeros: d = 0, id = 0
    b.append([0.3] * 32)                                    # all equal, positive
    b.append([-0.7] * 32)                                   # all equal, negative
    b.append([(-1) ** j * 0.25 for j in range(32)])         # equal magnitudes, both signs
    r = np.random.default_rng(11)
    neg = list(r.uniform(-1, 1, 32)); neg[5] = -3.0          # largest magnitude negative
    b.append(neg)
    pos = list(r.uniform(-1, 1, 32)); pos[20] = 3.0          # largest magnitude positive, high half
    b.append(pos)
    tie = list(r.uniform(-1, 1, 32)); tie[3] = 2.0; tie[9] = -2.0   # |max| tie: first (+) wins
    b.append(tie)
    tie2 = list(r.uniform(-1, 1, 32)); tie2[3] = -2.0; tie2[9] = 2.0  # first (-) wins
    b.append(tie2)
    # Q8_0 rounding ties: absmax 127 gives d = 1, id = 1, so x.5 hits a tie.
    b.append([127.0] + [k + 0.5 for k in range(-15, 16)])
    # Q4_0 ties: m = -8 gives d = 1, id = 1; x + 8.5 lands on integers and on .5.
    b.append([-8.0] + [(k - 16) * 0.5 for k in range(31)])
    b.append([8.0] + [(k - 16) * 0.25 for k in range(31)])   # d = -1: x*id = -x
    b.append(list(r.uniform(-1, 1, 32) * 1e-6))              # scale below fp16's normals
    b.append(list(r.uniform(-1, 1, 32) * 1e4))               # large scale
    b.append([1e-3 * (j - 16) for j in range(32)])
    for scale in (1.0, 0.02, 50.0):
        for _ in range(8):
            b.append(list(r.standard_normal(32) * scale))
    return np.array(b, dtype=np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    cv = conv_inputs()
    cv.tofile(os.path.join(OUT, "conv_in.f32"))
    np.array([f16_bits(x) for x in cv], dtype="<u2").tofile(os.path.join(OUT, "conv_f16.u16"))
    np.array([bf16_bits(x) for x in cv], dtype="<u2").tofile(os.path.join(OUT, "conv_bf16.u16"))
    qb = quant_blocks()
    qb.tofile(os.path.join(OUT, "quant_in.f32"))
    for name, fn in (("q8_0", q8_0), ("q4_0", q4_0)):
        raw, deq = b"", []
        for blk in qb:
            r_, d_ = fn(list(blk))
            raw += r_
            deq += d_
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(raw)
        np.array(deq, dtype=np.float32).tofile(os.path.join(OUT, name + "_deq.f32"))
    print(f"ref_quant: {len(cv)} conversion values, {len(qb)} blocks -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
