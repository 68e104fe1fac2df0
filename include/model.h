/* model.h - a loaded model and its forward pass.
 *
 *   geb_model_params mp = {.n_ctx = 0, .type = GEB_TYPE_F32};
 *   geb_model *m;
 *   geb_model_load(&m, "models/geb-tiny", &mp, pool, &err);
 *   geb_kv *kv = geb_model_kv_new(m, 0, &err);
 *   float *logits = malloc(sizeof(float) * geb_model_config(m)->vocab);
 *   geb_model_eval(m, kv, prompt, n_prompt, 0, logits, 0, &err);   // prefill
 *   geb_model_eval(m, kv, &next, 1, n_prompt, logits, 0, &err);    // one decode step
 *
 * One generic block serves every family of the architecture table (arch.h):
 * the forward pass knows roles, never tensor names, and skips a step whose
 * role is absent.  One code path serves decoding (B = 1, matrix-vector
 * products) and prompt processing (up to GEB_BATCH tokens per step,
 * matrix-matrix products that read each weight once per batch).
 */
#ifndef GEB_MODEL_H
#define GEB_MODEL_H

#include <signal.h>

#include "common.h"
#include "config.h"
#include "kernels.h"
#include "kvcache.h"
#include "pool.h"
#include "safetensors.h"
#include "types.h"
#include "weights.h"

#define GEB_BATCH 256 /* tokens per prompt-processing step */

typedef struct geb_model geb_model;

typedef struct geb_model_params {
    int n_ctx;             /* longest sequence (RoPE tables, cache size); <= 0: seq_length */
    geb_type type;         /* in-memory type of the projections */
    const geb_kernels *kernels; /* NULL: the best this CPU runs (or GEB_KERNEL) */
    geb_type kv_k, kv_v;   /* KV cache element types: F32 (0, the default), F16 or BF16 */
    geb_progress_fn progress;
    void *ud;
} geb_model_params;

/* Loads dir (config.json, weights in either format).  The pool converts at
 * load and runs every eval; it must outlive the model. */
int geb_model_load(geb_model **out, const char *dir, const geb_model_params *p, geb_pool *pool,
                   geb_err *err);
void geb_model_free(geb_model *m);

/* Switches the pool (any size) used by eval.  The kernel table is fixed at
 * load: weights may be packed in its layout (kernels.h). */
void geb_model_set_pool(geb_model *m, geb_pool *pool);
const geb_kernels *geb_model_kernels(const geb_model *m);

const geb_config *geb_model_config(const geb_model *m);
const geb_weights *geb_model_weights(const geb_model *m);
const geb_st *geb_model_checkpoint(const geb_model *m);
int geb_model_n_ctx(const geb_model *m);

/* A KV cache for up to n_ctx positions (<= 0 or more than the model's:
 * the model's n_ctx). */
geb_kv *geb_model_kv_new(const geb_model *m, int n_ctx, geb_err *err);

/* Runs tokens[0..n) at positions pos..pos+n-1, appending to kv.  Writes the
 * logits of the last token to logits[V], or with all != 0 the logits of
 * every token to logits[n*V]; logits may be NULL (with all == 0) when only
 * the cache is wanted, e.g. a prompt batch before the last.  Fails (without touching the cache) if an id
 * is outside [0, vocab) or pos + n exceeds the cache; fails after the fact if
 * the logits are not finite.  The interrupt flag (geb_model_set_interrupt)
 * is polled between batches of a long prompt: once set, eval stops with -1
 * and the message "interrupted". */
int geb_model_eval(geb_model *m, geb_kv *kv, const int32_t *tokens, int n, int pos,
                   float *logits, int all, geb_err *err);
void geb_model_set_interrupt(geb_model *m, const volatile sig_atomic_t *flag);

#endif
