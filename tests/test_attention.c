/* test_attention.c - geb_attention against a double-precision softmax over
 * the cache, for every kernel table this CPU runs: prompts of many tokens
 * (the block path: query rows against blocks of keys through the GEMM
 * tile), single tokens (the decode path), group sizes from 1 to past the
 * block path's 64 rows, head sizes that are not multiples of a vector or
 * past the block path's 256, starts deep in the cache, F32/F16/BF16 keys
 * and values, 1-3 threads. */
#include <stdlib.h>

#include "attention.h"
#include "kvcache.h"
#include "pool.h"
#include "test.h"
#include "types.h"

static float frand(void) { return (float)rand() / RAND_MAX * 2.0f - 1.0f; }

/* One shape: NH query heads over NKV kv heads of D, B tokens at pos. */
typedef struct shape {
    int nh, nkv, d, B, pos;
} shape;

/* The output of query head h of token b, from the cache as stored (its
 * rows widened back to F32), in doubles. */
static void reference(const geb_kv *kv, const float *q, int nh, int b, int h, int pos, double *out) {
    int D = kv->head_dim, G = nh / kv->n_kv_heads, g = h / G, t = pos + b;
    const geb_type_traits *tk = geb_type_traits_of(kv->type_k), *tv = geb_type_traits_of(kv->type_v);
    const float *qh = q + ((size_t)b * nh + h) * D;
    double *s = malloc(sizeof *s * (t + 1)), mx = -1e300, sum = 0;
    float *row = malloc(sizeof *row * D);
    for (int u = 0; u <= t; u++) {
        tk->to_f32(row, geb_kv_k(kv, 0, g, u), D);
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)qh[d] * row[d];
        s[u] = dot / sqrt((double)D);
        mx = s[u] > mx ? s[u] : mx;
    }
    for (int d = 0; d < D; d++) out[d] = 0;
    for (int u = 0; u <= t; u++) {
        double p = exp(s[u] - mx);
        sum += p;
        tv->to_f32(row, geb_kv_v(kv, 0, g, u), D);
        for (int d = 0; d < D; d++) out[d] += p * row[d];
    }
    for (int d = 0; d < D; d++) out[d] /= sum;
    free(s), free(row);
}

static void check_shape(const geb_kernels *k, geb_pool *pool, shape sh, geb_type tk, geb_type tv) {
    geb_err err = {{0}};
    int D = sh.d, n = sh.pos + sh.B;
    geb_kv *kv = geb_kv_new(1, sh.nkv, n, D, tk, tv, &err);
    CHECK_MSG(kv != NULL, "geb_kv_new: %s", err.msg);
    if (!kv) return;
    float *row = malloc(sizeof *row * D);
    /* Keys scaled so the scores spread over a few units, as a model's do. */
    for (int g = 0; g < sh.nkv; g++)
        for (int u = 0; u < n; u++) {
            for (int d = 0; d < D; d++) row[d] = 3.0f * frand();
            geb_type_traits_of(tk)->from_f32(geb_kv_k(kv, 0, g, u), row, D);
            for (int d = 0; d < D; d++) row[d] = frand();
            geb_type_traits_of(tv)->from_f32(geb_kv_v(kv, 0, g, u), row, D);
        }
    size_t nq = (size_t)sh.B * sh.nh * D;
    float *q = malloc(sizeof *q * nq), *out = malloc(sizeof *out * (nq + 1));
    for (size_t i = 0; i < nq; i++) q[i] = frand();
    out[nq] = 12345.0f; /* a canary past the output */
    geb_attn_args a = {k, q, out, kv, 0, sh.B, sh.pos, sh.nh};
    geb_attention(pool, &a);
    double *want = malloc(sizeof *want * D), worst = 0;
    for (int b = 0; b < sh.B; b++)
        for (int h = 0; h < sh.nh; h++) {
            reference(kv, q, sh.nh, b, h, sh.pos, want);
            const float *o = out + ((size_t)b * sh.nh + h) * D;
            for (int d = 0; d < D; d++) {
                double e = fabs(o[d] - want[d]);
                worst = e > worst || e != e ? e : worst;
            }
        }
    /* Outputs are averages of values in [-1, 1]; float scores and sums
     * leave errors below 1e-6 (8.3e-7 the worst over these shapes, tables
     * and caches on an AVX-512 machine); a mask one position too wide failed
     * 153 of these checks. */
    CHECK_MSG(worst <= 2e-5 && out[nq] == 12345.0f,
              "%s %d threads nh=%d nkv=%d D=%d B=%d pos=%d k %s v %s: worst error %.3g",
              k->name, geb_pool_size(pool), sh.nh, sh.nkv, D, sh.B, sh.pos,
              geb_type_traits_of(tk)->name, geb_type_traits_of(tv)->name, worst);
    free(row), free(q), free(out), free(want);
    geb_kv_free(kv);
}

int main(void) {
    static const shape SHAPES[] = {
        {16, 4, 128, 37, 0},    /* GEB-1.3B's heads, one prompt */
        {16, 4, 128, 130, 70},  /* many key blocks, a start inside one */
        {4, 4, 20, 9, 3},       /* groups of 1, a head of 20 */
        {8, 1, 24, 17, 100},    /* one kv head for 8 query heads */
        {3, 3, 7, 5, 0},        /* 15 rows: just on the block path */
        {32, 4, 64, 2, 200},    /* two tokens deep in the cache */
        {64, 1, 16, 3, 5},      /* a group of 64: one token per item */
        {128, 2, 8, 3, 1},      /* a group of 64 rows */
        {130, 1, 8, 2, 1},      /* a group past 64 rows: the per-token path */
        {16, 4, 128, 1, 300},   /* decoding */
        {4, 2, 257, 6, 64},     /* a head past 256: the per-token path */
        {2, 1, 256, 40, 0},     /* the largest head of the block path */
        {16, 4, 128, 3, 4093},  /* a prompt at depth 4096 */
    };
    static const geb_type KV[][2] = {{GEB_TYPE_F32, GEB_TYPE_F32},
                                     {GEB_TYPE_F16, GEB_TYPE_F16},
                                     {GEB_TYPE_BF16, GEB_TYPE_F32}};
    static const char *TABLES[] = {"scalar", "avx2", "avx512", "neon"};
    int quick = getenv("GEB_TEST_QUICK") != NULL;
    for (size_t t = 0; t < sizeof TABLES / sizeof *TABLES; t++) {
        const geb_kernels *k = geb_kernels_get(TABLES[t]);
        if (!k) {
            printf("attention: %s not supported here, skipped\n", TABLES[t]);
            continue;
        }
        printf("attention: testing %s\n", k->name);
        for (int nth = 1; nth <= 3; nth++) {
            geb_err err = {{0}};
            geb_pool *pool = geb_pool_create(nth, &err);
            CHECK_MSG(pool != NULL, "pool: %s", err.msg);
            if (!pool) continue;
            for (size_t s = 0; s < sizeof SHAPES / sizeof *SHAPES; s++)
                for (size_t v = 0; v < sizeof KV / sizeof *KV; v++) {
                    /* Under qemu: every shape once, types and threads cycled. */
                    if (quick && (int)((s + v) % 3) != nth - 1) continue;
                    check_shape(k, pool, SHAPES[s], KV[v][0], KV[v][1]);
                }
            geb_pool_free(pool);
        }
    }
    return TEST_DONE("attention");
}
