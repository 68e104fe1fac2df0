/* kernels_scalar.c - the reference kernels in plain C.  They define what the
 * SIMD tables must compute and run on any CPU; tests compare every other
 * table against these. */
#include "kernels.h"

/* Returns sum a[i]*b[i] over n elements, accumulated in order in float. */
static float scalar_dot(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y[i] += a * x[i] for i in [0, n). */
static void scalar_axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* y[r - r0] = W[r,:] . x for the rows r0..r1-1 of the [*, cols] matrix w. */
static void scalar_matvec(float *y, const float *w, const float *x, int r0, int r1,
                          int cols) {
    for (int r = r0; r < r1; r++)
        y[r - r0] = scalar_dot(w + (size_t)r * cols, x, cols);
}

/* y[b*ldy + r - r0] = W[r,:] . X[b,:] for b < B and r in [r0, r1). */
static void scalar_matmul(float *y, int ldy, const float *w, const float *x, int B,
                          int r0, int r1, int cols) {
    for (int b = 0; b < B; b++)
        for (int r = r0; r < r1; r++)
            y[(size_t)b * ldy + (r - r0)] =
                scalar_dot(w + (size_t)r * cols, x + (size_t)b * cols, cols);
}

/* y[b*ldy + r - r0] = sum_k W[r,k] * xt[k*ldx + b]: X given transposed. */
static void scalar_matmul_t(float *y, int ldy, const float *w, const float *xt, int ldx, int B,
                            int r0, int r1, int cols) {
    for (int b = 0; b < B; b++)
        for (int r = r0; r < r1; r++) {
            const float *wr = w + (size_t)r * cols;
            float s = 0.0f;
            for (int k = 0; k < cols; k++) s += wr[k] * xt[(size_t)k * ldx + b];
            y[(size_t)b * ldy + (r - r0)] = s;
        }
}

const geb_kernels geb_kernels_scalar = {
    .name = "scalar",
    .dot = scalar_dot,
    .axpy = scalar_axpy,
    .matvec = scalar_matvec,
    .matmul = scalar_matmul,
    .matmul_t = scalar_matmul_t,
};
