/* model.h - GEB/ChatGLM2-family weights and the forward pass.
 *
 *   geb_model *m;
 *   geb_model_load(&m, "models/geb-tiny", 0, pool, NULL, NULL, &err);
 *   float *logits = malloc(sizeof(float) * geb_model_config(m)->vocab);
 *   geb_model_eval(m, prompt, n_prompt, 0, logits, 0, &err);   // prefill
 *   geb_model_eval(m, &next, 1, n_prompt, logits, 0, &err);    // one decode step
 *
 * The KV cache holds n_ctx positions; eval appends at `pos` and attends to
 * 0..pos+i, so callers restart a sequence simply by evaluating at pos 0.
 * All weights are FP32 in memory: F32 files are used in place through mmap,
 * BF16/F16 tensors are converted once at load, in parallel on the pool.
 */
#ifndef GEB_MODEL_H
#define GEB_MODEL_H

#include "common.h"
#include "config.h"
#include "pool.h"

typedef struct geb_model geb_model;

/* Load progress: frac in [0, 1]. */
typedef void (*geb_progress_fn)(void *ud, double frac);

/* Loads DIR (config.json + safetensors, single or sharded).  n_ctx <= 0
 * means the model's seq_length.  The pool is used for conversion at load
 * and for every eval; it must outlive the model. */
int geb_model_load(geb_model **out, const char *dir, int n_ctx, geb_pool *pool,
                   geb_progress_fn progress, void *ud, geb_err *err);
void geb_model_free(geb_model *m);

/* Switches the pool used by eval (for benchmarks over thread counts); it may
 * not have more threads than the pool the model was loaded with. */
int geb_model_set_pool(geb_model *m, geb_pool *pool, geb_err *err);

const geb_config *geb_model_config(const geb_model *m);
int geb_model_n_ctx(const geb_model *m);
/* Bytes of weights streamed by one decode step (what bandwidth is measured on). */
size_t geb_model_weight_bytes(const geb_model *m);
/* Bytes of memory the model holds: converted weights + KV cache + scratch. */
size_t geb_model_memory_bytes(const geb_model *m);
/* "GEB (query + key_value)" or "ChatGLM2 (fused query_key_value)". */
const char *geb_model_layout(const geb_model *m);
/* Dtype of the weights on disk ("BF16", "F32", "mixed", ...). */
const char *geb_model_file_dtype(const geb_model *m);

/* Memory a model at dir would need with n_ctx, computed from the files
 * without loading them (for refusing early and for `geb info`). */
int geb_model_estimate(const char *dir, int n_ctx, size_t *weights, size_t *kv,
                       geb_err *err);

/* Runs tokens[0..n) at positions pos..pos+n-1, appending to the KV cache.
 * Writes the logits of the last token to logits[V], or with all != 0 the
 * logits of every token to logits[n*V].  Fails (without touching the cache)
 * if an id is outside [0, vocab) or pos + n exceeds n_ctx. */
int geb_model_eval(geb_model *m, const int32_t *tokens, int n, int pos, float *logits,
                   int all, geb_err *err);

#endif
