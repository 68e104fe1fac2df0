/* types.c - the weight type traits (see types.h): FP32, the two 16-bit float
 * types and ggml's Q8_0 and Q4_0 blocks, with their row conversions.
 *
 * The quantizers run at model load over gigabytes, so the per-block loops
 * are branch-free where it matters (the compiler can vectorize them) and
 * every rounding is spelled out so that the result is bit-exact with the
 * formulas in types.h whatever the compiler or CPU. */
#include "types.h"

#include <math.h>
#include <string.h>

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 to binary32, exact for every input (NaN payloads kept). */
float geb_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = h >> 10 & 0x1F, man = h & 0x3FF;
    if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | man << 13);
    if (exp != 0) return f32_from_bits(sign | (exp + 112) << 23 | man << 13);
    float v = (float)man * 0x1p-24f; /* zero or subnormal: exact in float */
    return sign ? -v : v;
}

/* binary32 to binary16, round to nearest even; overflow gives inf, NaN stays
 * a (quiet) NaN with the top payload bits kept. */
uint16_t geb_f32_to_f16(float f) {
    uint32_t u = f32_bits(f), a = u & 0x7FFFFFFFu;
    uint16_t sign = (uint16_t)(u >> 16 & 0x8000);
    if (a > 0x7F800000u) return (uint16_t)(sign | 0x7E00 | (a >> 13 & 0x3FF));
    /* 65520 is halfway between 65504 (odd mantissa) and 2^16: ties to inf. */
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);
    if (a >= 0x38800000u) { /* normal half: rebias, round the 13 dropped bits */
        uint32_t r = a - 0x38000000u;
        return (uint16_t)(sign | (r + 0xFFFu + (r >> 13 & 1)) >> 13);
    }
    /* Subnormal half (or zero): f = m * 2^(e-150), unit 2^-24, so the result
     * is m >> s with s = 126 - e, rounded on the dropped bits. */
    uint32_t e = a >> 23, s = 126 - e;
    if (s > 24) return sign; /* below half the smallest subnormal */
    uint32_t m = (a & 0x7FFFFFu) | (e ? 0x800000u : 0), h = m >> s;
    uint32_t rem = m & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* binary32 to bfloat16 (the top half), round to nearest even. */
uint16_t geb_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)(u >> 16 | 0x40); /* quiet NaN */
    return (uint16_t)((u + 0x7FFFu + (u >> 16 & 1)) >> 16);
}

/* ---- row conversions --------------------------------------------------- */

static uint16_t load_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void f32_to_f32(float *dst, const void *src, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof *dst);
}

static void f32_from_f32(void *dst, const float *src, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof *src);
}

static void f16_to_f32_row(float *dst, const void *src, int64_t n) {
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = geb_f16_to_f32(load_u16(s + 2 * i));
}

static void f16_from_f32_row(void *dst, const float *src, int64_t n) {
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = geb_f32_to_f16(src[i]);
        memcpy(d + 2 * i, &h, sizeof h);
    }
}

static void bf16_to_f32_row(float *dst, const void *src, int64_t n) {
    const uint8_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = geb_bf16_to_f32(load_u16(s + 2 * i));
}

static void bf16_from_f32_row(void *dst, const float *src, int64_t n) {
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = geb_f32_to_bf16(src[i]);
        memcpy(d + 2 * i, &h, sizeof h);
    }
}

/* Round half away from zero, as C's roundf, for |v| < 2^23; branch-free so
 * the block loops vectorize (v - trunc(v) is exact in that range). */
static inline int round_away(float v) {
    int i = (int)v;
    float r = v - (float)i;
    return i + (r >= 0.5f) - (r <= -0.5f);
}

/* Largest |x_j| of a block; a plain max loop the compiler can vectorize. */
static inline float block_absmax(const float *x) {
    float m = 0.0f;
    for (int j = 0; j < GEB_QK; j++) {
        float a = fabsf(x[j]);
        m = a > m ? a : m;
    }
    return m;
}

/* One Q8_0 block (34 bytes at out): d = absmax/127, q = round(x / d) with
 * id = 1/d in float, as ggml's reference quantizer; d is stored as fp16. */
static void q8_0_block(uint8_t *out, const float *x) {
    float d = block_absmax(x) / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int8_t q[GEB_QK];
    for (int j = 0; j < GEB_QK; j++) q[j] = (int8_t)round_away(x[j] * id);
    uint16_t dh = geb_f32_to_f16(d);
    memcpy(out, &dh, 2);
    memcpy(out + 2, q, sizeof q);
}

/* One Q4_0 block (18 bytes at out): m is the first element of largest
 * magnitude (sign kept), d = m / -8, q = min(15, (int8)(x/d + 8.5)). */
static void q4_0_block(uint8_t *out, const float *x) {
    float amax = block_absmax(x), m = 0.0f;
    for (int j = 0; j < GEB_QK; j++)
        if (fabsf(x[j]) == amax) {
            m = x[j];
            break;
        }
    float d = m / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t qs[GEB_QK / 2];
    for (int j = 0; j < GEB_QK / 2; j++) {
        /* Two statements: x*id is rounded before the add (no FMA contraction). */
        float vl = x[j] * id, vh = x[j + GEB_QK / 2] * id;
        int lo = (int8_t)(vl + 8.5f), hi = (int8_t)(vh + 8.5f);
        lo = lo < 15 ? lo : 15;
        hi = hi < 15 ? hi : 15;
        qs[j] = (uint8_t)(lo | hi << 4);
    }
    uint16_t dh = geb_f32_to_f16(d);
    memcpy(out, &dh, 2);
    memcpy(out + 2, qs, sizeof qs);
}

static void q8_0_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *d = dst;
    for (int64_t b = 0; b < n / GEB_QK; b++)
        q8_0_block(d + b * sizeof(geb_block_q8_0), src + b * GEB_QK);
}

static void q4_0_from_f32(void *dst, const float *src, int64_t n) {
    uint8_t *d = dst;
    for (int64_t b = 0; b < n / GEB_QK; b++)
        q4_0_block(d + b * sizeof(geb_block_q4_0), src + b * GEB_QK);
}

/* Dequantization uses the fp16-rounded scale, exactly as the kernels do. */
static void q8_0_to_f32(float *dst, const void *src, int64_t n) {
    const uint8_t *s = src;
    for (int64_t b = 0; b < n / GEB_QK; b++, s += sizeof(geb_block_q8_0)) {
        float d = geb_f16_to_f32(load_u16(s));
        for (int j = 0; j < GEB_QK; j++) dst[b * GEB_QK + j] = (float)(int8_t)s[2 + j] * d;
    }
}

static void q4_0_to_f32(float *dst, const void *src, int64_t n) {
    const uint8_t *s = src;
    for (int64_t b = 0; b < n / GEB_QK; b++, s += sizeof(geb_block_q4_0)) {
        float d = geb_f16_to_f32(load_u16(s));
        float *o = dst + b * GEB_QK;
        for (int j = 0; j < GEB_QK / 2; j++) {
            o[j] = (float)((s[2 + j] & 15) - 8) * d;
            o[j + GEB_QK / 2] = (float)((s[2 + j] >> 4) - 8) * d;
        }
    }
}

_Static_assert(sizeof(geb_block_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(geb_block_q4_0) == 18, "Q4_0 block is 18 bytes");

static const geb_type_traits traits[GEB_TYPE_COUNT] = {
    [GEB_TYPE_F32] = {"f32", 1, 4, f32_to_f32, f32_from_f32},
    [GEB_TYPE_F16] = {"f16", 1, 2, f16_to_f32_row, f16_from_f32_row},
    [GEB_TYPE_BF16] = {"bf16", 1, 2, bf16_to_f32_row, bf16_from_f32_row},
    [GEB_TYPE_Q8_0] = {"q8_0", GEB_QK, sizeof(geb_block_q8_0), q8_0_to_f32, q8_0_from_f32},
    [GEB_TYPE_Q4_0] = {"q4_0", GEB_QK, sizeof(geb_block_q4_0), q4_0_to_f32, q4_0_from_f32},
};

const geb_type_traits *geb_type_traits_of(geb_type t) {
    return (unsigned)t < GEB_TYPE_COUNT ? &traits[t] : NULL;
}

int geb_type_from_name(const char *name, geb_type *out) {
    for (int t = 0; name && t < GEB_TYPE_COUNT; t++)
        if (strcmp(name, traits[t].name) == 0) {
            *out = (geb_type)t;
            return 0;
        }
    return -1;
}

/* 64-bit words of 4 (16-bit types) or 2 (F32) lanes: a lane's exponent bits, plus one at their lowest bit, carry into
 * its sign bit exactly when they are all ones; the sums are ORed together
 * and the sign bits looked at once.  No lane carries into the next (the
 * sum is at most the sign bit).  Four vector accumulators keep the loop
 * free of a single dependency chain. */
static int any_all_ones(const uint8_t *p, size_t bytes, uint64_t exp, uint64_t one, uint64_t sign,
                        int esize) {
    /* 16-byte vectors of two such words (GCC's generic vectors: SSE2 or
     * NEON, whatever the target has): the words one by one through a
     * memcpy'd array compiled to a store and reloads per word, and the
     * scan of GEB-1.3B's 2.7 GB of BF16 took 0.3 s. */
    typedef uint64_t v2 __attribute__((vector_size(16)));
    v2 e = {exp, exp}, o = {one, one}, a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0, w0, w1, w2, w3;
    size_t i = 0;
    for (; i + 64 <= bytes; i += 64) {
        memcpy(&w0, p + i, 16), memcpy(&w1, p + i + 16, 16);
        memcpy(&w2, p + i + 32, 16), memcpy(&w3, p + i + 48, 16);
        a0 |= (w0 & e) + o, a1 |= (w1 & e) + o, a2 |= (w2 & e) + o, a3 |= (w3 & e) + o;
    }
    a0 |= a1 | a2 | a3;
    uint64_t acc = a0[0] | a0[1];
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= (w & exp) + one;
    }
    if (acc & sign) return 1;
    for (; i < bytes; i += (size_t)esize) { /* the last elements, one by one */
        uint64_t v = 0;
        memcpy(&v, p + i, (size_t)esize);
        if (((v & exp) + one) & sign) return 1;
    }
    return 0;
}

int geb_type_any_nonfinite(geb_type t, const void *p, int64_t n) {
    if (n <= 0) return 0;
    if (t == GEB_TYPE_BF16)
        return any_all_ones(p, (size_t)n * 2, 0x7F807F807F807F80ull, 0x0080008000800080ull,
                            0x8000800080008000ull, 2);
    if (t == GEB_TYPE_F16)
        return any_all_ones(p, (size_t)n * 2, 0x7C007C007C007C00ull, 0x0400040004000400ull,
                            0x8000800080008000ull, 2);
    if (t == GEB_TYPE_F32)
        return any_all_ones(p, (size_t)n * 4, 0x7F8000007F800000ull, 0x0080000000800000ull,
                            0x8000000080000000ull, 4);
    return -1;
}

size_t geb_type_row_bytes(geb_type t, int64_t n) {
    const geb_type_traits *tr = geb_type_traits_of(t);
    if (!tr || n <= 0 || n % tr->block) return 0;
    uint64_t blocks = (uint64_t)n / (uint64_t)tr->block;
    if (blocks > SIZE_MAX / tr->block_bytes) return 0;
    return (size_t)blocks * tr->block_bytes;
}
