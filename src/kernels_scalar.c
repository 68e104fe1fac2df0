/* kernels_scalar.c - the reference kernels in plain C.  They define what the
 * SIMD tables must compute and run on any CPU; tests compare every other
 * table against these. */
#include "kernels.h"
#include "types.h"

#include <math.h>

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

/* s[i*lds + u] = scale * (q[i*D..] . k[u*ldk..]), each dot in order. */
static void scalar_att_scores(float *s, int lds, const float *q, int nh, const float *k,
                              size_t ldk, int nu, int D, float scale) {
    for (int u = 0; u < nu; u++)
        for (int i = 0; i < nh; i++)
            s[(size_t)i * lds + u] = scale * scalar_dot(q + (size_t)i * D, k + (size_t)u * ldk, D);
}

/* o[i*D + d] += sum_u p[i*ldp + u] * v[u*ldv + d], positions in order. */
static void scalar_att_accum(float *o, const float *p, int ldp, int nh, const float *v,
                             size_t ldv, int nu, int D) {
    for (int i = 0; i < nh; i++)
        for (int u = 0; u < nu; u++)
            scalar_axpy(o + (size_t)i * D, p[(size_t)i * ldp + u], v + (size_t)u * ldv, D);
}

/* A 16-bit cache row widened (bf: BF16, else F16). */
static void widen_row(float *dst, const uint8_t *src, int bf, int D) {
    geb_type_traits_of(bf ? GEB_TYPE_BF16 : GEB_TYPE_F16)->to_f32(dst, src, D);
}

/* att_scores over 16-bit key rows ldk bytes apart, each widened first. */
static void scalar_att_scores_h(float *s, int lds, const float *q, int nh, const uint8_t *k,
                                size_t ldk, int bf, int nu, int D, float scale) {
    float row[4096]; /* config.c refuses heads past 4096 */
    for (int u = 0; u < nu; u++) {
        widen_row(row, k + (size_t)u * ldk, bf, D);
        scalar_att_scores(s + u, lds, q, nh, row, (size_t)D, 1, D, scale);
    }
}

/* att_accum over 16-bit value rows ldv bytes apart. */
static void scalar_att_accum_h(float *o, const float *p, int ldp, int nh, const uint8_t *v,
                               size_t ldv, int bf, int nu, int D) {
    float row[4096];
    for (int u = 0; u < nu; u++) {
        widen_row(row, v + (size_t)u * ldv, bf, D);
        scalar_att_accum(o, p + u, ldp, nh, row, (size_t)D, 1, D);
    }
}

/* s[u] = expf(s[u] - m) for u < n, summed in order. */
static float scalar_att_exp(float *s, int n, float m) {
    float t = 0.0f;
    for (int u = 0; u < n; u++) t += s[u] = expf(s[u] - m);
    return t;
}

/* g[i] = g[i] / (1 + expf(-g[i])) * u[i]. */
static void scalar_swiglu(float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
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
    .att_scores = scalar_att_scores,
    .att_accum = scalar_att_accum,
    .att_scores_h = scalar_att_scores_h,
    .att_accum_h = scalar_att_accum_h,
    .att_exp = scalar_att_exp,
    .swiglu = scalar_swiglu,
    .tile_rows = TR,
    .tile_b = TB,
};
