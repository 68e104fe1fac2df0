/* attention.c - causal GQA attention with an online softmax (attention.h). */
#include "attention.h"

#include "types.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define POS_BLOCK 64  /* positions scored at once */
#define MAX_PART 16   /* query heads per work item: bounds the stack scratch */

typedef void (*widen_fn)(float *, const uint8_t *, int);

typedef struct attn_job {
    const geb_attn_args *a;
    int split, per;   /* a group's heads in `split` items of <= `per` heads */
    int qb, blocks;   /* block path: items of qb tokens, `blocks` per kv group */
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
 * in whatever type K is held (16-bit rows converted as the kernel reads
 * them). */
static void scores(const geb_attn_args *a, float (*s)[POS_BLOCK], const float *q, int nh,
                   const uint8_t *kc, int u0, int nu, float scale) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim;
    const uint8_t *k0 = kc + (size_t)u0 * kv->row_k;
    if (kv->type_k == GEB_TYPE_F32)
        a->k->att_scores(s[0], POS_BLOCK, q, nh, (const float *)(const void *)k0, kv->row_k / sizeof(float),
                         nu, D, scale);
    else
        a->k->att_scores_h(s[0], POS_BLOCK, q, nh, k0, kv->row_k, kv->type_k == GEB_TYPE_BF16, nu, D, scale);
}

/* o_i += sum_u s[i][u] * V[u0 + u], as scores() reads K. */
static void values(const geb_attn_args *a, float *o, float (*s)[POS_BLOCK], int nh,
                   const uint8_t *vc, int u0, int nu) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim;
    const uint8_t *v0 = vc + (size_t)u0 * kv->row_v;
    if (kv->type_v == GEB_TYPE_F32)
        a->k->att_accum(o, s[0], POS_BLOCK, nh, (const float *)(const void *)v0, kv->row_v / sizeof(float),
                        nu, D);
    else
        a->k->att_accum_h(o, s[0], POS_BLOCK, nh, v0, kv->row_v, kv->type_v == GEB_TYPE_BF16, nu, D);
}

/* Heads h0..h1-1 (all of kv group g) of token b at position t. */
static void attend(const geb_attn_args *a, int b, int g, int h0, int h1, int t) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim, nh = h1 - h0;
    const float *q = a->q + ((size_t)b * a->n_heads + h0) * D;
    float *o = a->out + ((size_t)b * a->n_heads + h0) * D;
    const uint8_t *kc = geb_kv_k(kv, a->layer, g, 0), *vc = geb_kv_v(kv, a->layer, g, 0);
    float scale = 1.0f / sqrtf((float)D), mx[MAX_PART], sum[MAX_PART], s[MAX_PART][POS_BLOCK];
    for (int i = 0; i < nh; i++) mx[i] = -INFINITY, sum[i] = 0.0f;
    memset(o, 0, sizeof(float) * D * nh);
    for (int u0 = 0; u0 <= t; u0 += POS_BLOCK) {
        int nu = t + 1 - u0 < POS_BLOCK ? t + 1 - u0 : POS_BLOCK;
        scores(a, s, q, nh, kc, u0, nu, scale);
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
            sum[i] += a->k->att_exp(s[i], nu, m);
        }
        values(a, o, s, nh, vc, u0, nu);
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

/* ---- prompts: blocks of queries against blocks of keys --------------------
 * attend() scores one query token at a time: each score is a dot product
 * of D floats ending in a horizontal sum, and at pp512 attention took 13% of
 * a BF16 prefill (perf; 2.3% of its FLOPs).  A prompt item here is instead
 * up to QROWS query rows (qb tokens x the G heads of one kv group) against
 * blocks of POS_BLOCK cached positions, both products run by the table's
 * F32 GEMM tile: S = Q K^T with the block's keys transposed (positions in
 * lanes) and O += P V with its values as rows (dimensions in lanes).  The
 * online softmax is attend()'s, per row; a row's positions past its own
 * token are masked out of each block. */
#define QROWS 64      /* query rows of a block item */
#define BLOCK_D 256   /* largest head the block path takes (its scratch is on the stack) */

typedef struct blk_scratch {
    float kt[BLOCK_D * POS_BLOCK]; /* kt[d*POS_BLOCK + u] = K[u0 + u][d] */
    float vp[POS_BLOCK * BLOCK_D]; /* vp[u*Dp + d] = V[u0 + u][d], zero for d >= D */
    float s[QROWS * POS_BLOCK];    /* scores, then probabilities */
    float o[QROWS * BLOCK_D];      /* unnormalized outputs, rows of Dp */
    float mx[QROWS], sum[QROWS];
    const float *q[QROWS], *p[QROWS]; /* row pointers for the tile: queries, rows of s */
    int t[QROWS];                  /* the position of each row's token */
} blk_scratch;

/* Key rows [u0, u0 + nu) of one kv head transposed into kt, positions up
 * to the next multiple of 16 zeroed (the tile reads whole vectors). */
static void load_keys(const geb_attn_args *a, blk_scratch *w, const uint8_t *kc, int u0, int nu) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim, nz = (nu + 15) / 16 * 16;
    float row[BLOCK_D];
    for (int u = 0; u < nu; u++) {
        const uint8_t *src = kc + (size_t)(u0 + u) * kv->row_k;
        const float *kr = (const float *)(const void *)src;
        if (kv->type_k != GEB_TYPE_F32) widen_rows(a, kv->type_k, row, src, kv->row_k, 1, D), kr = row;
        for (int d = 0; d < D; d++) w->kt[(size_t)d * POS_BLOCK + u] = kr[d];
    }
    for (int d = 0; d < D; d++)
        for (int u = nu; u < nz; u++) w->kt[(size_t)d * POS_BLOCK + u] = 0.0f;
}

/* Value rows [u0, u0 + nu) as rows of Dp floats. */
static void load_values(const geb_attn_args *a, blk_scratch *w, const uint8_t *vc, int u0, int nu, int Dp) {
    const geb_kv *kv = a->kv;
    int D = kv->head_dim;
    for (int u = 0; u < nu; u++) {
        float *dst = w->vp + (size_t)u * Dp;
        const uint8_t *src = vc + (size_t)(u0 + u) * kv->row_v;
        if (kv->type_v == GEB_TYPE_F32) memcpy(dst, src, sizeof(float) * D);
        else widen_rows(a, kv->type_v, dst, src, kv->row_v, 1, D);
        for (int d = D; d < Dp; d++) dst[d] = 0.0f;
    }
}

/* The online softmax over one block of scores: rows' maxima and sums move
 * on, outputs are rescaled when a maximum grows, and s becomes the block's
 * probabilities (0 where masked). */
static void block_softmax(const geb_kernels *k, blk_scratch *w, int rows, int u0, int nu, int Dp,
                          float scale) {
    for (int r = 0; r < rows; r++) {
        float *sr = w->s + (size_t)r * POS_BLOCK, m = w->mx[r];
        int n = w->t[r] - u0 + 1 < nu ? w->t[r] - u0 + 1 : nu; /* unmasked positions */
        if (n < 0) n = 0;
        for (int u = 0; u < n; u++) {
            sr[u] *= scale;
            m = sr[u] > m ? sr[u] : m;
        }
        if (m > w->mx[r]) {
            float c = expf(w->mx[r] - m);
            float *o = w->o + (size_t)r * Dp;
            w->sum[r] *= c;
            for (int d = 0; d < Dp; d++) o[d] *= c;
            w->mx[r] = m;
        }
        if (n > 0) w->sum[r] += k->att_exp(sr, n, m);
        for (int u = n; u < nu; u++) sr[u] = 0.0f;
    }
}

/* part[r*ldp + c] (first: =, else +=) rows[r] . (xt[k*ldx + c] over k < kn)
 * for r < n, c < width: the table's F32 GEMM tile, tile_rows rows by
 * tile_b lanes at a time. */
static void tile_rows(const geb_kernels *k, float *part, int ldp, const float *const *rows, int n,
                      const float *xt, size_t ldx, int kn, int first, int width) {
    int tr = k->tile_rows, tb = k->tile_b;
    for (int r = 0; r < n; r += tr) {
        int mr = n - r < tr ? n - r : tr;
        const float *rp[GEB_TILE_MAX_ROWS];
        for (int i = 0; i < tr; i++) rp[i] = rows[r + (i < mr ? i : mr - 1)];
        for (int c0 = 0; c0 < width; c0 += tb)
            k->tile_f32(part + (size_t)r * ldp + c0, ldp, mr, rp, xt + c0, ldx, kn, first,
                        width - c0 < tb ? width - c0 : tb);
    }
}

/* Tokens b0.. (nb of them) x the heads of kv group g. */
static void attend_block(const geb_attn_args *a, blk_scratch *w, int g, int b0, int nb) {
    const geb_kernels *k = a->k;
    const geb_kv *kv = a->kv;
    int D = kv->head_dim, Dp = (D + 15) / 16 * 16, G = a->n_heads / kv->n_kv_heads;
    int rows = nb * G;
    const uint8_t *kc = geb_kv_k(kv, a->layer, g, 0), *vc = geb_kv_v(kv, a->layer, g, 0);
    for (int r = 0; r < rows; r++) {
        int b = b0 + r / G;
        w->q[r] = a->q + ((size_t)b * a->n_heads + g * G + r % G) * D;
        w->p[r] = w->s + (size_t)r * POS_BLOCK;
        w->t[r] = a->pos + b;
        w->mx[r] = -INFINITY, w->sum[r] = 0.0f;
    }
    memset(w->o, 0, sizeof(float) * (size_t)rows * Dp);
    int last = a->pos + b0 + nb - 1;
    for (int u0 = 0; u0 <= last; u0 += POS_BLOCK) {
        int nu = last + 1 - u0 < POS_BLOCK ? last + 1 - u0 : POS_BLOCK;
        load_keys(a, w, kc, u0, nu);
        tile_rows(k, w->s, POS_BLOCK, w->q, rows, w->kt, POS_BLOCK, D, 1, nu);
        block_softmax(k, w, rows, u0, nu, Dp, 1.0f / sqrtf((float)D));
        load_values(a, w, vc, u0, nu, Dp);
        tile_rows(k, w->o, Dp, w->p, rows, w->vp, (size_t)Dp, nu, 0, Dp);
    }
    for (int r = 0; r < rows; r++) {
        int b = b0 + r / G;
        float *out = a->out + ((size_t)b * a->n_heads + g * G + r % G) * D, inv = 1.0f / w->sum[r];
        for (int d = 0; d < D; d++) out[d] = w->o[(size_t)r * Dp + d] * inv;
    }
}

/* Items from the last tokens' (the longest) down, so the short ones even
 * out the threads at the end. */
static void attn_block_task(void *p, int ith, int nth) {
    attn_job *j = p;
    const geb_attn_args *a = j->a;
    (void)ith, (void)nth;
    int nkv = a->kv->n_kv_heads, items = nkv * j->blocks, i;
    blk_scratch w;
    while ((i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < items) {
        int blk = j->blocks - 1 - i / nkv, b0 = blk * j->qb;
        attend_block(a, &w, i % nkv, b0, a->B - b0 < j->qb ? a->B - b0 : j->qb);
    }
}

/* The block path pays a transposition of each key block per item: worth
 * it once an item has a few query rows to share it. */
static int use_blocks(const geb_attn_args *a) {
    int G = a->n_heads / a->kv->n_kv_heads;
    return a->B > 1 && (long)a->B * G >= 8 && G <= QROWS && a->kv->head_dim <= BLOCK_D;
}

void geb_attention(geb_pool *pool, const geb_attn_args *a) {
    int nkv = a->kv->n_kv_heads, G = a->n_heads / nkv, nth = geb_pool_size(pool), s = 1;
    if (use_blocks(a)) {
        attn_job j = {.a = a};
        j.qb = QROWS / G; /* use_blocks: G <= QROWS */
        /* Enough items to keep every thread busy. */
        while (j.qb > 1 && (long)nkv * ((a->B + j.qb - 1) / j.qb) < 4L * nth) j.qb /= 2;
        j.blocks = (a->B + j.qb - 1) / j.qb;
        atomic_init(&j.next, 0);
        geb_pool_run(pool, attn_block_task, &j);
        return;
    }
    /* Split a group's heads only as far as needed to give every thread work
     * (one token with few kv groups), and into parts of at most MAX_PART. */
    while (s < G && ((long)a->B * nkv * s < 2L * nth || (G + s - 1) / s > MAX_PART)) s++;
    attn_job j = {.a = a};
    j.per = (G + s - 1) / s;
    j.split = (G + j.per - 1) / j.per;
    atomic_init(&j.next, 0);
    geb_pool_run(pool, attn_task, &j);
}
