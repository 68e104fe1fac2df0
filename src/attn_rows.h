/* attn_rows.h - the two attention kernels over a block of cached positions,
 * written once over a few vector macros that each ISA file defines before
 * including this header (as rows.h does for the matrix loops):
 *
 *   AV_T            the vector type            AV_N          its float lanes
 *   AV_LOAD(p)      unaligned load             AV_STORE(p,v) unaligned store
 *   AV_ZERO()       all zero                   AV_SET1(x)    x in every lane
 *   AV_FMA(a,b,c)   a*b + c                    AV_ADD(a,b)   a + b
 *   AV_HSUM(v)      the sum of the lanes, as a float
 *   AV_SUB(a,b)     a - b                      AV_MUL(a,b)   a * b
 *   AV_DIV(a,b)     a / b                      AV_ROUND(v)   to the nearest integer, ties even
 *   AV_MIN(a,b)     lane minimum               AV_MAX(a,b)   lane maximum
 *   AV_SCALE2(p,n)  p * 2^n for integral n in [-126, 127]
 *   AV_LOAD_F16(p)  AV_N F16 values at p (bytes) as floats, AV_LOAD_BF16(p) the same for BF16
 *
 * Why these exist.  Scoring a block with the matvec kernel and adding
 * values with one axpy per (head, position) cost a call and the matvec's
 * prefetch set-up per 128 floats: at depth 4096 the decode step spent more
 * time in attention than the KV bytes explain (GEB-1.3B shape, 4 layers,
 * 2 threads: 21.8 tok/s at depth 0, 16.5 at depth 4096 for 4% more bytes).
 * Here a block's keys and values stay in L1 while every head of the group
 * reads them, and the output rows of a head stay in registers across the
 * whole block. */
#ifndef GEB_ATTN_ROWS_H
#define GEB_ATTN_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "types.h"

#ifndef AV_CH
#define AV_CH 8 /* vectors of an output row kept in registers by att_accum (x 2 heads) */
#endif

/* Cached rows come as F32, F16 or BF16 (kind 0, 1, 2: -ctk/-ctv); each
 * kernel below is one body inlined per kind, converting in registers (the
 * widening of 16-bit rows into a scratch block first was the larger part
 * of decode attention at depth 4096: it is where the DRAM stream stalled,
 * and the block then took all of L1). */
static inline __attribute__((always_inline)) AV_T av_loadk(const int kind, const uint8_t *row, int d) {
    if (kind == 1) return AV_LOAD_F16(row + 2 * (size_t)d);
    if (kind == 2) return AV_LOAD_BF16(row + 2 * (size_t)d);
    return AV_LOAD((const float *)(const void *)row + d);
}

static inline __attribute__((always_inline)) float av_elemk(const int kind, const uint8_t *row, int d) {
    if (kind == 0) {
        float f;
        memcpy(&f, row + 4 * (size_t)d, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, row + 2 * (size_t)d, 2);
    return kind == 1 ? geb_f16_to_f32(h) : geb_bf16_to_f32(h);
}

/* Scores of heads [i, i + nh4) (nh4 <= 4) at one position: each key
 * vector is loaded once for all of them, whose nh4 sums are independent
 * chains.  One key row at a time: scoring 2 or 4 rows at once (their
 * loads interleaved) streamed the cache slower (1 thread, depth 4096, F32
 * cache: 26.5 ms a token for 1 row, 30-31 for 2, 36-37 for 4). */
static inline __attribute__((always_inline)) void score_tile(const int kind, float *s, int lds,
                                                             const float *q, const uint8_t *k, int D,
                                                             float scale, const int nh4) {
    int Dv = D - D % AV_N;
    AV_T acc[4];
#pragma GCC unroll 4
    for (int h = 0; h < nh4; h++) acc[h] = AV_ZERO();
    for (int d = 0; d < Dv; d += AV_N) {
        AV_T kv = av_loadk(kind, k, d);
#pragma GCC unroll 4
        for (int h = 0; h < nh4; h++) acc[h] = AV_FMA(AV_LOAD(q + (size_t)h * D + d), kv, acc[h]);
    }
#pragma GCC unroll 4
    for (int h = 0; h < nh4; h++) {
        float t = AV_HSUM(acc[h]);
        for (int d = Dv; d < D; d++) t += q[(size_t)h * D + d] * av_elemk(kind, k, d);
        s[(size_t)h * lds] = scale * t;
    }
}

/* s[i*lds + u] = scale * (q[i*D..] . k[u]) for heads i < nh and positions
 * u < nu, key rows ldk bytes apart. */
static inline __attribute__((always_inline)) void att_scores_t(const int kind, float *s, int lds,
                                                               const float *q, int nh, const uint8_t *k,
                                                               size_t ldk, int nu, int D, float scale) {
    for (int u = 0; u < nu; u++) {
        const uint8_t *ku = k + (size_t)u * ldk;
        int i = 0;
        for (; i + 4 <= nh; i += 4) score_tile(kind, s + (size_t)i * lds + u, lds, q + (size_t)i * D, ku, D, scale, 4);
        switch (nh - i) {
        case 3: score_tile(kind, s + (size_t)i * lds + u, lds, q + (size_t)i * D, ku, D, scale, 3); break;
        case 2: score_tile(kind, s + (size_t)i * lds + u, lds, q + (size_t)i * D, ku, D, scale, 2); break;
        case 1: score_tile(kind, s + (size_t)i * lds + u, lds, q + (size_t)i * D, ku, D, scale, 1); break;
        default: break;
        }
    }
}

/* Outputs of heads [i, i + nh2) (nh2 <= 2), nc vectors from d0: the
 * chunk of both heads' rows stays in registers while the block's values
 * stream past, each value vector loaded once for both. */
static inline __attribute__((always_inline)) void accum_tile(const int kind, float *o, int D,
                                                             const float *p, int ldp, const uint8_t *v,
                                                             size_t ldv, int nu, int d0, const int nc,
                                                             const int nh2) {
    AV_T acc[2][AV_CH];
#pragma GCC unroll 2
    for (int h = 0; h < nh2; h++)
#pragma GCC unroll 8
        for (int c = 0; c < nc; c++) acc[h][c] = AV_LOAD(o + (size_t)h * D + d0 + c * AV_N);
    for (int u = 0; u < nu; u++) {
        AV_T w0 = AV_SET1(p[u]), w1 = nh2 > 1 ? AV_SET1(p[ldp + u]) : w0;
        const uint8_t *vr = v + (size_t)u * ldv;
#pragma GCC unroll 8
        for (int c = 0; c < nc; c++) {
            AV_T x = av_loadk(kind, vr, d0 + c * AV_N);
            acc[0][c] = AV_FMA(w0, x, acc[0][c]);
            if (nh2 > 1) acc[1][c] = AV_FMA(w1, x, acc[1][c]);
        }
    }
#pragma GCC unroll 2
    for (int h = 0; h < nh2; h++)
#pragma GCC unroll 8
        for (int c = 0; c < nc; c++) AV_STORE(o + (size_t)h * D + d0 + c * AV_N, acc[h][c]);
}

/* o[i*D + d] += sum_u p[i*ldp + u] * v[u][d] for heads i < nh, positions
 * u < nu (value rows ldv bytes apart), d < D. */
static inline __attribute__((always_inline)) void att_accum_t(const int kind, float *o, const float *p,
                                                              int ldp, int nh, const uint8_t *v, size_t ldv,
                                                              int nu, int D) {
    int d0 = 0;
    for (; d0 + AV_CH * AV_N <= D; d0 += AV_CH * AV_N) {
        int i = 0;
        for (; i + 2 <= nh; i += 2)
            accum_tile(kind, o + (size_t)i * D, D, p + (size_t)i * ldp, ldp, v, ldv, nu, d0, AV_CH, 2);
        if (i < nh) accum_tile(kind, o + (size_t)i * D, D, p + (size_t)i * ldp, ldp, v, ldv, nu, d0, AV_CH, 1);
    }
    for (; d0 + AV_N <= D; d0 += AV_N)
        for (int i = 0; i < nh; i++)
            accum_tile(kind, o + (size_t)i * D, D, p + (size_t)i * ldp, ldp, v, ldv, nu, d0, 1, 1);
    for (; d0 < D; d0++)
        for (int i = 0; i < nh; i++) {
            float acc = o[(size_t)i * D + d0];
            for (int u = 0; u < nu; u++) acc += p[(size_t)i * ldp + u] * av_elemk(kind, v + (size_t)u * ldv, d0);
            o[(size_t)i * D + d0] = acc;
        }
}

/* The table's entries: F32 rows (ldk, ldv in floats), and 16-bit ones
 * (bytes apart; bf: BF16, else F16). */
static void att_scores(float *s, int lds, const float *q, int nh, const float *k, size_t ldk,
                       int nu, int D, float scale) {
    att_scores_t(0, s, lds, q, nh, (const uint8_t *)k, ldk * sizeof(float), nu, D, scale);
}

static void att_accum(float *o, const float *p, int ldp, int nh, const float *v, size_t ldv,
                      int nu, int D) {
    att_accum_t(0, o, p, ldp, nh, (const uint8_t *)v, ldv * sizeof(float), nu, D);
}

static void att_scores_h(float *s, int lds, const float *q, int nh, const uint8_t *k, size_t ldk,
                         int bf, int nu, int D, float scale) {
    if (bf) att_scores_t(2, s, lds, q, nh, k, ldk, nu, D, scale);
    else att_scores_t(1, s, lds, q, nh, k, ldk, nu, D, scale);
}

static void att_accum_h(float *o, const float *p, int ldp, int nh, const uint8_t *v, size_t ldv,
                        int bf, int nu, int D) {
    if (bf) att_accum_t(2, o, p, ldp, nh, v, ldv, nu, D);
    else att_accum_t(1, o, p, ldp, nh, v, ldv, nu, D);
}

/* e^x in each lane, to about 1 ulp: x clamped to [-87, 88] (e^-87 is
 * still a normal float; softmax inputs are <= 0, -inf included), x = n ln2
 * + r with n = round(x / ln2) and ln2 in two parts (so r is exact),
 * e^r = 1 + r + r^2 P(r) with P the degree-5 minimax polynomial of the
 * Cephes library's expf, then scaled by 2^n. */
static inline AV_T av_exp(AV_T x) {
    x = AV_MIN(AV_MAX(x, AV_SET1(-87.0f)), AV_SET1(88.0f));
    AV_T n = AV_ROUND(AV_MUL(x, AV_SET1(1.44269504088896341f)));
    AV_T r = AV_FMA(n, AV_SET1(-0.693359375f), x);
    r = AV_FMA(n, AV_SET1(2.12194440e-4f), r);
    AV_T p = AV_SET1(1.9875691500e-4f);
    p = AV_FMA(p, r, AV_SET1(1.3981999507e-3f));
    p = AV_FMA(p, r, AV_SET1(8.3334519073e-3f));
    p = AV_FMA(p, r, AV_SET1(4.1665795894e-2f));
    p = AV_FMA(p, r, AV_SET1(1.6666665459e-1f));
    p = AV_FMA(p, r, AV_SET1(5.0000001201e-1f));
    p = AV_ADD(AV_FMA(p, AV_MUL(r, r), r), AV_SET1(1.0f));
    return AV_SCALE2(p, n);
}

/* s[u] = e^(s[u] - m) for u < n; returns their sum.  The softmax of
 * attention: as expf() calls summed one by one it was more than half of a
 * prompt's attention time (its sum went through memory on every step).
 * The tail runs through a padded copy so every lane is one formula. */
static float att_exp(float *s, int n, float m) {
    AV_T vm = AV_SET1(m), acc = AV_ZERO();
    int u = 0;
    for (; u + AV_N <= n; u += AV_N) {
        AV_T e = av_exp(AV_SUB(AV_LOAD(s + u), vm));
        AV_STORE(s + u, e);
        acc = AV_ADD(acc, e);
    }
    float t = AV_HSUM(acc);
    if (u < n) {
        float buf[AV_N];
        int r = n - u;
        for (int i = 0; i < AV_N; i++) buf[i] = i < r ? s[u + i] : m;
        AV_STORE(buf, av_exp(AV_SUB(AV_LOAD(buf), vm)));
        for (int i = 0; i < r; i++) t += s[u + i] = buf[i];
    }
    return t;
}

/* g[i] = silu(g[i]) * u[i] = g[i] u[i] / (1 + e^-g[i]), the gated MLP's
 * activation (not attention, but the same exponential): as expf() calls on
 * one thread it was 1-2% of a prompt's samples. */
static void swiglu(float *g, const float *u, int n) {
    AV_T one = AV_SET1(1.0f), zero = AV_ZERO();
    int i = 0;
    for (; i + AV_N <= n; i += AV_N) {
        AV_T x = AV_LOAD(g + i);
        AV_T e = av_exp(AV_SUB(zero, x));
        AV_STORE(g + i, AV_DIV(AV_MUL(x, AV_LOAD(u + i)), AV_ADD(one, e)));
    }
    if (i < n) {
        float bx[AV_N] = {0}, bu[AV_N] = {0};
        int r = n - i;
        for (int j = 0; j < r; j++) bx[j] = g[i + j], bu[j] = u[i + j];
        AV_T x = AV_LOAD(bx);
        AV_STORE(bx, AV_DIV(AV_MUL(x, AV_LOAD(bu)), AV_ADD(one, av_exp(AV_SUB(zero, x)))));
        for (int j = 0; j < r; j++) g[i + j] = bx[j];
    }
}

#endif
