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

#include <string.h>

/* ---- the GEMM: 6 rows x 32 tokens of vpdpbusd on whole blocks ---------- */
/* The weights of a job's block are recast once per 256 tokens (rows()) to
 * unsigned bytes u = q + off (Q4_0: the stored nibble, off 8; Q8_0: q + 128)
 * in element order, then the block scales as floats; the activations are
 * Q8_0 blocks of the traits (so the product is the one the scalar table's
 * matmul computes), their bytes in steps of 4 columns x 32 tokens.  Per
 * block: 8 steps of one broadcast of 4 weight bytes per row against 2
 * vectors of 16 tokens, then the integer sums go to float once:
 *   y += d_w * (d_x * sum(u x) + c_x),  c_x = -off * d_x * sum(x),
 * the second term cancelling the offset.  12 integer + 12 float
 * accumulators, 2 activation vectors, the broadcast and 4 scale vectors of
 * 32 registers. */
#define ITR 6
#define ITB 32
#define IKC 256                          /* columns per block of the job: 8 Q blocks */
#define IBLK (GEB_QK * ITB + 8 * ITB)    /* panel bytes per Q block: bytes, d_x, c_x */
#define IWROW (IKC + IKC / GEB_QK * 4)   /* a row in tile form: IKC bytes, then 8 scales */

/* Steps (Q blocks) [s0, s1) of a panel; off is the weights' offset. */
static void q_panel(uint8_t *panel, const float *x, size_t ldx, int nb, int s0, int s1, int off) {
    const geb_type_traits *q8 = geb_type_traits_of(GEB_TYPE_Q8_0);
    for (int s = s0; s < s1; s++) {
        uint8_t *pb = panel + (size_t)s * IBLK;
        float *dx = (float *)(void *)(pb + GEB_QK * ITB), *cx = dx + ITB;
        for (int b = 0; b < ITB; b++) {
            geb_block_q8_0 blk = {0, {0}};
            if (b < nb) q8->from_f32(&blk, x + (size_t)b * ldx + (size_t)s * GEB_QK, GEB_QK);
            int sum = 0;
            for (int t = 0; t < GEB_QK / 4; t++) memcpy(pb + (size_t)t * 4 * ITB + 4 * b, blk.qs + 4 * t, 4);
            for (int e = 0; e < GEB_QK; e++) sum += blk.qs[e];
            dx[b] = b < nb ? geb_f16_to_f32(blk.d) : 0.0f;
            cx[b] = -(float)off * dx[b] * (float)sum;
        }
    }
}

static void q8_panel(uint8_t *panel, const float *x, size_t ldx, int nb, int s0, int s1, int cols) {
    (void)cols;
    q_panel(panel, x, ldx, nb, s0, s1, 128);
}

static void q4_panel(uint8_t *panel, const float *x, size_t ldx, int nb, int s0, int s1, int cols) {
    (void)cols;
    q_panel(panel, x, ldx, nb, s0, s1, 8);
}

static void q8_rows(uint8_t *dst, const uint8_t *w, size_t ldw, int n, int kn) {
    for (int i = 0; i < n; i++, dst += IWROW) {
        float *d = (float *)(void *)(dst + IKC);
        for (int b = 0; b < kn / GEB_QK; b++) {
            const uint8_t *blk = w + (size_t)i * ldw + (size_t)b * 34;
            d[b] = geb_f16_to_f32(geb_qk_u16(blk));
            for (int e = 0; e < GEB_QK; e++) dst[GEB_QK * b + e] = (uint8_t)(blk[2 + e] ^ 0x80);
        }
    }
}

static void q4_rows(uint8_t *dst, const uint8_t *w, size_t ldw, int n, int kn) {
    for (int i = 0; i < n; i++, dst += IWROW) {
        float *d = (float *)(void *)(dst + IKC);
        for (int b = 0; b < kn / GEB_QK; b++) {
            const uint8_t *blk = w + (size_t)i * ldw + (size_t)b * 18;
            d[b] = geb_f16_to_f32(geb_qk_u16(blk));
            for (int e = 0; e < GEB_QK / 2; e++) {
                dst[GEB_QK * b + e] = blk[2 + e] & 15;
                dst[GEB_QK * b + e + 16] = blk[2 + e] >> 4;
            }
        }
    }
}

static inline __attribute__((always_inline)) void itile(float *part, int ldp, int mr,
                                                        const uint8_t *const *w, const uint8_t *xp,
                                                        int kn, int first, const int nv) {
    __m512 acc[ITR][2];
#pragma GCC unroll 8
    for (int i = 0; i < ITR; i++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++)
            acc[i][j] = first || i >= mr ? _mm512_setzero_ps() : _mm512_loadu_ps(part + (size_t)i * ldp + 16 * j);
    for (int blk = 0; blk < kn / GEB_QK; blk++) {
        const uint8_t *xb = xp + (size_t)blk * IBLK;
        __m512i ia[ITR][2];
#pragma GCC unroll 8
        for (int i = 0; i < ITR; i++)
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++) ia[i][j] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int t = 0; t < GEB_QK / 4; t++) {
            __m512i xv[2];
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++) xv[j] = _mm512_loadu_si512(xb + (size_t)t * 4 * ITB + 64 * j);
#pragma GCC unroll 8
            for (int i = 0; i < ITR; i++) {
                int32_t u;
                memcpy(&u, w[i] + GEB_QK * blk + 4 * t, 4);
                __m512i wb = _mm512_set1_epi32(u);
#pragma GCC unroll 2
                for (int j = 0; j < nv; j++) ia[i][j] = _mm512_dpbusd_epi32(ia[i][j], wb, xv[j]);
            }
        }
        const float *dx = (const float *)(const void *)(xb + GEB_QK * ITB), *cx = dx + ITB;
        __m512 dxv[2], cxv[2];
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++) dxv[j] = _mm512_loadu_ps(dx + 16 * j), cxv[j] = _mm512_loadu_ps(cx + 16 * j);
#pragma GCC unroll 8
        for (int i = 0; i < ITR; i++) {
            float dwf;
            memcpy(&dwf, w[i] + IKC + 4 * blk, 4);
            __m512 dw = _mm512_set1_ps(dwf);
#pragma GCC unroll 2
            for (int j = 0; j < nv; j++)
                acc[i][j] = _mm512_fmadd_ps(dw, _mm512_fmadd_ps(dxv[j], _mm512_cvtepi32_ps(ia[i][j]), cxv[j]), acc[i][j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < ITR; i++)
#pragma GCC unroll 2
        for (int j = 0; j < nv; j++)
            if (i < mr) _mm512_storeu_ps(part + (size_t)i * ldp + 16 * j, acc[i][j]);
}

static void q_tile(float *part, int ldp, int mr, const uint8_t *const *w, const uint8_t *xp, int kn,
                   int first, int nb) {
    if (nb > 16) itile(part, ldp, mr, w, xp, kn, first, 2);
    else itile(part, ldp, mr, w, xp, kn, first, 1);
}

_Static_assert(IWROW <= GEB_GEMM_MAX_WROW, "a tile-form row fits matmul.c's buffer");
static const geb_gemm_kernels q8_gemm = {GEB_TYPE_Q8_0, GEB_QK, IBLK / ITB, ITR, ITB, IKC, IWROW,
                                         q8_panel, q8_rows, q_tile};
static const geb_gemm_kernels q4_gemm = {GEB_TYPE_Q8_0, GEB_QK, IBLK / ITB, ITR, ITB, IKC, IWROW,
                                         q4_panel, q4_rows, q_tile};

const geb_qk_table geb_qk_avx512_vnni = {{
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, NULL, NULL, &q8_gemm},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, NULL, NULL, &q4_gemm},
}};
#else
typedef int geb_qk_avx512_vnni_empty; /* not an AVX512_VNNI build: nothing here */
#endif
