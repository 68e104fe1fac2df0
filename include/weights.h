/* weights.h - the load plan: which checkpoint tensor serves which role of
 * the architecture table, in which type it is held, and the bytes it costs.
 *
 *   geb_weights *w;
 *   geb_weights_open(&w, &cfg, st, GEB_TYPE_F32, &err);   // plan and check, nothing big allocated
 *   geb_weights_load(w, pool, progress, ud, &err);         // convert / quantize on the pool
 *   const geb_mat *q = geb_weights_mat(w, layer, GEB_R_Q); // NULL when the role is absent
 *   geb_weights_free(w);
 *
 * Planning checks everything before memory is committed: every tensor the
 * config implies is present with its shape; every tensor of the checkpoint is
 * used or is a known buffer (arch.c); fused tensors become row views (so Q, K,
 * V, gate and up are always separate matrices); a tensor stored once for every
 * layer (MobiLlama's FFN) is held once.  Loading converts each tensor once to
 * its in-memory type (a tensor already in that type and aligned is used in
 * place through mmap) and refuses a NaN or infinity, naming the tensor.
 * Norms and biases are held in F32; the embedding is F32 when the weights are,
 * else BF16 (the types with blocks would cost accuracy on a table that is read
 * one row per token, so never per-token bandwidth).
 */
#ifndef GEB_WEIGHTS_H
#define GEB_WEIGHTS_H

#include "arch.h"
#include "common.h"
#include "config.h"
#include "matmul.h"
#include "pool.h"
#include "safetensors.h"
#include "types.h"

typedef struct geb_weights geb_weights;

/* Load progress: frac in [0, 1]. */
typedef void (*geb_progress_fn)(void *ud, double frac);

/* Plans the weights of cfg (whose family it settles from the tensor names,
 * and whose kv head count it takes from K where the family says so) over the
 * open checkpoint st, which must outlive the weights. */
int geb_weights_open(geb_weights **out, geb_config *cfg, const geb_st *st, geb_type type,
                     geb_err *err);

/* The kernel table the weights will be used with: matrices whose type it
 * packs (kernels.h) and whose views are whole groups are packed at load.
 * Without this call nothing is packed. */
void geb_weights_set_kernels(geb_weights *w, const geb_kernels *k);

/* Converts or maps every planned tensor.  The pool is only used here. */
int geb_weights_load(geb_weights *w, geb_pool *pool, geb_progress_fn progress, void *ud,
                     geb_err *err);

void geb_weights_free(geb_weights *w);

/* The matrix of role r in layer l (l ignored for model-wide roles), NULL if
 * the role is absent. */
const geb_mat *geb_weights_mat(const geb_weights *w, int l, geb_role r);
/* The F32 vector of a norm or bias role, NULL if absent. */
const float *geb_weights_vec(const geb_weights *w, int l, geb_role r);

geb_type geb_weights_type(const geb_weights *w);        /* type of the projections */
/* 1 if every row that type t would hold is whole blocks of t. */
int geb_weights_type_ok(const geb_weights *w, geb_type t);
/* Bytes of memory the weights take in type t (t = the planned type: what
 * loading allocates or maps); the shared ones count once. */
size_t geb_weights_bytes_held(const geb_weights *w, geb_type t);
/* Bytes one decode step reads (every weight but the embedding, shared ones
 * once per layer that uses them). */
size_t geb_weights_bytes_streamed(const geb_weights *w, geb_type t);
/* Parameters of the checkpoint (shared tensors once). */
int64_t geb_weights_params(const geb_weights *w);
/* Dtype of the planned tensors on disk ("BF16", "F32", "mixed"). */
const char *geb_weights_file_dtype(const geb_weights *w);

#endif
