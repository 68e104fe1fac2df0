/* kernels.h - the numeric kernels of the forward pass, one implementation per
 * instruction set (kernels_scalar.c, kernels_avx2.c, kernels_avx512.c,
 * kernels_neon.c) behind one dispatch chosen at run time from CPUID.
 *
 * Matrices are row-major [rows, cols] FP32, as in the checkpoint ([out, in]).
 * Threaded entry points take the pool and split work by output rows, handing
 * out chunks through an atomic counter.  geb_matvec never allocates;
 * geb_matmul keeps one grow-only transposed copy of X (B x cols floats,
 * allocated on first use and kept), so it is not reentrant either.
 */
#ifndef GEB_KERNELS_H
#define GEB_KERNELS_H

#include "common.h"
#include "pool.h"
#include "types.h"

/* The row kernels of one weight type on one instruction set (see types.h).
 * Activations are converted once per product to the type the kernel wants
 * (vec_x for matvec, mat_x for matmul): F32 for the float weight types,
 * Q8_0 blocks for the integer ones (as ggml does), BF16 pairs where the CPU
 * has a BF16 dot product. */
typedef struct geb_type_kernels {
    geb_type vec_x; /* activation type of matvec */
    geb_type mat_x; /* activation type of matmul */
    /* y[i] = W[i,:] . x for i in [0, n): W rows are ldw bytes apart, x holds
     * cols elements in vec_x form. */
    void (*matvec)(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols);
    /* y[b*ldy + i] = W[i,:] . X[b,:] for b in [0, B), i in [0, n): X rows are
     * ldx bytes apart in mat_x form. */
    void (*matmul)(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x,
                   size_t ldx, int B, int n, int cols);
} geb_type_kernels;

/* One matrix of a (possibly fused) product: y = W x, W is [rows, cols].
 * For batched products y is [B, rows] row-major (row b is token b). */
typedef struct geb_mat {
    const float *w;  /* [rows, cols] */
    float *y;        /* [rows] or [B, rows] */
    int rows;
} geb_mat;

/* The per-ISA building blocks.  The scalar table is the reference in tests. */
typedef struct geb_kernels {
    const char *name;                                          /* "scalar", "avx2", "avx512", "neon" */
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);    /* y += a * x */
    /* y[r - r0] = W[r,:] . x for r in [r0, r1) */
    void (*matvec)(float *y, const float *w, const float *x, int r0, int r1, int cols);
    /* y[b*ldy + (r - r0)] = W[r,:] . X[b,:] for b in [0, B), r in [r0, r1):
     * y points at column r0 of token 0 of Y, like matvec's y points at row r0 */
    void (*matmul)(float *y, int ldy, const float *w, const float *x, int B,
                   int r0, int r1, int cols);
    /* The same product with X given transposed: xt[k*ldx + b] = X[b, k], so
     * tokens lie in vector lanes and no horizontal sums are needed.  ldx is a
     * multiple of 16 and >= B rounded up to 16 (lanes past B are read, never
     * stored).  NULL in tables without it (geb_matmul then uses matmul). */
    void (*matmul_t)(float *y, int ldy, const float *w, const float *xt, int ldx, int B,
                     int r0, int r1, int cols);
} geb_kernels;

/* The fastest table this CPU supports; GEB_KERNEL=scalar|avx2|avx512|neon in
 * the environment forces one (if supported). */
const geb_kernels *geb_kernels_best(void);
/* The named table if compiled in and supported by this CPU, else NULL. */
const geb_kernels *geb_kernels_get(const char *name);
/* Selects the table the threaded entry points below use (default: best). */
void geb_kernels_use(const geb_kernels *k);
const geb_kernels *geb_kernels_current(void);

/* y_i = W_i x for each of the n matrices (all with `cols` columns), in one
 * pool dispatch so that e.g. Q, K and V are computed in a single sweep. */
void geb_matvec(geb_pool *pool, const geb_mat *mats, int n, const float *x, int cols);

/* Y_i[b,:] = W_i X[b,:] for the B rows of X ([B, cols]); each weight is read
 * once per batch (register-tiled GEMM).  For B >= 12 with a table that has
 * matmul_t, X is first transposed so tokens fill vector lanes: B a multiple
 * of 16 (up to 64 per tile) uses every lane.  If the transposed copy cannot
 * be allocated it falls back to the row-major kernel, so it cannot fail. */
void geb_matmul(geb_pool *pool, const geb_mat *mats, int n, const float *x, int B, int cols);

/* Measures read bandwidth of the pool's threads over a buffer of `bytes`
 * (reported in GB/s, best of a few passes); used by `geb bench` for the roofline. */
double geb_measure_bandwidth(geb_pool *pool, size_t bytes);

#endif
