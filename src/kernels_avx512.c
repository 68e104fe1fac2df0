/* kernels_avx512.c - AVX-512F kernels (16 floats per vector).  Built with
 * -mavx512f etc. by the Makefile; only called after kernels.c has checked
 * CPUID and XCR0.  Column tails use masked loads, so any cols >= 1 works. */
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels.h"
#include "rows.h"

/* Mask selecting the first n (0..16) lanes. */
static inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1u); }

/* The vector macros of attn_rows.h. */
#define AV_T __m512
#define AV_N 16
#define AV_LOAD(p) _mm512_loadu_ps(p)
#define AV_STORE(p, v) _mm512_storeu_ps(p, v)
#define AV_ZERO() _mm512_setzero_ps()
#define AV_SET1(x) _mm512_set1_ps(x)
#define AV_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define AV_ADD(a, b) _mm512_add_ps(a, b)
#define AV_SUB(a, b) _mm512_sub_ps(a, b)
#define AV_MIN(a, b) _mm512_min_ps(a, b)
#define AV_MAX(a, b) _mm512_max_ps(a, b)
#define AV_ROUND(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define AV_SCALE2(p, n) _mm512_scalef_ps(p, n)
#define AV_MUL(a, b) _mm512_mul_ps(a, b)
#define AV_DIV(a, b) _mm512_div_ps(a, b)
#define AV_HSUM(v) _mm512_reduce_add_ps(v)
#define AV_LOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define AV_LOAD_BF16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
#include "attn_rows.h"


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

/* Decode streams each row once; the hardware prefetcher alone left a thread
 * short of the read bandwidth.  Asking for every row 512 floats (2 KB) ahead
 * measured tg32 -w f32 +4-7% at 1 and 2 threads on Emerald Rapids and
 * +7-18% (1 thread) / +5% (2) on a second Xeon (alternating binaries);
 * 256 was slower than none. */
#ifndef FPF
#define FPF 512
#endif

/* A matvec pass of four rows: y[0..3] = w[j] . x[0].  Each
 * x vector is loaded once for four rows; two accumulators per row give eight
 * independent FMA chains. */
static inline __attribute__((always_inline)) void mv_rows4(float *y, const uint8_t *const *w,
                                                           const void *const *xv, int cols, const int pf) {
    /* a pass: four rows, one token, y[0..3]; pf: prefetch FPF ahead */
    const float *w0 = (const float *)w[0], *w1 = (const float *)w[1];
    const float *w2 = (const float *)w[2], *w3 = (const float *)w[3];
    const float *x = xv[0];
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    __m512 b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= cols; k += 32) {
        if (pf) {
            _mm_prefetch((const char *)(w0 + k + FPF), _MM_HINT_T0);
            _mm_prefetch((const char *)(w1 + k + FPF), _MM_HINT_T0);
            _mm_prefetch((const char *)(w2 + k + FPF), _MM_HINT_T0);
            _mm_prefetch((const char *)(w3 + k + FPF), _MM_HINT_T0);
            _mm_prefetch((const char *)(w0 + k + FPF + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(w1 + k + FPF + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(w2 + k + FPF + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(w3 + k + FPF + 16), _MM_HINT_T0);
        }
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

static void mv_rows4_pf(float *y, size_t ldy, const uint8_t *const *w, const void *const *xv,
                        int cols, int mr, int nr) {
    (void)ldy, (void)mr, (void)nr;
    mv_rows4(y, w, xv, cols, 1);
}

static void mv_rows4_hw(float *y, size_t ldy, const uint8_t *const *w, const void *const *xv,
                        int cols, int mr, int nr) {
    (void)ldy, (void)mr, (void)nr;
    mv_rows4(y, w, xv, cols, 0);
}

/* y[i] = W[i,:] . x for i in [0, n): four rows a pass, in lanes (rows.h). */
static void avx512_matvec(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(geb_prefetch_rows ? mv_rows4_pf : mv_rows4_hw, 4, y, w, ldw, x, n, cols);
}

/* ---- transposed-X product: tokens in lanes, no horizontal sums ---------- */

#define TR 6     /* rows per register tile (6 rows x 4 vectors = 24 accumulators) */
#define TB 64    /* tokens per tile: 4 vectors of 16 */
#ifndef PF
#define PF 512   /* prefetch distance along a W row, in floats */
#endif

/* part[i][0..16*nv) (+)= sum_k w[i][k] * xt[k*ldx + 0..16*nv) for the i < mr
 * valid rows (w[i] for i >= mr repeat a valid row and are discarded).  Per k:
 * nv vector loads of xt and TR scalar broadcasts of W feed TR*nv FMAs. */
static inline __attribute__((always_inline)) void tile_t(float *part, int ldp, int mr,
                                                         const float *const *w, const float *xt,
                                                         size_t ldx, int kn, int first,
                                                         const int nv) {
    __m512 acc[TR][4];
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            acc[i][j] = first || i >= mr ? _mm512_setzero_ps() : _mm512_loadu_ps(part + (size_t)i * ldp + 16 * j);
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
            if (i < mr) _mm512_storeu_ps(part + (size_t)i * ldp + 16 * j, acc[i][j]);
}

/* One instance per vector count, so each keeps its accumulators in registers. */
static void avx512_tile(float *part, int ldp, int mr, const float *const *w, const float *xt,
                        size_t ldx, int kn, int first, int nb) {
    switch ((nb + 15) / 16) {
    case 1: tile_t(part, ldp, mr, w, xt, ldx, kn, first, 1); break;
    case 2: tile_t(part, ldp, mr, w, xt, ldx, kn, first, 2); break;
    case 3: tile_t(part, ldp, mr, w, xt, ldx, kn, first, 3); break;
    default: tile_t(part, ldp, mr, w, xt, ldx, kn, first, 4); break;
    }
}

const geb_kernels geb_kernels_avx512_table = {
    .name = "avx512",
    .dot = avx512_dot,
    .axpy = avx512_axpy,
    .matvec_f32 = avx512_matvec,
    .tile_f32 = avx512_tile,
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
/* Not an x86-64 AVX-512 build: this file contributes nothing. */
typedef int geb_kernels_avx512_empty;
#endif
