/* kvcache.h - the keys and values of one sequence, per layer and kv head.
 *
 *   geb_kv *kv = geb_kv_new(L, NKV, n_ctx, D, &err);
 *   geb_model_eval(m, kv, ids, n, pos, logits, 0, &err);  // appends at pos..
 *   geb_kv_free(kv);
 *
 * Layout (L, NKV, n_ctx, D): one kv head's keys are contiguous over
 * positions, so attention streams them.  The cache does not track which
 * positions are valid: evaluating at pos overwrites pos.., and attention at
 * pos reads 0..pos, so a caller rewinds a sequence (a chat turn that
 * diverges, a new prompt) simply by evaluating at an earlier position.
 */
#ifndef GEB_KVCACHE_H
#define GEB_KVCACHE_H

#include "common.h"
#include "types.h"

typedef struct geb_kv {
    int n_layers, n_kv_heads, n_ctx, head_dim;
    geb_type type_k, type_v; /* F32, F16 or BF16 (-ctk / -ctv) */
    size_t row_k, row_v;     /* bytes of one head's row */
    uint8_t *k;    /* (L, NKV, n_ctx, D) */
    uint8_t *v;    /* (L, NKV, n_ctx, D) */
    size_t bytes_k, bytes_v;
} geb_kv;

/* A cache with keys of type_k and values of type_v (F32, F16 or BF16). */
geb_kv *geb_kv_new(int n_layers, int n_kv_heads, int n_ctx, int head_dim, geb_type type_k,
                   geb_type type_v, geb_err *err);
void geb_kv_free(geb_kv *kv);

/* Bytes a cache of these dimensions takes (both K and V). */
size_t geb_kv_bytes(int n_layers, int n_kv_heads, int n_ctx, int head_dim, geb_type type_k,
                    geb_type type_v);

/* The row of keys (or values) of layer l, kv head g, position p. */
static inline uint8_t *geb_kv_k(const geb_kv *kv, int l, int g, int p) {
    return kv->k + (((size_t)l * kv->n_kv_heads + g) * kv->n_ctx + p) * kv->row_k;
}
static inline uint8_t *geb_kv_v(const geb_kv *kv, int l, int g, int p) {
    return kv->v + (((size_t)l * kv->n_kv_heads + g) * kv->n_ctx + p) * kv->row_v;
}

#endif
