/* qk_neon.h - the AArch64 row kernels of qk.h, written once and compiled by
 * qk_neon.c (Advanced SIMD only) and qk_neon_dot.c (with the Armv8.2 dot
 * product, sdot, for the Q8_0/Q4_0 blocks).  Included after the file
 * defines QK_DOT (0 or 1) and optionally QK_NO_FLOAT.
 *
 * As on x86 (qk_x86.h), every kernel is a grid of register tiles, RM weight
 * rows x RN tokens of accumulators kept along the whole row with one
 * horizontal sum per output at the end; matvec is the one-token case with
 * MV rows per pass so each activation block is loaded once for MV rows. */
#include <arm_neon.h>
#include <string.h>

#include "qk_internal.h"
#include "rows.h"

#define F_MV 8
#define F_RM 4
#define F_RN 4 /* 16 accumulators + 4 x + 1 w of 32 registers */
#define Q_MV 4
#define Q_RM 4
#define Q_RN 4 /* 16 accumulators + 8 token halves + 2 row halves */

/* A block's fp16 scale, converted by the FPU (fcvt). */
static inline float f16s(const uint8_t *p) {
    __fp16 h;
    memcpy(&h, p, sizeof h);
    return (float)h;
}

/* ---- F16 / BF16 weights, FP32 activations ------------------------------- */
#ifndef QK_NO_FLOAT

/* Four weights from 16-bit storage to FP32. */
static inline float32x4_t load_w4(int bf, const uint8_t *p) {
    uint16x4_t h = vld1_u16((const uint16_t *)(const void *)p);
    if (bf) return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
    return vcvt_f32_f16(vreinterpret_f16_u16(h));
}

static inline float wconv(int bf, const uint8_t *w, int k) {
    uint16_t h = geb_qk_u16(w + 2 * k);
    return bf ? geb_bf16_to_f32(h) : geb_f16_to_f32(h);
}

/* dst[0..n) = n 16-bit values as FP32 (row_to_f32 of the tables). */
static inline void row_half(int bf, float *dst, const uint8_t *src, int n) {
    int k = 0;
    for (; k + 4 <= n; k += 4) vst1q_f32(dst + k, load_w4(bf, src + 2 * k));
    for (; k < n; k++) dst[k] = wconv(bf, src, k);
}
__attribute__((unused)) static void row_f16(float *dst, const uint8_t *src, int n) { row_half(0, dst, src, n); }
__attribute__((unused)) static void row_bf16(float *dst, const uint8_t *src, int n) { row_half(1, dst, src, n); }

/* y[j*ldy + i] = w[i] . x[j] for i < mr, j < nr (pointers past them repeat
 * valid ones); columns past the last multiple of 4 in scalar code. */
static inline __attribute__((always_inline)) void ftile(int bf, float *y, size_t ldy,
                                                        const uint8_t *const *w,
                                                        const void *const *x, int cols,
                                                        const int rm, const int rn, int mr,
                                                        int nr) {
    float32x4_t acc[F_MV > F_RM ? F_MV : F_RM][F_RN];
#pragma GCC unroll 8
    for (int i = 0; i < rm; i++)
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) acc[i][j] = vdupq_n_f32(0);
    int k = 0;
    for (; k + 4 <= cols; k += 4) {
        float32x4_t xv[F_RN];
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) xv[j] = vld1q_f32((const float *)x[j] + k);
#pragma GCC unroll 8
        for (int i = 0; i < rm; i++) {
            float32x4_t wv = load_w4(bf, w[i] + 2 * k);
#pragma GCC unroll 8
            for (int j = 0; j < rn; j++) acc[i][j] = vfmaq_f32(acc[i][j], wv, xv[j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = vaddvq_f32(acc[i][j]);
            for (int kk = k; kk < cols; kk++) s += wconv(bf, w[i], kk) * ((const float *)x[j])[kk];
            y[(size_t)j * ldy + i] = s;
        }
}

#define FTILE_FN(name, bf, rm, rn)                                                           \
    static void name(float *y, size_t ldy, const uint8_t *const *w, const void *const *x,    \
                     int cols, int mr, int nr) {                                             \
        ftile(bf, y, ldy, w, x, cols, rm, rn, mr, nr);                                       \
    }
FTILE_FN(fh_mv, 0, F_MV, 1)
FTILE_FN(fb_mv, 1, F_MV, 1)
FTILE_FN(fh_1, 0, F_RM, 1)
FTILE_FN(fh_2, 0, F_RM, 2)
FTILE_FN(fh_3, 0, F_RM, 3)
FTILE_FN(fh_4, 0, F_RM, 4)
FTILE_FN(fb_1, 1, F_RM, 1)
FTILE_FN(fb_2, 1, F_RM, 2)
FTILE_FN(fb_3, 1, F_RM, 3)
FTILE_FN(fb_4, 1, F_RM, 4)
static const geb_tile_fn ftiles[2][5] = {{NULL, fh_1, fh_2, fh_3, fh_4}, {NULL, fb_1, fb_2, fb_3, fb_4}};

static void mv_f16(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(fh_mv, F_MV, y, w, ldw, x, n, cols);
}
static void mv_bf16(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
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

/* A block's 32 signed weights as two halves in element order (Q4_0: low
 * nibbles are elements 0..15, high nibbles 16..31, minus 8). */
static inline void load_wq(int q4, const uint8_t *qs, int8x16_t *w0, int8x16_t *w1) {
    if (q4) {
        uint8x16_t v = vld1q_u8(qs);
        const int8x16_t eight = vdupq_n_s8(8);
        *w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15))), eight);
        *w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
    } else {
        *w0 = vld1q_s8((const int8_t *)qs);
        *w1 = vld1q_s8((const int8_t *)qs + 16);
    }
}

/* The integer dot product of one block pair as 4 int32 lanes. */
static inline int32x4_t block_dot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
#if QK_DOT
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
#else
    /* Products widened to int16 one at a time (no pair sum can overflow,
     * even with -128), then added pairwise into int32. */
    int32x4_t s = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    s = vpadalq_s16(s, vmull_high_s8(w0, x0));
    s = vpadalq_s16(s, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    return vpadalq_s16(s, vmull_high_s8(w1, x1));
#endif
}

/* Per block: acc += float(int dot) * (d_w * d_x); summed at the end. */
static inline __attribute__((always_inline)) void qtile(int q4, float *y, size_t ldy,
                                                        const uint8_t *const *w,
                                                        const void *const *x, int nb,
                                                        const int rm, const int rn, int mr,
                                                        int nr) {
    const size_t wbytes = q4 ? 18 : 34;
    float32x4_t acc[Q_MV > Q_RM ? Q_MV : Q_RM][Q_RN];
#pragma GCC unroll 8
    for (int i = 0; i < rm; i++)
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) acc[i][j] = vdupq_n_f32(0);
    for (int b = 0; b < nb; b++) {
        int8x16_t x0[Q_RN], x1[Q_RN];
        float dx[Q_RN];
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) {
            const uint8_t *xb = (const uint8_t *)x[j] + (size_t)b * 34;
            dx[j] = f16s(xb);
            x0[j] = vld1q_s8((const int8_t *)xb + 2);
            x1[j] = vld1q_s8((const int8_t *)xb + 18);
        }
#pragma GCC unroll 8
        for (int i = 0; i < rm; i++) {
            const uint8_t *wb = w[i] + (size_t)b * wbytes;
            float dw = f16s(wb);
            int8x16_t w0, w1;
            load_wq(q4, wb + 2, &w0, &w1);
#pragma GCC unroll 8
            for (int j = 0; j < rn; j++)
                acc[i][j] = vfmaq_n_f32(acc[i][j], vcvtq_f32_s32(block_dot(w0, w1, x0[j], x1[j])),
                                        dw * dx[j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) y[(size_t)j * ldy + i] = vaddvq_f32(acc[i][j]);
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
QTILE_FN(q8_4, 0, Q_RM, 4)
QTILE_FN(q4_1, 1, Q_RM, 1)
QTILE_FN(q4_2, 1, Q_RM, 2)
QTILE_FN(q4_3, 1, Q_RM, 3)
QTILE_FN(q4_4, 1, Q_RM, 4)
static const geb_tile_fn qtiles[2][5] = {{NULL, q8_1, q8_2, q8_3, q8_4}, {NULL, q4_1, q4_2, q4_3, q4_4}};

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
