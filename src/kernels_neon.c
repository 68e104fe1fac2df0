/* kernels_neon.c - AArch64 Advanced SIMD kernels (4 floats per vector).  NEON
 * is part of every AArch64 CPU, so no run-time check is needed; on other
 * architectures this file compiles to nothing.  Column tails are finished in
 * scalar code. */
#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels.h"
#include "rows.h"

/* The vector macros of attn_rows.h. */
#define AV_T float32x4_t
#define AV_N 4
#define AV_LOAD(p) vld1q_f32(p)
#define AV_STORE(p, v) vst1q_f32(p, v)
#define AV_ZERO() vdupq_n_f32(0.0f)
#define AV_SET1(x) vdupq_n_f32(x)
#define AV_FMA(a, b, c) vfmaq_f32(c, a, b)
#define AV_ADD(a, b) vaddq_f32(a, b)
/* p * 2^n for integral n in [-126, 127], through n's exponent bits. */
static inline float32x4_t scale2(float32x4_t p, float32x4_t n) {
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}
#define AV_SUB(a, b) vsubq_f32(a, b)
#define AV_MIN(a, b) vminq_f32(a, b)
#define AV_MAX(a, b) vmaxq_f32(a, b)
#define AV_ROUND(v) vrndnq_f32(v)
#define AV_SCALE2(p, n) scale2(p, n)
#define AV_MUL(a, b) vmulq_f32(a, b)
#define AV_DIV(a, b) vdivq_f32(a, b)
#define AV_HSUM(v) vaddvq_f32(v)
#define AV_LOAD_F16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(const void *)(p))))
#define AV_LOAD_BF16(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)(const void *)(p)), 16))
#include "attn_rows.h"


/* Sum of a[i]*b[i]; four accumulators hide the FMA latency. */
static float neon_dot(const float *a, const float *b, int n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0), s2 = vdupq_n_f32(0), s3 = vdupq_n_f32(0);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y[i] += a * x[i]. */
static void neon_axpy(float *y, float a, const float *x, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}

/* Four rows at once: y[0..3] = w_j . x for rows w + j*ld; two accumulators
 * per row give eight independent FMA chains. */
static void mv_rows4(float *y, size_t ldy, const uint8_t *const *w, const void *const *xv,
                     int cols, int mr, int nr) {
    (void)ldy, (void)mr, (void)nr; /* a pass: four rows, one token, y[0..3] */
    const float *w0 = (const float *)w[0], *w1 = (const float *)w[1];
    const float *w2 = (const float *)w[2], *w3 = (const float *)w[3];
    const float *x = xv[0];
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0), a2 = vdupq_n_f32(0), a3 = vdupq_n_f32(0);
    float32x4_t b0 = vdupq_n_f32(0), b1 = vdupq_n_f32(0), b2 = vdupq_n_f32(0), b3 = vdupq_n_f32(0);
    int k = 0;
    for (; k + 8 <= cols; k += 8) {
        float32x4_t x0 = vld1q_f32(x + k), x1 = vld1q_f32(x + k + 4);
        a0 = vfmaq_f32(a0, vld1q_f32(w0 + k), x0);
        a1 = vfmaq_f32(a1, vld1q_f32(w1 + k), x0);
        a2 = vfmaq_f32(a2, vld1q_f32(w2 + k), x0);
        a3 = vfmaq_f32(a3, vld1q_f32(w3 + k), x0);
        b0 = vfmaq_f32(b0, vld1q_f32(w0 + k + 4), x1);
        b1 = vfmaq_f32(b1, vld1q_f32(w1 + k + 4), x1);
        b2 = vfmaq_f32(b2, vld1q_f32(w2 + k + 4), x1);
        b3 = vfmaq_f32(b3, vld1q_f32(w3 + k + 4), x1);
    }
    float s0 = vaddvq_f32(vaddq_f32(a0, b0)), s1 = vaddvq_f32(vaddq_f32(a1, b1));
    float s2 = vaddvq_f32(vaddq_f32(a2, b2)), s3 = vaddvq_f32(vaddq_f32(a3, b3));
    for (; k < cols; k++) {
        s0 += w0[k] * x[k];
        s1 += w1[k] * x[k];
        s2 += w2[k] * x[k];
        s3 += w3[k] * x[k];
    }
    y[0] = s0, y[1] = s1, y[2] = s2, y[3] = s3;
}

/* y[i] = W[i,:] . x for i in [0, n): four rows a pass, in lanes (rows.h). */
static void neon_matvec(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols) {
    geb_rows_matvec(mv_rows4, 4, y, w, ldw, x, n, cols);
}

/* Transposed-X GEMM tile: TR rows x 16 tokens (4 vectors). */
#define TR 6
#define TB 16

/* part[i][0..16) (+)= sum_k w[i][k] * xt[k*ldx + 0..16) for rows i < mr. */
static void neon_tile(float *part, int ldp, int mr, const float *const *w, const float *xt,
                      size_t ldx, int kn, int first, int nb) {
    (void)nb; /* lanes past nb compute on xt's zero padding and are not read */
    float32x4_t acc[TR][4];
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            acc[i][j] = first || i >= mr ? vdupq_n_f32(0) : vld1q_f32(part + (size_t)i * ldp + 4 * j);
    for (int k = 0; k < kn; k++) {
        const float *xk = xt + (size_t)k * ldx;
        float32x4_t xv[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) xv[j] = vld1q_f32(xk + 4 * j);
#pragma GCC unroll 8
        for (int i = 0; i < TR; i++) {
            float wk = w[i][k];
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) acc[i][j] = vfmaq_n_f32(acc[i][j], xv[j], wk);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < 4; j++) vst1q_f32(part + (size_t)i * ldp + 4 * j, acc[i][j]);
}

const geb_kernels geb_kernels_neon_table = {
    .name = "neon",
    .dot = neon_dot,
    .axpy = neon_axpy,
    .matvec_f32 = neon_matvec,
    .tile_f32 = neon_tile,
    .att_scores = att_scores,
    .att_accum = att_accum,
    .att_scores_h = att_scores_h,
    .att_accum_h = att_accum_h,
    .att_exp = att_exp,
    .swiglu = swiglu,
    .tile_rows = TR,
    .tile_b = TB,
};
#else
/* Not an AArch64 build: this file contributes nothing. */
typedef int geb_kernels_neon_empty;
#endif
