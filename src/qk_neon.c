/* qk_neon.c - the F16, BF16, Q8_0 and Q4_0 row kernels for AArch64 Advanced
 * SIMD (qk_neon.h without the dot-product extension: integer block products
 * by widening multiplies).  NEON is part of every AArch64 CPU; on other
 * architectures this file compiles to nothing. */
#if defined(__aarch64__)
#define QK_DOT 0
#include "qk_neon.h"

const geb_qk_table geb_qk_neon = {{
    [GEB_TYPE_F16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_f16, mm_f16, NULL, NULL, row_f16},
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_bf16, mm_bf16, NULL, NULL, row_bf16},
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, NULL},
}};
#else
typedef int geb_qk_neon_empty; /* not an AArch64 build: nothing here */
#endif
