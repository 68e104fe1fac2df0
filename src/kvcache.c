/* kvcache.c - allocation of the KV cache (see kvcache.h). */
#include "kvcache.h"

#include <stdlib.h>

static size_t rows(int n_layers, int n_kv_heads, int n_ctx) {
    return (size_t)n_layers * n_kv_heads * n_ctx;
}

size_t geb_kv_bytes(int n_layers, int n_kv_heads, int n_ctx, int head_dim, geb_type type_k,
                    geb_type type_v) {
    return rows(n_layers, n_kv_heads, n_ctx) *
           (geb_type_row_bytes(type_k, head_dim) + geb_type_row_bytes(type_v, head_dim));
}

geb_kv *geb_kv_new(int n_layers, int n_kv_heads, int n_ctx, int head_dim, geb_type type_k,
                   geb_type type_v, geb_err *err) {
    int ok = (type_k == GEB_TYPE_F32 || type_k == GEB_TYPE_F16 || type_k == GEB_TYPE_BF16) &&
             (type_v == GEB_TYPE_F32 || type_v == GEB_TYPE_F16 || type_v == GEB_TYPE_BF16);
    if (!ok) return geb_err_set(err, "the KV cache holds f32, f16 or bf16"), NULL;
    geb_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return geb_err_set(err, "out of memory"), NULL;
    size_t n = rows(n_layers, n_kv_heads, n_ctx);
    *kv = (geb_kv){.n_layers = n_layers, .n_kv_heads = n_kv_heads, .n_ctx = n_ctx,
                   .head_dim = head_dim, .type_k = type_k, .type_v = type_v,
                   .row_k = geb_type_row_bytes(type_k, head_dim),
                   .row_v = geb_type_row_bytes(type_v, head_dim)};
    kv->bytes_k = n * kv->row_k, kv->bytes_v = n * kv->row_v;
    /* Huge-page anonymous memory: attention streams it every step. */
    kv->k = geb_alloc_big(kv->bytes_k);
    kv->v = geb_alloc_big(kv->bytes_v);
    if (!kv->k || !kv->v) {
        double gb = (double)(kv->bytes_k + kv->bytes_v) / 1e9;
        geb_kv_free(kv);
        geb_err_set(err, "out of memory allocating a %.2f GB KV cache", gb);
        return NULL;
    }
    return kv;
}

void geb_kv_free(geb_kv *kv) {
    if (!kv) return;
    geb_free_big(kv->k, kv->bytes_k);
    geb_free_big(kv->v, kv->bytes_v);
    free(kv);
}
