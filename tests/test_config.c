/* test_config.c - config.json (+ generation_config.json, tokenizer_config.json)
 * parsing: GEB-1.3B's published config, the Llama dialect and its defaults,
 * the model's sampling settings, and every refusal MODEL-SPEC.md calls for.
 * Expected values are the spec's (the published configs' numbers and the
 * transformers defaults it names). */
#include <stdlib.h>

#include "config.h"
#include "test.h"

/* GEB-1.3B's config.json as published (MODEL-SPEC.md), key order kept. */
static const char *GEB =
    "{\"architectures\": [\"GEBForCausalLM\"], \"model_type\": \"geblm\", \"num_layers\": 24, "
    "\"padded_vocab_size\": 64896, \"hidden_size\": 2048, \"ffn_hidden_size\": 5632, "
    "\"kv_channels\": 128, \"num_attention_heads\": 16, \"torch_dtype\": \"bfloat16\", "
    "\"seq_length\": 4096, \"hidden_dropout\": 0.0, \"attention_dropout\": 0.0, "
    "\"layernorm_epsilon\": 1e-05, \"max_position_embeddings\": 4096, \"bias_dropout_fusion\": true, "
    "\"use_cache\": true, \"apply_residual_connection_post_layernorm\": false, "
    "\"post_layer_norm\": true, \"add_bias_linear\": false, \"use_flash_attn\": false, "
    "\"num_key_value_heads\": 4, \"apply_query_key_layer_scaling\": false, "
    "\"attention_softmax_in_fp32\": false, \"fp32_residual_connection\": false, "
    "\"pre_seq_len\": null, \"prefix_projection\": false, \"tie_word_embeddings\": false, "
    "\"max_length\": 512, \"do_sample\": true, \"temperature\": 0.3, \"top_k\": 5, \"top_p\": 0.5, "
    "\"repetition_penalty\": 1.15}";

static int parse3(geb_config *c, const char *cfg, const char *gen, const char *tok, geb_err *err) {
    return geb_config_parse(c, cfg, strlen(cfg), gen, gen ? strlen(gen) : 0, tok, tok ? strlen(tok) : 0, err);
}

static void check_geb(void) {
    geb_config c;
    geb_err err = {{0}};
    CHECK_MSG(parse3(&c, GEB, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(strcmp(c.arch->dialect, "glm") == 0 && c.n_arch == 2);
    CHECK(c.n_layers == 24 && c.dim == 2048 && c.ffn_dim == 5632 && c.head_dim == 128);
    CHECK(c.n_heads == 16 && c.n_kv_heads == 4 && c.vocab == 64896 && c.seq_len == 4096);
    CHECK(c.n_rot == 64 && c.rope_base == 10000.0 && c.rope_scale == 1.0);
    CHECK(!c.qkv_bias && !c.tied && !c.residual_post_ln && c.final_norm && !c.add_bos);
    CHECK(c.n_eos == 0 && c.bos_id == -1);
    CHECK_NEAR(c.norm_eps, 1e-5, 1e-12);
    /* The authors' sampling settings, with transformers' meaning. */
    CHECK(c.sampling.present && strcmp(c.sampling.source, "config.json") == 0);
    CHECK(c.sampling.do_sample == 1 && c.sampling.top_k == 5);
    CHECK_NEAR(c.sampling.temperature, 0.3, 1e-7);
    CHECK_NEAR(c.sampling.top_p, 0.5, 1e-7);
    CHECK_NEAR(c.sampling.repetition_penalty, 1.15, 1e-6);
    /* generation_config.json wins over config.json; absent keys take
     * transformers' defaults (top_k 50, top_p 1, penalty 1). */
    CHECK(parse3(&c, GEB, "{\"do_sample\": false, \"temperature\": 0.9}", NULL, &err) == 0);
    CHECK(strcmp(c.sampling.source, "generation_config.json") == 0 && c.sampling.do_sample == 0);
    CHECK(c.sampling.top_k == 50 && c.sampling.top_p == 1.0f && c.sampling.repetition_penalty == 1.0f);
    /* A generation_config.json without sampling keys leaves config.json's. */
    CHECK(parse3(&c, GEB, "{\"eos_token_id\": [2, 7]}", NULL, &err) == 0);
    CHECK(strcmp(c.sampling.source, "config.json") == 0 && c.n_eos == 2 && c.eos_ids[1] == 7);
    /* Every key is in the notes. */
    int found = 0;
    for (int i = 0; i < c.n_notes; i++) found += strcmp(c.notes[i].key, "use_flash_attn") == 0;
    CHECK(found == 1);
}

static void check_glm_flags(void) {
    geb_config c;
    geb_err err = {{0}};
    const char *base = "{\"num_layers\": 2, \"hidden_size\": 64, \"ffn_hidden_size\": 96, "
                       "\"num_attention_heads\": 4, \"padded_vocab_size\": 100%s}";
    char buf[512];
    snprintf(buf, sizeof buf, base, ", \"apply_residual_connection_post_layernorm\": true, \"post_layer_norm\": false, \"rope_ratio\": 2.5, \"multi_query_attention\": true, \"multi_query_group_num\": 2, \"add_qkv_bias\": true");
    CHECK_MSG(parse3(&c, buf, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(c.residual_post_ln && !c.final_norm && c.qkv_bias && c.n_kv_heads == 2 && c.head_dim == 16);
    CHECK(c.rope_base == 25000.0 && c.n_arch == 4); /* no architectures: every family, by tensor names */
    /* multi_query_group_num counts only with multi_query_attention. */
    snprintf(buf, sizeof buf, base, ", \"multi_query_attention\": false, \"multi_query_group_num\": 2");
    CHECK(parse3(&c, buf, NULL, NULL, &err) == 0 && c.n_kv_heads == 4);
    static const struct { const char *extra, *want; } refuse[] = {
        {", \"rmsnorm\": false", "LayerNorm"},
        {", \"add_bias_linear\": true", "add_bias_linear"},
        {", \"pre_seq_len\": 128", "P-tuning"},
        {", \"original_rope\": false", "original_rope"},
        {", \"post_layer_norm\": 1", "true or false"},
        {", \"num_key_value_heads\": 3", "cannot be shared"},
        {", \"kv_channels\": 6", "multiple of 4"},
        {", \"architectures\": [\"BertModel\"]", "BertModel"},
        {", \"model_type\": \"gpt2\"", "gpt2"},
        {", \"rope_ratio\": -1", "rope_ratio"},
    };
    for (size_t i = 0; i < sizeof refuse / sizeof refuse[0]; i++) {
        snprintf(buf, sizeof buf, base, refuse[i].extra);
        err.msg[0] = 0;
        CHECK_MSG(parse3(&c, buf, NULL, NULL, &err) == -1 && strstr(err.msg, refuse[i].want),
                  "%s: '%s'", refuse[i].extra, err.msg);
    }
}

static void check_llama(void) {
    geb_config c;
    geb_err err = {{0}};
    const char *base = "{\"architectures\": [\"%s\"], \"model_type\": \"llama\", \"hidden_size\": 2048, "
                       "\"intermediate_size\": 5632, \"num_hidden_layers\": 22, \"num_attention_heads\": 32, "
                       "\"vocab_size\": 32000, \"max_position_embeddings\": 2048%s}";
    char buf[1024];
    snprintf(buf, sizeof buf, base, "LlamaForCausalLM", ", \"bos_token_id\": 1, \"eos_token_id\": 2");
    CHECK_MSG(parse3(&c, buf, NULL, NULL, &err) == 0, "%s", err.msg);
    CHECK(strcmp(c.arch->name, "llama") == 0 && c.n_arch == 1);
    /* Defaults: NKV = NH, D = H / NH, theta 10000, all dims rotated, untied. */
    CHECK(c.n_kv_heads == 32 && c.head_dim == 64 && c.n_rot == 64 && c.rope_base == 10000.0);
    CHECK(!c.tied && c.final_norm && c.add_bos && c.bos_id == 1 && c.n_eos == 1 && c.eos_ids[0] == 2);
    snprintf(buf, sizeof buf, base, "LlamaForCausalLM",
             ", \"num_key_value_heads\": 4, \"head_dim\": 80, \"rope_theta\": 500000.0, "
             "\"partial_rotary_factor\": 0.5, \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 4.0}, "
             "\"tie_word_embeddings\": true, \"rms_norm_eps\": 1e-6");
    CHECK_MSG(parse3(&c, buf, "{\"eos_token_id\": [2, 31999], \"bos_token_id\": 5}",
                     "{\"add_bos_token\": false}", &err) == 0, "%s", err.msg);
    CHECK(c.n_kv_heads == 4 && c.head_dim == 80 && c.n_rot == 40 && c.rope_base == 500000.0);
    CHECK(c.rope_scale == 4.0 && c.tied && !c.add_bos && c.bos_id == 5);
    CHECK(c.n_eos == 2 && c.eos_ids[0] == 2 && c.eos_ids[1] == 31999);
    CHECK_NEAR(c.norm_eps, 1e-6, 1e-13);
    snprintf(buf, sizeof buf, base, "MobiLlamaForCausalLM", "");
    CHECK(parse3(&c, buf, NULL, NULL, &err) == 0 && strcmp(c.arch->name, "mobillama") == 0 &&
          c.arch->kv_heads_from_tensor);
    static const struct { const char *arch, *extra, *want; } refuse[] = {
        {"LlamaForCausalLM", ", \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}", "dynamic"},
        {"LlamaForCausalLM", ", \"rope_scaling\": {\"type\": \"linear\"}", "factor"},
        {"LlamaForCausalLM", ", \"hidden_act\": \"gelu\"", "gelu"},
        {"LlamaForCausalLM", ", \"attention_bias\": true", "attention_bias"},
        {"LlamaForCausalLM", ", \"mlp_bias\": true", "mlp_bias"},
        {"BitnetForCausalLM", "", "BitnetForCausalLM"},
    };
    for (size_t i = 0; i < sizeof refuse / sizeof refuse[0]; i++) {
        snprintf(buf, sizeof buf, base, refuse[i].arch, refuse[i].extra);
        err.msg[0] = 0;
        CHECK_MSG(parse3(&c, buf, NULL, NULL, &err) == -1 && strstr(err.msg, refuse[i].want),
                  "%s: '%s'", refuse[i].extra, err.msg);
    }
}

static void check_malformed(void) {
    geb_config c;
    geb_err err = {{0}};
    const char *bad[] = {"", "[]", "{", "{\"num_layers\": 2}", "{\"num_layers\": 0, \"hidden_size\": 8}",
                         "{\"num_layers\": 1.5, \"hidden_size\": 8, \"ffn_hidden_size\": 8, "
                         "\"num_attention_heads\": 2, \"padded_vocab_size\": 4}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECK_MSG(parse3(&c, bad[i], NULL, NULL, &err) == -1 && err.msg[0], "'%s' accepted", bad[i]);
    }
    /* A broken side file is ignored, not fatal. */
    CHECK(parse3(&c, GEB, "{broken", "[1", &err) == 0 && c.sampling.present);
}

int main(void) {
    check_geb();
    check_glm_flags();
    check_llama();
    check_malformed();
    return TEST_DONE("config");
}
