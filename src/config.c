/* config.c - config.json (+ generation_config.json, tokenizer_config.json)
 * -> geb_config, with validation.  See config.h for the two key dialects. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Appends "key: what" to the notes shown by `geb info`. */
static void note(geb_config *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(geb_config *c, const char *key, const char *fmt, ...) {
    if (c->n_notes == GEB_MAX_NOTES) return;
    geb_config_note *n = &c->notes[c->n_notes++];
    snprintf(n->key, sizeof n->key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->what, sizeof n->what, fmt, ap);
    va_end(ap);
}

/* The first key of `names` (NULL-terminated) present and not null in obj. */
static const geb_json *get_any(const geb_json *obj, const char *const *names, const char **found) {
    for (int i = 0; names[i]; i++) {
        const geb_json *v = geb_json_get(obj, names[i]);
        if (v && v->type != GEB_JSON_NULL) {
            *found = names[i];
            return v;
        }
    }
    return NULL;
}

/* Reads an integer in [1, max] under any of `names` into *out; an absent key
 * leaves *out unchanged unless required. */
static int get_int(geb_config *c, const geb_json *obj, const char *const *names, int *out,
                   int required, int64_t max, geb_err *err) {
    const char *key = names[0];
    const geb_json *v = get_any(obj, names, &key);
    if (!v) return required ? geb_err_set(err, "config.json: missing \"%s\"", names[0]) : 0;
    if (v->type != GEB_JSON_NUMBER || !v->is_int)
        return geb_err_set(err, "config.json: \"%s\" must be an integer", key);
    if (v->integer < 1 || v->integer > max)
        return geb_err_set(err, "config.json: \"%s\" = %lld is out of range (1..%lld)", key,
                           (long long)v->integer, (long long)max);
    *out = (int)v->integer;
    note(c, key, "%d", *out);
    return 0;
}

/* A boolean key: 1/0, or dflt if absent or null; -1 if of another type. */
static int get_bool(const geb_json *obj, const char *key, int dflt) {
    const geb_json *v = geb_json_get(obj, key);
    if (!v || v->type == GEB_JSON_NULL) return dflt;
    return v->type == GEB_JSON_BOOL ? v->boolean : -1;
}

/* Reads a boolean key into *out (default dflt), refusing other types. */
static int bool_key(geb_config *c, const geb_json *obj, const char *key, int dflt, int *out,
                    geb_err *err) {
    int b = get_bool(obj, key, dflt);
    if (b < 0) return geb_err_set(err, "config.json: \"%s\" must be true or false", key);
    *out = b;
    if (geb_json_get(obj, key)) note(c, key, "%s", b ? "true" : "false");
    return 0;
}

/* A positive number key into *out (unchanged if absent). */
static int num_key(const geb_json *obj, const char *key, double lo, double hi, double *out,
                   geb_err *err) {
    const geb_json *v = geb_json_get(obj, key);
    if (!v || v->type == GEB_JSON_NULL) return 0;
    if (v->type != GEB_JSON_NUMBER || !(v->number > lo && v->number < hi))
        return geb_err_set(err, "config.json: \"%s\" must be a number in (%g, %g)", key, lo, hi);
    *out = v->number;
    return 1;
}

/* Keys that do not change the result of inference in FP32 (dropout, caching,
 * kernels choice, training-time scaling that cancels out): read and ignored
 * on purpose, so that `geb info` can say so. */
static void note_neutral(geb_config *c, const geb_json *root) {
    static const char *const neutral[] = {
        "apply_query_key_layer_scaling", /* scales scores down and softmax back up: same result */
        "attention_softmax_in_fp32",     /* geb computes softmax in FP32 anyway */
        "fp32_residual_connection",      /* geb's residual stream is FP32 anyway */
        "hidden_dropout", "attention_dropout", "bias_dropout_fusion", "use_cache",
        "use_flash_attn", "torch_dtype", "prefix_projection", "initializer_range",
        "pretraining_tp", "max_length", NULL};
    for (int i = 0; neutral[i]; i++)
        if (geb_json_get(root, neutral[i])) note(c, neutral[i], "ignored: neutral at inference");
}

/* Lists the keys nothing above looked at, so that `geb info` shows every
 * key of the file (ids, names and bookkeeping such as transformers_version). */
static void note_unread(geb_config *c, const geb_json *root) {
    for (size_t i = 0; i < root->count; i++) {
        const char *k = root->keys[i];
        int seen = 0;
        for (int j = 0; j < c->n_notes && !seen; j++) seen = strcmp(c->notes[j].key, k) == 0;
        if (!seen && strcmp(k, "layernorm_epsilon") && strcmp(k, "rms_norm_eps"))
            note(c, k, "not used by geb (no effect on the computation)");
    }
}

/* The hyper-parameters both dialects share (either spelling accepted). */
static int parse_shapes(geb_config *c, const geb_json *root, geb_err *err) {
    static const char *const k_layers[] = {"num_layers", "num_hidden_layers", NULL};
    static const char *const k_dim[] = {"hidden_size", NULL};
    static const char *const k_ffn[] = {"ffn_hidden_size", "intermediate_size", NULL};
    static const char *const k_heads[] = {"num_attention_heads", NULL};
    static const char *const k_vocab[] = {"padded_vocab_size", "vocab_size", NULL};
    static const char *const k_seq[] = {"seq_length", "max_position_embeddings", NULL};
    static const char *const k_hd[] = {"kv_channels", "head_dim", NULL};
    /* Limits keep every derived size far from overflow; GEB-1.3B is far inside. */
    if (get_int(c, root, k_layers, &c->n_layers, 1, 1024, err) ||
        get_int(c, root, k_dim, &c->dim, 1, 1 << 16, err) ||
        get_int(c, root, k_ffn, &c->ffn_dim, 1, 1 << 18, err) ||
        get_int(c, root, k_heads, &c->n_heads, 1, 1024, err) ||
        get_int(c, root, k_vocab, &c->vocab, 1, 1 << 22, err))
        return -1;
    if (c->dim % c->n_heads == 0) c->head_dim = c->dim / c->n_heads;
    if (get_int(c, root, k_hd, &c->head_dim, c->head_dim == 0, 4096, err)) return -1;
    c->seq_len = 2048;
    if (get_int(c, root, k_seq, &c->seq_len, 0, 1 << 22, err)) return -1;
    c->norm_eps = 1e-5f;
    double eps = 0;
    int r = num_key(root, "layernorm_epsilon", 1e-30, 1, &eps, err);
    if (r == 0) r = num_key(root, "rms_norm_eps", 1e-30, 1, &eps, err);
    if (r < 0) return -1;
    if (r) c->norm_eps = (float)eps, note(c, "norm epsilon", "%g", eps);
    return 0;
}

/* kv heads: GEB's num_key_value_heads, ChatGLM's multi_query_group_num
 * (which only counts when multi_query_attention is true), Llama's
 * num_key_value_heads (default: as many as query heads). */
static int parse_kv_heads(geb_config *c, const geb_json *root, geb_err *err) {
    static const char *const k_kv[] = {"num_key_value_heads", "multi_query_group_num", NULL};
    c->n_kv_heads = c->n_heads;
    const char *key = k_kv[0];
    const geb_json *kv = get_any(root, k_kv, &key);
    int mqa = get_bool(root, "multi_query_attention", 1);
    if (mqa < 0) return geb_err_set(err, "config.json: \"multi_query_attention\" must be true or false");
    if (kv && (strcmp(key, "num_key_value_heads") == 0 || mqa))
        if (get_int(c, root, k_kv, &c->n_kv_heads, 1, 1024, err)) return -1;
    if (kv && strcmp(key, "num_key_value_heads") == 0 && geb_json_get(root, "multi_query_group_num"))
        note(c, "multi_query_group_num", "superseded by num_key_value_heads");
    if (c->n_heads % c->n_kv_heads != 0)
        return geb_err_set(err, "config.json: %d attention heads cannot be shared by %d kv heads",
                           c->n_heads, c->n_kv_heads);
    return 0;
}

/* GLM-dialect block options (docs/MODEL-SPEC.md, "Block options of ChatGLM2's
 * GLMBlock"): honoured, or refused where geb does not compute them. */
static int parse_glm(geb_config *c, const geb_json *root, geb_err *err) {
    double ratio = 1.0;
    if (num_key(root, "rope_ratio", 0, 1e6, &ratio, err) < 0) return -1;
    c->rope_base = 10000.0 * ratio;
    note(c, "rope_ratio", "RoPE base %g", c->rope_base);
    int b;
    if (bool_key(c, root, "add_qkv_bias", 0, &c->qkv_bias, err) ||
        bool_key(c, root, "apply_residual_connection_post_layernorm", 0, &c->residual_post_ln, err) ||
        bool_key(c, root, "post_layer_norm", 1, &c->final_norm, err))
        return -1;
    if (bool_key(c, root, "add_bias_linear", 0, &b, err)) return -1;
    if (b) return geb_err_set(err, "config.json: add_bias_linear = true (biases on every linear layer) is not supported");
    if (bool_key(c, root, "rmsnorm", 1, &b, err)) return -1;
    if (!b) return geb_err_set(err, "config.json: rmsnorm = false (LayerNorm) is not supported");
    if (bool_key(c, root, "original_rope", 1, &b, err)) return -1;
    if (!b) return geb_err_set(err, "config.json: original_rope = false is not supported");
    const geb_json *v = geb_json_get(root, "pre_seq_len");
    if (v && v->type != GEB_JSON_NULL)
        return geb_err_set(err, "config.json: pre_seq_len is set: a P-tuning v2 prefix checkpoint, which geb does not run");
    if (geb_json_get(root, "multi_query_attention")) note(c, "multi_query_attention", "honoured");
    if (c->head_dim % 4 != 0)
        return geb_err_set(err, "config.json: kv_channels = %d must be a multiple of 4 "
                                "(RoPE rotates pairs in the first half of each head)", c->head_dim);
    c->n_rot = c->head_dim / 2;
    return 0;
}

/* Llama-dialect keys (docs/MODEL-SPEC.md, "Llama family"). */
static int parse_llama(geb_config *c, const geb_json *root, geb_err *err) {
    c->rope_base = 10000.0;
    if (num_key(root, "rope_theta", 0, 1e12, &c->rope_base, err) < 0) return -1;
    note(c, "rope_theta", "%g", c->rope_base);
    double frac = 1.0;
    if (num_key(root, "partial_rotary_factor", 0, 1.0000001, &frac, err) < 0) return -1;
    c->n_rot = (int)(c->head_dim * frac) & ~1;
    if (c->n_rot < 2) return geb_err_set(err, "config.json: partial_rotary_factor leaves no dimension to rotate");
    const geb_json *rs = geb_json_get(root, "rope_scaling");
    c->rope_scale = 1.0;
    if (rs && rs->type != GEB_JSON_NULL) {
        const geb_json *t = geb_json_get(rs, "rope_type");
        if (!t) t = geb_json_get(rs, "type");
        const geb_json *f = geb_json_get(rs, "factor");
        if (!t || t->type != GEB_JSON_STRING || strcmp(t->str, "linear") != 0)
            return geb_err_set(err, "config.json: rope_scaling of type \"%s\" is not supported (only linear)",
                               t && t->type == GEB_JSON_STRING ? t->str : "?");
        if (!f || f->type != GEB_JSON_NUMBER || !(f->number >= 1 && f->number < 1e6))
            return geb_err_set(err, "config.json: rope_scaling.factor must be a number >= 1");
        c->rope_scale = f->number;
        note(c, "rope_scaling", "linear, factor %g", c->rope_scale);
    }
    const geb_json *act = geb_json_get(root, "hidden_act");
    if (act && (act->type != GEB_JSON_STRING || strcmp(act->str, "silu") != 0))
        return geb_err_set(err, "config.json: hidden_act \"%s\" is not supported (only silu)",
                           act->type == GEB_JSON_STRING ? act->str : "?");
    int b;
    if (bool_key(c, root, "attention_bias", 0, &b, err)) return -1;
    if (b) return geb_err_set(err, "config.json: attention_bias = true is not supported");
    if (bool_key(c, root, "mlp_bias", 0, &b, err)) return -1;
    if (b) return geb_err_set(err, "config.json: mlp_bias = true is not supported");
    c->final_norm = 1;
    return 0;
}

/* bos_token_id / eos_token_id (an int or a list) of one JSON object;
 * returns 1 if it set anything. */
static int read_ids(geb_config *c, const geb_json *obj, int want_eos) {
    const geb_json *v = geb_json_get(obj, want_eos ? "eos_token_id" : "bos_token_id");
    if (!v) return 0;
    if (!want_eos) {
        if (v->type != GEB_JSON_NUMBER || !v->is_int || v->integer < 0 || v->integer >= c->vocab)
            return 0;
        c->bos_id = (int)v->integer;
        note(c, "bos_token_id", "BOS id %d", c->bos_id);
        return 1;
    }
    const geb_json *items = v->type == GEB_JSON_ARRAY ? v->items : v;
    size_t n = v->type == GEB_JSON_ARRAY ? v->count : 1;
    int got = 0;
    for (size_t i = 0; i < n && got < GEB_MAX_EOS; i++)
        if (items[i].type == GEB_JSON_NUMBER && items[i].is_int && items[i].integer >= 0 &&
            items[i].integer < c->vocab)
            c->eos_ids[got++] = (int)items[i].integer;
    if (got) c->n_eos = got, note(c, "eos_token_id", "%d stop id(s), first %d", got, c->eos_ids[0]);
    return got > 0;
}

/* The authors' sampling settings of one file, transformers' defaults for
 * the keys it lacks; returns 1 if the file has any. */
static int read_sampling(geb_sampling_defaults *s, const geb_json *obj, const char *source) {
    geb_sampling_defaults d = {0, source, 0, 1.0f, 50, 1.0f, 1.0f, 0};
    const geb_json *v;
    if ((v = geb_json_get(obj, "do_sample")) && v->type == GEB_JSON_BOOL)
        d.do_sample = v->boolean, d.given |= 1;
    if ((v = geb_json_get(obj, "temperature")) && v->type == GEB_JSON_NUMBER && v->number >= 0 &&
        v->number < 100)
        d.temperature = (float)v->number, d.given |= 2;
    if ((v = geb_json_get(obj, "top_k")) && v->type == GEB_JSON_NUMBER && v->is_int &&
        v->integer >= 0 && v->integer < (1 << 30))
        d.top_k = (int)v->integer, d.given |= 4;
    if ((v = geb_json_get(obj, "top_p")) && v->type == GEB_JSON_NUMBER && v->number > 0 &&
        v->number <= 1)
        d.top_p = (float)v->number, d.given |= 8;
    if ((v = geb_json_get(obj, "repetition_penalty")) && v->type == GEB_JSON_NUMBER &&
        v->number > 0 && v->number < 100)
        d.repetition_penalty = (float)v->number, d.given |= 16;
    if (!d.given) return 0;
    d.present = 1;
    *s = d;
    return 1;
}

/* The family candidates from "architectures" (first entry) or "model_type";
 * an unknown one is refused, naming it. */
static int pick_family(geb_config *c, const geb_json *root, geb_err *err) {
    const geb_json *a = geb_json_get(root, "architectures");
    const char *arch = NULL, *mt = NULL;
    if (a && a->type == GEB_JSON_ARRAY && a->count > 0 && a->items[0].type == GEB_JSON_STRING)
        arch = a->items[0].str;
    const geb_json *m = geb_json_get(root, "model_type");
    if (m && m->type == GEB_JSON_STRING) mt = m->str;
    snprintf(c->arch_key, sizeof c->arch_key, "%s", arch ? arch : mt ? mt : "");
    c->n_arch = geb_arch_candidates(arch, arch ? NULL : mt, c->cands, 4);
    if (c->n_arch == 0)
        return geb_err_set(err, "config.json: model %s \"%s\" is not a family geb runs "
                                "(GEB/ChatGLM2/3, Llama, MobiLlama)",
                           arch ? "architecture" : "type", arch ? arch : mt);
    c->arch = c->cands[0];
    note(c, arch ? "architectures" : "model_type", "family %s%s", c->arch->name,
         c->n_arch > 1 ? " (layout from the tensor names)" : "");
    if (arch && mt) note(c, "model_type", "not needed: architectures decides");
    return 0;
}

int geb_config_parse(geb_config *c, const char *text, size_t len, const char *gen, size_t gen_len,
                     const char *tokcfg, size_t tokcfg_len, geb_err *err) {
    memset(c, 0, sizeof *c);
    c->bos_id = -1;
    c->rope_scale = 1.0;
    geb_json *root = geb_json_parse(text, len, err), *g = NULL, *t = NULL;
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
    if (pick_family(c, root, err) || parse_shapes(c, root, err) || parse_kv_heads(c, root, err))
        goto done;
    int llama = strcmp(c->arch->dialect, "llama") == 0;
    if (llama ? parse_llama(c, root, err) : parse_glm(c, root, err)) goto done;
    if (bool_key(c, root, "tie_word_embeddings", 0, &c->tied, err)) goto done;
    note_neutral(c, root);
    /* Optional side files: a broken one is ignored, as transformers would
     * fail only on the keys it reads; geb reads few. */
    if (gen && !(g = geb_json_parse(gen, gen_len, NULL))) g = NULL;
    if (tokcfg && !(t = geb_json_parse(tokcfg, tokcfg_len, NULL))) t = NULL;
    if (!(g && read_ids(c, g, 0))) read_ids(c, root, 0);
    if (!(g && read_ids(c, g, 1))) read_ids(c, root, 1);
    if (!(g && read_sampling(&c->sampling, g, "generation_config.json")))
        read_sampling(&c->sampling, root, "config.json");
    if (c->sampling.present && strcmp(c->sampling.source, "config.json") == 0) {
        static const char *const keys[] = {"do_sample", "temperature", "top_k", "top_p", "repetition_penalty"};
        for (int i = 0; i < 5; i++)
            if (c->sampling.given & (1u << i)) note(c, keys[i], "sampling default (a flag overrides it)");
    }
    note_unread(c, root);
    c->add_bos = c->arch->add_bos;
    if (t && c->add_bos && get_bool(t, "add_bos_token", 1) == 0) c->add_bos = 0;
    rc = 0;
done:
    geb_json_free(root);
    geb_json_free(g);
    geb_json_free(t);
    return rc;
}

/* Reads dir/name into *buf if the file exists (NULL if it does not). */
static int read_optional(const char *dir, const char *name, uint8_t **buf, size_t *len,
                         geb_err *err) {
    char path[4200];
    *buf = NULL, *len = 0;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return geb_err_set(err, "model path too long");
    if (!geb_file_exists(path)) return 0;
    return geb_read_file(path, buf, len, 1 << 20, err);
}

int geb_config_load(geb_config *c, const char *dir, geb_err *err) {
    uint8_t *cfg = NULL, *gen = NULL, *tok = NULL;
    size_t n1, n2, n3;
    int rc = -1;
    if (read_optional(dir, "config.json", &cfg, &n1, err)) goto done;
    if (!cfg) {
        geb_err_set(err, "%s has no config.json", dir);
        goto done;
    }
    if (read_optional(dir, "generation_config.json", &gen, &n2, err) ||
        read_optional(dir, "tokenizer_config.json", &tok, &n3, err))
        goto done;
    rc = geb_config_parse(c, (const char *)cfg, n1, (const char *)gen, n2, (const char *)tok, n3, err);
done:
    free(cfg);
    free(gen);
    free(tok);
    return rc;
}

void geb_config_set_arch(geb_config *c, const geb_arch *a) { c->arch = a; }
