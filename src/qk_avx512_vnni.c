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
            __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 2));
            _mm256_storeu_si256((__m256i *)(dst + GEB_QK * b), _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        }
    }
}

static void q4_rows(uint8_t *dst, const uint8_t *w, size_t ldw, int n, int kn) {
    for (int i = 0; i < n; i++, dst += IWROW) {
        float *d = (float *)(void *)(dst + IKC);
        for (int b = 0; b < kn / GEB_QK; b++) {
            const uint8_t *blk = w + (size_t)i * ldw + (size_t)b * 18;
            d[b] = geb_f16_to_f32(geb_qk_u16(blk));
            __m128i q = _mm_loadu_si128((const __m128i *)(blk + 2)), m4 = _mm_set1_epi8(15);
            _mm_storeu_si128((__m128i *)(dst + GEB_QK * b), _mm_and_si128(q, m4));
            _mm_storeu_si128((__m128i *)(dst + GEB_QK * b + 16), _mm_and_si128(_mm_srli_epi16(q, 4), m4));
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

/* ---- packed groups on 512-bit vectors: Q4_0 and Q8_0 ------------------- */
/* Q8_0 rows packed in groups of 8 (matvec and small batches only: prefill
 * unpacks them for the tile above).  Per block column a group is 272
 * bytes: the 8 rows' fp16 scales, then 8 chunks of 32 bytes, chunk c
 * holding values 4c..4c+3 of every row (row i at 4i) as q + 128, unsigned
 * as vpdpbusd's first operand wants them (Q4_0 groups: qk_q4pack.h). */
#define P8_BLOCK (GEB_PACK_ROWS * 34)

static void pack_q8_0(uint8_t *dst, const uint8_t *src, size_t ldw, int cols) {
    for (int b = 0; b < cols / GEB_QK; b++, dst += P8_BLOCK)
        for (int i = 0; i < GEB_PACK_ROWS; i++) {
            const uint8_t *blk = src + (size_t)i * ldw + (size_t)b * 34;
            memcpy(dst + 2 * i, blk, 2);
            for (int c = 0; c < 8; c++)
                for (int e = 0; e < 4; e++) dst[16 + 32 * c + 4 * i + e] = (uint8_t)(blk[2 + 4 * c + e] ^ 0x80);
        }
}

/* pack_q8_0's inverse for the blocks of columns [k0, k0 + kn). */
static void unpack_q8_0(uint8_t *dst, size_t ldd, const uint8_t *w, size_t ldw, int k0, int kn) {
    (void)ldw;
    for (int b = k0 / GEB_QK; b < (k0 + kn) / GEB_QK; b++) {
        const uint8_t *g = w + (size_t)b * P8_BLOCK;
        for (int i = 0; i < GEB_PACK_ROWS; i++) {
            uint8_t *blk = dst + (size_t)i * ldd + (size_t)(b - k0 / GEB_QK) * 34;
            __m256i q = _mm256_i32gather_epi32((const int *)(const void *)(g + 16 + 4 * i),
                                               _mm256_setr_epi32(0, 8, 16, 24, 32, 40, 48, 56), 4);
            memcpy(blk, g + 2 * i, 2);
            _mm256_storeu_si256((__m256i *)(blk + 2), _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        }
    }
}

/* Row i of a packed block back in Q8_0's byte order, then widened as
 * to_f32_q8_0 does. */
static void to_f32_q8_0_packed(float *dst, size_t ldd, const uint8_t *w, size_t ldw, int k0, int kn) {
    uint8_t blk[GEB_PACK_ROWS * 34];
    for (int b = 0; b < kn / GEB_QK; b++) {
        unpack_q8_0(blk, 34, w, ldw, k0 + b * GEB_QK, GEB_QK);
        for (int i = 0; i < GEB_PACK_ROWS; i++) to_f32_q8_0(dst + (size_t)i * ldd + (size_t)b * GEB_QK, blk + 34 * i, GEB_QK);
    }
}

/* One 64-byte load holds two chunks of a group: int32 lane l is row l % 8
 * over 4 values of the first chunk (l < 8) or the second.  wv[p] are the
 * group's weights of a block as four such vectors (Q4_0: the low nibbles
 * of chunks 0-1 and 2-3, then the high ones; Q8_0: chunk pairs 0-1 .. 6-7)
 * and xp[p] the token's matching 4 bytes in each half, so a block of 8 rows
 * is 4 vpdpbusd (unsigned weights, signed token).  Lanes l and l + 8 of a
 * row go to float apart (the 8 fp16 scales, twice) and meet at the end.
 * The weights' offset (Q4_0 8, Q8_0 128) times the token block's sum
 * starts the low lanes' sums, negated.  About 15 vector instructions per
 * group and Q4_0 block, where qk_avx2.c's packed matvec spends about 38
 * (tools/kbench.c mv -p -w q4_0 from cache, 1 thread, Ice Lake: 17-19 ->
 * 31-32 GB/s). */
#define V_G 4 /* groups a matvec pass reads at once, each from its own lane of the chunk */
/* Without the software prefetch, 2 lanes: the hardware prefetcher follows
 * fewer streams better (Zen 4, GEB-1.3B tg64 1 thread, alternating builds,
 * 4 rounds: q4_0 38.1-40.5 -> 39.1-41.3 tok/s, q8_0 82-85% -> 86-92% of the
 * read bandwidth; 2 threads within the noise). */
#define V_G_HW 2
/* Each lane's block 2 KB ahead is prefetched: GEB-1.3B tg64, 2 threads,
 * Emerald Rapids, alternating: q4_0 32.9-34.7 -> 37.3-38.1 tok/s, q8_0
 * 19.7-20.9 -> 21.5-21.7 (1 KB and 4 KB: less). */
#ifndef VPF
#define VPF 2048
#endif
#define V_RN 4 /* tokens a small-batch tile multiplies at once */

static inline __attribute__((always_inline)) void v_weights(__m512i *wv, const uint8_t *q, const int q8) {
    if (q8) {
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) wv[p] = _mm512_loadu_si512(q + 16 + 64 * p);
    } else {
        const __m512i m4 = _mm512_set1_epi8(15);
        __m512i va = _mm512_loadu_si512(q + 16), vb = _mm512_loadu_si512(q + 80);
        wv[0] = _mm512_and_si512(va, m4), wv[1] = _mm512_and_si512(vb, m4);
        wv[2] = _mm512_and_si512(_mm512_srli_epi16(va, 4), m4), wv[3] = _mm512_and_si512(_mm512_srli_epi16(vb, 4), m4);
    }
}

/* xp[p]: dword 2p of the token block's 32 values in the low half, 2p + 1 in
 * the high one. */
static inline __attribute__((always_inline)) void v_token(__m512i *xp, const uint8_t *qs) {
    const __m512i i0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m512i xv = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)qs));
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) xp[p] = _mm512_permutexvar_epi32(_mm512_add_epi32(i0, _mm512_set1_epi32(2 * p)), xv);
}

static inline __attribute__((always_inline)) __m512 v_block(__m512 acc, const __m512i *wv, const __m512i *xp,
                                                            int32_t nsx, float dx, __m512 sc) {
    __m512i d = _mm512_maskz_set1_epi32(0x00ff, nsx);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) d = _mm512_dpbusd_epi32(d, wv[p], xp[p]);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(sc, _mm512_set1_ps(dx)), acc);
}

static inline __m512 v_scales(const uint8_t *q) {
    return _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q)));
}

/* y[0..8) (+)= the 16 lanes of acc, folded. */
static inline void v_store(float *y, __m512 acc, int add) {
    __m256 r = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
    if (add) r = _mm256_add_ps(r, _mm256_loadu_ps(y));
    _mm256_storeu_ps(y, r);
}

/* The token's scales and -offset * sums of blocks [0, bn) of xs. */
static void v_token_sums(float *dx, int32_t *nsx, const uint8_t *xs, int bn, const int q8) {
    for (int b = 0; b < bn; b++)
        dx[b] = f16s(xs + (size_t)b * 34), nsx[b] = -(q8 ? 16 : 1) * x8sum(xs + (size_t)b * 34 + 2);
}

/* y[8g + i] (+)= the ng groups at w[g] over blocks [0, bn) of the token. */
static inline __attribute__((always_inline)) void v_pass(float *const *y, const uint8_t *const *w,
                                                         const uint8_t *xb, const float *dx,
                                                         const int32_t *nsx, int bn, int add,
                                                         const int ng, const int q8, const int pf) {
    const size_t bs = q8 ? P8_BLOCK : P4_BLOCK;
    __m512 acc[V_G];
    const uint8_t *q[V_G];
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++) acc[g] = _mm512_setzero_ps(), q[g] = w[g];
    for (int b = 0; b < bn; b++) {
        __m512i xp[4];
        v_token(xp, xb + (size_t)b * 34 + 2);
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++) {
            __m512i wv[4];
            if (pf)
                for (size_t o = 0; o < bs; o += 64) _mm_prefetch((const char *)(q[g] + VPF + o), _MM_HINT_T0);
            v_weights(wv, q[g], q8);
            acc[g] = v_block(acc[g], wv, xp, nsx[b], dx[b], v_scales(q[g]));
            q[g] += bs;
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < ng; g++) v_store(y[g], acc[g], add);
}

/* y[i] = W[i] . x for the n packed rows at w (groups ldw * 8 bytes apart):
 * the groups cut into V_G (V_G_HW) lanes as rows.h cuts rows, passes of P4_SEG
 * blocks whose token scales and sums are taken once (the partial sums of a
 * row meet in y). */
static inline __attribute__((always_inline)) void v_matvec(float *y, const uint8_t *w, size_t ldw,
                                                           const void *x, int n, int cols, const int q8,
                                                           const int pf) {
    const uint8_t *xb = x;
    const size_t bs = q8 ? P8_BLOCK : P4_BLOCK;
    const int vg = pf ? V_G : V_G_HW;
    int nb = cols / GEB_QK, ng = n / GEB_PACK_ROWS, lane = (ng + vg - 1) / vg;
    size_t gbytes = ldw * GEB_PACK_ROWS;
    float dx[P4_SEG];
    int32_t nsx[P4_SEG];
    for (int b0 = 0; b0 < nb; b0 += P4_SEG) {
        int bn = nb - b0 < P4_SEG ? nb - b0 : P4_SEG;
        const uint8_t *xs = xb + (size_t)b0 * 34;
        v_token_sums(dx, nsx, xs, bn, q8);
        for (int r = 0; r < lane; r++) {
            const uint8_t *wg[V_G];
            float *yg[V_G];
            int k = 0;
            for (int l = 0; l < vg; l++) {
                int g = l * lane + r;
                if (g >= ng) break;
                wg[k] = w + (size_t)g * gbytes + (size_t)b0 * bs, yg[k] = y + (size_t)g * GEB_PACK_ROWS;
                k++;
            }
            if (k == vg) v_pass(yg, wg, xs, dx, nsx, bn, b0 > 0, vg, q8, pf);
            else
                for (int i = 0; i < k; i++) v_pass(yg + i, wg + i, xs, dx, nsx, bn, b0 > 0, 1, q8, pf);
        }
    }
}

static void mv_q4_0_packed512(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    if (geb_prefetch_rows) v_matvec(y, w, ldw, x, n, cols, 0, 1);
    else v_matvec(y, w, ldw, x, n, cols, 0, 0);
}

static void mv_q8_0_packed512(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    if (geb_prefetch_rows) v_matvec(y, w, ldw, x, n, cols, 1, 1);
    else v_matvec(y, w, ldw, x, n, cols, 1, 0);
}

/* One group x nr tokens over blocks [0, bn): the group's weights of a
 * block are loaded once for the nr tokens. */
static inline __attribute__((always_inline)) void v_mtile(float *y, size_t ldy, const uint8_t *q,
                                                          const uint8_t *const *xq, const float *const *dx,
                                                          const int32_t *const *nsx, int bn, int add,
                                                          const int nr) {
    __m512 acc[V_RN];
#pragma GCC unroll 4
    for (int t = 0; t < nr; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < bn; b++, q += P8_BLOCK) {
        __m512i wv[4];
        v_weights(wv, q, 1);
        __m512 sc = v_scales(q);
#pragma GCC unroll 4
        for (int t = 0; t < nr; t++) {
            __m512i xp[4];
            v_token(xp, xq[t] + (size_t)b * 34 + 2);
            acc[t] = v_block(acc[t], wv, xp, nsx[t][b], dx[t][b], sc);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nr; t++) v_store(y + (size_t)t * ldy, acc[t], add);
}

static void v_mtile_n(float *y, size_t ldy, const uint8_t *q, const uint8_t *const *xq, const float *const *dx,
                      const int32_t *const *nsx, int bn, int add, int nr) {
    switch (nr) {
    case 4: v_mtile(y, ldy, q, xq, dx, nsx, bn, add, 4); break;
    case 3: v_mtile(y, ldy, q, xq, dx, nsx, bn, add, 3); break;
    case 2: v_mtile(y, ldy, q, xq, dx, nsx, bn, add, 2); break;
    default: v_mtile(y, ldy, q, xq, dx, nsx, bn, add, 1); break;
    }
}

/* y[b*ldy + i] = W[i] . X[b] for the n packed Q8_0 rows at w (n a multiple
 * of 8) and the B tokens of X (Q8_0 rows ldx bytes apart): panels of P4_TB
 * tokens, passes of P4_MSEG blocks, groups, tiles of V_RN tokens. */
static void mm_q8_0_packed512(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x, size_t ldx,
                              int B, int n, int cols) {
    int nb = cols / GEB_QK;
    size_t gbytes = ldw * GEB_PACK_ROWS;
    float dx[P4_TB][P4_MSEG];
    int32_t nsx[P4_TB][P4_MSEG];
    for (int t0 = 0; t0 < B; t0 += P4_TB) {
        int tn = B - t0 < P4_TB ? B - t0 : P4_TB;
        for (int b0 = 0; b0 < nb; b0 += P4_MSEG) {
            int bn = nb - b0 < P4_MSEG ? nb - b0 : P4_MSEG;
            const uint8_t *xs[P4_TB];
            for (int t = 0; t < tn; t++) {
                xs[t] = (const uint8_t *)x + (size_t)(t0 + t) * ldx + (size_t)b0 * 34;
                v_token_sums(dx[t], nsx[t], xs[t], bn, 1);
            }
            for (int g = 0; g < n; g += GEB_PACK_ROWS) {
                const uint8_t *q = w + (size_t)(g / GEB_PACK_ROWS) * gbytes + (size_t)b0 * P8_BLOCK;
                for (int t = 0; t < tn; t += V_RN) {
                    const float *dp[V_RN];
                    const int32_t *sp[V_RN];
                    for (int i = 0; i < V_RN; i++) {
                        int ti = t + i < tn ? t + i : tn - 1;
                        dp[i] = dx[ti], sp[i] = nsx[ti];
                    }
                    v_mtile_n(y + (size_t)(t0 + t) * ldy + g, ldy, q, xs + t, dp, sp, bn, b0 > 0,
                              tn - t < V_RN ? tn - t : V_RN);
                }
            }
        }
    }
}

static const geb_packed_kernels q4_0_packed = {pack_q4_0, mv_q4_0_packed512, mm_q4_0_packed,
                                                to_f32_q4_0_packed, unpack_q4_0};
static const geb_packed_kernels q8_0_packed = {pack_q8_0, mv_q8_0_packed512, mm_q8_0_packed512,
                                                to_f32_q8_0_packed, unpack_q8_0};

const geb_qk_table geb_qk_avx512_vnni = {{
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, &q8_0_packed, NULL, &q8_gemm},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, &q4_0_packed, NULL, &q4_gemm},
}};
#else
typedef int geb_qk_avx512_vnni_empty; /* not an AVX512_VNNI build: nothing here */
#endif
