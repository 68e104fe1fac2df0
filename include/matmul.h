/* matmul.h - threaded products of typed weight matrices with activations.
 *
 *   geb_mm *mm = geb_mm_new(geb_kernels_best(&err), max_cols, 64, &err);
 *   geb_prod p[3] = {{&wq, q}, {&wk, k}, {&wv, v}};
 *   geb_mm_matvec(mm, pool, p, 3, x);          // one token: q = Wq x, ...
 *   geb_mm_matmul(mm, pool, p, 3, X, B);       // B tokens: Q[b] = Wq X[b], ...
 *   geb_mm_free(mm);
 *
 * The products of one call share their input and its width (e.g. Q, K and V
 * of a layer) and run in a single pool dispatch: the rows of all matrices
 * form one space cut into chunks handed out through an atomic counter, so a
 * thread slowed by another process does not hold the others back.  The
 * activations are converted once per call to the type the weight type's
 * kernels want (kernels.h).  The context owns every scratch buffer; nothing
 * is allocated per call.  A context is used by one thread at a time.
 */
#ifndef GEB_MATMUL_H
#define GEB_MATMUL_H

#include "common.h"
#include "kernels.h"
#include "pool.h"
#include "types.h"

/* Batches from this size up run a type's own GEMM tile where the table has
 * one (geb_type_kernels.gemm), else widen typed weights for the F32 GEMM
 * where it can (geb_type_kernels.to_f32); below it the weights' own matmul
 * (the recasting costs about one instruction per weight per batch). */
#define GEB_WIDEN_MIN_B 16

/* A weight matrix [rows, cols] of one type: a whole tensor or a row view of
 * a fused one. */
typedef struct geb_mat {
    const uint8_t *w; /* row 0 */
    geb_type type;
    size_t ldw;       /* bytes from one row to the next */
    int rows, cols;
    int packed;       /* 1: rows in groups of GEB_PACK_ROWS, in the layout of
                       * the table's typed[type].packed (kernels.h) */
} geb_mat;

/* One product of a call: y = m x (y[rows]) or Y[b] = m X[b] (Y[B, rows]). */
typedef struct geb_prod {
    const geb_mat *m;
    float *y;
} geb_prod;

typedef struct geb_mm geb_mm;

/* A context for products of up to max_cols columns and max_batch tokens. */
geb_mm *geb_mm_new(const geb_kernels *k, int max_cols, int max_batch, geb_err *err);
void geb_mm_free(geb_mm *mm);

const geb_kernels *geb_mm_kernels(const geb_mm *mm);

/* 1 if the kernel table has row kernels for weights of type t. */
int geb_mm_supports(const geb_kernels *k, geb_type t);

/* 1 if geb_mm_matmul runs B tokens on an unpacked (packed: packed) matrix of
 * type t through the F32 GEMM (F32 weights, or typed ones widened); a type's
 * own GEMM tile is not widening. */
int geb_mm_widens(const geb_kernels *k, geb_type t, int B, int packed);
/* The type the activations of that product are rounded through before the
 * multiply (GEB_TYPE_F32: none): the x_type of a type's own GEMM tile, else
 * the weights' mat_x, or vec_x for a type without matmul; in the F32 GEMM
 * only an integer mat_x, since a 16-bit one (AVX512_BF16's operands) would
 * only lose accuracy there. */
geb_type geb_mm_x_type(const geb_kernels *k, geb_type t, int B, int packed);

/* y_i = W_i x for the n products (all of one type, all with x's width). */
void geb_mm_matvec(geb_mm *mm, geb_pool *pool, const geb_prod *p, int n, const float *x);

/* Y_i[b] = W_i X[b] for the B <= max_batch rows of X ([B, cols]); each
 * weight row is read once per batch (register-tiled GEMM). */
void geb_mm_matmul(geb_mm *mm, geb_pool *pool, const geb_prod *p, int n, const float *x, int B);

#endif
