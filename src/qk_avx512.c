/* qk_avx512.c - the F16, BF16, Q8_0 and Q4_0 row kernels for AVX-512
 * (F/BW/DQ/VL): qk_x86.h with 16-float vectors for the float types and,
 * for the integer types, the AVX2 block products in EVEX encoding with 32
 * registers, so both get larger register tiles than qk_avx2.c.  The
 * AVX512_VNNI and AVX512_BF16 overlays are qk_avx512_vnni.c and
 * qk_avx512_bf16.c; qk.c applies them only when CPUID has them. */
#if defined(__x86_64__) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__FMA__) && defined(__F16C__)
#define FV __m512
#define FW 16
#define FV_ZERO() _mm512_setzero_ps()
#define FV_LOADX(p) _mm512_loadu_ps(p)
#define FV_LOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define FV_LOAD_BF16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define FV_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define FV_SUM(v) _mm512_reduce_add_ps(v)
#define F_MV 8
#define F_RM 4
#define F_RN 6 /* 24 accumulators + 6 x + 1 w of 32 registers */
#define Q_MV 8
#define Q_RM 4
#define Q_RN 4 /* 16 accumulators + 8 token operands + row operands */
#define QK_VNNI 0
#include "qk_x86.h"

/* BF16 decoding: a 32-bit lane of BF16 rows holds a pair of weights, and
 * each is an FP32 value after one instruction: the odd one is the lane with
 * its low half cleared, the even one the lane shifted up by 16.  So one
 * 512-bit load gives 32 weights for two logic operations and two FMAs
 * against the token's even and odd elements, which are split once per 32
 * columns for the 8 rows of a pass (two vpermt2ps), where widening 16 at a
 * time takes a load, a vpmovzxwd and a shift per FMA.  The products are
 * FP32's, summed in another order.  Each row's line 1 KB ahead is
 * prefetched (past a row's end: the next row of its lane, rows.h): GEB-1.3B
 * tg64, 2 threads, Emerald Rapids, alternating: 9.97-9.98 -> 11.54-11.68
 * tok/s, 75-77% -> 87-88% of the read bandwidth (512 B: 84-86%, 2 KB:
 * 83-85%). */
#ifndef BF_HW_LANES
#define BF_HW_LANES 4
#endif
#ifndef MV_PF
#define MV_PF 1024
#endif
static inline __attribute__((always_inline)) void fb_mv_pairs(float *y, const uint8_t *const *w,
                                                              const void *const *xv, int cols,
                                                              const int nr, const int pf) {
    /* a pass: nr rows, one token, y[0..nr) */
    const float *x = xv[0];
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512 acc[8];
#pragma GCC unroll 8
    for (int i = 0; i < nr; i++) acc[i] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= cols; k += 32) {
        __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
        __m512 xe = _mm512_permutex2var_ps(x0, even, x1), xo = _mm512_permutex2var_ps(x0, odd, x1);
#pragma GCC unroll 8
        for (int i = 0; i < nr; i++) {
            if (pf) _mm_prefetch((const char *)(w[i] + 2 * (size_t)k + MV_PF), _MM_HINT_T0);
            __m512i p = _mm512_loadu_si512(w[i] + 2 * (size_t)k);
            acc[i] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(p, 16)), xe, acc[i]);
            acc[i] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(p, hi)), xo, acc[i]);
        }
    }
    for (int i = 0; i < nr; i++) {
        float s = _mm512_reduce_add_ps(acc[i]);
        for (int kk = k; kk < cols; kk++) s += geb_bf16_to_f32(geb_qk_u16(w[i] + 2 * (size_t)kk)) * x[kk];
        y[i] = s;
    }
}

/* With the software prefetch: 8 rows a pass.  Without it the hardware
 * prefetcher follows fewer streams better: Zen 4, 1 thread, tools/kbench.c
 * mv -w bf16 (from DRAM), alternating builds, 8 rounds: 8 lanes 24.9-26.9
 * GB/s, 4 lanes 28.8-30.6, 2 lanes 25.9-31.2; geb bench tg64 -w bf16 at
 * 1 thread 76-79% of the read bandwidth with 8 lanes, 85-89% with 4. */
static void fb_mv_pairs_pf(float *y, size_t ldy, const uint8_t *const *w, const void *const *xv,
                           int cols, int mr, int nr) {
    (void)ldy, (void)mr, (void)nr;
    fb_mv_pairs(y, w, xv, cols, 8, 1);
}

static void fb_mv_pairs_hw(float *y, size_t ldy, const uint8_t *const *w, const void *const *xv,
                           int cols, int mr, int nr) {
    (void)ldy, (void)mr, (void)nr;
    fb_mv_pairs(y, w, xv, cols, BF_HW_LANES, 0);
}

static void mv_bf16_pairs(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    if (geb_prefetch_rows) geb_rows_matvec(fb_mv_pairs_pf, 8, y, w, ldw, x, n, cols);
    else geb_rows_matvec(fb_mv_pairs_hw, BF_HW_LANES, y, w, ldw, x, n, cols);
}

const geb_qk_table geb_qk_avx512 = {{
    [GEB_TYPE_F16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_f16, mm_f16, to_f32_f16, NULL, to_f32_f16},
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_bf16_pairs, mm_bf16, to_f32_bf16, NULL, to_f32_bf16},
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, to_f32_q8_0, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, to_f32_q4_0, NULL},
}};
#else
typedef int geb_qk_avx512_empty; /* not an AVX-512 build: nothing here */
#endif
