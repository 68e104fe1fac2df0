/* cmd_info.c - `geb info`: what the folder holds and what geb makes of it,
 * computed from the files without loading the weights. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kvcache.h"

/* "5.39 GB", "612.4 MB", "12.0 KB": decimal units, as disk sizes are sold. */
static const char *human(size_t bytes, char *buf, size_t cap) {
    if (bytes >= 1000000000) snprintf(buf, cap, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1000000) snprintf(buf, cap, "%.1f MB", bytes / 1e6);
    else snprintf(buf, cap, "%.1f KB", bytes / 1e3);
    return buf;
}

static void print_family(const geb_config *c) {
    const geb_arch *a = c->arch;
    geb_out_printf("family:      %s (config.json: %s)\n", a->name, c->arch_key[0] ? c->arch_key : "none, from tensor names");
    geb_out_printf("layers:      %d\n", c->n_layers);
    geb_out_printf("hidden:      %d\n", c->dim);
    geb_out_printf("ffn:         %d (%s-gated)%s\n", c->ffn_dim, a->act == GEB_ACT_SILU ? "SiLU" : "ReLU^2",
                   a->shared ? ", one FFN may be shared by all layers" : "");
    geb_out_printf("heads:       %d query x %d dims, %d kv heads (GQA %d:1%s)\n", c->n_heads,
                   c->head_dim, c->n_kv_heads, c->n_heads / c->n_kv_heads,
                   a->kv_heads_from_tensor ? "; kv heads from k_proj's rows, as this family's code does" : "");
    geb_out_printf("vocab:       %d\n", c->vocab);
    geb_out_printf("context:     %d trained\n", c->seq_len);
    geb_out_printf("rope:        base %g on %d of %d dims (%s)%s\n", c->rope_base, c->n_rot, c->head_dim,
                   a->rope == GEB_ROPE_ADJACENT ? "ChatGLM2 adjacent pairs" : "Llama rotate-half",
                   c->rope_scale != 1.0 ? ", linear scaling" : "");
    geb_out_printf("block:       %s residual, %s final norm, %s QKV bias, output %s\n",
                   c->residual_post_ln ? "post-norm" : "pre-norm", c->final_norm ? "with" : "no",
                   c->qkv_bias ? "with" : "no", c->tied ? "tied to the embedding" : "matrix of its own");
    geb_out_printf("bos:         %s (%d, %s)\n", c->add_bos ? "added" : "not added", c->bos_id,
                   c->bos_id >= 0 ? "config" : "the tokenizer's");
    geb_out_printf("eos:        ");
    for (int i = 0; i < c->n_eos; i++) geb_out_printf(" %d", c->eos_ids[i]);
    geb_out_printf("%s\n", c->n_eos ? " (config)" : " the tokenizer's");
    if (c->sampling.present)
        geb_out_printf("sampling:    %s, temperature %g, top-k %d, top-p %g, repetition penalty %g (%s)\n",
                       c->sampling.do_sample ? "sample" : "greedy", c->sampling.temperature,
                       c->sampling.top_k, c->sampling.top_p, c->sampling.repetition_penalty,
                       c->sampling.source);
}

static void print_memory(const geb_weights *w, const geb_config *c, int n_ctx) {
    char b1[32], b2[32], b3[32];
    size_t kv = geb_kv_bytes(c->n_layers, c->n_kv_heads, n_ctx, c->head_dim, GEB_TYPE_F32, GEB_TYPE_F32);
    geb_out_printf("params:      %lld (%.3f B)\n", (long long)geb_weights_params(w),
                   geb_weights_params(w) / 1e9);
    geb_out_printf("memory:      KV cache %s for %d tokens; weights by -w type:\n", human(kv, b1, sizeof b1), n_ctx);
    for (int t = 0; t < GEB_TYPE_COUNT; t++)
        if (!geb_weights_type_ok(w, (geb_type)t))
            geb_out_printf("  %-5s      n/a (rows are not whole blocks of %d)\n",
                           geb_type_traits_of((geb_type)t)->name, geb_type_traits_of((geb_type)t)->block);
        else
            geb_out_printf("  %-5s      %s held, %s streamed per token\n", geb_type_traits_of((geb_type)t)->name,
                       human(geb_weights_bytes_held(w, (geb_type)t), b2, sizeof b2),
                       human(geb_weights_bytes_streamed(w, (geb_type)t), b3, sizeof b3));
}

int geb_cmd_info(const geb_opts *o, geb_err *err) {
    char dir[GEB_PATH_MAX], b1[32];
    geb_config c;
    geb_st *st = NULL;
    geb_weights *w = NULL;
    if (geb_modeldir_resolve(o->model, dir, sizeof dir, err) || geb_config_load(&c, dir, err) ||
        geb_st_open(&st, dir, err) || geb_weights_open(&w, &c, st, GEB_TYPE_F32, err)) {
        if (st) geb_st_close(st);
        return 1;
    }
    geb_out_printf("model:       %s\n", dir);
    print_family(&c);
    geb_out_printf("on disk:     %s checkpoint, %s, %s in %zu tensors, %zu file(s):",
                   geb_st_format(st), geb_weights_file_dtype(w),
                   human(geb_st_file_bytes(st), b1, sizeof b1), geb_st_count(st), geb_st_n_files(st));
    for (size_t i = 0; i < geb_st_n_files(st); i++) geb_out_printf(" %s", geb_st_file_name(st, i));
    geb_out_printf("\n");
    print_memory(w, &c, o->n_ctx > 0 ? o->n_ctx : c.seq_len);
    geb_out_printf("config keys:\n");
    for (int i = 0; i < c.n_notes; i++) geb_out_printf("  %-40s %s\n", c.notes[i].key, c.notes[i].what);
    geb_weights_free(w);
    geb_st_close(st);
    return 0;
}
