/* qk_q4pack.h - Q4_0 rows packed in groups of GEB_PACK_ROWS: the layout,
 * its pack and unpack, the packed GEMM of small batches and the widening,
 * for the x86 files that include it (qk_avx2.c, qk_avx512_vnni.c: each
 * compiles them with its own flags and adds its own packed matvec).
 * Included after qk_x86.h (f16s, to_f32_q4_0) and <string.h>. */
#ifndef GEB_QK_Q4PACK_H
#define GEB_QK_Q4PACK_H
/* ---- Q4_0 rows packed in groups of 8 ------------------------------------ */
/* A group is, per block column, 144 bytes: the 8 rows' fp16 scales, then 4
 * chunks of 32 bytes, chunk c holding bytes 4c..4c+3 of every row's 16
 * nibble bytes (row i at 4i).  The low nibbles of chunk c are elements
 * 4c..4c+3 of the 8 rows and the high ones elements 16+4c..; one vpmaddubsw
 * against the token's 4 elements (broadcast) multiplies all 8 rows, and
 * after vpmaddwd int32 lane i is row i.  So the nibbles are unpacked 32
 * bytes at a time and the block's scale step (convert, scale, FMA) runs once
 * per 8 rows: about 6 instructions per row and block against 12 for rows as
 * stored, on a core that is compute-bound on Q4_0 (tools/kbench.c mv). */
#define P4_BLOCK (GEB_PACK_ROWS * 18)

static void pack_q4_0(uint8_t *dst, const uint8_t *src, size_t ldw, int cols) {
    for (int b = 0; b < cols / GEB_QK; b++, dst += P4_BLOCK)
        for (int i = 0; i < GEB_PACK_ROWS; i++) {
            const uint8_t *blk = src + (size_t)i * ldw + (size_t)b * 18;
            memcpy(dst + 2 * i, blk, 2);
            for (int c = 0; c < 4; c++) memcpy(dst + 16 + 32 * c + 4 * i, blk + 2 + 4 * c, 4);
        }
}

/* pack_q4_0's inverse for the blocks of columns [k0, k0 + kn). */
static void unpack_q4_0(uint8_t *dst, size_t ldd, const uint8_t *w, size_t ldw, int k0, int kn) {
    (void)ldw;
    for (int b = k0 / GEB_QK; b < (k0 + kn) / GEB_QK; b++) {
        const uint8_t *g = w + (size_t)b * P4_BLOCK;
        for (int i = 0; i < GEB_PACK_ROWS; i++) {
            uint8_t *blk = dst + (size_t)i * ldd + (size_t)(b - k0 / GEB_QK) * 18;
            memcpy(blk, g + 2 * i, 2);
            for (int c = 0; c < 4; c++) memcpy(blk + 2 + 4 * c, g + 16 + 32 * c + 4 * i, 4);
        }
    }
}

static inline int32_t ld32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 8 * the sum of a Q8_0 block's 32 values (xq): the term the stored
 * nibble's offset adds to every row's dot. */
static inline int32_t x8sum(const uint8_t *xq) {
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), _mm256_loadu_si256((const __m256i *)xq)),
                                  _mm256_set1_epi16(1));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* Blocks per pass of the packed matvec: the token's scales and 8 * sums are
 * taken once per pass into these arrays (the stored nibble is q + 8, so
 * 8 sum(x) is subtracted from every row's dot). */
#define P4_SEG 1024

/* ---- the packed GEMM: one group x P4_RN tokens a tile ------------------- */
/* Per block, each 32-byte chunk of the group is unpacked once for P4_RN
 * tokens, whose int16 sums and float accumulators stay in registers
 * (2 x P4_RN + 3 operands + 3 constants of 16: keeping the 8 unpacked
 * chunks instead spilled the accumulators: pp512 q4_0 52 -> 61 t/s, the
 * medians of 3 alternating runs); per token about 27
 * instructions for 256 products, where the F32 tile needs 32 FMAs after
 * widening the weights. */
#define P4_RN 4
#define P4_TB 16  /* tokens whose scales and sums are taken at once */
#define P4_MSEG 256 /* blocks per pass of the GEMM (dx/sx: 32 KB of stack) */

static inline __attribute__((always_inline)) void p4_mtile(float *y, size_t ldy, const uint8_t *q,
                                                           const uint8_t *const *xq,
                                                           const float *const *dx,
                                                           const int32_t *const *sx, int bn,
                                                           int add, const int nr) {
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256 acc[P4_RN];
#pragma GCC unroll 4
    for (int t = 0; t < nr; t++) acc[t] = add ? _mm256_loadu_ps(y + (size_t)t * ldy) : _mm256_setzero_ps();
    for (int b = 0; b < bn; b++, q += P4_BLOCK) {
        __m256i s[P4_RN];
#pragma GCC unroll 1
        for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + 16 + 32 * c));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 4
            for (int t = 0; t < nr; t++) {
                const uint8_t *xb = xq[t] + (size_t)b * 34 + 2 + 4 * c;
                __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(ld32(xb))),
                                             _mm256_maddubs_epi16(hi, _mm256_set1_epi32(ld32(xb + 16))));
                s[t] = c ? _mm256_add_epi16(s[t], p) : p;
            }
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)q));
#pragma GCC unroll 4
        for (int t = 0; t < nr; t++) {
            __m256i d = _mm256_sub_epi32(_mm256_madd_epi16(s[t], ones), _mm256_set1_epi32(sx[t][b]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(dw, _mm256_set1_ps(dx[t][b])), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nr; t++) _mm256_storeu_ps(y + (size_t)t * ldy, acc[t]);
}

static void p4_mtile_n(float *y, size_t ldy, const uint8_t *q, const uint8_t *const *xq,
                       const float *const *dx, const int32_t *const *sx, int bn, int add, int nr) {
    switch (nr) {
    case 4: p4_mtile(y, ldy, q, xq, dx, sx, bn, add, 4); break;
    case 3: p4_mtile(y, ldy, q, xq, dx, sx, bn, add, 3); break;
    case 2: p4_mtile(y, ldy, q, xq, dx, sx, bn, add, 2); break;
    default: p4_mtile(y, ldy, q, xq, dx, sx, bn, add, 1); break;
    }
}

/* y[b*ldy + i] = W[i] . X[b] for the n packed rows at w (n a multiple of
 * 8) and the B tokens of X (Q8_0 rows ldx bytes apart): panels of P4_TB
 * tokens, passes of P4_MSEG blocks, groups, tiles of P4_RN tokens. */
static void mm_q4_0_packed(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x,
                           size_t ldx, int B, int n, int cols) {
    int nb = cols / GEB_QK;
    size_t gbytes = ldw * GEB_PACK_ROWS;
    float dx[P4_TB][P4_MSEG];
    int32_t sx[P4_TB][P4_MSEG];
    for (int t0 = 0; t0 < B; t0 += P4_TB) {
        int tn = B - t0 < P4_TB ? B - t0 : P4_TB;
        for (int b0 = 0; b0 < nb; b0 += P4_MSEG) {
            int bn = nb - b0 < P4_MSEG ? nb - b0 : P4_MSEG;
            const uint8_t *xs[P4_TB];
            for (int t = 0; t < tn; t++) {
                xs[t] = (const uint8_t *)x + (size_t)(t0 + t) * ldx + (size_t)b0 * 34;
                for (int b = 0; b < bn; b++)
                    dx[t][b] = f16s(xs[t] + (size_t)b * 34), sx[t][b] = x8sum(xs[t] + (size_t)b * 34 + 2);
            }
            for (int g = 0; g < n; g += GEB_PACK_ROWS) {
                const uint8_t *q = w + (size_t)(g / GEB_PACK_ROWS) * gbytes + (size_t)b0 * P4_BLOCK;
                for (int t = 0; t < tn; t += P4_RN) {
                    const float *dp[P4_RN];
                    const int32_t *sp[P4_RN];
                    for (int i = 0; i < P4_RN; i++) {
                        int ti = t + i < tn ? t + i : tn - 1;
                        dp[i] = dx[ti], sp[i] = sx[ti];
                    }
                    p4_mtile_n(y + (size_t)(t0 + t) * ldy + g, ldy, q, xs + t, dp, sp, bn, b0 > 0,
                               tn - t < P4_RN ? tn - t : P4_RN);
                }
            }
        }
    }
}

/* Row i of a packed block back in Q4_0's byte order, then widened as
 * to_f32_q4_0 does. */
static void to_f32_q4_0_packed(float *dst, size_t ldd, const uint8_t *w, size_t ldw, int k0, int kn) {
    (void)ldw;
    for (int b = 0; b < kn / GEB_QK; b++) {
        const uint8_t *q = w + (size_t)(k0 / GEB_QK + b) * P4_BLOCK;
        for (int i = 0; i < GEB_PACK_ROWS; i++) {
            uint8_t blk[18];
            __m128i qs = _mm_setr_epi32(ld32(q + 16 + 4 * i), ld32(q + 48 + 4 * i), ld32(q + 80 + 4 * i),
                                        ld32(q + 112 + 4 * i));
            memcpy(blk, q + 2 * i, 2);
            _mm_storeu_si128((__m128i *)(blk + 2), qs);
            to_f32_q4_0(dst + (size_t)i * ldd + (size_t)b * GEB_QK, blk, GEB_QK);
        }
    }
}
#endif
