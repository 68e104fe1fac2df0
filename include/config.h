/* config.h - a checkpoint's hyper-parameters, read from config.json (plus
 * generation_config.json and tokenizer_config.json for BOS/EOS and the
 * authors' sampling settings), in the terms of docs/MODEL-SPEC.md.
 *
 *   geb_config c;
 *   if (geb_config_load(&c, "path/to/model", &err)) fail(err.msg);
 *
 * Two dialects of key names are read: the GLM one (GEB-1.3B, ChatGLM2/3:
 * num_layers, ffn_hidden_size, kv_channels, multi_query_group_num, ...) and
 * the Hugging Face Llama one (num_hidden_layers, intermediate_size, head_dim,
 * rope_theta, ...).  Every key that changes the math is either honoured or
 * refused with one line; keys that are numerically neutral at inference are
 * read and ignored on purpose.  c.notes records what each key did (geb info).
 */
#ifndef GEB_CONFIG_H
#define GEB_CONFIG_H

#include "arch.h"
#include "common.h"

#define GEB_MAX_EOS 8
#define GEB_MAX_NOTES 48

/* The model authors' sampling settings, with transformers' meaning. */
typedef struct geb_sampling_defaults {
    int present;          /* the model gives at least one sampling key */
    const char *source;   /* "generation_config.json" or "config.json" */
    int do_sample;        /* 0: greedy */
    float temperature;    /* transformers defaults for absent keys: 1.0 */
    int top_k;            /* 50 */
    float top_p;          /* 1.0 */
    float repetition_penalty; /* 1.0, over the whole context */
    uint32_t given;       /* bit per setting: 1 do_sample, 2 temperature, 4 top_k, 8 top_p, 16 penalty */
} geb_sampling_defaults;

typedef struct geb_config_note {
    char key[48];
    char what[88];
} geb_config_note;

typedef struct geb_config {
    const geb_arch *arch; /* family; refined by the tensor probe in weights.c */
    int n_arch;           /* candidate entries the config allows (arch[0..n)) */
    const geb_arch *cands[4];
    int n_layers;     /* L */
    int dim;          /* H */
    int ffn_dim;      /* F */
    int head_dim;     /* D */
    int n_heads;      /* NH */
    int n_kv_heads;   /* NKV (query head j reads kv head j / (NH/NKV)) */
    int vocab;        /* V: rows of the embedding and output matrices */
    int seq_len;      /* trained context length */
    float norm_eps;
    double rope_base;  /* theta */
    double rope_scale; /* linear rope scaling: positions divided by this (1: none) */
    int n_rot;         /* rotated dims per head (even) */
    int qkv_bias;      /* biases on Q, K, V */
    int tied;          /* output matrix is the embedding */
    int residual_post_ln; /* apply_residual_connection_post_layernorm */
    int final_norm;    /* post_layer_norm: a final norm before the output */
    int bos_id;        /* -1: the tokenizer's */
    int eos_ids[GEB_MAX_EOS];
    int n_eos;         /* 0: the tokenizer's EOS */
    int add_bos;       /* the prompt starts with BOS */
    geb_sampling_defaults sampling;
    char arch_key[64]; /* config's architectures[0] or model_type, for messages */
    geb_config_note notes[GEB_MAX_NOTES];
    int n_notes;
} geb_config;

/* Parses config.json text (gen: generation_config.json text or NULL; tokcfg:
 * tokenizer_config.json text or NULL).  Validates every value. */
int geb_config_parse(geb_config *c, const char *json, size_t len, const char *gen, size_t gen_len,
                     const char *tokcfg, size_t tokcfg_len, geb_err *err);

/* Reads DIR/config.json and, if present, DIR/generation_config.json and
 * DIR/tokenizer_config.json. */
int geb_config_load(geb_config *c, const char *dir, geb_err *err);

/* Picks the family entry (c->arch) among the candidates; used once the
 * checkpoint's tensor names are known. */
void geb_config_set_arch(geb_config *c, const geb_arch *a);

#endif
