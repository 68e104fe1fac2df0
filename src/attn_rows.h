/* attn_rows.h - the two attention kernels over a block of cached positions,
 * written once over a few vector macros that each ISA file defines before
 * including this header (as rows.h does for the matrix loops):
 *
 *   AV_T            the vector type            AV_N          its float lanes
 *   AV_LOAD(p)      unaligned load             AV_STORE(p,v) unaligned store
 *   AV_ZERO()       all zero                   AV_SET1(x)    x in every lane
 *   AV_FMA(a,b,c)   a*b + c                    AV_ADD(a,b)   a + b
 *   AV_HSUM(v)      the sum of the lanes, as a float
 *   AV_SUB(a,b)     a - b                      AV_EXP(v)     e^v in each lane (below)
 *   AV_MUL(a,b)     a * b                      AV_DIV(a,b)   a / b
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

#define AV_CH 8 /* vectors of an output row kept in registers by att_accum */

/* s[i*lds + u] = scale * (q[i*D..] . k[u*ldk..]) for heads i < nh and
 * positions u < nu: keys are rows of D floats, ldk floats apart. */
static void att_scores(float *s, int lds, const float *q, int nh, const float *k, size_t ldk,
                       int nu, int D, float scale) {
    int Dv = D - D % AV_N;
    for (int u = 0; u < nu; u++) {
        const float *kr = k + (size_t)u * ldk;
        for (int i = 0; i < nh; i++) {
            const float *qi = q + (size_t)i * D;
            AV_T a0 = AV_ZERO(), a1 = AV_ZERO();
            int d = 0;
            /* Two accumulators: a 128-float head is 8 AVX-512 FMAs, which
             * one chain would serialize on the FMA latency. */
            for (; d + 2 * AV_N <= Dv; d += 2 * AV_N) {
                a0 = AV_FMA(AV_LOAD(qi + d), AV_LOAD(kr + d), a0);
                a1 = AV_FMA(AV_LOAD(qi + d + AV_N), AV_LOAD(kr + d + AV_N), a1);
            }
            if (d < Dv) a0 = AV_FMA(AV_LOAD(qi + d), AV_LOAD(kr + d), a0), d += AV_N;
            float t = AV_HSUM(AV_ADD(a0, a1));
            for (; d < D; d++) t += qi[d] * kr[d];
            s[(size_t)i * lds + u] = scale * t;
        }
    }
}

/* o[i*D + d] += sum_u p[i*ldp + u] * v[u*ldv + d] for heads i < nh,
 * positions u < nu, d < D. */
static void att_accum(float *o, const float *p, int ldp, int nh, const float *v, size_t ldv,
                      int nu, int D) {
    int d0 = 0;
    /* Chunks of AV_CH vectors: the chunk of one head's output row is held
     * in registers while the block's values stream past it. */
    for (; d0 + AV_CH * AV_N <= D; d0 += AV_CH * AV_N)
        for (int i = 0; i < nh; i++) {
            float *oi = o + (size_t)i * D + d0;
            const float *pi = p + (size_t)i * ldp;
            AV_T acc[AV_CH];
            for (int c = 0; c < AV_CH; c++) acc[c] = AV_LOAD(oi + c * AV_N);
            for (int u = 0; u < nu; u++) {
                AV_T w = AV_SET1(pi[u]);
                const float *vr = v + (size_t)u * ldv + d0;
                for (int c = 0; c < AV_CH; c++) acc[c] = AV_FMA(w, AV_LOAD(vr + c * AV_N), acc[c]);
            }
            for (int c = 0; c < AV_CH; c++) AV_STORE(oi + c * AV_N, acc[c]);
        }
    for (; d0 + AV_N <= D; d0 += AV_N)
        for (int i = 0; i < nh; i++) {
            AV_T acc = AV_LOAD(o + (size_t)i * D + d0);
            for (int u = 0; u < nu; u++)
                acc = AV_FMA(AV_SET1(p[(size_t)i * ldp + u]), AV_LOAD(v + (size_t)u * ldv + d0), acc);
            AV_STORE(o + (size_t)i * D + d0, acc);
        }
    for (; d0 < D; d0++)
        for (int i = 0; i < nh; i++) {
            float acc = o[(size_t)i * D + d0];
            for (int u = 0; u < nu; u++) acc += p[(size_t)i * ldp + u] * v[(size_t)u * ldv + d0];
            o[(size_t)i * D + d0] = acc;
        }
}

/* s[u] = e^(s[u] - m) for u < n; returns their sum.  The softmax of
 * attention: as expf() calls summed one by one it was more than half of a
 * prompt's attention time (its sum went through memory on every step).
 * The tail runs through a padded copy so every lane is one formula. */
static float att_exp(float *s, int n, float m) {
    AV_T vm = AV_SET1(m), acc = AV_ZERO();
    int u = 0;
    for (; u + AV_N <= n; u += AV_N) {
        AV_T e = AV_EXP(AV_SUB(AV_LOAD(s + u), vm));
        AV_STORE(s + u, e);
        acc = AV_ADD(acc, e);
    }
    float t = AV_HSUM(acc);
    if (u < n) {
        float buf[AV_N];
        int r = n - u;
        for (int i = 0; i < AV_N; i++) buf[i] = i < r ? s[u + i] : m;
        AV_STORE(buf, AV_EXP(AV_SUB(AV_LOAD(buf), vm)));
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
        AV_T e = AV_EXP(AV_SUB(zero, x));
        AV_STORE(g + i, AV_DIV(AV_MUL(x, AV_LOAD(u + i)), AV_ADD(one, e)));
    }
    if (i < n) {
        float bx[AV_N] = {0}, bu[AV_N] = {0};
        int r = n - i;
        for (int j = 0; j < r; j++) bx[j] = g[i + j], bu[j] = u[i + j];
        AV_T x = AV_LOAD(bx);
        AV_STORE(bx, AV_DIV(AV_MUL(x, AV_LOAD(bu)), AV_ADD(one, AV_EXP(AV_SUB(zero, x)))));
        for (int j = 0; j < r; j++) g[i + j] = bx[j];
    }
}

#endif
