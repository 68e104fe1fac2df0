/* qk_x86.h - the x86 row kernels of qk.h, written once and compiled per
 * instruction set by qk_avx2.c (256-bit, 16 registers), qk_avx512.c (512-bit
 * float vectors, 32 registers: larger tiles) and qk_avx512_vnni.c (vpdpbusd
 * for the block dot products).  Included after the file defines:
 *   FV FW FV_ZERO FV_LOADX(p) FV_LOAD_F16(p) FV_LOAD_BF16(p) FV_FMA FV_SUM
 *          the float vector (FW lanes) of the F16/BF16 kernels;
 *   F_MV, F_RM x F_RN   rows per matvec pass, matmul tile (float types);
 *   Q_MV, Q_RM x Q_RN   the same for Q8_0/Q4_0;
 *   QK_VNNI             1 to use vpdpbusd (AVX512_VNNI + VL), else 0;
 *   QK_NO_FLOAT         (optional) leave the F16/BF16 kernels out.
 *
 * Every kernel is a grid of register tiles: RM weight rows x RN tokens of
 * accumulators that stay in registers along the whole row, one horizontal
 * sum per output at the end.  The weight rows of a tile are read once for
 * all the tokens (matmul walks tokens inside a row tile, so the RM rows stay
 * in L1 while the activations come from L2); matvec is the RN = 1 case with
 * more rows per pass, so each activation block is loaded once for Q_MV/F_MV
 * rows and the rows stream as that many independent sequential reads. */
#include <immintrin.h>

#include "qk_internal.h"
#include "rows.h"

/* For kernels a table may replace with its own (qk_avx512.c's BF16 matvec). */
#define QK_MAYBE_UNUSED __attribute__((unused))

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16s(const uint8_t *p) { return _cvtsh_ss(geb_qk_u16(p)); }

/* ---- F16 / BF16 weights, FP32 activations ------------------------------- */
#ifndef QK_NO_FLOAT

static inline float wconv(int bf, const uint8_t *w, int k) {
    uint16_t h = geb_qk_u16(w + 2 * k);
    return bf ? geb_bf16_to_f32(h) : _cvtsh_ss(h);
}

/* y[j*ldy + i] = w[i] . x[j] for i < mr, j < nr; rm x rn are compile-time
 * (the pointers past mr/nr repeat valid ones and are computed, not stored).
 * Columns past the last full vector are finished in scalar code. */
static inline __attribute__((always_inline)) void ftile(int bf, float *y, size_t ldy,
                                                        const uint8_t *const *w,
                                                        const void *const *x, int cols,
                                                        const int rm, const int rn, int mr,
                                                        int nr) {
    FV acc[F_RM > F_MV ? F_RM : F_MV][F_RN];
#pragma GCC unroll 8
    for (int i = 0; i < rm; i++)
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) acc[i][j] = FV_ZERO();
    int k = 0;
    for (; k + FW <= cols; k += FW) {
        FV xv[F_RN];
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) xv[j] = FV_LOADX((const float *)x[j] + k);
#pragma GCC unroll 8
        for (int i = 0; i < rm; i++) {
            FV wv = bf ? FV_LOAD_BF16(w[i] + 2 * k) : FV_LOAD_F16(w[i] + 2 * k);
#pragma GCC unroll 8
            for (int j = 0; j < rn; j++) acc[i][j] = FV_FMA(wv, xv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = FV_SUM(acc[i][j]);
            for (int kk = k; kk < cols; kk++) s += wconv(bf, w[i], kk) * ((const float *)x[j])[kk];
            y[(size_t)j * ldy + i] = s;
        }
}

#define FTILE_FN(name, bf, rm, rn)                                                           \
    static void name(float *y, size_t ldy, const uint8_t *const *w, const void *const *x,    \
                     int cols, int mr, int nr) {                                             \
        ftile(bf, y, ldy, w, x, cols, rm, rn, mr, nr);                                       \
    }

/* One instance per token count so each keeps its accumulators in registers. */
FTILE_FN(fh_mv, 0, F_MV, 1)
FTILE_FN(fb_mv, 1, F_MV, 1)
FTILE_FN(fh_1, 0, F_RM, 1)
FTILE_FN(fh_2, 0, F_RM, 2)
FTILE_FN(fh_3, 0, F_RM, 3)
FTILE_FN(fb_1, 1, F_RM, 1)
FTILE_FN(fb_2, 1, F_RM, 2)
FTILE_FN(fb_3, 1, F_RM, 3)
#if F_RN > 3
FTILE_FN(fh_4, 0, F_RM, 4)
FTILE_FN(fh_5, 0, F_RM, 5)
FTILE_FN(fh_6, 0, F_RM, 6)
FTILE_FN(fb_4, 1, F_RM, 4)
FTILE_FN(fb_5, 1, F_RM, 5)
FTILE_FN(fb_6, 1, F_RM, 6)
static const geb_tile_fn ftiles[2][7] = {{NULL, fh_1, fh_2, fh_3, fh_4, fh_5, fh_6},
                                      {NULL, fb_1, fb_2, fb_3, fb_4, fb_5, fb_6}};
#else
static const geb_tile_fn ftiles[2][4] = {{NULL, fh_1, fh_2, fh_3}, {NULL, fb_1, fb_2, fb_3}};
#endif

static void mv_f16(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(fh_mv, F_MV, y, w, ldw, x, n, cols);
}
QK_MAYBE_UNUSED static void mv_bf16(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(fb_mv, F_MV, y, w, ldw, x, n, cols);
}
static void mm_f16(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x, size_t ldx,
                   int B, int n, int cols) {
    geb_rows_matmul(ftiles[0], F_RM, F_RN, y, ldy, w, ldw, x, ldx, B, n, cols);
}
static void mm_bf16(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x,
                    size_t ldx, int B, int n, int cols) {
    geb_rows_matmul(ftiles[1], F_RM, F_RN, y, ldy, w, ldw, x, ldx, B, n, cols);
}

#endif /* QK_NO_FLOAT */

/* ---- Q8_0 / Q4_0 weights, Q8_0 activations ------------------------------ */

/* The 32 nibbles of a Q4_0 block in element order (0..15 low nibbles, then
 * 16..31 high nibbles), as unsigned bytes 0..15: the 16 bytes in both
 * halves, the upper half's 64-bit lanes shifted right by 4 (bits that cross
 * into a byte from its neighbour are masked off with the high nibble). */
static inline __m256i q4_nibbles(const uint8_t *qs) {
    __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    v = _mm256_srlv_epi64(v, _mm256_set_epi64x(4, 4, 0, 0));
    return _mm256_and_si256(v, _mm256_set1_epi8(15));
}

/* Per block, a row operand (wq, and wp prepared from it once for the rn
 * tokens), a token operand (xq, and xp prepared once for the rm rows), and
 * the pair product: 8 int32 lanes whose sum is the block's integer dot. */
#if QK_VNNI
/* vpdpbusd multiplies unsigned by signed bytes into int32 lanes, so one
 * operand is offset into unsigned range and the offset subtracted through
 * the accumulator's start value:
 *   Q8_0: (x + 128) . w - 128 sum(w)  (the start value is per row);
 *   Q4_0: n . x - 8 sum(x) with n = q + 8 the stored nibble (per token). */
#define Q8_W(qs) _mm256_loadu_si256((const __m256i *)(qs))
#define Q8_WPREP(wq) \
    _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), wq))
#define Q8_XPREP(xq) _mm256_xor_si256(xq, _mm256_set1_epi8((char)0x80))
#define Q8_PAIR(wq, wp, xq, xp) _mm256_dpbusd_epi32(wp, xp, wq)
#define Q4_W(qs) q4_nibbles(qs)
#define Q4_WPREP(wq) (wq)
#define Q4_XPREP(xq) \
    _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), xq))
#define Q4_PAIR(wq, wp, xq, xp) _mm256_dpbusd_epi32(xp, wq, xq)
#else
/* vpmaddubsw multiplies unsigned by signed bytes into int16 pairs.
 *   Q8_0: the unsigned operand is |x| (prepared once per token block) and
 *         the other w * sign(x) (ggml's trick); no pair sum can saturate:
 *         2 * 128 * 127 < 32768.
 *   Q4_0: the stored nibble n = q + 8 is already unsigned, so n . x is one
 *         vpmaddubsw (pairs up to 2 * 15 * 128) and the pairs of 8 x, made
 *         once per token block, are subtracted in int16 (|(n - 8) x pairs|
 *         <= 2 * 8 * 128).
 * vpmaddwd adds the pairs into int32 lanes. */
static inline __m256i pairs32(__m256i p16) { return _mm256_madd_epi16(p16, _mm256_set1_epi16(1)); }
#define Q8_W(qs) _mm256_loadu_si256((const __m256i *)(qs))
#define Q8_WPREP(wq) (wq)
#define Q8_XPREP(xq) _mm256_abs_epi8(xq)
#define Q8_PAIR(wq, wp, xq, xp) pairs32(_mm256_maddubs_epi16(xp, _mm256_sign_epi8(wq, xq)))
#define Q4_W(qs) q4_nibbles(qs)
#define Q4_WPREP(wq) (wq)
#define Q4_XPREP(xq) _mm256_maddubs_epi16(_mm256_set1_epi8(8), xq)
#define Q4_PAIR(wq, wp, xq, xp) pairs32(_mm256_sub_epi16(_mm256_maddubs_epi16(wq, xq), xp))
#endif

/* The tile of Q8_0 x Q8_0 (q4 = 0) or Q4_0 x Q8_0 (q4 = 1) products: per
 * block, acc += float(int dot) * (d_w * d_x), summed in float at the end. */
static inline __attribute__((always_inline)) void qtile(int q4, float *y, size_t ldy,
                                                        const uint8_t *const *w,
                                                        const void *const *x, int nb,
                                                        const int rm, const int rn, int mr,
                                                        int nr) {
    const size_t wbytes = q4 ? 18 : 34;
    __m256 acc[Q_RM > Q_MV ? Q_RM : Q_MV][Q_RN];
#pragma GCC unroll 8
    for (int i = 0; i < rm; i++)
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) acc[i][j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i xq[Q_RN], xp[Q_RN];
        __m256 dx[Q_RN];
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) {
            const uint8_t *xb = (const uint8_t *)x[j] + (size_t)b * 34;
            dx[j] = _mm256_set1_ps(f16s(xb));
            xq[j] = _mm256_loadu_si256((const __m256i *)(xb + 2));
            xp[j] = q4 ? Q4_XPREP(xq[j]) : Q8_XPREP(xq[j]);
        }
#pragma GCC unroll 8
        for (int i = 0; i < rm; i++) {
            const uint8_t *wb = w[i] + (size_t)b * wbytes;
            __m256 dw = _mm256_set1_ps(f16s(wb));
            __m256i wq = q4 ? Q4_W(wb + 2) : Q8_W(wb + 2);
            __m256i wp = q4 ? Q4_WPREP(wq) : Q8_WPREP(wq);
            (void)wp; /* unused where the row operand needs no preparing */
#pragma GCC unroll 8
            for (int j = 0; j < rn; j++) {
                __m256i p = q4 ? Q4_PAIR(wq, wp, xq[j], xp[j]) : Q8_PAIR(wq, wp, xq[j], xp[j]);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, dx[j]), acc[i][j]);
            }
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) y[(size_t)j * ldy + i] = hsum8(acc[i][j]);
}

#define QTILE_FN(name, q4, rm, rn)                                                            \
    static void name(float *y, size_t ldy, const uint8_t *const *w, const void *const *x,     \
                     int nb, int mr, int nr) {                                                \
        qtile(q4, y, ldy, w, x, nb, rm, rn, mr, nr);                                          \
    }

QTILE_FN(q8_mv, 0, Q_MV, 1)
QTILE_FN(q4_mv, 1, Q_MV, 1)
QTILE_FN(q8_1, 0, Q_RM, 1)
QTILE_FN(q8_2, 0, Q_RM, 2)
QTILE_FN(q8_3, 0, Q_RM, 3)
QTILE_FN(q4_1, 1, Q_RM, 1)
QTILE_FN(q4_2, 1, Q_RM, 2)
QTILE_FN(q4_3, 1, Q_RM, 3)
#if Q_RN > 3
QTILE_FN(q8_4, 0, Q_RM, 4)
QTILE_FN(q4_4, 1, Q_RM, 4)
static const geb_tile_fn qtiles[2][5] = {{NULL, q8_1, q8_2, q8_3, q8_4}, {NULL, q4_1, q4_2, q4_3, q4_4}};
#else
static const geb_tile_fn qtiles[2][4] = {{NULL, q8_1, q8_2, q8_3}, {NULL, q4_1, q4_2, q4_3}};
#endif

static void mv_q8_0(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(q8_mv, Q_MV, y, w, ldw, x, n, cols / GEB_QK);
}
static void mv_q4_0(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(q4_mv, Q_MV, y, w, ldw, x, n, cols / GEB_QK);
}
static void mm_q8_0(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x,
                    size_t ldx, int B, int n, int cols) {
    geb_rows_matmul(qtiles[0], Q_RM, Q_RN, y, ldy, w, ldw, x, ldx, B, n, cols / GEB_QK);
}
static void mm_q4_0(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x,
                    size_t ldx, int B, int n, int cols) {
    geb_rows_matmul(qtiles[1], Q_RM, Q_RN, y, ldy, w, ldw, x, ldx, B, n, cols / GEB_QK);
}

/* ---- rows widened to FP32 (geb_type_kernels.to_f32) --------------------- */
/* For the F32 GEMM where a table has no GEMM tile of the type's own (with
 * AVX512_VNNI or AVX512_BF16 the tiles of those files do more per
 * instruction). */

/* Eight signed bytes times the block's scale, as the traits compute it:
 * float(q) * d, one rounding. */
static inline void widen8(float *dst, __m128i q8, __m256 d) {
    _mm256_storeu_ps(dst, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8))));
}

QK_MAYBE_UNUSED static void to_f32_q8_0(float *dst, const uint8_t *src, int n) {
    for (int b = 0; b < n / GEB_QK; b++, src += 34, dst += GEB_QK) {
        __m256 d = _mm256_set1_ps(f16s(src));
        for (int i = 0; i < 4; i++) widen8(dst + 8 * i, _mm_loadl_epi64((const __m128i *)(src + 2 + 8 * i)), d);
    }
}

QK_MAYBE_UNUSED static void to_f32_q4_0(float *dst, const uint8_t *src, int n) {
    for (int b = 0; b < n / GEB_QK; b++, src += 18, dst += GEB_QK) {
        __m256 d = _mm256_set1_ps(f16s(src));
        __m256i q = _mm256_sub_epi8(q4_nibbles(src + 2), _mm256_set1_epi8(8));
        __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
        widen8(dst, lo, d);
        widen8(dst + 8, _mm_srli_si128(lo, 8), d);
        widen8(dst + 16, hi, d);
        widen8(dst + 24, _mm_srli_si128(hi, 8), d);
    }
}

#ifndef QK_NO_FLOAT
static inline void to_f32_half(int bf, float *dst, const uint8_t *src, int n) {
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + 2 * k));
        __m256 v = bf ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
        _mm256_storeu_ps(dst + k, v);
    }
    for (; k < n; k++) dst[k] = wconv(bf, src, k);
}
QK_MAYBE_UNUSED static void to_f32_f16(float *dst, const uint8_t *src, int n) { to_f32_half(0, dst, src, n); }
QK_MAYBE_UNUSED static void to_f32_bf16(float *dst, const uint8_t *src, int n) { to_f32_half(1, dst, src, n); }
#endif
