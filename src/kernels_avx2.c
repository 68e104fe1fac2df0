/* kernels_avx2.c - AVX2 + FMA kernels (8 floats per vector).  Built with
 * -mavx2 -mfma by the Makefile; only called after kernels.c has checked
 * CPUID and XCR0.  Column tails use masked loads, so any cols >= 1 works. */
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels.h"

/* Eight -1s then eight 0s: loading 8 ints at (8 - n) gives a mask of n lanes. */
static const int32_t mask_src[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lane mask selecting the first n (0..8) lanes. */
static inline __m256i tail_mask(int n) {
    return _mm256_loadu_si256((const __m256i *)(mask_src + 8 - n));
}

/* Sum of the eight lanes. */
static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Sum of a[i]*b[i]; four accumulators hide the FMA latency. */
static float avx2_dot(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < n) {
        __m256i m = tail_mask(n - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

/* y[i] += a * x[i]. */
static void avx2_axpy(float *y, float a, const float *x, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* Four rows at once: y[0..3] = w_j . x for rows w, w+ld, w+2ld, w+3ld; two
 * accumulators per row give eight independent FMA chains. */
static inline void mv_rows4(float *y, const float *w, size_t ld, const float *x, int cols) {
    const float *w0 = w, *w1 = w + ld, *w2 = w + 2 * ld, *w3 = w + 3 * ld;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    int k = 0;
    for (; k + 16 <= cols; k += 16) {
        __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), x0, a3);
        b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k + 8), x1, b0);
        b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k + 8), x1, b1);
        b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k + 8), x1, b2);
        b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k + 8), x1, b3);
    }
    /* At most one full vector and one partial vector remain. */
    for (; k < cols; k += 8) {
        __m256i m = tail_mask(cols - k >= 8 ? 8 : cols - k);
        __m256 x0 = _mm256_maskload_ps(x + k, m);
        a0 = _mm256_fmadd_ps(_mm256_maskload_ps(w0 + k, m), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_maskload_ps(w1 + k, m), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_maskload_ps(w2 + k, m), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_maskload_ps(w3 + k, m), x0, a3);
    }
    y[0] = hsum(_mm256_add_ps(a0, b0));
    y[1] = hsum(_mm256_add_ps(a1, b1));
    y[2] = hsum(_mm256_add_ps(a2, b2));
    y[3] = hsum(_mm256_add_ps(a3, b3));
}

/* y[r - r0] = W[r,:] . x for r in [r0, r1): rows in fours, the rest singly. */
static void avx2_matvec(float *y, const float *w, const float *x, int r0, int r1, int cols) {
    size_t ld = (size_t)cols;
    int r = r0;
    for (; r + 4 <= r1; r += 4) mv_rows4(y + (r - r0), w + (size_t)r * ld, ld, x, cols);
    for (; r < r1; r++) y[r - r0] = avx2_dot(w + (size_t)r * ld, x, cols);
}

/* Register tile: MR rows of W times NR tokens; 12 accumulators + 3 token
 * vectors fit the 16 ymm registers (W is an FMA memory operand). */
#define MR 4
#define NR 3

/* out[i][j] = w[i] . x[j] over cols; pointers may repeat to pad a tile. */
static inline void mm_tile(float out[MR][NR], const float *const *w, const float *const *x,
                           int cols) {
    __m256 acc[MR][NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= cols; k += 8) {
        __m256 xv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) xv[j] = _mm256_loadu_ps(x[j] + k);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m256 wv = _mm256_loadu_ps(w[i] + k);
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    if (k < cols) {
        __m256i m = tail_mask(cols - k);
        __m256 xv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) xv[j] = _mm256_maskload_ps(x[j] + k, m);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m256 wv = _mm256_maskload_ps(w[i] + k, m);
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) out[i][j] = hsum(acc[i][j]);
}

/* y[b*ldy + r - r0] = W[r,:] . X[b,:]: MR x NR tiles, rows outer so the MR
 * rows of W stay in L1 while every token of X passes by. */
static void avx2_matmul(float *y, int ldy, const float *w, const float *x, int B, int r0,
                        int r1, int cols) {
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

#define TR 6     /* rows per tile: 6 rows x 2 vectors = 12 accumulators */
#define TB 16    /* tokens per tile: 2 vectors of 8 */
#define RB 48    /* rows per block of partial sums (a multiple of TR) */
#define KC 2048  /* k per block */

/* part[i][0..8*nv) (+)= sum_k w[i][k] * xt[k*ldx + 0..8*nv) for rows i < mr
 * (w[i] for i >= mr repeat a valid row and are discarded). */
static inline __attribute__((always_inline)) void tile_t(float (*part)[TB], int mr,
                                                         const float *const *w, const float *xt,
                                                         size_t ldx, int kn, int first,
                                                         const int nv) {
    __m256 acc[TR][2];
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++)
            acc[i][j] = first || i >= mr ? _mm256_setzero_ps() : _mm256_loadu_ps(part[i] + 8 * j);
    for (int k = 0; k < kn; k++) {
        const float *xk = xt + (size_t)k * ldx;
        __m256 xv[2];
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) xv[j] = _mm256_loadu_ps(xk + 8 * j);
#pragma GCC unroll 8
        for (int i = 0; i < TR; i++) {
            __m256 wb = _mm256_broadcast_ss(w[i] + k);
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++) acc[i][j] = _mm256_fmadd_ps(wb, xv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++)
            if (i < mr) _mm256_storeu_ps(part[i] + 8 * j, acc[i][j]);
}

/* One instance per vector count, so each keeps its accumulators in registers. */
static void tile_t1(float (*p)[TB], int mr, const float *const *w, const float *xt, size_t ldx,
                    int kn, int first) { tile_t(p, mr, w, xt, ldx, kn, first, 1); }
static void tile_t2(float (*p)[TB], int mr, const float *const *w, const float *xt, size_t ldx,
                    int kn, int first) { tile_t(p, mr, w, xt, ldx, kn, first, 2); }

/* y[b*ldy + r - r0] = sum_k W[r,k] xt[k*ldx + b]: 16-token groups, RB rows
 * of partial sums on the stack, KC-column blocks, tiles of TR rows. */
static void avx2_matmul_t(float *y, int ldy, const float *w, const float *xt, int ldx, int B,
                          int r0, int r1, int cols) {
    float part[RB][TB];
    for (int b0 = 0; b0 < B; b0 += TB) {
        int nb = B - b0 < TB ? B - b0 : TB;
        for (int rb = r0; rb < r1; rb += RB) {
            int re = r1 - rb < RB ? r1 : rb + RB;
            for (int k0 = 0; k0 < cols; k0 += KC) {
                int kn = cols - k0 < KC ? cols - k0 : KC;
                for (int r = rb; r < re; r += TR) {
                    int mr = re - r < TR ? re - r : TR;
                    const float *wp[TR];
                    for (int i = 0; i < TR; i++)
                        wp[i] = w + (size_t)(r + (i < mr ? i : mr - 1)) * cols + k0;
                    const float *xp = xt + (size_t)k0 * ldx + b0;
                    if (nb > 8) tile_t2(part + (r - rb), mr, wp, xp, (size_t)ldx, kn, k0 == 0);
                    else tile_t1(part + (r - rb), mr, wp, xp, (size_t)ldx, kn, k0 == 0);
                }
            }
            /* Partial sums are [row][token]; Y is [token][row]. */
            for (int b = 0; b < nb; b++)
                for (int r = rb; r < re; r++)
                    y[(size_t)(b0 + b) * ldy + (r - r0)] = part[r - rb][b];
        }
    }
}

const geb_kernels geb_kernels_avx2_table = {
    .name = "avx2",
    .dot = avx2_dot,
    .axpy = avx2_axpy,
    .matvec = avx2_matvec,
    .matmul = avx2_matmul,
    .matmul_t = avx2_matmul_t,
};
#else
/* Not an x86-64 AVX2 build: this file contributes nothing. */
typedef int geb_kernels_avx2_empty;
#endif
