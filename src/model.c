/* model.c - GEB/ChatGLM2-family weights and the forward pass.
 *
 * Read top to bottom: the structs, loading (find, check, convert each tensor),
 * then the forward pass, which follows MODEL-SPEC.md line by line.  One code
 * path serves decoding (B = 1, matrix-vector products) and prompt processing
 * (B up to GEB_BATCH tokens, matrix-matrix products that read each weight
 * once per batch).
 */
#include "model.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "geb reads little-endian safetensors in place: big-endian hosts are not supported"
#endif

#define GEB_BATCH 64 /* tokens per prompt-processing step */

typedef struct geb_layer {
    const float *attn_norm; /* (H) input_layernorm */
    const float *wq;        /* (NH*D, H) query rows */
    const float *wkv;       /* (2*NKV*D, H) key rows, then value rows */
    const float *bq;        /* (NH*D) query bias, fused layout only, else NULL */
    const float *bkv;       /* (2*NKV*D) key/value bias, fused layout only */
    const float *wo;        /* (H, NH*D) attention output projection ("dense") */
    const float *ffn_norm;  /* (H) post_attention_layernorm */
    const float *w13;       /* (2F, H) gate rows, then up rows (dense_h_to_4h) */
    const float *w2;        /* (H, F) dense_4h_to_h */
} geb_layer;

typedef struct geb_state {
    float *x;        /* (B, H) residual stream */
    float *xb;       /* (B, H) normalised input of a sublayer */
    float *xb2;      /* (B, H) sublayer output, before the residual add */
    float *q;        /* (B, NH*D) queries */
    float *kv;       /* (B, 2*NKV*D) keys then values of each token */
    float *att;      /* (B, NH*D) attention output, heads concatenated */
    float *hb;       /* (B, 2F) gate | up */
    float *hb2;      /* (B, F) silu(gate) * up */
    float *scores;   /* (threads, heads per kv group, n_ctx) softmax scratch */
    float *rope_cos; /* (n_ctx, D/4) cos(p * theta_i) */
    float *rope_sin; /* (n_ctx, D/4) sin(p * theta_i) */
    float *kcache;   /* (L, NKV, n_ctx, D): one kv head's keys contiguous over positions */
    float *vcache;   /* (L, NKV, n_ctx, D) */
} geb_state;

typedef struct geb_block {
    void *p;
    size_t bytes;
} geb_block;

struct geb_model {
    geb_config cfg;
    int n_ctx;
    const float *embed;      /* (V, H) word_embeddings */
    geb_layer *layers;       /* (L) */
    const float *final_norm; /* (H) final_layernorm */
    const float *out;        /* (V, H) output_layer (== embed when tied) */
    geb_state s;
    geb_pool *pool;
    int max_threads;         /* size of the pool at load: rows of s.scores */
    geb_st *st;              /* kept open: F32 tensors are used in place */
    geb_block *allocs;       /* every buffer the model owns */
    int n_allocs, cap_allocs;
    int fused;               /* ChatGLM2 query_key_value layout */
    size_t weight_bytes;     /* streamed per decode step */
    size_t memory_bytes;     /* anonymous memory held */
    char file_dtype[16];
};

/* ------------------------------------------------------------------ load */

/* One tensor the model needs: where it lives in the checkpoint and where the
 * FP32 pointer goes. */
typedef struct tensor_job {
    const geb_tensor *t;
    const float **dst;
    int convert; /* needs an FP32 copy (BF16/F16, or misaligned F32) */
} tensor_job;

typedef struct load_plan {
    tensor_job *jobs;
    int n, cap;
    size_t convert_bytes; /* FP32 bytes to allocate */
    size_t weight_bytes;  /* FP32 bytes read per decode step */
} load_plan;

/* Finds name, checks its dtype and shape (d1 == 0 for a vector) and queues
 * it.  All checks happen before any memory is allocated. */
static int plan_tensor(load_plan *p, const geb_st *st, const char *name, int64_t d0,
                       int64_t d1, const float **dst, geb_err *err) {
    const geb_tensor *t = geb_st_find(st, name);
    if (!t) return geb_err_set(err, "checkpoint has no tensor '%s'", name);
    if (t->dtype == GEB_DTYPE_OTHER)
        return geb_err_set(err, "tensor '%s' has dtype %s; geb reads F32, F16 and BF16",
                           name, t->dtype_name);
    int ok = d1 ? (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1)
                : (t->ndim == 1 && t->shape[0] == d0);
    if (!ok) {
        char got[96] = "", *g = got;
        for (int i = 0; i < t->ndim && g < got + sizeof got - 24; i++)
            g += sprintf(g, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        if (d1)
            return geb_err_set(err, "tensor '%s' has shape [%s], config.json implies [%lld, %lld]",
                               name, got, (long long)d0, (long long)d1);
        return geb_err_set(err, "tensor '%s' has shape [%s], config.json implies [%lld]", name,
                           got, (long long)d0);
    }
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        tensor_job *j = realloc(p->jobs, sizeof *j * cap);
        if (!j) return geb_err_set(err, "out of memory");
        p->jobs = j;
        p->cap = cap;
    }
    int aligned = ((uintptr_t)t->data % sizeof(float)) == 0;
    tensor_job *j = &p->jobs[p->n++];
    j->t = t;
    j->dst = dst;
    j->convert = !(t->dtype == GEB_DTYPE_F32 && aligned);
    if (j->convert) p->convert_bytes += t->numel * sizeof(float);
    return 0;
}

/* Queues every tensor of the architecture; picks the layout (GEB's separate
 * query/key_value or ChatGLM2's fused query_key_value) from what exists. */
static int plan_model(geb_model *m, load_plan *p, geb_err *err) {
    const geb_config *c = &m->cfg;
    int64_t H = c->dim, F = c->ffn_dim, QD = (int64_t)c->n_heads * c->head_dim,
            KVD = 2 * (int64_t)c->n_kv_heads * c->head_dim;
    char name[160];
    if (plan_tensor(p, m->st, "transformer.embedding.word_embeddings.weight", c->vocab, H,
                    &m->embed, err))
        return -1;
    snprintf(name, sizeof name, "transformer.encoder.layers.0.self_attention.query_key_value.weight");
    m->fused = geb_st_find(m->st, name) != NULL;
    for (int i = 0; i < c->n_layers; i++) {
        geb_layer *l = &m->layers[i];
#define LAYER(suffix) (snprintf(name, sizeof name, "transformer.encoder.layers.%d.%s", i, suffix), name)
        if (plan_tensor(p, m->st, LAYER("input_layernorm.weight"), H, 0, &l->attn_norm, err))
            return -1;
        if (m->fused) {
            /* Q, K and V rows are contiguous in the fused tensor: wq points at
             * it and wkv is derived after loading. */
            if (plan_tensor(p, m->st, LAYER("self_attention.query_key_value.weight"), QD + KVD, H,
                            &l->wq, err))
                return -1;
            if (c->qkv_bias &&
                plan_tensor(p, m->st, LAYER("self_attention.query_key_value.bias"), QD + KVD, 0,
                            &l->bq, err))
                return -1;
        } else {
            if (plan_tensor(p, m->st, LAYER("self_attention.query.weight"), QD, H, &l->wq, err) ||
                plan_tensor(p, m->st, LAYER("self_attention.key_value.weight"), KVD, H, &l->wkv,
                            err))
                return -1;
        }
        if (plan_tensor(p, m->st, LAYER("self_attention.dense.weight"), H, QD, &l->wo, err) ||
            plan_tensor(p, m->st, LAYER("post_attention_layernorm.weight"), H, 0, &l->ffn_norm,
                        err) ||
            plan_tensor(p, m->st, LAYER("mlp.dense_h_to_4h.weight"), 2 * F, H, &l->w13, err) ||
            plan_tensor(p, m->st, LAYER("mlp.dense_4h_to_h.weight"), H, F, &l->w2, err))
            return -1;
#undef LAYER
    }
    if (plan_tensor(p, m->st, "transformer.encoder.final_layernorm.weight", H, 0, &m->final_norm,
                    err))
        return -1;
    if (!c->tied &&
        plan_tensor(p, m->st, "transformer.output_layer.weight", c->vocab, H, &m->out, err))
        return -1;
    /* Everything but the embedding (one row per token) is read every step. */
    for (int i = 1; i < p->n; i++) p->weight_bytes += p->jobs[i].t->numel * sizeof(float);
    if (c->tied) p->weight_bytes += (size_t)c->vocab * H * sizeof(float);
    return 0;
}

typedef struct convert_ctx {
    float *dst;
    const uint8_t *src;
    geb_dtype dtype;
    size_t n, elsize;
} convert_ctx;

/* Converts this thread's contiguous share of a tensor. */
static void convert_task(void *p, int ith, int nth) {
    convert_ctx *c = p;
    size_t per = (c->n + nth - 1) / nth;
    size_t a = per * ith, b = a + per < c->n ? a + per : c->n;
    if (a < b) geb_convert_to_f32(c->dst + a, c->src + a * c->elsize, c->dtype, b - a);
}

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

static size_t kv_bytes(const geb_config *c, int n_ctx) {
    return 2 * (size_t)c->n_layers * c->n_kv_heads * n_ctx * c->head_dim * sizeof(float);
}

/* A zeroed FP32 buffer of n floats, remembered so geb_model_free can
 * release it.  Weights and cache use huge pages (see geb_alloc_big). */
static float *alloc_floats(geb_model *m, size_t n) {
    if (n == 0) n = 1;
    if (n > SIZE_MAX / sizeof(float) || m->n_allocs == m->cap_allocs) return NULL;
    float *p = geb_alloc_big(n * sizeof(float));
    if (!p) return NULL;
    m->allocs[m->n_allocs++] = (geb_block){p, n * sizeof(float)};
    m->memory_bytes += n * sizeof(float);
    return p;
}

/* Activations for GEB_BATCH tokens, the RoPE tables and the KV cache. */
static int alloc_state(geb_model *m, geb_err *err) {
    const geb_config *c = &m->cfg;
    geb_state *s = &m->s;
    size_t B = GEB_BATCH, H = c->dim, QD = (size_t)c->n_heads * c->head_dim,
           KVD = 2 * (size_t)c->n_kv_heads * c->head_dim, F = c->ffn_dim,
           T = (size_t)geb_pool_size(m->pool), R4 = c->head_dim / 4,
           G = (size_t)(c->n_heads / c->n_kv_heads);
    size_t kv = (size_t)c->n_layers * c->n_kv_heads * m->n_ctx * c->head_dim;
    struct { float **p; size_t n; } bufs[] = {
        {&s->x, B * H},   {&s->xb, B * H},       {&s->xb2, B * H},
        {&s->q, B * QD},  {&s->kv, B * KVD},     {&s->att, B * QD},
        {&s->hb, B * 2 * F}, {&s->hb2, B * F},   {&s->scores, T * G * m->n_ctx},
        {&s->rope_cos, m->n_ctx * R4}, {&s->rope_sin, m->n_ctx * R4},
        {&s->kcache, kv}, {&s->vcache, kv},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (!(*bufs[i].p = alloc_floats(m, bufs[i].n)))
            return geb_err_set(err, "out of memory allocating %zu MB of activations and cache",
                               bufs[i].n * sizeof(float) >> 20);
    /* theta_i = base^(-2i/R) over R = D/2 rotating dims, i.e. D/4 pairs;
     * computed in double so long contexts keep their precision. */
    size_t R = c->head_dim / 2;
    for (int p = 0; p < m->n_ctx; p++)
        for (size_t i = 0; i < R4; i++) {
            double a = p * pow(c->rope_base, -2.0 * i / R);
            s->rope_cos[p * R4 + i] = (float)cos(a);
            s->rope_sin[p * R4 + i] = (float)sin(a);
        }
    return 0;
}

static int open_model(geb_model *m, const char *dir, int n_ctx, load_plan *p, geb_err *err) {
    if (geb_config_load(&m->cfg, dir, err)) return -1;
    m->n_ctx = n_ctx > 0 ? n_ctx : m->cfg.seq_len;
    if (m->n_ctx > (1 << 22)) return geb_err_set(err, "context of %d tokens is too large", m->n_ctx);
    m->layers = calloc(m->cfg.n_layers, sizeof *m->layers);
    if (!m->layers) return geb_err_set(err, "out of memory");
    if (geb_st_open(&m->st, dir, err)) return -1;
    return plan_model(m, p, err);
}

int geb_model_estimate(const char *dir, int n_ctx, size_t *weights, size_t *kv, geb_err *err) {
    geb_model m = {0};
    load_plan p = {0};
    int rc = open_model(&m, dir, n_ctx, &p, err);
    if (rc == 0) {
        *weights = p.weight_bytes + (size_t)m.cfg.vocab * m.cfg.dim * sizeof(float);
        *kv = kv_bytes(&m.cfg, m.n_ctx);
    }
    free(p.jobs);
    free(m.layers);
    if (m.st) geb_st_close(m.st);
    return rc;
}

/* Sets each planned pointer, converting to FP32 where needed.  Converted
 * source pages are dropped right away so that peak memory stays near the
 * FP32 size instead of FP32 + file. */
static int load_tensors(geb_model *m, load_plan *p, geb_progress_fn progress, void *ud,
                        geb_err *err) {
    size_t total = 0, done = 0;
    for (int i = 0; i < p->n; i++) total += p->jobs[i].t->nbytes;
    for (int i = 0; i < p->n; i++) {
        tensor_job *j = &p->jobs[i];
        const geb_tensor *t = j->t;
        if (!j->convert) {
            *j->dst = (const float *)t->data;
        } else {
            float *buf = alloc_floats(m, t->numel);
            if (!buf)
                return geb_err_set(err, "out of memory converting '%s' (%zu MB)", t->name,
                                   t->numel * sizeof(float) >> 20);
            geb_st_advise_willneed(t);
            convert_ctx c = {buf, t->data, t->dtype, t->numel, t->nbytes / (t->numel ? t->numel : 1)};
            geb_pool_run(m->pool, convert_task, &c);
            geb_st_advise_dontneed(t);
            *j->dst = buf;
        }
        done += t->nbytes;
        if (progress) progress(ud, total ? (double)done / total : 1.0);
    }
    return 0;
}

/* Notes the on-disk dtype: one name if all tensors agree, else "mixed". */
static void note_dtype(geb_model *m, const load_plan *p) {
    snprintf(m->file_dtype, sizeof m->file_dtype, "%s", p->n ? p->jobs[0].t->dtype_name : "?");
    for (int i = 1; i < p->n; i++)
        if (strcmp(p->jobs[i].t->dtype_name, m->file_dtype) != 0)
            snprintf(m->file_dtype, sizeof m->file_dtype, "mixed");
}

int geb_model_load(geb_model **out, const char *dir, int n_ctx, geb_pool *pool,
                   geb_progress_fn progress, void *ud, geb_err *err) {
    *out = NULL;
    geb_model *m = calloc(1, sizeof *m);
    if (!m) return geb_err_set(err, "out of memory");
    m->pool = pool;
    m->max_threads = geb_pool_size(pool);
    load_plan p = {0};
    if (open_model(m, dir, n_ctx, &p, err)) goto fail;
    /* Refuse before allocating anything if it cannot fit. */
    size_t need = p.convert_bytes + kv_bytes(&m->cfg, m->n_ctx), avail = mem_available();
    if (avail && need > avail) {
        geb_err_set(err, "model needs %.2f GB (weights %.2f GB + KV cache %.2f GB) but only %.2f GB of memory is available",
                    need / 1e9, p.convert_bytes / 1e9, kv_bytes(&m->cfg, m->n_ctx) / 1e9, avail / 1e9);
        goto fail;
    }
    /* One block per converted tensor plus the 13 state buffers. */
    m->cap_allocs = p.n + 16;
    if (!(m->allocs = calloc(m->cap_allocs, sizeof *m->allocs))) {
        geb_err_set(err, "out of memory");
        goto fail;
    }
    if (alloc_state(m, err) || load_tensors(m, &p, progress, ud, err)) goto fail;
    note_dtype(m, &p);
    if (m->cfg.tied) m->out = m->embed;
    if (m->fused) {
        size_t QD = (size_t)m->cfg.n_heads * m->cfg.head_dim;
        for (int i = 0; i < m->cfg.n_layers; i++) {
            geb_layer *l = &m->layers[i];
            l->wkv = l->wq + QD * m->cfg.dim;
            if (l->bq) l->bkv = l->bq + QD;
        }
    }
    m->weight_bytes = p.weight_bytes;
    free(p.jobs);
    *out = m;
    return 0;
fail:
    free(p.jobs);
    geb_model_free(m);
    return -1;
}

void geb_model_free(geb_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_allocs; i++) geb_free_big(m->allocs[i].p, m->allocs[i].bytes);
    free(m->allocs);
    free(m->layers);
    if (m->st) geb_st_close(m->st);
    free(m);
}

int geb_model_set_pool(geb_model *m, geb_pool *pool, geb_err *err) {
    /* The attention scratch has one row per thread of the load-time pool. */
    if (geb_pool_size(pool) > m->max_threads)
        return geb_err_set(err, "pool of %d threads exceeds the %d the model was loaded with",
                           geb_pool_size(pool), m->max_threads);
    m->pool = pool;
    return 0;
}

const geb_config *geb_model_config(const geb_model *m) { return &m->cfg; }
int geb_model_n_ctx(const geb_model *m) { return m->n_ctx; }
size_t geb_model_weight_bytes(const geb_model *m) { return m->weight_bytes; }
size_t geb_model_memory_bytes(const geb_model *m) { return m->memory_bytes; }
const char *geb_model_file_dtype(const geb_model *m) { return m->file_dtype; }
const char *geb_model_layout(const geb_model *m) {
    return m->fused ? "ChatGLM2 (fused query_key_value)" : "GEB (query + key_value)";
}

/* --------------------------------------------------------------- forward */

/* out = x / sqrt(mean(x^2) + eps) * w, for one row of n. */
static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

/* ChatGLM2 RoPE on one head: adjacent pairs (2i, 2i+1) of the first D/2
 * dims rotate by p * theta_i; the second half passes through. */
static void rope(float *h, const float *cs, const float *sn, int pairs) {
    for (int i = 0; i < pairs; i++) {
        float a = h[2 * i], b = h[2 * i + 1];
        h[2 * i] = a * cs[i] - b * sn[i];
        h[2 * i + 1] = b * cs[i] + a * sn[i];
    }
}

/* y_i = W_i X for B tokens: matrix-vector for decoding, GEMM for prompts. */
static void project(geb_model *m, const geb_mat *mats, int n, const float *x, int B, int cols) {
    if (B == 1) geb_matvec(m->pool, mats, n, x, cols);
    else geb_matmul(m->pool, mats, n, x, B, cols);
}

typedef struct attn_ctx {
    geb_model *m;
    int layer, B, pos;
    int split, per;  /* each kv group's query heads in `split` items of <= `per` heads */
    atomic_int next; /* next (token, kv group, part) item to take */
} attn_ctx;

/* Causal attention of query heads h0..h1-1 (all in kv group g) of token b at
 * position t.  Positions are the outer loop, so each cached key and value
 * row is read once from memory for all the heads that share it (GQA);
 * scores holds (h1 - h0) rows of n_ctx. */
static void attend(geb_model *m, float *scores, int layer, int b, int g, int h0, int h1, int t) {
    const geb_config *c = &m->cfg;
    const geb_kernels *k = geb_kernels_current();
    int D = c->head_dim, nh = h1 - h0;
    size_t base = ((size_t)layer * c->n_kv_heads + g) * m->n_ctx * D, ctx = m->n_ctx;
    const float *q = m->s.q + ((size_t)b * c->n_heads + h0) * D;
    const float *kc = m->s.kcache + base, *vc = m->s.vcache + base;
    float scale = 1.0f / sqrtf((float)D);
    for (int u = 0; u <= t; u++)
        for (int i = 0; i < nh; i++)
            scores[i * ctx + u] = k->dot(q + (size_t)i * D, kc + (size_t)u * D, D) * scale;
    /* Softmax with the maximum subtracted: exp never overflows.  The
     * normalisation is folded into the weights of the values. */
    for (int i = 0; i < nh; i++) {
        float *sc = scores + i * ctx, mx = -INFINITY;
        for (int u = 0; u <= t; u++) mx = sc[u] > mx ? sc[u] : mx;
        double sum = 0;
        for (int u = 0; u <= t; u++) sum += sc[u] = expf(sc[u] - mx);
        float inv = (float)(1.0 / sum);
        for (int u = 0; u <= t; u++) sc[u] *= inv;
    }
    float *o = m->s.att + ((size_t)b * c->n_heads + h0) * D;
    memset(o, 0, sizeof(float) * D * nh);
    for (int u = 0; u <= t; u++)
        for (int i = 0; i < nh; i++)
            k->axpy(o + (size_t)i * D, scores[i * ctx + u], vc + (size_t)u * D, D);
}

static void attn_task(void *p, int ith, int nth) {
    attn_ctx *a = p;
    (void)nth;
    const geb_config *c = &a->m->cfg;
    int G = c->n_heads / c->n_kv_heads, per_tok = c->n_kv_heads * a->split;
    float *scores = a->m->s.scores + (size_t)ith * a->per * a->m->n_ctx;
    int items = a->B * per_tok, i;
    while ((i = atomic_fetch_add_explicit(&a->next, 1, memory_order_relaxed)) < items) {
        int b = i / per_tok, g = i % per_tok / a->split, part = i % a->split;
        int h0 = g * G + part * a->per, h1 = h0 + a->per < (g + 1) * G ? h0 + a->per : (g + 1) * G;
        if (h0 < h1) attend(a->m, scores, a->layer, b, g, h0, h1, a->pos + b);
    }
}

/* Splits each kv group's heads only as far as needed to give every thread
 * work (a single token with few kv groups, e.g. multi-query attention). */
static void attn_split(const geb_model *m, int B, int *split, int *per) {
    int G = m->cfg.n_heads / m->cfg.n_kv_heads, nth = geb_pool_size(m->pool), s = 1;
    while (s < G && (long)B * m->cfg.n_kv_heads * s < 2L * nth) s++;
    *per = (G + s - 1) / s;
    *split = (G + *per - 1) / *per;
}

/* Self-attention sublayer for B tokens at positions pos..pos+B-1; reads
 * s.xb, writes s.xb2. */
static void attention(geb_model *m, int li, int B, int pos) {
    const geb_config *c = &m->cfg;
    const geb_layer *l = &m->layers[li];
    geb_state *s = &m->s;
    int H = c->dim, D = c->head_dim, QD = c->n_heads * D, KD = c->n_kv_heads * D,
        R4 = D / 4;
    geb_mat qkv[2] = {{l->wq, s->q, QD}, {l->wkv, s->kv, 2 * KD}};
    project(m, qkv, 2, s->xb, B, H);
    for (int b = 0; b < B; b++) {
        float *q = s->q + (size_t)b * QD, *kv = s->kv + (size_t)b * 2 * KD;
        if (l->bq)
            for (int i = 0; i < QD; i++) q[i] += l->bq[i];
        if (l->bkv)
            for (int i = 0; i < 2 * KD; i++) kv[i] += l->bkv[i];
        int p = pos + b;
        const float *cs = s->rope_cos + (size_t)p * R4, *sn = s->rope_sin + (size_t)p * R4;
        for (int h = 0; h < c->n_heads; h++) rope(q + h * D, cs, sn, R4);
        for (int g = 0; g < c->n_kv_heads; g++) {
            rope(kv + g * D, cs, sn, R4);
            size_t at = (((size_t)li * c->n_kv_heads + g) * m->n_ctx + p) * D;
            memcpy(s->kcache + at, kv + g * D, sizeof(float) * D);
            memcpy(s->vcache + at, kv + KD + g * D, sizeof(float) * D);
        }
    }
    attn_ctx a = {.m = m, .layer = li, .B = B, .pos = pos};
    attn_split(m, B, &a.split, &a.per);
    atomic_init(&a.next, 0);
    geb_pool_run(m->pool, attn_task, &a);
    geb_mat o = {l->wo, s->xb2, H};
    project(m, &o, 1, s->att, B, QD);
}

/* SwiGLU sublayer: xb2 = W2 (silu(gate) * up), gate|up = W13 xb. */
static void ffn(geb_model *m, int li, int B) {
    const geb_config *c = &m->cfg;
    const geb_layer *l = &m->layers[li];
    geb_state *s = &m->s;
    int H = c->dim, F = c->ffn_dim;
    geb_mat up = {l->w13, s->hb, 2 * F};
    project(m, &up, 1, s->xb, B, H);
    for (int b = 0; b < B; b++) {
        const float *gate = s->hb + (size_t)b * 2 * F, *u = gate + F;
        float *o = s->hb2 + (size_t)b * F;
        for (int i = 0; i < F; i++) o[i] = gate[i] / (1.0f + expf(-gate[i])) * u[i];
    }
    geb_mat down = {l->w2, s->xb2, H};
    project(m, &down, 1, s->hb2, B, F);
}

/* Runs B <= GEB_BATCH tokens through every layer; logits of the last token
 * (or of all B with all != 0, rows of V) go to logits. */
static void forward_batch(geb_model *m, const int32_t *tok, int B, int pos, float *logits,
                          int all) {
    const geb_config *c = &m->cfg;
    geb_state *s = &m->s;
    int H = c->dim;
    for (int b = 0; b < B; b++)
        memcpy(s->x + (size_t)b * H, m->embed + (size_t)tok[b] * H, sizeof(float) * H);
    for (int li = 0; li < c->n_layers; li++) {
        const geb_layer *l = &m->layers[li];
        for (int b = 0; b < B; b++)
            rmsnorm(s->xb + (size_t)b * H, s->x + (size_t)b * H, l->attn_norm, H, c->norm_eps);
        attention(m, li, B, pos);
        for (size_t i = 0; i < (size_t)B * H; i++) s->x[i] += s->xb2[i];
        for (int b = 0; b < B; b++)
            rmsnorm(s->xb + (size_t)b * H, s->x + (size_t)b * H, l->ffn_norm, H, c->norm_eps);
        ffn(m, li, B);
        for (size_t i = 0; i < (size_t)B * H; i++) s->x[i] += s->xb2[i];
    }
    if (!logits) return; /* a prompt batch whose logits nobody reads */
    /* Only the rows whose logits are wanted pay for the output matrix. */
    int first = all ? 0 : B - 1;
    for (int b = first; b < B; b++)
        rmsnorm(s->xb + (size_t)(b - first) * H, s->x + (size_t)b * H, m->final_norm, H,
                c->norm_eps);
    geb_mat o = {m->out, logits, c->vocab};
    project(m, &o, 1, s->xb, B - first, H);
}

int geb_model_eval(geb_model *m, const int32_t *tokens, int n, int pos, float *logits, int all,
                   geb_err *err) {
    if (n < 1) return geb_err_set(err, "nothing to evaluate");
    if (pos < 0 || pos > m->n_ctx - n)
        return geb_err_set(err, "positions %d..%d exceed the context of %d tokens", pos,
                           pos + n - 1, m->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab)
            return geb_err_set(err, "token id %d is outside the vocabulary (0..%d)", tokens[i],
                               m->cfg.vocab - 1);
    for (int i = 0; i < n; i += GEB_BATCH) {
        int B = n - i < GEB_BATCH ? n - i : GEB_BATCH;
        /* Intermediate batches only need logits when all are asked for. */
        if (all) forward_batch(m, tokens + i, B, pos + i, logits + (size_t)i * m->cfg.vocab, 1);
        else if (i + B == n) forward_batch(m, tokens + i, B, pos + i, logits, 0);
        else forward_batch(m, tokens + i, B, pos + i, NULL, 0);
    }
    return 0;
}
