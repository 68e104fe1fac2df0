/* qk_vnni_emu.c - test only: qk_x86.h as qk_avx512_vnni.c and qk_avx512.c
 * build it (VNNI arithmetic, their tile shapes: Q 4x4 and 8-row matvec,
 * float 4x6 and 8-row matvec) but on AVX2 vectors with vpdpbusd replaced by
 * an exact AVX2 emulation, so that code is tested on a CPU without AVX-512.
 * Linked into test_types only. */
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

/* vpdpbusd: each int32 lane of acc plus the four products of unsigned bytes
 * of u with the signed bytes of s in that lane, without saturation. */
static inline __m256i emu_dpbusd(__m256i acc, __m256i u, __m256i s) {
    __m256i u_even = _mm256_and_si256(u, _mm256_set1_epi16(0xFF)), u_odd = _mm256_srli_epi16(u, 8);
    __m256i s_even = _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8), s_odd = _mm256_srai_epi16(s, 8);
    __m256i p = _mm256_add_epi32(_mm256_madd_epi16(u_even, s_even), _mm256_madd_epi16(u_odd, s_odd));
    return _mm256_add_epi32(acc, p);
}
#undef _mm256_dpbusd_epi32 /* a macro in some compilers' headers */
#define _mm256_dpbusd_epi32 emu_dpbusd

#define FV __m256
#define FW 8
#define FV_ZERO() _mm256_setzero_ps()
#define FV_LOADX(p) _mm256_loadu_ps(p)
#define FV_LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define FV_LOAD_BF16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define FV_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define FV_SUM(v) hsum8(v)
#define F_MV 8
#define F_RM 4
#define F_RN 6
#define Q_MV 8
#define Q_RM 4
#define Q_RN 4
#define QK_VNNI 1
#include "../src/qk_x86.h"

const geb_qk_table geb_qk_test_vnni_emu = {{
    [GEB_TYPE_F16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_f16, mm_f16, NULL},
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_bf16, mm_bf16, NULL},
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, NULL},
}};
#else
typedef int geb_qk_vnni_emu_empty;
#endif
