/* attention.h - causal grouped-query attention over the KV cache.
 *
 * Query head j reads kv head j / (NH/NKV).  Work items are (token, kv group,
 * part of the group's heads), taken from an atomic counter; positions are the
 * outer loop of an item, so each cached key and value row is read once for
 * all the heads that share it.  The softmax is computed online (running
 * maximum and sum, rescaling the output when the maximum grows), so no
 * context-length scratch exists and any pool size works.
 */
#ifndef GEB_ATTENTION_H
#define GEB_ATTENTION_H

#include "kernels.h"
#include "kvcache.h"
#include "pool.h"

typedef struct geb_attn_args {
    const geb_kernels *k;
    const float *q;   /* (B, NH*D) queries, RoPE applied */
    float *out;       /* (B, NH*D) attention output, heads concatenated */
    const geb_kv *kv; /* keys/values of positions 0..pos+B-1 already written */
    int layer, B, pos, n_heads;
} geb_attn_args;

void geb_attention(geb_pool *pool, const geb_attn_args *a);

#endif
