/* kernels_avx2.c - AVX2 + FMA kernels (8 floats per vector).  Built with
 * -mavx2 -mfma by the Makefile; only called after kernels.c has checked
 * CPUID and XCR0.  Column tails use masked loads, so any cols >= 1 works. */
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels.h"
#include "rows.h"

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

/* The vector macros of attn_rows.h. */
#define AV_T __m256
#define AV_N 8
#define AV_LOAD(p) _mm256_loadu_ps(p)
#define AV_STORE(p, v) _mm256_storeu_ps(p, v)
#define AV_ZERO() _mm256_setzero_ps()
#define AV_SET1(x) _mm256_set1_ps(x)
#define AV_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define AV_ADD(a, b) _mm256_add_ps(a, b)
/* p * 2^n for integral n in [-126, 127], through n's exponent bits. */
static inline __m256 scale2(__m256 p, __m256 n) {
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#define AV_SUB(a, b) _mm256_sub_ps(a, b)
#define AV_MIN(a, b) _mm256_min_ps(a, b)
#define AV_MAX(a, b) _mm256_max_ps(a, b)
#define AV_ROUND(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define AV_SCALE2(p, n) scale2(p, n)
#define AV_MUL(a, b) _mm256_mul_ps(a, b)
#define AV_DIV(a, b) _mm256_div_ps(a, b)
#define AV_HSUM(v) hsum(v)
#define AV_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define AV_LOAD_BF16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define AV_CH 4 /* 2 heads x 4 vectors: 8 of the 16 registers */
#include "attn_rows.h"


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

/* A matvec pass of four rows: y[0..3] = w[j] . x[0]; two
 * accumulators per row give eight independent FMA chains. */
static void mv_rows4(float *y, size_t ldy, const uint8_t *const *w, const void *const *xv,
                     int cols, int mr, int nr) {
    (void)ldy, (void)mr, (void)nr; /* a pass: four rows, one token, y[0..3] */
    const float *w0 = (const float *)w[0], *w1 = (const float *)w[1];
    const float *w2 = (const float *)w[2], *w3 = (const float *)w[3];
    const float *x = xv[0];
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

/* y[i] = W[i,:] . x for i in [0, n): four rows a pass, in lanes (rows.h). */
static void avx2_matvec(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(mv_rows4, 4, y, w, ldw, x, n, cols);
}

/* ---- transposed-X product: tokens in lanes, no horizontal sums ---------- */

#define TR 6     /* rows per tile: 6 rows x 2 vectors = 12 accumulators */
#define TB 16    /* tokens per tile: 2 vectors of 8 */

/* part[i][0..8*nv) (+)= sum_k w[i][k] * xt[k*ldx + 0..8*nv) for rows i < mr
 * (w[i] for i >= mr repeat a valid row and are discarded). */
static inline __attribute__((always_inline)) void tile_t(float *part, int ldp, int mr,
                                                         const float *const *w, const float *xt,
                                                         size_t ldx, int kn, int first,
                                                         const int nv) {
    __m256 acc[TR][2];
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++)
            acc[i][j] = first || i >= mr ? _mm256_setzero_ps() : _mm256_loadu_ps(part + (size_t)i * ldp + 8 * j);
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
            if (i < mr) _mm256_storeu_ps(part + (size_t)i * ldp + 8 * j, acc[i][j]);
}

/* One instance per vector count, so each keeps its accumulators in registers. */
static void avx2_tile(float *part, int ldp, int mr, const float *const *w, const float *xt,
                      size_t ldx, int kn, int first, int nb) {
    if (nb > 8) tile_t(part, ldp, mr, w, xt, ldx, kn, first, 2);
    else tile_t(part, ldp, mr, w, xt, ldx, kn, first, 1);
}

const geb_kernels geb_kernels_avx2_table = {
    .name = "avx2",
    .dot = avx2_dot,
    .axpy = avx2_axpy,
    .matvec_f32 = avx2_matvec,
    .tile_f32 = avx2_tile,
    .att_scores = att_scores,
    .att_accum = att_accum,
    .att_scores_h = att_scores_h,
    .att_accum_h = att_accum_h,
    .att_exp = att_exp,
    .swiglu = swiglu,
    .tile_rows = TR,
    .tile_b = TB,
};
#else
/* Not an x86-64 AVX2 build: this file contributes nothing. */
typedef int geb_kernels_avx2_empty;
#endif
