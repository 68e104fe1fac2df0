/* kvcache.c - allocation of the KV cache (see kvcache.h). */
#include "kvcache.h"

#include <stdlib.h>

size_t geb_kv_bytes(int n_layers, int n_kv_heads, int n_ctx, int head_dim) {
    return 2 * (size_t)n_layers * n_kv_heads * n_ctx * head_dim * sizeof(float);
}

geb_kv *geb_kv_new(int n_layers, int n_kv_heads, int n_ctx, int head_dim, geb_err *err) {
    geb_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return geb_err_set(err, "out of memory"), NULL;
    *kv = (geb_kv){n_layers, n_kv_heads, n_ctx, head_dim, NULL, NULL,
                   geb_kv_bytes(n_layers, n_kv_heads, n_ctx, head_dim) / 2};
    /* Huge-page anonymous memory: attention streams it every step. */
    kv->k = geb_alloc_big(kv->bytes);
    kv->v = geb_alloc_big(kv->bytes);
    if (!kv->k || !kv->v) {
        double gb = 2 * (double)kv->bytes / 1e9;
        geb_kv_free(kv);
        geb_err_set(err, "out of memory allocating a %.2f GB KV cache", gb);
        return NULL;
    }
    return kv;
}

void geb_kv_free(geb_kv *kv) {
    if (!kv) return;
    geb_free_big(kv->k, kv->bytes);
    geb_free_big(kv->v, kv->bytes);
    free(kv);
}
