/* qk_neon_dot.c - the Q8_0 and Q4_0 kernels with the Armv8.2 dot-product
 * instruction (sdot: 16 byte products into 4 int32 lanes), an overlay on
 * qk_neon.c's table that qk.c applies only when HWCAP has ASIMDDP.  The
 * instructions are enabled for this file alone (GCC: the pragma below; the
 * Makefile also passes -march=armv8.2-a+dotprod on AArch64 hosts). */
#if defined(__aarch64__)
#if !defined(__ARM_FEATURE_DOTPROD) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif
#define QK_DOT 1
#define QK_NO_FLOAT
#include "qk_neon.h"

const geb_qk_table geb_qk_neon_dot = {{
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, NULL},
}};
#else
typedef int geb_qk_neon_dot_empty; /* not an AArch64 build: nothing here */
#endif
