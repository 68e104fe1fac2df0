/* config.h - the hyper-parameters of a GEB/ChatGLM2-family checkpoint, read
 * from its config.json.
 *
 * Both spellings of the family are accepted: GEB's `num_key_value_heads` and
 * ChatGLM2/3's `multi_query_group_num` (+ `multi_query_attention`), and the
 * Hugging Face generic names where they exist (`num_hidden_layers`,
 * `intermediate_size`, `vocab_size`, `max_position_embeddings`, ...).
 */
#ifndef GEB_CONFIG_H
#define GEB_CONFIG_H

#include "common.h"

typedef struct geb_config {
    int n_layers;     /* num_layers: transformer blocks */
    int dim;          /* hidden_size: model width H */
    int ffn_dim;      /* ffn_hidden_size: SwiGLU inner width F */
    int head_dim;     /* kv_channels: D (RoPE rotates the first D/2) */
    int n_heads;      /* num_attention_heads: NH query heads */
    int n_kv_heads;   /* num_key_value_heads / multi_query_group_num: NKV */
    int vocab;        /* padded_vocab_size: rows of embedding and output */
    int seq_len;      /* seq_length: trained context length */
    float norm_eps;   /* layernorm_epsilon */
    float rope_base;  /* 10000 * rope_ratio */
    int qkv_bias;     /* add_qkv_bias: bias on the fused QKV projection */
    int tied;         /* tie_word_embeddings: output matrix == embedding */
    int eos_id;       /* eos_token_id (first one if a list), -1 if absent */
    char dtype[16];   /* torch_dtype as written, "" if absent */
} geb_config;

/* Parses config.json text.  Validates every value (positive, NH divisible by
 * NKV, D divisible by 4, sizes that fit in memory arithmetic). */
int geb_config_parse(geb_config *c, const char *json, size_t len, geb_err *err);

/* Reads DIR/config.json. */
int geb_config_load(geb_config *c, const char *dir, geb_err *err);

/* Parameter count implied by the shapes (embedding + layers + norm + output). */
int64_t geb_config_params(const geb_config *c);

#endif
