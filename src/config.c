/* config.c - config.json -> geb_config, with validation. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* The first key of `names` (a NULL-terminated list) present in obj. */
static const geb_json *get_any(const geb_json *obj, const char *const *names,
                               const char **found) {
    for (int i = 0; names[i]; i++) {
        const geb_json *v = geb_json_get(obj, names[i]);
        if (v && v->type != GEB_JSON_NULL) {
            *found = names[i];
            return v;
        }
    }
    return NULL;
}

/* Reads a positive integer under any of `names` into *out; absent keys leave
 * *out unchanged unless `required`. */
static int get_int(const geb_json *obj, const char *const *names, int *out,
                   int required, int64_t max, geb_err *err) {
    const char *key = names[0];
    const geb_json *v = get_any(obj, names, &key);
    if (!v) {
        if (required) return geb_err_set(err, "config.json: missing \"%s\"", names[0]);
        return 0;
    }
    if (v->type != GEB_JSON_NUMBER || !v->is_int)
        return geb_err_set(err, "config.json: \"%s\" must be an integer", key);
    if (v->integer < 1 || v->integer > max)
        return geb_err_set(err, "config.json: \"%s\" = %lld is out of range (1..%lld)", key,
                           (long long)v->integer, (long long)max);
    *out = (int)v->integer;
    return 0;
}

static int get_bool(const geb_json *obj, const char *key, int dflt) {
    const geb_json *v = geb_json_get(obj, key);
    if (v && v->type == GEB_JSON_BOOL) return v->boolean;
    return dflt;
}

int geb_config_parse(geb_config *c, const char *text, size_t len, geb_err *err) {
    memset(c, 0, sizeof *c);
    geb_json *root = geb_json_parse(text, len, err);
    if (!root) {
        char msg[GEB_ERR_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return geb_err_set(err, "config.json: %s", msg);
    }
    int rc = -1;
    if (root->type != GEB_JSON_OBJECT) {
        geb_err_set(err, "config.json: not a JSON object");
        goto done;
    }
    static const char *const k_layers[] = {"num_layers", "num_hidden_layers", NULL};
    static const char *const k_dim[] = {"hidden_size", NULL};
    static const char *const k_ffn[] = {"ffn_hidden_size", "intermediate_size", NULL};
    static const char *const k_heads[] = {"num_attention_heads", NULL};
    static const char *const k_kv[] = {"num_key_value_heads", "multi_query_group_num", NULL};
    static const char *const k_hd[] = {"kv_channels", "head_dim", NULL};
    static const char *const k_vocab[] = {"padded_vocab_size", "vocab_size", NULL};
    static const char *const k_seq[] = {"seq_length", "max_position_embeddings", NULL};
    /* Limits keep every derived size far from overflow and refuse absurd files
     * early; the real GEB-1.3B is far inside them. */
    if (get_int(root, k_layers, &c->n_layers, 1, 1024, err) ||
        get_int(root, k_dim, &c->dim, 1, 1 << 16, err) ||
        get_int(root, k_ffn, &c->ffn_dim, 1, 1 << 18, err) ||
        get_int(root, k_heads, &c->n_heads, 1, 1024, err) ||
        get_int(root, k_vocab, &c->vocab, 1, 1 << 22, err))
        goto done;
    c->n_kv_heads = c->n_heads;
    const char *kvkey = k_kv[0];
    const geb_json *kv = get_any(root, k_kv, &kvkey);
    /* ChatGLM2 has multi_query_group_num even when multi_query_attention is
     * false; only then does it mean full multi-head attention. */
    int mqa = get_bool(root, "multi_query_attention", 1);
    if (kv && (strcmp(kvkey, "num_key_value_heads") == 0 || mqa)) {
        if (get_int(root, k_kv, &c->n_kv_heads, 1, 1024, err)) goto done;
    }
    if (c->dim % c->n_heads == 0) c->head_dim = c->dim / c->n_heads;
    if (get_int(root, k_hd, &c->head_dim, c->head_dim == 0, 4096, err)) goto done;
    c->seq_len = 2048;
    if (get_int(root, k_seq, &c->seq_len, 0, 1 << 22, err)) goto done;

    c->norm_eps = 1e-5f;
    const geb_json *v = geb_json_get(root, "layernorm_epsilon");
    if (!v) v = geb_json_get(root, "rms_norm_eps");
    if (v) {
        if (v->type != GEB_JSON_NUMBER || !(v->number > 0 && v->number < 1)) {
            geb_err_set(err, "config.json: layernorm_epsilon must be a number in (0, 1)");
            goto done;
        }
        c->norm_eps = (float)v->number;
    }
    double ratio = 1.0;
    v = geb_json_get(root, "rope_ratio");
    if (v && v->type != GEB_JSON_NULL) {
        if (v->type != GEB_JSON_NUMBER || !(v->number > 0 && v->number < 1e6)) {
            geb_err_set(err, "config.json: rope_ratio must be a positive number");
            goto done;
        }
        ratio = v->number;
    }
    c->rope_base = (float)(10000.0 * ratio);
    c->qkv_bias = get_bool(root, "add_qkv_bias", 0);
    c->tied = get_bool(root, "tie_word_embeddings", 0);
    if (get_bool(root, "add_bias_linear", 0)) {
        geb_err_set(err, "config.json: add_bias_linear = true is not supported "
                         "(no GEB or ChatGLM2 checkpoint uses it)");
        goto done;
    }
    c->eos_id = -1;
    v = geb_json_get(root, "eos_token_id");
    if (v && v->type == GEB_JSON_ARRAY && v->count > 0) v = &v->items[0];
    if (v && v->type == GEB_JSON_NUMBER && v->is_int && v->integer >= 0 &&
        v->integer < c->vocab)
        c->eos_id = (int)v->integer;
    v = geb_json_get(root, "torch_dtype");
    if (v && v->type == GEB_JSON_STRING)
        snprintf(c->dtype, sizeof c->dtype, "%s", v->str);

    if (c->n_heads % c->n_kv_heads != 0) {
        geb_err_set(err, "config.json: %d attention heads cannot be shared by %d kv heads",
                    c->n_heads, c->n_kv_heads);
        goto done;
    }
    if (c->head_dim % 4 != 0) {
        geb_err_set(err, "config.json: kv_channels = %d must be a multiple of 4 "
                         "(RoPE rotates pairs in the first half of each head)", c->head_dim);
        goto done;
    }
    rc = 0;
done:
    geb_json_free(root);
    return rc;
}

int geb_config_load(geb_config *c, const char *dir, geb_err *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return geb_err_set(err, "model path too long");
    uint8_t *buf;
    size_t len;
    if (geb_read_file(path, &buf, &len, 1 << 20, err)) return -1;
    int rc = geb_config_parse(c, (const char *)buf, len, err);
    free(buf);
    return rc;
}

int64_t geb_config_params(const geb_config *c) {
    int64_t H = c->dim, F = c->ffn_dim, D = c->head_dim;
    int64_t q = (int64_t)c->n_heads * D, kv = 2 * (int64_t)c->n_kv_heads * D;
    int64_t layer = H                    /* input_layernorm */
                    + (q + kv) * H       /* query + key_value */
                    + (c->qkv_bias ? q + kv : 0)
                    + H * q              /* dense */
                    + H                  /* post_attention_layernorm */
                    + 2 * F * H + H * F; /* dense_h_to_4h + dense_4h_to_h */
    return (int64_t)c->vocab * H * (c->tied ? 1 : 2) + c->n_layers * layer + H;
}
