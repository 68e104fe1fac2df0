/* kernels_avx512.c - AVX-512F kernels (16 floats per vector).  Built with
 * -mavx512f etc. by the Makefile; only called after kernels.c has checked
 * CPUID and XCR0.  Column tails use masked loads, so any cols >= 1 works. */
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels.h"

/* Mask selecting the first n (0..16) lanes. */
static inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1u); }

/* Sum of a[i]*b[i]; four independent accumulators hide the FMA latency. */
static float avx512_dot(const float *a, const float *b, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

/* y[i] += a * x[i]. */
static void avx512_axpy(float *y, float a, const float *x, int n) {
    __m512 va = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

/* Four rows at once: y[0..3] = w_j . x for rows w, w+ld, w+2ld, w+3ld.  Each
 * x vector is loaded once for four rows; two accumulators per row give eight
 * independent FMA chains. */
static inline void mv_rows4(float *y, const float *w, size_t ld, const float *x, int cols) {
    const float *w0 = w, *w1 = w + ld, *w2 = w + 2 * ld, *w3 = w + 3 * ld;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    __m512 b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= cols; k += 32) {
        __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), x0, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k), x0, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k), x0, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k), x0, a3);
        b0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k + 16), x1, b0);
        b1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k + 16), x1, b1);
        b2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k + 16), x1, b2);
        b3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k + 16), x1, b3);
    }
    /* At most one full vector and one partial vector remain. */
    for (; k < cols; k += 16) {
        __mmask16 m = cols - k >= 16 ? (__mmask16)0xffff : tail_mask(cols - k);
        __m512 x0 = _mm512_maskz_loadu_ps(m, x + k);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w0 + k), x0, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w1 + k), x0, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w2 + k), x0, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w3 + k), x0, a3);
    }
    y[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0));
    y[1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1));
    y[2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2));
    y[3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3));
}

/* y[r - r0] = W[r,:] . x for r in [r0, r1): rows in fours, the rest singly. */
static void avx512_matvec(float *y, const float *w, const float *x, int r0, int r1,
                          int cols) {
    size_t ld = (size_t)cols;
    int r = r0;
    for (; r + 4 <= r1; r += 4) mv_rows4(y + (r - r0), w + (size_t)r * ld, ld, x, cols);
    for (; r < r1; r++) y[r - r0] = avx512_dot(w + (size_t)r * ld, x, cols);
}

/* Register tile: MR rows of W times NR tokens of X, MR*NR accumulators. */
#define MR 4
#define NR 6

/* Computes the MR x NR tile of dot products between rows w[i] and tokens
 * x[j] (pointers may repeat to pad a partial tile) into out[i][j].  Each k
 * step loads MR + NR vectors for MR*NR FMAs; one horizontal sum per output at
 * the end. */
static inline void mm_tile(float out[MR][NR], const float *const *w, const float *const *x,
                           int cols) {
    __m512 acc[MR][NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < cols; k += 16) {
        __mmask16 m = cols - k >= 16 ? (__mmask16)0xffff : tail_mask(cols - k);
        __m512 xv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) xv[j] = _mm512_maskz_loadu_ps(m, x[j] + k);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 wv = _mm512_maskz_loadu_ps(m, w[i] + k);
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) out[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

/* y[b*ldy + r - r0] = W[r,:] . X[b,:]: a grid of MR x NR tiles, rows outer so
 * that MR rows of W stay in L1 while every token of X passes by. */
static void avx512_matmul(float *y, int ldy, const float *w, const float *x, int B,
                          int r0, int r1, int cols) {
    size_t ld = (size_t)cols;
    for (int r = r0; r < r1; r += MR) {
        int mr = r1 - r < MR ? r1 - r : MR;
        const float *wp[MR];
        for (int i = 0; i < MR; i++) wp[i] = w + (size_t)(r + (i < mr ? i : mr - 1)) * ld;
        for (int b = 0; b < B; b += NR) {
            int nr = B - b < NR ? B - b : NR;
            const float *xp[NR];
            for (int j = 0; j < NR; j++) xp[j] = x + (size_t)(b + (j < nr ? j : nr - 1)) * ld;
            float out[MR][NR];
            mm_tile(out, wp, xp, cols);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < nr; j++) y[(size_t)(b + j) * ldy + (r - r0 + i)] = out[i][j];
        }
    }
}

/* ---- transposed-X product: tokens in lanes, no horizontal sums ---------- */

#define TR 6     /* rows per register tile (6 rows x 4 vectors = 24 accumulators) */
#define TB 64    /* tokens per tile: 4 vectors of 16 */
#define RB 48    /* rows per block of partial sums (a multiple of TR) */
#define KC 2048  /* k per block: 64 tokens x 2048 x 4 B = 512 KB of xt, L2-sized */
#ifndef PF
#define PF 512   /* prefetch distance along a W row, in floats */
#endif

/* part[i][0..16*nv) (+)= sum_k w[i][k] * xt[k*ldx + 0..16*nv) for the i < mr
 * valid rows (w[i] for i >= mr repeat a valid row and are discarded).  Per k:
 * nv vector loads of xt and TR scalar broadcasts of W feed TR*nv FMAs. */
static inline __attribute__((always_inline)) void tile_t(float (*part)[TB], int mr,
                                                         const float *const *w, const float *xt,
                                                         size_t ldx, int kn, int first,
                                                         const int nv) {
    __m512 acc[TR][4];
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            acc[i][j] = first || i >= mr ? _mm512_setzero_ps() : _mm512_loadu_ps(part[i] + 16 * j);
    for (int k0 = 0; k0 < kn; k0 += 16) {
        /* W arrives from DRAM as TR interleaved streams; fetching 2 KB ahead
         * in each measured 8% faster on a 11264 x 2048 product (Zen 5). */
#if PF > 0
        if (k0 + PF < kn)
#pragma GCC unroll 8
            for (int i = 0; i < TR; i++) _mm_prefetch((const char *)(w[i] + k0 + PF), _MM_HINT_T0);
#endif
        int k1 = kn - k0 < 16 ? kn : k0 + 16;
        for (int k = k0; k < k1; k++) {
            const float *xk = xt + (size_t)k * ldx;
            __m512 xv[4];
#pragma GCC unroll 4
            for (int j = 0; j < nv; j++) xv[j] = _mm512_loadu_ps(xk + 16 * j);
#pragma GCC unroll 8
            for (int i = 0; i < TR; i++) {
                __m512 wb = _mm512_set1_ps(w[i][k]);
#pragma GCC unroll 4
                for (int j = 0; j < nv; j++) acc[i][j] = _mm512_fmadd_ps(wb, xv[j], acc[i][j]);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            if (i < mr) _mm512_storeu_ps(part[i] + 16 * j, acc[i][j]);
}

/* One instance per vector count, so each keeps its accumulators in registers. */
static void tile_t1(float (*p)[TB], int mr, const float *const *w, const float *xt, size_t ldx,
                    int kn, int first) { tile_t(p, mr, w, xt, ldx, kn, first, 1); }
static void tile_t2(float (*p)[TB], int mr, const float *const *w, const float *xt, size_t ldx,
                    int kn, int first) { tile_t(p, mr, w, xt, ldx, kn, first, 2); }
static void tile_t3(float (*p)[TB], int mr, const float *const *w, const float *xt, size_t ldx,
                    int kn, int first) { tile_t(p, mr, w, xt, ldx, kn, first, 3); }
static void tile_t4(float (*p)[TB], int mr, const float *const *w, const float *xt, size_t ldx,
                    int kn, int first) { tile_t(p, mr, w, xt, ldx, kn, first, 4); }

/* y[b*ldy + r - r0] = sum_k W[r,k] xt[k*ldx + b].  Blocks: 64 tokens, RB rows
 * whose partial sums live on the stack, KC columns; tiles of TR rows. */
static void avx512_matmul_t(float *y, int ldy, const float *w, const float *xt, int ldx, int B,
                            int r0, int r1, int cols) {
    static void (*const tiles[5])(float (*)[TB], int, const float *const *, const float *, size_t,
                                  int, int) = {NULL, tile_t1, tile_t2, tile_t3, tile_t4};
    float part[RB][TB];
    for (int b0 = 0; b0 < B; b0 += TB) {
        int nb = B - b0 < TB ? B - b0 : TB;
        int nv = (nb + 15) / 16;
        for (int rb = r0; rb < r1; rb += RB) {
            int re = r1 - rb < RB ? r1 : rb + RB;
            for (int k0 = 0; k0 < cols; k0 += KC) {
                int kn = cols - k0 < KC ? cols - k0 : KC;
                for (int r = rb; r < re; r += TR) {
                    int mr = re - r < TR ? re - r : TR;
                    const float *wp[TR];
                    for (int i = 0; i < TR; i++)
                        wp[i] = w + (size_t)(r + (i < mr ? i : mr - 1)) * cols + k0;
                    tiles[nv](part + (r - rb), mr, wp, xt + (size_t)k0 * ldx + b0, (size_t)ldx, kn,
                              k0 == 0);
                }
            }
            /* Partial sums are [row][token]; Y is [token][row]. */
            for (int b = 0; b < nb; b++)
                for (int r = rb; r < re; r++)
                    y[(size_t)(b0 + b) * ldy + (r - r0)] = part[r - rb][b];
        }
    }
}

const geb_kernels geb_kernels_avx512_table = {
    .name = "avx512",
    .dot = avx512_dot,
    .axpy = avx512_axpy,
    .matvec = avx512_matvec,
    .matmul = avx512_matmul,
    .matmul_t = avx512_matmul_t,
};
#else
/* Not an x86-64 AVX-512 build: this file contributes nothing. */
typedef int geb_kernels_avx512_empty;
#endif
