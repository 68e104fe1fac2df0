/* qk_scalar.c - the reference row kernels of the F16, BF16, Q8_0 and Q4_0
 * weight types in plain C.  They define what every SIMD table computes:
 *   F16/BF16 weights x FP32 activations: a float dot product;
 *   Q8_0/Q4_0 weights x Q8_0 activations: per block an exact integer dot
 *   product, scaled by d_w * d_x in float and summed in float (ggml's
 *   vec_dot_q8_0_q8_0 / vec_dot_q4_0_q8_0).
 * Tests compare every other table against these. */
#include "qk_internal.h"

static float dot_f16(const uint8_t *w, const float *x, int cols) {
    float s = 0.0f;
    for (int k = 0; k < cols; k++) s += geb_f16_to_f32(geb_qk_u16(w + 2 * k)) * x[k];
    return s;
}

static float dot_bf16(const uint8_t *w, const float *x, int cols) {
    float s = 0.0f;
    for (int k = 0; k < cols; k++) s += geb_bf16_to_f32(geb_qk_u16(w + 2 * k)) * x[k];
    return s;
}

/* cols is a multiple of 32 (the caller refuses other row lengths). */
static float dot_q8_0(const uint8_t *w, const uint8_t *x, int cols) {
    float s = 0.0f;
    for (int b = 0; b < cols / GEB_QK; b++, w += 34, x += 34) {
        int sum = 0;
        for (int j = 0; j < GEB_QK; j++) sum += (int8_t)w[2 + j] * (int8_t)x[2 + j];
        s += (float)sum * (geb_f16_to_f32(geb_qk_u16(w)) * geb_f16_to_f32(geb_qk_u16(x)));
    }
    return s;
}

static float dot_q4_0(const uint8_t *w, const uint8_t *x, int cols) {
    float s = 0.0f;
    for (int b = 0; b < cols / GEB_QK; b++, w += 18, x += 34) {
        int sum = 0;
        for (int j = 0; j < GEB_QK / 2; j++) {
            sum += ((w[2 + j] & 15) - 8) * (int8_t)x[2 + j];
            sum += ((w[2 + j] >> 4) - 8) * (int8_t)x[2 + j + GEB_QK / 2];
        }
        s += (float)sum * (geb_f16_to_f32(geb_qk_u16(w)) * geb_f16_to_f32(geb_qk_u16(x)));
    }
    return s;
}

/* One dot product of a weight row with one activation row, by weight type. */
typedef float (*row_dot)(const uint8_t *w, const void *x, int cols);

static float rd_f16(const uint8_t *w, const void *x, int c) { return dot_f16(w, x, c); }
static float rd_bf16(const uint8_t *w, const void *x, int c) { return dot_bf16(w, x, c); }
static float rd_q8_0(const uint8_t *w, const void *x, int c) { return dot_q8_0(w, x, c); }
static float rd_q4_0(const uint8_t *w, const void *x, int c) { return dot_q4_0(w, x, c); }

static void matmul_rows(row_dot dot, float *y, size_t ldy, const uint8_t *w, size_t ldw,
                        const void *x, size_t ldx, int B, int n, int cols) {
    for (int b = 0; b < B; b++)
        for (int i = 0; i < n; i++)
            y[(size_t)b * ldy + i] = dot(w + (size_t)i * ldw, (const uint8_t *)x + (size_t)b * ldx, cols);
}

#define SCALAR_TYPE(T)                                                                        \
    static void mv_##T(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int c) { \
        matmul_rows(rd_##T, y, 0, w, ldw, x, 0, 1, n, c);                                     \
    }                                                                                         \
    static void mm_##T(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x,     \
                       size_t ldx, int B, int n, int c) {                                     \
        matmul_rows(rd_##T, y, ldy, w, ldw, x, ldx, B, n, c);                                 \
    }
SCALAR_TYPE(f16)
SCALAR_TYPE(bf16)
SCALAR_TYPE(q8_0)
SCALAR_TYPE(q4_0)

const geb_qk_table geb_qk_scalar = {{
    [GEB_TYPE_F16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_f16, mm_f16, NULL, NULL},
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_F32, mv_bf16, mm_bf16, NULL, NULL},
    [GEB_TYPE_Q8_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q8_0, mm_q8_0, NULL, NULL},
    [GEB_TYPE_Q4_0] = {GEB_TYPE_Q8_0, GEB_TYPE_Q8_0, mv_q4_0, mm_q4_0, NULL, NULL},
}};
