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

#include "qk_q4pack.h"

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

/* ---- the packed Q4_0 matvec on 512-bit vectors ------------------------- */
/* One 64-byte load holds two chunks of a group (qk_q4pack.h): int32 lane l
 * is row l % 8 over 4 elements of chunk l / 8.  vpdpbusd multiplies the
 * nibbles (unsigned) by the token's bytes (signed) and sums each 4 into its
 * lane, so a block of 8 rows is 2 loads, 6 nibble ops and 4 vpdpbusd; the
 * lanes l and l + 8 of the same row go to float separately (their scales
 * are the 8 fp16 scales twice) and meet once per row at the end.  The
 * offset 8 of the nibbles starts the low lanes' sums at -8 sum(x).
 * About 15 vector instructions per group and block, where qk_avx2.c's
 * packed matvec spends about 38 (tools/kbench.c mv -p -w q4_0). */
#define V4_G 4 /* groups a pass reads at once, each from its own lane of the chunk */

static inline __attribute__((always_inline)) void v4_pass(float *const *y, const uint8_t *const *w,
                                                          const uint8_t *xb, const float *dx,
                                                          const int32_t *nsx, int bn, int add,
                                                          const int ng) {
    const __m512i m4 = _mm512_set1_epi8(15);
    /* dword e of the token block -> every lane of the half it multiplies */
    const __m512i i_al = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i i_bl = _mm512_add_epi32(i_al, _mm512_set1_epi32(2));
    const __m512i i_ah = _mm512_add_epi32(i_al, _mm512_set1_epi32(4));
    const __m512i i_bh = _mm512_add_epi32(i_al, _mm512_set1_epi32(6));
    __m512 acc[V4_G];
    const uint8_t *q[V4_G];
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++) acc[g] = _mm512_setzero_ps(), q[g] = w[g];
    for (int b = 0; b < bn; b++) {
        const uint8_t *xq = xb + (size_t)b * 34;
        __m512i xv = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(xq + 2)));
        __m512i xal = _mm512_permutexvar_epi32(i_al, xv), xbl = _mm512_permutexvar_epi32(i_bl, xv);
        __m512i xah = _mm512_permutexvar_epi32(i_ah, xv), xbh = _mm512_permutexvar_epi32(i_bh, xv);
        __m512i d0 = _mm512_maskz_set1_epi32(0x00ff, nsx[b]); /* -8 sum(x), low lanes */
        __m512 dxb = _mm512_set1_ps(dx[b]);
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++) {
            __m512i va = _mm512_loadu_si512(q[g] + 16), vb = _mm512_loadu_si512(q[g] + 80);
            __m512i d = _mm512_dpbusd_epi32(d0, _mm512_and_si512(va, m4), xal);
            d = _mm512_dpbusd_epi32(d, _mm512_and_si512(_mm512_srli_epi16(va, 4), m4), xah);
            d = _mm512_dpbusd_epi32(d, _mm512_and_si512(vb, m4), xbl);
            d = _mm512_dpbusd_epi32(d, _mm512_and_si512(_mm512_srli_epi16(vb, 4), m4), xbh);
            __m512 sc = _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q[g])));
            acc[g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(sc, dxb), acc[g]);
            q[g] += P4_BLOCK;
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++) {
        __m256 r = _mm256_add_ps(_mm512_castps512_ps256(acc[g]), _mm512_extractf32x8_ps(acc[g], 1));
        if (add) r = _mm256_add_ps(r, _mm256_loadu_ps(y[g]));
        _mm256_storeu_ps(y[g], r);
    }
}

/* y[i] = W[i] . x for the n packed rows at w (groups ldw * 8 bytes apart):
 * the groups cut into V4_G lanes as rows.h cuts rows, passes of 1024
 * blocks whose scales and offset sums are taken once (the partial sums of
 * a row meet in y). */
static void mv_q4_0_packed512(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    const uint8_t *xb = x;
    int nb = cols / GEB_QK, ng = n / GEB_PACK_ROWS, lane = (ng + V4_G - 1) / V4_G;
    size_t gbytes = ldw * GEB_PACK_ROWS;
    float dx[P4_SEG];
    int32_t nsx[P4_SEG];
    for (int b0 = 0; b0 < nb; b0 += P4_SEG) {
        int bn = nb - b0 < P4_SEG ? nb - b0 : P4_SEG;
        const uint8_t *xs = xb + (size_t)b0 * 34;
        for (int b = 0; b < bn; b++) dx[b] = f16s(xs + (size_t)b * 34), nsx[b] = -x8sum(xs + (size_t)b * 34 + 2);
        for (int r = 0; r < lane; r++) {
            const uint8_t *wg[V4_G];
            float *yg[V4_G];
            int k = 0;
            for (int l = 0; l < V4_G; l++) {
                int g = l * lane + r;
                if (g >= ng) break;
                wg[k] = w + (size_t)g * gbytes + (size_t)b0 * P4_BLOCK, yg[k] = y + (size_t)g * GEB_PACK_ROWS;
                k++;
            }
            if (k == V4_G) v4_pass(yg, wg, xs, dx, nsx, bn, b0 > 0, V4_G);
            else
                for (int i = 0; i < k; i++) v4_pass(yg + i, wg + i, xs, dx, nsx, bn, b0 > 0, 1);
        }
    }
}

static const geb_packed_kernels q4_0_packed = {pack_q4_0, mv_q4_0_packed512, mm_q4_0_packed,
                                                to_f32_q4_0_packed, unpack_q4_0};

const geb_qk_table geb_qk_avx512_vnni = {{
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, NULL, NULL, &q8_gemm},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, &q4_0_packed, NULL, &q4_gemm},
}};
#else
typedef int geb_qk_avx512_vnni_empty; /* not an AVX512_VNNI build: nothing here */
#endif
