/* arch.h - the model families geb runs, as data.
 *
 *   const geb_arch *a = geb_arch_by_name("llama");
 *   char name[160];
 *   geb_arch_tensor_name(a, GEB_R_Q, 3, name, sizeof name);
 *   // "model.layers.3.self_attn.q_proj.weight"
 *
 * One const entry per family gives the tensor name of each role, the roles
 * that may be missing or shared by all layers, how a fused tensor splits into
 * row views (so the forward pass always sees separate Q, K, V, gate and up),
 * the RoPE style, the activation, the BOS policy and the special tokens that
 * the family's Python glue appends after the SentencePiece pieces.  The forward
 * pass (model.c) knows roles only; every tensor name lives in arch.c.
 */
#ifndef GEB_ARCH_H
#define GEB_ARCH_H

#include <stdint.h>

#include "common.h"

/* Roles of a layer's tensors, then the model-wide ones. */
typedef enum geb_role {
    GEB_R_ATTN_NORM,     /* (H) */
    GEB_R_Q,             /* (NH*D, H) */
    GEB_R_K,             /* (NKV*D, H) */
    GEB_R_V,             /* (NKV*D, H) */
    GEB_R_Q_B,           /* (NH*D) bias */
    GEB_R_K_B,           /* (NKV*D) */
    GEB_R_V_B,           /* (NKV*D) */
    GEB_R_ATTN_SUB_NORM, /* (NH*D) norm before the output projection (BitNet) */
    GEB_R_O,             /* (H, NH*D) */
    GEB_R_FFN_NORM,      /* (H) */
    GEB_R_GATE,          /* (F, H) */
    GEB_R_UP,            /* (F, H) */
    GEB_R_FFN_SUB_NORM,  /* (F) norm before the down projection (BitNet) */
    GEB_R_DOWN,          /* (H, F) */
    GEB_R_LAYER_ROLES,
    GEB_R_EMBED = GEB_R_LAYER_ROLES, /* (V, H) */
    GEB_R_FINAL_NORM,    /* (H) */
    GEB_R_OUTPUT,        /* (V, H) */
    GEB_R_ROLES
} geb_role;

#define GEB_ROLE_BIT(r) (1u << (r))

typedef enum geb_rope_style {
    GEB_ROPE_ADJACENT, /* ChatGLM2: pairs (2i, 2i+1) of the rotated dims */
    GEB_ROPE_HALF,     /* Llama "rotate half": i pairs with i + n_rot/2 */
} geb_rope_style;

typedef enum geb_act {
    GEB_ACT_SILU,  /* silu(gate) * up */
    GEB_ACT_RELU2, /* relu(gate)^2 * up */
} geb_act;

/* A tensor whose rows are several roles in order (e.g. K rows then V rows). */
typedef struct geb_fused {
    const char *name;      /* printf pattern, %d = layer; NULL ends the list */
    geb_role parts[3];
    int n_parts;
} geb_fused;

#define GEB_ARCH_MAX_FUSED 3

typedef struct geb_arch {
    const char *name;            /* "geb", "chatglm", "llama", "mobillama" */
    const char *dialect;         /* config.json key names: "glm" or "llama" */
    const char *hf_arch[4];      /* config.json "architectures" values it answers to */
    const char *model_type[3];   /* config.json "model_type" values */
    const char *tensor[GEB_R_ROLES];  /* printf pattern (%d = layer); NULL: absent or fused */
    geb_fused fused[GEB_ARCH_MAX_FUSED];
    geb_role probe;              /* role whose layer-0 tensor identifies the layout */
    uint32_t optional;           /* roles that may be missing (bit per role) */
    uint32_t shared;             /* roles that may be stored once for all layers */
    geb_rope_style rope;
    float rope_frac;             /* default rotated fraction of the head */
    geb_act act;
    int add_bos;                 /* a prompt starts with BOS (unless the tokenizer config says not) */
    int kv_heads_from_tensor;    /* the kv head count is K's rows / D whatever config says */
    const char *const *specials; /* default names of the ids after the pieces, NULL-terminated */
    const char *chat_template;   /* default chat template name */
} geb_arch;

/* The entry named name, or NULL. */
const geb_arch *geb_arch_by_name(const char *name);

/* The entries whose hf_arch (if arch is not NULL) or else model_type (if not
 * NULL) matches; with both NULL, every entry.  Writes up to cap pointers,
 * returns how many matched. */
int geb_arch_candidates(const char *arch, const char *model_type, const geb_arch **out, int cap);

/* The tensor name of role r in layer l (ignored for model-wide roles) into
 * buf; 0, or -1 if the role has no tensor of its own (absent or fused). */
int geb_arch_tensor_name(const geb_arch *a, geb_role r, int layer, char *buf, size_t cap);

/* Formats a fused pattern for layer l. */
void geb_arch_format(const char *pattern, int layer, char *buf, size_t cap);

/* 1 if name is a buffer that checkpoints of this family carry but the
 * forward pass computes itself (e.g. rotary inv_freq), so it is not an unused
 * tensor. */
int geb_arch_known_buffer(const geb_arch *a, const char *name);

/* Short human name of a role, for messages ("q", "attn_norm"...). */
const char *geb_role_name(geb_role r);

#endif
