/* model.c - the forward pass: one generic block over the roles of the
 * architecture table (arch.h), for every family and every weight type.
 *
 * Read top to bottom: the model struct, loading (config -> checkpoint ->
 * weights -> scratch), then the forward pass, which follows docs/MODEL-SPEC.md
 * ("One forward step", "Block options", "RoPE", "Llama family").
 */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "guard.h"
#include "matmul.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "geb reads little-endian checkpoints in place: big-endian hosts are not supported"
#endif

/* Activations of one batch of up to GEB_BATCH tokens. */
typedef struct geb_state {
    float *x;        /* (B, H) residual stream */
    float *xb;       /* (B, H) normalised input of a sublayer */
    float *xb2;      /* (B, H) sublayer output, before the residual add */
    float *q;        /* (B, NH*D) queries */
    float *k, *v;    /* (B, NKV*D) keys, values */
    float *att;      /* (B, NH*D) attention output, heads concatenated */
    float *gate, *up;/* (B, F) */
    float *rope_cos; /* (n_ctx, n_rot/2) cos(p * theta_i) */
    float *rope_sin; /* (n_ctx, n_rot/2) */
} geb_state;

struct geb_model {
    geb_config cfg;
    int n_ctx;
    geb_st *st;          /* kept open: tensors may be used in place */
    geb_weights *w;
    geb_mm *mm;          /* product scratch and kernel table */
    geb_pool *pool;
    geb_state s;
    float *scratch;      /* one block holding every geb_state buffer */
    size_t scratch_bytes;
    const volatile sig_atomic_t *interrupt;
    geb_type kv_k, kv_v;  /* element types of the caches made by geb_model_kv_new */
};

/* ------------------------------------------------------------------ load */

/* Bytes of MemAvailable, or 0 if unknown. */
static size_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[128];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* The activation buffers and the RoPE tables, carved out of one block. */
static int alloc_state(geb_model *m, geb_err *err) {
    const geb_config *c = &m->cfg;
    geb_state *s = &m->s;
    size_t B = GEB_BATCH, H = c->dim, QD = (size_t)c->n_heads * c->head_dim,
           KD = (size_t)c->n_kv_heads * c->head_dim, F = c->ffn_dim, R2 = c->n_rot / 2;
    struct { float **p; size_t n; } bufs[] = {
        {&s->x, B * H}, {&s->xb, B * H}, {&s->xb2, B * H}, {&s->q, B * QD}, {&s->k, B * KD},
        {&s->v, B * KD}, {&s->att, B * QD}, {&s->gate, B * F}, {&s->up, B * F},
        {&s->rope_cos, m->n_ctx * R2}, {&s->rope_sin, m->n_ctx * R2},
    };
    size_t total = 0, nb = sizeof bufs / sizeof bufs[0];
    for (size_t i = 0; i < nb; i++) total += (bufs[i].n + 15) / 16 * 16;
    m->scratch_bytes = total * sizeof(float);
    if (!(m->scratch = geb_alloc_big(m->scratch_bytes)))
        return geb_err_set(err, "out of memory allocating %zu MB of activations", m->scratch_bytes >> 20);
    float *p = m->scratch;
    for (size_t i = 0; i < nb; i++) *bufs[i].p = p, p += (bufs[i].n + 15) / 16 * 16;
    /* theta_i = base^(-2i/n_rot) for the n_rot/2 rotated pairs, positions
     * divided by the linear scaling factor; in double so that long contexts
     * keep their precision. */
    for (int pos = 0; pos < m->n_ctx; pos++)
        for (size_t i = 0; i < R2; i++) {
            double a = pos / c->rope_scale * pow(c->rope_base, -2.0 * (double)i / c->n_rot);
            s->rope_cos[pos * R2 + i] = (float)cos(a);
            s->rope_sin[pos * R2 + i] = (float)sin(a);
        }
    return 0;
}

/* Refuses before allocating anything if weights + cache cannot fit. */
static int check_memory(const geb_model *m, geb_err *err) {
    const geb_config *c = &m->cfg;
    size_t held = geb_weights_bytes_held(m->w, geb_weights_type(m->w));
    size_t kv = geb_kv_bytes(c->n_layers, c->n_kv_heads, m->n_ctx, c->head_dim, m->kv_k, m->kv_v),
           avail = mem_available();
    if (avail && held + kv > avail)
        return geb_err_set(err, "model needs %.2f GB (weights %.2f GB + KV cache %.2f GB) but only "
                                "%.2f GB of memory is available",
                           (held + kv) / 1e9, held / 1e9, kv / 1e9, avail / 1e9);
    return 0;
}

static int widest(const geb_config *c) {
    int w = c->dim;
    if (c->ffn_dim > w) w = c->ffn_dim;
    if (c->n_heads * c->head_dim > w) w = c->n_heads * c->head_dim;
    return w;
}

/* Every projection's type must have kernels in the chosen table. */
static int check_kernels(const geb_model *m, geb_err *err) {
    const geb_kernels *k = geb_mm_kernels(m->mm);
    geb_type t = geb_weights_type(m->w);
    const geb_mat *e = geb_weights_mat(m->w, 0, GEB_R_OUTPUT);
    if (!geb_mm_supports(k, t) || (e && !geb_mm_supports(k, e->type)))
        return geb_err_set(err, "the %s kernels have no %s weights in this build", k->name,
                           geb_type_traits_of(t)->name);
    return 0;
}

int geb_model_load(geb_model **out, const char *dir, const geb_model_params *p, geb_pool *pool,
                   geb_err *err) {
    *out = NULL;
    geb_model *m = calloc(1, sizeof *m);
    if (!m) return geb_err_set(err, "out of memory");
    m->pool = pool;
    m->kv_k = p->kv_k, m->kv_v = p->kv_v;
    const geb_kernels *k = p->kernels ? p->kernels : geb_kernels_best(err);
    if (!k || geb_config_load(&m->cfg, dir, err)) goto fail;
    m->n_ctx = p->n_ctx > 0 ? p->n_ctx : m->cfg.seq_len;
    if (m->n_ctx > (1 << 22)) {
        geb_err_set(err, "context of %d tokens is too large", m->n_ctx);
        goto fail;
    }
    if (geb_st_open(&m->st, dir, err) || geb_weights_open(&m->w, &m->cfg, m->st, p->type, err) ||
        check_memory(m, err) || !(m->mm = geb_mm_new(k, widest(&m->cfg), GEB_BATCH, err)) ||
        check_kernels(m, err) || alloc_state(m, err))
        goto fail;
    geb_guard_test_pause("GEB_TEST_PAUSE_AFTER_MAP"); /* tests only: files mapped, not yet read */
    geb_weights_set_kernels(m->w, k);
    if (geb_weights_load(m->w, pool, p->progress, p->ud, err)) goto fail;
    *out = m;
    return 0;
fail:
    geb_model_free(m);
    return -1;
}

void geb_model_free(geb_model *m) {
    if (!m) return;
    geb_weights_free(m->w);
    geb_mm_free(m->mm);
    geb_free_big(m->scratch, m->scratch_bytes);
    if (m->st) geb_st_close(m->st);
    free(m);
}

void geb_model_set_pool(geb_model *m, geb_pool *pool) { m->pool = pool; }
const geb_kernels *geb_model_kernels(const geb_model *m) { return geb_mm_kernels(m->mm); }
const geb_config *geb_model_config(const geb_model *m) { return &m->cfg; }
const geb_weights *geb_model_weights(const geb_model *m) { return m->w; }
const geb_st *geb_model_checkpoint(const geb_model *m) { return m->st; }
int geb_model_n_ctx(const geb_model *m) { return m->n_ctx; }
void geb_model_set_interrupt(geb_model *m, const volatile sig_atomic_t *flag) { m->interrupt = flag; }

geb_kv *geb_model_kv_new(const geb_model *m, int n_ctx, geb_err *err) {
    const geb_config *c = &m->cfg;
    if (n_ctx <= 0 || n_ctx > m->n_ctx) n_ctx = m->n_ctx;
    return geb_kv_new(c->n_layers, c->n_kv_heads, n_ctx, c->head_dim, m->kv_k, m->kv_v, err);
}

/* --------------------------------------------------------------- forward */

/* out = x / sqrt(mean(x^2) + eps) * w, for each of B rows of n. */
static void rmsnorm(float *out, const float *x, const float *w, int B, int n, float eps) {
    for (int b = 0; b < B; b++, out += n, x += n) {
        /* Four sums: one chain of double adds waited on the add latency. */
        double s4[4] = {0, 0, 0, 0};
        int i = 0;
        for (; i + 4 <= n; i += 4)
            for (int j = 0; j < 4; j++) s4[j] += (double)x[i + j] * x[i + j];
        for (; i < n; i++) s4[0] += (double)x[i] * x[i];
        double ss = (s4[0] + s4[1]) + (s4[2] + s4[3]);
        float r = (float)(1.0 / sqrt(ss / n + eps));
        for (i = 0; i < n; i++) out[i] = x[i] * r * w[i];
    }
}

/* Rotates one head: the first n_rot dims in pairs, adjacent (2i, 2i+1) for
 * ChatGLM2 or halves (i, i + n_rot/2) for Llama; the rest pass through. */
static void rope(float *h, const float *cs, const float *sn, int n_rot, geb_rope_style style) {
    int half = n_rot / 2, step = style == GEB_ROPE_ADJACENT ? 2 : 1,
        off = style == GEB_ROPE_ADJACENT ? 1 : half;
    for (int i = 0; i < half; i++) {
        float *a = h + i * step, *b = a + off, x0 = *a, x1 = *b;
        *a = x0 * cs[i] - x1 * sn[i];
        *b = x1 * cs[i] + x0 * sn[i];
    }
}

static void add_bias(float *y, const float *bias, int B, int n) {
    if (!bias) return;
    for (int b = 0; b < B; b++, y += n)
        for (int i = 0; i < n; i++) y[i] += bias[i];
}

/* y_i = W_i X for B tokens: matrix-vector for decoding, GEMM for prompts.
 * The n products share X; absent (NULL) matrices are skipped. */
static void project(geb_model *m, const geb_mat *const *w, float *const *y, int n, const float *x,
                    int B) {
    geb_prod p[3];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (w[i]) p[k++] = (geb_prod){w[i], y[i]};
    if (B == 1) geb_mm_matvec(m->mm, m->pool, p, k, x);
    else geb_mm_matmul(m->mm, m->pool, p, k, x, B);
}

/* ---- per-token steps, threaded for prompts ------------------------------
 * Norms, the residual and the MLP's activation ran on the calling thread
 * while the other cores slept: 5% of a BF16 pp512's samples, about twice
 * that of its time with 2 threads.  A prompt's tokens are split across the
 * pool; one token (decoding) runs on the caller, as before. */
typedef void (*token_fn)(geb_model *m, const float *w, int b0, int b1);

typedef struct token_job {
    geb_model *m;
    token_fn fn;
    const float *w; /* a norm's weights, or NULL */
    int B;
} token_job;

static void token_task(void *p, int ith, int nth) {
    const token_job *j = p;
    int B = j->B, per = (B + nth - 1) / nth, b0 = ith * per, b1 = b0 + per < B ? b0 + per : B;
    if (b0 < b1) j->fn(j->m, j->w, b0, b1);
}

/* fn(m, w, ...) over tokens [0, B). */
static void per_token(geb_model *m, token_fn fn, const float *w, int B) {
    token_job j = {m, fn, w, B};
    if (B < 2 || geb_pool_size(m->pool) < 2) fn(m, w, 0, B);
    else geb_pool_run(m->pool, token_task, &j);
}

#define W(l, r) geb_weights_mat(m->w, (l), (r))
#define V(l, r) geb_weights_vec(m->w, (l), (r))

/* One head's row into the cache, rounded to the cache's type. */
static void kv_store(geb_type t, uint8_t *dst, const float *src, int D) {
    if (t == GEB_TYPE_F32) memcpy(dst, src, sizeof(float) * D);
    else geb_type_traits_of(t)->from_f32(dst, src, D);
}

/* Q, K, V with biases and RoPE for B tokens at pos..; K and V go to the
 * cache. */
static void qkv(geb_model *m, geb_kv *kv, int l, int B, int pos) {
    const geb_config *c = &m->cfg;
    geb_state *s = &m->s;
    int D = c->head_dim, QD = c->n_heads * D, KD = c->n_kv_heads * D, R2 = c->n_rot / 2;
    const geb_mat *w[3] = {W(l, GEB_R_Q), W(l, GEB_R_K), W(l, GEB_R_V)};
    float *y[3] = {s->q, s->k, s->v};
    project(m, w, y, 3, s->xb, B);
    add_bias(s->q, V(l, GEB_R_Q_B), B, QD);
    add_bias(s->k, V(l, GEB_R_K_B), B, KD);
    add_bias(s->v, V(l, GEB_R_V_B), B, KD);
    for (int b = 0; b < B; b++) {
        int p = pos + b;
        const float *cs = s->rope_cos + (size_t)p * R2, *sn = s->rope_sin + (size_t)p * R2;
        float *q = s->q + (size_t)b * QD, *k = s->k + (size_t)b * KD, *v = s->v + (size_t)b * KD;
        for (int h = 0; h < c->n_heads; h++) rope(q + h * D, cs, sn, c->n_rot, c->arch->rope);
        for (int g = 0; g < c->n_kv_heads; g++) {
            rope(k + g * D, cs, sn, c->n_rot, c->arch->rope);
            kv_store(kv->type_k, geb_kv_k(kv, l, g, p), k + g * D, D);
            kv_store(kv->type_v, geb_kv_v(kv, l, g, p), v + g * D, D);
        }
    }
}

/* Self-attention sublayer: reads s.xb, writes s.xb2. */
static void attention(geb_model *m, geb_kv *kv, int l, int B, int pos) {
    const geb_config *c = &m->cfg;
    geb_state *s = &m->s;
    qkv(m, kv, l, B, pos);
    geb_attn_args a = {geb_mm_kernels(m->mm), s->q, s->att, kv, l, B, pos, c->n_heads};
    geb_attention(m->pool, &a);
    const float *sub = V(l, GEB_R_ATTN_SUB_NORM);
    if (sub) rmsnorm(s->att, s->att, sub, B, c->n_heads * c->head_dim, c->norm_eps);
    const geb_mat *o = W(l, GEB_R_O);
    project(m, &o, &s->xb2, 1, s->att, B);
}

/* gate = act(gate) * up for tokens [b0, b1), then the sub-norm w if any. */
static void ffn_act(geb_model *m, const float *w, int b0, int b1) {
    const geb_config *c = &m->cfg;
    geb_state *s = &m->s;
    size_t F = (size_t)c->ffn_dim, n = (size_t)(b1 - b0) * F;
    float *g = s->gate + (size_t)b0 * F;
    const float *u = s->up + (size_t)b0 * F;
    if (c->arch->act == GEB_ACT_SILU) {
        const geb_kernels *k = geb_mm_kernels(m->mm);
        for (int b = 0; b < b1 - b0; b++) k->swiglu(g + b * F, u + b * F, (int)F);
    } else {
        for (size_t i = 0; i < n; i++) {
            float r = g[i] > 0 ? g[i] : 0;
            g[i] = r * r * u[i];
        }
    }
    if (w) rmsnorm(g, g, w, b1 - b0, (int)F, c->norm_eps);
}

/* Gated MLP sublayer: xb2 = down(act(gate xb) * up xb). */
static void ffn(geb_model *m, int l, int B) {
    geb_state *s = &m->s;
    const geb_mat *w[2] = {W(l, GEB_R_GATE), W(l, GEB_R_UP)};
    float *y[2] = {s->gate, s->up};
    project(m, w, y, 2, s->xb, B);
    per_token(m, ffn_act, V(l, GEB_R_FFN_SUB_NORM), B);
    const geb_mat *d = W(l, GEB_R_DOWN);
    project(m, &d, &s->xb2, 1, s->gate, B);
}

/* x = r + sublayer for tokens [b0, b1), where r is x itself, or the
 * normalised input when the config says
 * apply_residual_connection_post_layernorm; then xb = the next norm w of
 * x (none after the last layer). */
static void residual_norm(geb_model *m, const float *w, int b0, int b1) {
    geb_state *s = &m->s;
    int H = m->cfg.dim;
    size_t i0 = (size_t)b0 * H, i1 = (size_t)b1 * H;
    const float *r = m->cfg.residual_post_ln ? s->xb : s->x;
    for (size_t i = i0; i < i1; i++) s->x[i] = r[i] + s->xb2[i];
    if (w) rmsnorm(s->xb + i0, s->x + i0, w, b1 - b0, H, m->cfg.norm_eps);
}

/* xb = the norm w of x for tokens [b0, b1). */
static void input_norm(geb_model *m, const float *w, int b0, int b1) {
    int H = m->cfg.dim;
    rmsnorm(m->s.xb + (size_t)b0 * H, m->s.x + (size_t)b0 * H, w, b1 - b0, H, m->cfg.norm_eps);
}

/* Embedding rows of B tokens into s.x, in whatever type the table is held. */
static void embed(geb_model *m, const int32_t *tok, int B) {
    const geb_mat *e = W(0, GEB_R_EMBED);
    const geb_type_traits *t = geb_type_traits_of(e->type);
    for (int b = 0; b < B; b++)
        t->to_f32(m->s.x + (size_t)b * e->cols, e->w + (size_t)tok[b] * e->ldw, e->cols);
}

/* Runs B <= GEB_BATCH tokens through every layer; logits of the last token
 * (or of all B with all != 0, rows of V) go to logits. */
static void forward_batch(geb_model *m, geb_kv *kv, const int32_t *tok, int B, int pos,
                          float *logits, int all) {
    const geb_config *c = &m->cfg;
    geb_state *s = &m->s;
    int H = c->dim;
    embed(m, tok, B);
    per_token(m, input_norm, V(0, GEB_R_ATTN_NORM), B);
    for (int l = 0; l < c->n_layers; l++) {
        attention(m, kv, l, B, pos);
        per_token(m, residual_norm, V(l, GEB_R_FFN_NORM), B);
        ffn(m, l, B);
        per_token(m, residual_norm, l + 1 < c->n_layers ? V(l + 1, GEB_R_ATTN_NORM) : NULL, B);
    }
    if (!logits) return; /* a prompt batch whose logits nobody reads */
    /* Only the rows whose logits are wanted pay for the output matrix. */
    int first = all ? 0 : B - 1;
    const float *fn = V(0, GEB_R_FINAL_NORM);
    if (fn) rmsnorm(s->xb, s->x + (size_t)first * H, fn, B - first, H, c->norm_eps);
    else memcpy(s->xb, s->x + (size_t)first * H, sizeof(float) * (B - first) * H);
    const geb_mat *o = W(0, GEB_R_OUTPUT);
    project(m, &o, &logits, 1, s->xb, B - first);
}

/* -1 with a message if any of the n logits is NaN or infinite: a damaged
 * model must fail loudly, not decode token 0 forever. */
static int check_logits(const float *logits, size_t n, geb_err *err) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(logits[i]))
            return geb_err_set(err, "the model computed a non-finite logit (the weights or the "
                                    "activations overflowed)");
    return 0;
}

int geb_model_eval(geb_model *m, geb_kv *kv, const int32_t *tokens, int n, int pos,
                   float *logits, int all, geb_err *err) {
    if (n < 1) return geb_err_set(err, "nothing to evaluate");
    if (pos < 0 || pos > kv->n_ctx - n)
        return geb_err_set(err, "positions %d..%d exceed the context of %d tokens", pos,
                           pos + n - 1, kv->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab)
            return geb_err_set(err, "token id %d is outside the vocabulary (0..%d)", tokens[i],
                               m->cfg.vocab - 1);
    size_t V = (size_t)m->cfg.vocab;
    for (int i = 0; i < n; i += GEB_BATCH) {
        if (i > 0 && m->interrupt && *m->interrupt) return geb_err_set(err, "interrupted");
        int B = n - i < GEB_BATCH ? n - i : GEB_BATCH;
        /* Intermediate batches only need logits when all are asked for. */
        float *out = !logits ? NULL : all ? logits + (size_t)i * V : i + B == n ? logits : NULL;
        forward_batch(m, kv, tokens + i, B, pos + i, out, all);
    }
    return logits ? check_logits(logits, all ? (size_t)n * V : V, err) : 0;
}
