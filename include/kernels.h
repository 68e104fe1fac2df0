/* kernels.h - the numeric kernels of the forward pass, one implementation per
 * instruction set (kernels_scalar.c, kernels_avx2.c, kernels_avx512.c,
 * kernels_neon.c) behind one dispatch chosen at run time from CPUID.
 *
 * Matrices are row-major [rows, cols], as in the checkpoint ([out, in]); a
 * row of a weight type is geb_type_row_bytes() bytes (types.h).  The threaded
 * products over these kernels are in matmul.h.
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
/* Kernels over rows packed in groups of GEB_PACK_ROWS (optional, per table
 * and type).  A group holds the same bytes as its rows (GEB_PACK_ROWS x ldw)
 * in an order the table's kernels choose, so one instruction works on a
 * piece of every row of the group; matrices are packed once at load where
 * every group is whole (geb_mat.packed), and products on them start at a
 * group (matmul.c cuts jobs at multiples of GEB_PACK_ROWS). */
#define GEB_PACK_ROWS 8
typedef struct geb_packed_kernels {
    /* dst (GEB_PACK_ROWS x ldw bytes) = the group of the rows at src,
     * ldw bytes apart; dst does not overlap src. */
    void (*pack)(uint8_t *dst, const uint8_t *src, size_t ldw, int cols);
    /* As geb_type_kernels.matvec for n rows (a multiple of GEB_PACK_ROWS)
     * packed from w on, groups GEB_PACK_ROWS x ldw bytes apart. */
    void (*matvec)(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols);
    /* As geb_type_kernels.matmul for n rows (a multiple of GEB_PACK_ROWS)
     * packed from w on, with mat_x activations: every batch of packed rows
     * (to_f32 serves the F32 GEMM of a call whose first matrix is not
     * packed). */
    void (*matmul)(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x, size_t ldx,
                   int B, int n, int cols);
    /* dst[i*ldd + c] for i < GEB_PACK_ROWS, c < kn = columns [k0, k0 + kn)
     * of row i of the group at w (k0 and kn multiples of the block), as
     * FP32, bit for bit the traits' to_f32. */
    void (*to_f32)(float *dst, size_t ldd, const uint8_t *w, size_t ldw, int k0, int kn);
    /* Optional: the bytes of columns [k0, k0 + kn) (multiples of the
     * block) of the group's rows as the type stores them, row i at dst +
     * i*ldd: pack's inverse, for a type's own GEMM (geb_gemm_kernels). */
    void (*unpack)(uint8_t *dst, size_t ldd, const uint8_t *w, size_t ldw, int k0, int kn);
} geb_packed_kernels;

/* A type's own GEMM (optional, per table and type): the weights are read
 * in their type (where they are, or recast per block into a form of the
 * tile's by rows()), and the activations go to panels of tile_b tokens in
 * the form the tile multiplies them in.  A panel is a run of steps of kblk
 * columns of all its tokens, step_bytes x tile_b bytes each, step s at
 * panel + s * step_bytes * tile_b, laid out as the tile reads it.
 * matmul.c uses it for batches of GEB_WIDEN_MIN_B tokens or more, in place
 * of widening; packed rows go through their kernels' unpack first. */
#define GEB_GEMM_MAX_WROW 1024 /* most bytes of a row in rows() form */
typedef struct geb_gemm_kernels {
    geb_type x_type;      /* the activations are rounded through this type */
    /* Columns (<= 32) and bytes (<= 4 per column) per token of a panel step:
     * geb_mm_new sizes the panels for 4 bytes per column and token plus 32
     * columns of padding. */
    int kblk, step_bytes;
    int tile_rows;        /* rows of a tile (divides matmul.c's 48-row jobs) */
    int tile_b;           /* tokens of a panel and of a tile (divides GEB_TILE_MAX_B) */
    int kc;               /* columns per block (a multiple of kblk and of the type's block) */
    int wrow_bytes;       /* bytes of a row in rows() form (<= GEB_GEMM_MAX_WROW); 0: in place */
    /* Steps [s0, s1) of a panel from the nb <= tile_b F32 rows at x (ldx
     * floats apart) of a product with cols columns; every byte of those
     * steps is written (tokens past nb and columns past cols as zeros). */
    void (*panel)(uint8_t *panel, const float *x, size_t ldx, int nb, int s0, int s1, int cols);
    /* Optional (wrow_bytes > 0): n rows of kn <= kc columns of a block, at
     * w in the type's bytes (ldw apart), in the tile's form at dst
     * (wrow_bytes apart). */
    void (*rows)(uint8_t *dst, const uint8_t *w, size_t ldw, int n, int kn);
    /* part[i*ldp + b] (+)= sum_k W_i[k] X_b[k] for rows i < mr (w[i] for i >=
     * mr repeat a valid row and are discarded), tokens b < nb, columns k < kn
     * of a block: w[i] points at the block's first column in row i (the
     * type's bytes, never read past column kn, or row i of rows()), xp at its
     * first step in a panel; first: start from 0 instead of part.  Lanes of
     * part past nb, up to the next multiple of 16, may be written. */
    void (*tile)(float *part, int ldp, int mr, const uint8_t *const *w, const uint8_t *xp, int kn,
                 int first, int nb);
} geb_gemm_kernels;

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
    /* Optional: dst[0..n) = n weights of a row as FP32 (n a multiple of the
     * block), bit for bit the traits' to_f32.  Where a table has it (and no
     * gemm below), batches of GEB_WIDEN_MIN_B tokens or more (or every
     * batch, if matmul is NULL)
     * widen the weights into L2-sized panels for the F32 GEMM tiles, with
     * the activations rounded through an integer mat_x first, so the
     * products are the ones matmul computes up to float summation order
     * (a BF16 mat_x is not applied there: matmul.c). */
    void (*to_f32)(float *dst, const uint8_t *src, int n);
    /* Optional: the kernels of packed rows (above); NULL: rows stay as
     * the type stores them. */
    const geb_packed_kernels *packed;
    /* Optional: dst[0..n) = n values of one row as FP32, bit for bit the
     * traits' to_f32, for rows read one at a time (a 16-bit KV cache in
     * attention.c); unlike to_f32 it says nothing about how products run. */
    void (*row_to_f32)(float *dst, const uint8_t *src, int n);
    /* Optional: the type's own GEMM (above), used before widening. */
    const geb_gemm_kernels *gemm;
} geb_type_kernels;

/* The per-ISA building blocks.  The scalar table is the reference in tests.
 * An ISA file holds only row kernels and register tiles; the threaded loops
 * that drive them are written once, in matmul.c. */
typedef struct geb_kernels {
    const char *name;                                          /* "scalar", "avx2", "avx512", "neon" */
    float (*dot)(const float *a, const float *b, int n);
    void (*axpy)(float *y, float a, const float *x, int n);    /* y += a * x */
    /* F32 rows: y[i] = W[i,:] . x for i in [0, n), rows ldw bytes apart. */
    void (*matvec_f32)(float *y, const uint8_t *w, size_t ldw, const void *x, int n, int cols);
    /* F32 GEMM register tile on transposed activations (xt[k*ldx + b] =
     * X[b,k]): part[i*ldp + b] (+)= sum_k w[i][k] * xt[k*ldx + b] for rows
     * i < mr (w[i] for i >= mr repeat a valid row and are discarded), tokens
     * b < nb <= tile_b, k < kn; first: start from 0 instead of part. */
    void (*tile_f32)(float *part, int ldp, int mr, const float *const *w, const float *xt,
                     size_t ldx, int kn, int first, int nb);
    /* Attention over a block of nu cached F32 rows for the nh query heads
     * of one kv group (attention.c).  att_scores: s[i*lds + u] = scale *
     * (q[i*D..] . k[u*ldk..]).  att_accum: o[i*D + d] += sum_u p[i*ldp + u]
     * * v[u*ldv + d]. */
    void (*att_scores)(float *s, int lds, const float *q, int nh, const float *k, size_t ldk,
                       int nu, int D, float scale);
    void (*att_accum)(float *o, const float *p, int ldp, int nh, const float *v, size_t ldv,
                      int nu, int D);
    /* The same over 16-bit cache rows, ldk/ldv bytes apart (bf: BF16, else
     * F16), converted as they are read. */
    void (*att_scores_h)(float *s, int lds, const float *q, int nh, const uint8_t *k, size_t ldk,
                         int bf, int nu, int D, float scale);
    void (*att_accum_h)(float *o, const float *p, int ldp, int nh, const uint8_t *v, size_t ldv,
                        int bf, int nu, int D);
    /* The softmax's exponentials: s[u] = e^(s[u] - m) for u < n, returning
     * their sum; within 2 ulp of e^x (1.01 measured) for x >= -87, and at
     * most e^-87 below (negligible beside the maximum's e^0 = 1). */
    float (*att_exp)(float *s, int n, float m);
    /* The gated MLP: g[i] = silu(g[i]) * u[i], with att_exp's exponential. */
    void (*swiglu)(float *g, const float *u, int n);
    int tile_rows;   /* rows of a tile (<= GEB_TILE_MAX_ROWS) */
    int tile_b;      /* tokens of a tile (<= GEB_TILE_MAX_B, a multiple of 16 or 16 itself) */
    /* The other weight types (types.h), filled in by geb_kernels_get from
     * the qk_*.c files; entry GEB_TYPE_F32 is matvec_f32 + the tiles. */
    geb_type_kernels typed[GEB_TYPE_COUNT];
} geb_kernels;

#define GEB_TILE_MAX_ROWS 16
#define GEB_TILE_MAX_B 64

/* The fastest table this CPU supports, or the one GEB_KERNEL names (NULL
 * with a message if GEB_KERNEL names a table that is unknown or that this
 * CPU cannot run). */
const geb_kernels *geb_kernels_best(geb_err *err);
/* The named table if compiled in and supported by this CPU, else NULL. */
const geb_kernels *geb_kernels_get(const char *name);
/* 1 if the ISA table name is compiled in and this CPU runs it (without
 * completing the tables: what qk.c asks while they are being completed). */
int geb_kernels_isa_ok(const char *name);
/* Names of every table compiled in, NULL-terminated (for --version). */
const char *const *geb_kernels_names(void);

/* 1 if the decode matvecs that can (AVX-512 F32, BF16, packed Q8_0/Q4_0)
 * ask for their rows ahead with software prefetches, 0 if they leave it to
 * the hardware prefetcher.  Set with the tables: GEB_PREFETCH=0|1 if given,
 * else 0 on AMD and 1 elsewhere (measured: on Xeons 4-18% faster with it,
 * on Zen 4 slower).  Tests may flip it; the results do not depend on it. */
extern int geb_prefetch_rows;
/* "on" / "off": what geb_prefetch_rows is once the tables are filled. */
const char *geb_kernels_prefetch_name(void);

#endif
