/* arch.c - the table of model families (see arch.h).  This file is the only
 * place in geb that spells a tensor name. */
#include "arch.h"

#include <stdio.h>
#include <string.h>

#define GLM_LAYER "transformer.encoder.layers.%d."
#define LLAMA_LAYER "model.layers.%d."
#define BIT GEB_ROLE_BIT

/* Ids after the SentencePiece pieces, in the order of the special-token list
 * of tokenization_geb.py; the last four names are lost in the stored copies
 * of that file, so they are named by position (tokenizer.c may rename them
 * from the folder's own glue). */
static const char *const geb_specials[] = {
    "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<eod>",
    "<|special_6|>", "<|special_7|>", "<|special_8|>", "<|special_9|>", NULL};

/* ChatGLM3's tokenization_chatglm.py; ChatGLM2's list is its first five. */
static const char *const chatglm_specials[] = {
    "[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
    "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>", NULL};

/* The GLM block as GEB-1.3B stores it: separate query, fused key|value and
 * gate|up (docs/MODEL-SPEC.md, "Tensors"). */
static const geb_arch arch_geb = {
    .name = "geb",
    .dialect = "glm",
    .hf_arch = {"GEBForCausalLM", "ChatGLMModel", "ChatGLMForConditionalGeneration"},
    .model_type = {"geblm", "chatglm"},
    .tensor = {
        [GEB_R_EMBED] = "transformer.embedding.word_embeddings.weight",
        [GEB_R_ATTN_NORM] = GLM_LAYER "input_layernorm.weight",
        [GEB_R_Q] = GLM_LAYER "self_attention.query.weight",
        [GEB_R_Q_B] = GLM_LAYER "self_attention.query.bias",
        [GEB_R_O] = GLM_LAYER "self_attention.dense.weight",
        [GEB_R_FFN_NORM] = GLM_LAYER "post_attention_layernorm.weight",
        [GEB_R_DOWN] = GLM_LAYER "mlp.dense_4h_to_h.weight",
        [GEB_R_FINAL_NORM] = "transformer.encoder.final_layernorm.weight",
        [GEB_R_OUTPUT] = "transformer.output_layer.weight",
    },
    .fused = {
        {GLM_LAYER "self_attention.key_value.weight", {GEB_R_K, GEB_R_V}, 2},
        {GLM_LAYER "self_attention.key_value.bias", {GEB_R_K_B, GEB_R_V_B}, 2},
        {GLM_LAYER "mlp.dense_h_to_4h.weight", {GEB_R_GATE, GEB_R_UP}, 2},
    },
    .probe = GEB_R_Q,
    .rope = GEB_ROPE_ADJACENT,
    .rope_frac = 0.5f,
    .act = GEB_ACT_SILU,
    .add_bos = 0,
    .specials = geb_specials,
    .chat_template = "chatglm3",
};

/* ChatGLM2/3: Q, K and V fused in one tensor with a bias. */
static const geb_arch arch_chatglm = {
    .name = "chatglm",
    .dialect = "glm",
    .hf_arch = {"ChatGLMModel", "ChatGLMForConditionalGeneration", "GEBForCausalLM"},
    .model_type = {"chatglm", "geblm"},
    .tensor = {
        [GEB_R_EMBED] = "transformer.embedding.word_embeddings.weight",
        [GEB_R_ATTN_NORM] = GLM_LAYER "input_layernorm.weight",
        [GEB_R_O] = GLM_LAYER "self_attention.dense.weight",
        [GEB_R_FFN_NORM] = GLM_LAYER "post_attention_layernorm.weight",
        [GEB_R_DOWN] = GLM_LAYER "mlp.dense_4h_to_h.weight",
        [GEB_R_FINAL_NORM] = "transformer.encoder.final_layernorm.weight",
        [GEB_R_OUTPUT] = "transformer.output_layer.weight",
    },
    .fused = {
        {GLM_LAYER "self_attention.query_key_value.weight", {GEB_R_Q, GEB_R_K, GEB_R_V}, 3},
        {GLM_LAYER "self_attention.query_key_value.bias", {GEB_R_Q_B, GEB_R_K_B, GEB_R_V_B}, 3},
        {GLM_LAYER "mlp.dense_h_to_4h.weight", {GEB_R_GATE, GEB_R_UP}, 2},
    },
    .probe = GEB_R_Q,
    .rope = GEB_ROPE_ADJACENT,
    .rope_frac = 0.5f,
    .act = GEB_ACT_SILU,
    .add_bos = 0,
    .specials = chatglm_specials,
    .chat_template = "chatglm3",
};

#define LLAMA_TENSORS                                                   \
    [GEB_R_EMBED] = "model.embed_tokens.weight",                        \
    [GEB_R_ATTN_NORM] = LLAMA_LAYER "input_layernorm.weight",           \
    [GEB_R_Q] = LLAMA_LAYER "self_attn.q_proj.weight",                  \
    [GEB_R_K] = LLAMA_LAYER "self_attn.k_proj.weight",                  \
    [GEB_R_V] = LLAMA_LAYER "self_attn.v_proj.weight",                  \
    [GEB_R_O] = LLAMA_LAYER "self_attn.o_proj.weight",                  \
    [GEB_R_FFN_NORM] = LLAMA_LAYER "post_attention_layernorm.weight",   \
    [GEB_R_GATE] = LLAMA_LAYER "mlp.gate_proj.weight",                  \
    [GEB_R_UP] = LLAMA_LAYER "mlp.up_proj.weight",                      \
    [GEB_R_DOWN] = LLAMA_LAYER "mlp.down_proj.weight",                  \
    [GEB_R_FINAL_NORM] = "model.norm.weight",                           \
    [GEB_R_OUTPUT] = "lm_head.weight"

/* Hugging Face LlamaForCausalLM (TinyLlama and the like). */
static const geb_arch arch_llama = {
    .name = "llama",
    .dialect = "llama",
    .hf_arch = {"LlamaForCausalLM"},
    .model_type = {"llama"},
    .tensor = {LLAMA_TENSORS},
    .probe = GEB_R_Q,
    .rope = GEB_ROPE_HALF,
    .rope_frac = 1.0f,
    .act = GEB_ACT_SILU,
    .add_bos = 1,
    .chat_template = "zephyr",
};

/* MobiLlama: Llama names, one FFN object given to every layer (a checkpoint
 * may store it once or per layer), and full multi-head attention whatever
 * num_key_value_heads says (its code builds k_proj/v_proj with NH*D rows). */
static const geb_arch arch_mobillama = {
    .name = "mobillama",
    .dialect = "llama",
    .hf_arch = {"MobiLlamaForCausalLM"},
    .model_type = {"mobillama"},
    .tensor = {LLAMA_TENSORS},
    .probe = GEB_R_Q,
    .shared = BIT(GEB_R_GATE) | BIT(GEB_R_UP) | BIT(GEB_R_DOWN),
    .rope = GEB_ROPE_HALF,
    .rope_frac = 1.0f,
    .act = GEB_ACT_SILU,
    .add_bos = 1,
    .kv_heads_from_tensor = 1,
    .chat_template = "zephyr",
};

/* Order matters where several entries answer to the same config: the
 * tensor probe then picks the first whose layout the checkpoint has. */
static const geb_arch *const arches[] = {&arch_geb, &arch_chatglm, &arch_llama, &arch_mobillama};
#define N_ARCHES (sizeof arches / sizeof arches[0])

const geb_arch *geb_arch_by_name(const char *name) {
    for (size_t i = 0; i < N_ARCHES; i++)
        if (name && strcmp(arches[i]->name, name) == 0) return arches[i];
    return NULL;
}

static int in_list(const char *const *list, int n, const char *s) {
    for (int i = 0; i < n && list[i]; i++)
        if (strcmp(list[i], s) == 0) return 1;
    return 0;
}

int geb_arch_candidates(const char *arch, const char *model_type, const geb_arch **out, int cap) {
    int n = 0;
    for (size_t i = 0; i < N_ARCHES && n < cap; i++) {
        const geb_arch *a = arches[i];
        int ok = arch ? in_list(a->hf_arch, 4, arch)
                      : model_type ? in_list(a->model_type, 3, model_type) : 1;
        if (ok) out[n++] = a;
    }
    return n;
}

void geb_arch_format(const char *pattern, int layer, char *buf, size_t cap) {
    /* Patterns are compile-time constants of this file with at most one %d. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(buf, cap, pattern, layer);
#pragma GCC diagnostic pop
}

int geb_arch_tensor_name(const geb_arch *a, geb_role r, int layer, char *buf, size_t cap) {
    if (!a->tensor[r]) return -1;
    geb_arch_format(a->tensor[r], layer, buf, cap);
    return 0;
}

/* Suffix match: these buffers are recomputed from the config by geb. */
int geb_arch_known_buffer(const geb_arch *a, const char *name) {
    (void)a;
    static const char *const suffixes[] = {
        "rotary_pos_emb.inv_freq", /* ChatGLM2/GEB RotaryEmbedding */
        "rotary_emb.inv_freq",     /* older transformers Llama checkpoints */
        "position_ids",            /* positions buffer some modules register (int64 0..n-1) */
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t s = strlen(suffixes[i]);
        if (n >= s && strcmp(name + n - s, suffixes[i]) == 0) return 1;
    }
    return 0;
}

const char *geb_role_name(geb_role r) {
    static const char *const names[GEB_R_ROLES] = {
        "attn_norm", "q", "k", "v", "q_bias", "k_bias", "v_bias", "attn_sub_norm", "o",
        "ffn_norm", "gate", "up", "ffn_sub_norm", "down", "embed", "final_norm", "output"};
    return r < GEB_R_ROLES ? names[r] : "?";
}
