/* qk_vnni_emu.c - test only: the AVX512_VNNI Q8_0/Q4_0 kernels of qk_x86.h
 * (the code of qk_avx512_vnni.c) built for AVX2 with vpdpbusd replaced by an
 * exact AVX2 emulation, so their offset arithmetic is tested on a CPU
 * without VNNI.  Linked into test_types only. */
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

#define QK_NO_FLOAT
#define Q_MV 4
#define Q_RM 4
#define Q_RN 3
#define QK_VNNI 1
#include "../src/qk_x86.h"

const geb_qk_table geb_qk_test_vnni_emu = {{
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0},
}};
#else
typedef int geb_qk_vnni_emu_empty;
#endif
