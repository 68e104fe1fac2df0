/* qk_avx2.c - the F16, BF16, Q8_0 and Q4_0 row kernels for AVX2 + FMA +
 * F16C (qk_x86.h with 8-float vectors and tiles sized for 16 registers).
 * Built with -mavx2 -mfma -mf16c; qk.c uses it only where kernels.c found
 * the CPU and OS run the avx2 table.  Batches of 16 tokens or more widen the
 * weights to FP32 panels for the F32 GEMM (to_f32): without VNNI, a block
 * pair costs AVX2 about six integer and float instructions per 32 products
 * where the F32 tile spends four FMAs (GEB-1.3B pp512, 2 threads: q4_0
 * 28 -> 43 t/s, q8_0 38 -> 45, bf16 37 -> 45: one run each, 2026-12-02). */
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define FV __m256
#define FW 8
#define FV_ZERO() _mm256_setzero_ps()
#define FV_LOADX(p) _mm256_loadu_ps(p)
#define FV_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define FV_LOAD_BF16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define FV_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FV_SUM(v) hsum8(v)
#define F_MV 6 /* 6 accumulators + x + w: 8 of 16 registers */
#define F_RM 4
#define F_RN 3 /* 12 accumulators + 3 x + 1 w = 16 registers */
#define Q_MV 4
#define Q_RM 4
#define Q_RN 3
#define QK_VNNI 0
#include "qk_x86.h"

#include <string.h>

#include "qk_q4pack.h"

/* Groups a pass reads at once, each from its own lane of the chunk (as
 * rows.h does for rows as stored): one sequential stream per core leaves
 * DRAM idle (kbench mv -p: 11-12 GB/s with one group at a time against
 * 19-20 from cache); the token's 8 broadcasts per chunk serve every group. */
#define P4_G 4

/* The 8 rows of each of the ng packed groups q[g] times the token block at
 * xq (32 values): per group, the int32 lane i is sum_e n_ie x_e with n the
 * stored (unsigned) nibble.  Pairs are at most 2 * 15 * 127 and 8 of them
 * are summed in int16: 30,480 < 32,768 (|x| <= 127: Q8_0's scale is
 * absmax / 127). */
static inline __attribute__((always_inline)) void p4_dots(__m256i *dot, const uint8_t *const *q,
                                                          const uint8_t *xq, const int ng) {
    const __m256i m4 = _mm256_set1_epi8(15);
    __m256i s[P4_G];
    /* Not unrolled: unrolled, GCC hoisted the 16 loads of a block and
     * spilled the sums (here and in p4_mtile; pp512 q4_0 61-63 -> 68-73
     * t/s, 3 pairs alternating). */
#pragma GCC unroll 1
    for (int c = 0; c < 4; c++) {
        __m256i xl = _mm256_set1_epi32(ld32(xq + 4 * c)), xh = _mm256_set1_epi32(ld32(xq + 16 + 4 * c));
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q[g] + 16 + 32 * c));
            __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(v, m4), xl),
                                         _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), xh));
            s[g] = c ? _mm256_add_epi16(s[g], p) : p;
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++) dot[g] = _mm256_madd_epi16(s[g], _mm256_set1_epi16(1));
}

/* y[8g + i] (+)= the ng groups at w[g] over blocks [0, bn) of the token. */
static inline __attribute__((always_inline)) void p4_pass(float *const *y, const uint8_t *const *w,
                                                          const uint8_t *xb, const float *dx,
                                                          const int32_t *sx, int bn, int add,
                                                          const int ng) {
    __m256 acc[P4_G];
    const uint8_t *q[P4_G];
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++) acc[g] = _mm256_setzero_ps(), q[g] = w[g];
    for (int b = 0; b < bn; b++) {
        __m256i dot[P4_G];
        p4_dots(dot, q, xb + (size_t)b * 34 + 2, ng);
        __m256 d = _mm256_set1_ps(dx[b]);
        __m256i corr = _mm256_set1_epi32(sx[b]);
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++) {
            __m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)q[g])), d);
            acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(dot[g], corr)), sc, acc[g]);
            q[g] += P4_BLOCK;
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++) {
        if (add) acc[g] = _mm256_add_ps(acc[g], _mm256_loadu_ps(y[g]));
        _mm256_storeu_ps(y[g], acc[g]);
    }
}

static void mv_q4_0_packed(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    const uint8_t *xb = x;
    int nb = cols / GEB_QK, ng = n / GEB_PACK_ROWS, lane = (ng + P4_G - 1) / P4_G;
    size_t gbytes = ldw * GEB_PACK_ROWS;
    float dx[P4_SEG];
    int32_t sx[P4_SEG];
    for (int b0 = 0; b0 < nb; b0 += P4_SEG) {
        int bn = nb - b0 < P4_SEG ? nb - b0 : P4_SEG;
        const uint8_t *xs = xb + (size_t)b0 * 34;
        for (int b = 0; b < bn; b++) dx[b] = f16s(xs + (size_t)b * 34), sx[b] = x8sum(xs + (size_t)b * 34 + 2);
        /* Pass r reads group r of every lane; the last lane may be short. */
        for (int r = 0; r < lane; r++) {
            const uint8_t *wg[P4_G];
            float *yg[P4_G];
            int k = 0;
            for (int l = 0; l < P4_G; l++) {
                int g = l * lane + r;
                if (g >= ng) break;
                wg[k] = w + (size_t)g * gbytes + (size_t)b0 * P4_BLOCK, yg[k] = y + (size_t)g * GEB_PACK_ROWS;
                k++;
            }
            if (k == P4_G) p4_pass(yg, wg, xs, dx, sx, bn, b0 > 0, P4_G);
            else
                for (int i = 0; i < k; i++) p4_pass(yg + i, wg + i, xs, dx, sx, bn, b0 > 0, 1);
        }
    }
}

static const geb_packed_kernels q4_0_packed = {pack_q4_0, mv_q4_0_packed, mm_q4_0_packed, to_f32_q4_0_packed,
                                                unpack_q4_0};

const geb_qk_table geb_qk_avx2 = {{
    [GEB_TYPE_F16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_f16, mm_f16, to_f32_f16, NULL, to_f32_f16},
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_bf16, mm_bf16, to_f32_bf16, NULL, to_f32_bf16},
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, to_f32_q8_0, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, to_f32_q4_0, &q4_0_packed},
}};
#else
typedef int geb_qk_avx2_empty; /* not an AVX2 build: nothing here */
#endif
