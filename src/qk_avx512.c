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

const geb_qk_table geb_qk_avx512 = {{
    [GEB_TYPE_F16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_f16, mm_f16, to_f32_f16, NULL, to_f32_f16},
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_bf16, mm_bf16, to_f32_bf16, NULL, to_f32_bf16},
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, to_f32_q8_0, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, to_f32_q4_0, NULL},
}};
#else
typedef int geb_qk_avx512_empty; /* not an AVX-512 build: nothing here */
#endif
