/* kernels_neon.c - AArch64 Advanced SIMD kernels (4 floats per vector).  NEON
 * is part of every AArch64 CPU, so no run-time check is needed; on other
 * architectures this file compiles to nothing.  Column tails are finished in
 * scalar code. */
#if defined(__aarch64__)
#include <arm_neon.h>

#include "kernels.h"

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
static inline void mv_rows4(float *y, const float *w, size_t ld, const float *x, int cols) {
    const float *w0 = w, *w1 = w + ld, *w2 = w + 2 * ld, *w3 = w + 3 * ld;
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

/* y[r - r0] = W[r,:] . x for r in [r0, r1): rows in fours, the rest singly. */
static void neon_matvec(float *y, const float *w, const float *x, int r0, int r1, int cols) {
    size_t ld = (size_t)cols;
    int r = r0;
    for (; r + 4 <= r1; r += 4) mv_rows4(y + (r - r0), w + (size_t)r * ld, ld, x, cols);
    for (; r < r1; r++) y[r - r0] = neon_dot(w + (size_t)r * ld, x, cols);
}

/* Register tile of the row-major-X product: MR rows x NR tokens. */
#define MR 4
#define NR 4

/* out[i][j] = w[i] . x[j]; pointers may repeat to pad a partial tile. */
static inline void mm_tile(float out[MR][NR], const float *const *w, const float *const *x,
                           int cols) {
    float32x4_t acc[MR][NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) acc[i][j] = vdupq_n_f32(0);
    int k = 0;
    for (; k + 4 <= cols; k += 4) {
        float32x4_t xv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) xv[j] = vld1q_f32(x[j] + k);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            float32x4_t wv = vld1q_f32(w[i] + k);
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) acc[i][j] = vfmaq_f32(acc[i][j], wv, xv[j]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            float s = vaddvq_f32(acc[i][j]);
            for (int kk = k; kk < cols; kk++) s += w[i][kk] * x[j][kk];
            out[i][j] = s;
        }
}

/* y[b*ldy + r - r0] = W[r,:] . X[b,:] in MR x NR tiles, rows outer. */
static void neon_matmul(float *y, int ldy, const float *w, const float *x, int B, int r0, int r1,
                        int cols) {
    size_t ld = (size_t)cols;
    for (int r = r0; r < r1; r += MR) {
        int mr = r1 - r < MR ? r1 - r : MR;
        const float *wp[MR];
        for (int i = 0; i < MR; i++) wp[i] = w + (size_t)(r + (i < mr ? i : mr - 1)) * ld;
        for (int b = 0; b < B; b += NR) {
            int nr = B - b < NR ? B - b : NR;
            const float *xp[NR];
            for (int j = 0; j < NR; j++) xp[j] = x + (size_t)(b + (j < nr ? j : nr - 1)) * ld;
            float out[MR][NR];
            mm_tile(out, wp, xp, cols);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < nr; j++) y[(size_t)(b + j) * ldy + (r - r0 + i)] = out[i][j];
        }
    }
}

/* Transposed-X product: tiles of TR rows x 16 tokens (4 vectors), partial
 * sums of RB rows on the stack, xt read in KC-column blocks. */
#define TR 6
#define TB 16
#define RB 48
#define KC 2048

/* part[i][0..16) (+)= sum_k w[i][k] * xt[k*ldx + 0..16) for rows i < mr. */
static void tile_t(float (*part)[TB], int mr, const float *const *w, const float *xt, size_t ldx,
                   int kn, int first) {
    float32x4_t acc[TR][4];
#pragma GCC unroll 8
    for (int i = 0; i < TR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            acc[i][j] = first || i >= mr ? vdupq_n_f32(0) : vld1q_f32(part[i] + 4 * j);
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
        for (int j = 0; j < 4; j++) vst1q_f32(part[i] + 4 * j, acc[i][j]);
}

/* y[b*ldy + r - r0] = sum_k W[r,k] xt[k*ldx + b] (ldx a multiple of 16). */
static void neon_matmul_t(float *y, int ldy, const float *w, const float *xt, int ldx, int B,
                          int r0, int r1, int cols) {
    float part[RB][TB];
    for (int b0 = 0; b0 < B; b0 += TB) {
        int nb = B - b0 < TB ? B - b0 : TB;
        for (int rb = r0; rb < r1; rb += RB) {
            int re = r1 - rb < RB ? r1 : rb + RB;
            for (int k0 = 0; k0 < cols; k0 += KC) {
                int kn = cols - k0 < KC ? cols - k0 : KC;
                for (int r = rb; r < re; r += TR) {
                    int mr = re - r < TR ? re - r : TR;
                    const float *wp[TR];
                    for (int i = 0; i < TR; i++)
                        wp[i] = w + (size_t)(r + (i < mr ? i : mr - 1)) * cols + k0;
                    tile_t(part + (r - rb), mr, wp, xt + (size_t)k0 * ldx + b0, (size_t)ldx, kn,
                           k0 == 0);
                }
            }
            for (int b = 0; b < nb; b++)
                for (int r = rb; r < re; r++) y[(size_t)(b0 + b) * ldy + (r - r0)] = part[r - rb][b];
        }
    }
}

const geb_kernels geb_kernels_neon_table = {
    .name = "neon",
    .dot = neon_dot,
    .axpy = neon_axpy,
    .matvec = neon_matvec,
    .matmul = neon_matmul,
    .matmul_t = neon_matmul_t,
};
#else
/* Not an AArch64 build: this file contributes nothing. */
typedef int geb_kernels_neon_empty;
#endif
