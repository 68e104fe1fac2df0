/* qk_avx512_vnni.c - the Q8_0 and Q4_0 kernels with AVX512_VNNI's vpdpbusd
 * (on 256-bit vectors, AVX512VL): one instruction per block and pair of
 * rows and tokens instead of three (see qk_x86.h).  An overlay on
 * qk_avx512.c's table; qk.c uses it only when CPUID has AVX512_VNNI. */
#if defined(__x86_64__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__FMA__) && \
    defined(__F16C__)
#define QK_NO_FLOAT
#define Q_MV 8
#define Q_RM 4
#define Q_RN 4
#define QK_VNNI 1
#include "qk_x86.h"

const geb_qk_table geb_qk_avx512_vnni = {{
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, NULL},
}};
#else
typedef int geb_qk_avx512_vnni_empty; /* not an AVX512_VNNI build: nothing here */
#endif
