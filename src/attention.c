/* attention.c - causal GQA attention with an online softmax (attention.h). */
#include "attention.h"

#include "types.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define POS_BLOCK 64  /* positions scored at once */
#define MAX_PART 16   /* query heads per work item: bounds the stack scratch */
#define MAX_HEAD_DIM 4096 /* config.c refuses larger heads */
#define WIDEN_FLOATS 8192 /* scratch of widened 16-bit K or V rows (32 KB) */
#define WIDEN_ROWS(D) (WIDEN_FLOATS / (D) < POS_BLOCK ? WIDEN_FLOATS / (D) : POS_BLOCK)
_Static_assert(WIDEN_FLOATS >= MAX_HEAD_DIM, "the widening scratch holds a row of every head size");

typedef void (*widen_fn)(float *, const uint8_t *, int);

typedef struct attn_job {
    const geb_attn_args *a;
    int split, per;   /* a group's heads in `split` items of <= `per` heads */
    atomic_int next;
} attn_job;

/* m rows of a 16-bit cache, ld bytes apart, as FP32 rows of D floats at
 * dst: by the table's vector conversion where it has one (the traits'
 * scalar F16 conversion made depth 4096 a third slower). */
static void widen_rows(const geb_attn_args *a, geb_type t, float *dst, const uint8_t *src,
                       size_t ld, int m, int D) {
    widen_fn widen = a->k->typed[t].row_to_f32;
    const geb_type_traits *tr = geb_type_traits_of(t);
    for (int u = 0; u < m; u++, dst += D, src += ld) {
        if (widen) widen(dst, src, D);
        else tr->to_f32(dst, src, D);
    }
}

/* s[i][u] = scale * q_i . K[u0 + u] for the nh heads at q and nu positions,
 * in whatever type K is held: F32 rows are scored in place, 16-bit rows are
 * widened into tmp as many at a time as WIDEN_FLOATS holds (a block of
 * GEB-1.3B's 128-float heads at once), so each kernel call covers many
 * positions. */
static void scores(const geb_attn_args *a, float (*s)[POS_BLOCK], const float *q, int nh,
                   const uint8_t *kc, int u0, int nu, float scale, float *tmp) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim;
    const uint8_t *k0 = kc + (size_t)u0 * kv->row_k;
    if (kv->type_k == GEB_TYPE_F32) {
        a->k->att_scores(s[0], POS_BLOCK, q, nh, (const float *)k0, kv->row_k / sizeof(float), nu, D,
                         scale);
        return;
    }
    for (int c = 0; c < nu; c += WIDEN_ROWS(D)) {
        int m = nu - c < WIDEN_ROWS(D) ? nu - c : WIDEN_ROWS(D);
        widen_rows(a, kv->type_k, tmp, k0 + (size_t)c * kv->row_k, kv->row_k, m, D);
        a->k->att_scores(&s[0][c], POS_BLOCK, q, nh, tmp, (size_t)D, m, D, scale);
    }
}

/* o_i += sum_u s[i][u] * V[u0 + u], as scores() reads K. */
static void values(const geb_attn_args *a, float *o, float (*s)[POS_BLOCK], int nh,
                   const uint8_t *vc, int u0, int nu, float *tmp) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim;
    const uint8_t *v0 = vc + (size_t)u0 * kv->row_v;
    if (kv->type_v == GEB_TYPE_F32) {
        a->k->att_accum(o, s[0], POS_BLOCK, nh, (const float *)v0, kv->row_v / sizeof(float), nu, D);
        return;
    }
    for (int c = 0; c < nu; c += WIDEN_ROWS(D)) {
        int m = nu - c < WIDEN_ROWS(D) ? nu - c : WIDEN_ROWS(D);
        widen_rows(a, kv->type_v, tmp, v0 + (size_t)c * kv->row_v, kv->row_v, m, D);
        a->k->att_accum(o, &s[0][c], POS_BLOCK, nh, tmp, (size_t)D, m, D);
    }
}

/* Heads h0..h1-1 (all of kv group g) of token b at position t. */
static void attend(const geb_attn_args *a, int b, int g, int h0, int h1, int t) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim, nh = h1 - h0;
    const float *q = a->q + ((size_t)b * a->n_heads + h0) * D;
    float *o = a->out + ((size_t)b * a->n_heads + h0) * D;
    const uint8_t *kc = geb_kv_k(kv, a->layer, g, 0), *vc = geb_kv_v(kv, a->layer, g, 0);
    float scale = 1.0f / sqrtf((float)D), mx[MAX_PART], sum[MAX_PART], s[MAX_PART][POS_BLOCK];
    float row[WIDEN_FLOATS];
    for (int i = 0; i < nh; i++) mx[i] = -INFINITY, sum[i] = 0.0f;
    memset(o, 0, sizeof(float) * D * nh);
    for (int u0 = 0; u0 <= t; u0 += POS_BLOCK) {
        int nu = t + 1 - u0 < POS_BLOCK ? t + 1 - u0 : POS_BLOCK;
        scores(a, s, q, nh, kc, u0, nu, scale, row);
        /* New maximum: rescale what was summed so far, then exponentiate. */
        for (int i = 0; i < nh; i++) {
            float m = mx[i];
            for (int u = 0; u < nu; u++) m = s[i][u] > m ? s[i][u] : m;
            if (m > mx[i]) {
                float c = expf(mx[i] - m);
                sum[i] *= c;
                for (int d = 0; d < D; d++) o[(size_t)i * D + d] *= c;
                mx[i] = m;
            }
            for (int u = 0; u < nu; u++) sum[i] += s[i][u] = expf(s[i][u] - m);
        }
        values(a, o, s, nh, vc, u0, nu, row);
    }
    for (int i = 0; i < nh; i++) {
        float inv = 1.0f / sum[i];
        for (int d = 0; d < D; d++) o[(size_t)i * D + d] *= inv;
    }
}

static void attn_task(void *p, int ith, int nth) {
    attn_job *j = p;
    const geb_attn_args *a = j->a;
    (void)ith, (void)nth;
    int nkv = a->kv->n_kv_heads, G = a->n_heads / nkv, per_tok = nkv * j->split, items = a->B * per_tok, i;
    while ((i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < items) {
        int b = i / per_tok, g = i % per_tok / j->split, part = i % j->split;
        int h0 = g * G + part * j->per, h1 = h0 + j->per < (g + 1) * G ? h0 + j->per : (g + 1) * G;
        if (h0 < h1) attend(a, b, g, h0, h1, a->pos + b);
    }
}

void geb_attention(geb_pool *pool, const geb_attn_args *a) {
    int nkv = a->kv->n_kv_heads, G = a->n_heads / nkv, nth = geb_pool_size(pool), s = 1;
    /* Split a group's heads only as far as needed to give every thread work
     * (one token with few kv groups), and into parts of at most MAX_PART. */
    while (s < G && ((long)a->B * nkv * s < 2L * nth || (G + s - 1) / s > MAX_PART)) s++;
    attn_job j = {.a = a};
    j.per = (G + s - 1) / s;
    j.split = (G + j.per - 1) / j.per;
    atomic_init(&j.next, 0);
    geb_pool_run(pool, attn_task, &j);
}
