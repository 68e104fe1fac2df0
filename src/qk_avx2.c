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

const geb_qk_table geb_qk_avx2 = {{
    [GEB_TYPE_F16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_f16, mm_f16, to_f32_f16},
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_bf16, mm_bf16, to_f32_bf16},
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, to_f32_q8_0},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, to_f32_q4_0},
}};
#else
typedef int geb_qk_avx2_empty; /* not an AVX2 build: nothing here */
#endif
