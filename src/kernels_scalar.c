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

/* y[i] = W[i,:] . x for the n rows of w, ldw bytes apart. */
static void scalar_matvec(float *y, const uint8_t *w, size_t ldw, const void *x, int n,
                          int cols) {
    for (int r = 0; r < n; r++) y[r] = scalar_dot((const float *)(w + r * ldw), x, cols);
}

#define TR 4
#define TB 16

/* part[i*ldp + b] (+)= sum_k w[i][k] * xt[k*ldx + b] for i < mr, b < nb. */
static void scalar_tile(float *part, int ldp, int mr, const float *const *w, const float *xt,
                        size_t ldx, int kn, int first, int nb) {
    for (int i = 0; i < mr; i++)
        for (int b = 0; b < nb; b++) {
            float s = first ? 0.0f : part[(size_t)i * ldp + b];
            for (int k = 0; k < kn; k++) s += w[i][k] * xt[(size_t)k * ldx + b];
            part[(size_t)i * ldp + b] = s;
        }
}

const geb_kernels geb_kernels_scalar = {
    .name = "scalar",
    .dot = scalar_dot,
    .axpy = scalar_axpy,
    .matvec_f32 = scalar_matvec,
    .tile_f32 = scalar_tile,
    .tile_rows = TR,
    .tile_b = TB,
};
