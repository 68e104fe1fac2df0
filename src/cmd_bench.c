/* cmd_bench.c - `geb bench`: llama-bench's pp/tg table, plus the weight
 * bandwidth of tg against a read-bandwidth probe run on the same threads
 * just before each run (the machine's bandwidth drifts over seconds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cli.h"
#include "kernels.h"

#define MAX_LIST 16

typedef struct bw_job {
    const geb_kernels *k;
    float *buf;
    size_t n;          /* floats */
    int mode;          /* 0: fill (first touch), 1: one stream, 2: several streams */
    const float *ones; /* [BW_COLS] for mode 2 */
} bw_job;

#define BW_COLS 4096 /* row length when a slice is read as a matrix */

/* Pool task: thread ith fills or reads its contiguous slice of the buffer. */
static void bw_task(void *ctx, int ith, int nth) {
    bw_job *j = ctx;
    size_t per = j->n / (size_t)nth / BW_COLS * BW_COLS;
    float *p = j->buf + per * (size_t)ith, y[64];
    volatile float sink = 0.0f;
    if (j->mode == 0) {
        for (size_t i = 0; i < per; i++) p[i] = 1.0f / 1024.0f;
    } else if (j->mode == 1) {
        /* One sequential stream: dot(p, p) reads each cache line once. */
        for (size_t i = 0; i < per; i += 1u << 20)
            sink += j->k->dot(p + i, p + i, (int)(per - i < (1u << 20) ? per - i : 1u << 20));
    } else {
        /* The slice as a [rows, BW_COLS] matrix times a vector in L1: several
         * rows stream at once, which some CPUs need to reach their peak. */
        size_t rows = per / BW_COLS;
        for (size_t r = 0; r < rows; r += 64) {
            int nr = rows - r < 64 ? (int)(rows - r) : 64;
            j->k->matvec_f32(y, (const uint8_t *)(p + r * BW_COLS), BW_COLS * sizeof(float), j->ones,
                             nr, BW_COLS);
            sink += y[0];
        }
    }
    (void)sink;
}

/* Read bandwidth in GB/s of the pool's threads over a `bytes` buffer: the
 * best of 3 one-stream and 3 several-stream passes; 0 if out of memory. */
static double measure_bandwidth(const geb_kernels *k, geb_pool *pool, size_t bytes) {
    const size_t align = 2u << 20;
    size_t nth = (size_t)geb_pool_size(pool);
    bytes = (bytes + align - 1) / align * align;
    float *buf = aligned_alloc(align, bytes), *ones = malloc(BW_COLS * sizeof *ones);
    double best = 0.0;
    if (buf && ones) {
#ifdef MADV_HUGEPAGE
        madvise(buf, bytes, MADV_HUGEPAGE); /* fewer TLB misses */
#endif
        for (int i = 0; i < BW_COLS; i++) ones[i] = 1.0f;
        bw_job j = {.k = k, .buf = buf, .n = bytes / sizeof(float), .ones = ones};
        geb_pool_run(pool, bw_task, &j);
        double read = (double)(j.n / nth / BW_COLS * BW_COLS * nth) * sizeof(float);
        for (int pass = 0; pass < 6; pass++) {
            j.mode = 1 + pass % 2;
            double t0 = geb_now_ms();
            geb_pool_run(pool, bw_task, &j);
            double ms = geb_now_ms() - t0, gbs = ms > 0 ? read / (ms * 1e6) : 0.0;
            if (gbs > best) best = gbs;
        }
    }
    free(buf);
    free(ones);
    return best;
}

typedef struct stats { double mean, sd; } stats;

static stats summarize(const double *v, int n) {
    stats s = {0, 0};
    for (int i = 0; i < n; i++) s.mean += v[i];
    s.mean /= n;
    for (int i = 0; i < n; i++) s.sd += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = n > 1 ? sqrt(s.sd / (n - 1)) : 0;
    return s;
}

/* Parses "1,2,4" into at most MAX_LIST values in [lo, hi]. */
static int parse_list(const char *flag, const char *s, int lo, int hi, int *out, geb_err *err) {
    int n = 0;
    while (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || n == MAX_LIST || (*end && *end != ','))
            break;
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
        if (!*s && end[0] == ',') n = -1;
    }
    if (n <= 0 || (s && *s))
        return geb_err_set(err, "%s expects a list of integers from %d to %d like 1,2", flag, lo, hi);
    return n;
}

typedef struct bench_ctx {
    const geb_opts *o;
    geb_model *m;
    geb_kv *kv;
    int32_t *toks;
    float *logits;
    double *ts, *bw;
    double load_ms;
    int first;
} bench_ctx;

/* Times r runs of one test after `depth` tokens are in the cache; tokens/s
 * per run in ts[], and with bw the probe's GB/s before each run. */
static int time_test(bench_ctx *b, geb_pool *pool, int np, int ng, int depth, int with_bw, geb_err *err) {
    for (int r = -1; r < b->o->bench_r; r++) { /* r == -1 is the warm-up */
        if (depth && geb_model_eval(b->m, b->kv, b->toks, depth, 0, b->logits, 0, err)) return -1;
        if (with_bw && r >= 0) b->bw[r] = measure_bandwidth(geb_model_kernels(b->m), pool, (size_t)1 << 30);
        double t0 = geb_now_ms();
        if (np && geb_model_eval(b->m, b->kv, b->toks + depth, np, depth, b->logits, 0, err)) return -1;
        for (int i = 0; i < ng; i++)
            if (geb_model_eval(b->m, b->kv, b->toks + depth + i, 1, depth + i, b->logits, 0, err)) return -1;
        double ms = geb_now_ms() - t0;
        if (r >= 0) b->ts[r] = (np + ng) * 1e3 / ms;
    }
    return 0;
}

static const char *base_name(const char *p, char *buf, size_t cap) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && p[b - 1] != '/') b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), p + b);
    return buf;
}

/* One row of the table (or one JSON object). */
static void print_row(bench_ctx *b, const char *model, geb_type t, int threads, int np, int ng,
                      int depth) {
    const geb_weights *w = geb_model_weights(b->m);
    int reps = b->o->bench_r;
    stats s = summarize(b->ts, reps);
    size_t bytes = geb_weights_bytes_streamed(w, t);
    double gbs = ng ? s.mean * bytes / 1e9 : 0, bw = ng ? summarize(b->bw, reps).mean : 0;
    char name[48];
    snprintf(name, sizeof name, "%s%d", np ? "pp" : "tg", np ? np : ng);
    if (depth) snprintf(name + strlen(name), sizeof name - strlen(name), " @ d%d", depth);
    const char *tn = geb_type_traits_of(t)->name, *kn = geb_model_kernels(b->m)->name;
    if (b->o->json) {
        geb_out_printf("%s  {\"model\": \"%s\", \"weights\": \"%s\", \"size_bytes\": %zu, \"params\": %lld, "
                       "\"backend\": \"%s\", \"threads\": %d, \"test\": \"%s%d\", \"n_prompt\": %d, "
                       "\"n_gen\": %d, \"depth\": %d, \"avg_ts\": %.4f, \"stddev_ts\": %.4f, \"samples_ts\": [",
                       b->first ? "" : ",\n", model, tn, bytes, (long long)geb_weights_params(w), kn,
                       threads, np ? "pp" : "tg", np ? np : ng, np, ng, depth, s.mean, s.sd);
        for (int r = 0; r < reps; r++) geb_out_printf("%s%.4f", r ? ", " : "", b->ts[r]);
        geb_out_printf("]");
        if (ng) geb_out_printf(", \"weights_gbs\": %.4f, \"read_bw_gbs\": %.4f", gbs, bw);
        geb_out_printf(", \"type_k\": \"%s\", \"type_v\": \"%s\", \"load_ms\": %.1f}",
                       geb_type_traits_of(b->kv->type_k)->name, geb_type_traits_of(b->kv->type_v)->name,
                       b->load_ms);
    } else {
        double v = (double)bytes;
        char size[32];
        if (v >= 1073741824.0) snprintf(size, sizeof size, "%.2f GiB", v / 1073741824.0);
        else snprintf(size, sizeof size, "%.2f MiB", v / 1048576.0);
        double np_ = (double)geb_weights_params(w);
        geb_out_printf("| %s | %s | %s | %.2f %s | %s | %d | %s | %.2f ± %.2f | ", model, tn, size,
                       np_ >= 1e9 ? np_ / 1e9 : np_ / 1e6, np_ >= 1e9 ? "B" : "M", kn, threads, name,
                       s.mean, s.sd);
        if (ng) geb_out_printf("%.1f | %.0f%% of %.1f |\n", gbs, 100 * gbs / bw, bw);
        else geb_out_printf(" |  |\n");
    }
    b->first = 0;
    geb_out_write(NULL, 0);
}

/* Every thread count and depth for the loaded model of type t. */
static int bench_type(bench_ctx *b, const char *model, geb_type t, const int *threads, int nt,
                      const int *depths, int nd, geb_err *err) {
    for (int ti = 0; ti < nt; ti++) {
        geb_pool *tp = geb_pool_create(threads[ti], err);
        if (!tp) return -1;
        geb_model_set_pool(b->m, tp);
        int rc = 0;
        for (int di = 0; di < nd && rc == 0; di++)
            for (int test = 0; test < 2 && rc == 0; test++) {
                int np = test == 0 ? b->o->bench_p : 0, ng = test == 1 ? b->o->bench_n : 0;
                if (np + ng == 0) continue;
                rc = time_test(b, tp, np, ng, depths[di], ng > 0, err);
                if (rc == 0) print_row(b, model, t, threads[ti], np, ng, depths[di]);
            }
        geb_pool_free(tp);
        if (rc) return -1;
    }
    return 0;
}

int geb_cmd_bench(const geb_opts *o, geb_err *err) {
    int threads[MAX_LIST], depths[MAX_LIST] = {0}, nt = 1, nd = 1;
    threads[0] = geb_physical_cores();
    if (o->bench_t && (nt = parse_list("-t", o->bench_t, 1, 1 << 20, threads, err)) < 0) return 2;
    for (int i = 0; i < nt; i++) threads[i] = geb_cli_threads(threads[i]);
    if (o->bench_d && (nd = parse_list("-d", o->bench_d, 0, 1 << 22, depths, err)) < 0) return 2;
    char dir[GEB_PATH_MAX], model[300];
    if (geb_modeldir_resolve(o->model, dir, sizeof dir, err)) return 1;
    geb_type types[GEB_MAX_TYPES] = {GEB_TYPE_F32};
    int ntypes = o->n_types ? o->n_types : 1;
    if (o->n_types) memcpy(types, o->types, sizeof types);
    int dmax = 0;
    for (int i = 0; i < nd; i++) dmax = depths[i] > dmax ? depths[i] : dmax;
    int ctx = dmax + (o->bench_p > o->bench_n ? o->bench_p : o->bench_n) + 1, rc = 1;
    bench_ctx b = {.o = o, .first = 1};
    b.ts = malloc(sizeof(double) * o->bench_r), b.bw = malloc(sizeof(double) * o->bench_r);
    b.toks = malloc(sizeof(int32_t) * ctx);
    geb_pool *pool = geb_pool_create(geb_physical_cores(), err);
    if (!b.ts || !b.bw || !b.toks || !pool) goto done;
    if (o->json) geb_out_printf("[\n");
    else {
        geb_out_printf("| model | weights | size | params | backend | threads | test | t/s | GB/s | %% of read bw |\n");
        geb_out_printf("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    }
    for (int ti = 0; ti < ntypes; ti++) {
        geb_model_params mp = {.n_ctx = ctx, .type = types[ti], .kv_k = o->kv_k, .kv_v = o->kv_v};
        double t0 = geb_now_ms();
        if (geb_model_load(&b.m, dir, &mp, pool, err)) goto done;
        b.load_ms = geb_now_ms() - t0;
        const geb_config *c = geb_model_config(b.m);
        b.logits = malloc(sizeof(float) * c->vocab);
        if (!b.logits || !(b.kv = geb_model_kv_new(b.m, ctx, err))) goto done;
        uint64_t x = 42; /* fixed pseudo-random prompt: ids spread over the vocabulary */
        for (int i = 0; i < ctx; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            b.toks[i] = (int32_t)((x >> 33) % (uint64_t)c->vocab);
        }
        char base[256];
        snprintf(model, sizeof model, "%s %s", base_name(dir, base, sizeof base),
                 geb_weights_file_dtype(geb_model_weights(b.m)));
        if (bench_type(&b, model, types[ti], threads, nt, depths, nd, err)) goto done;
        geb_kv_free(b.kv), b.kv = NULL;
        free(b.logits), b.logits = NULL;
        geb_model_free(b.m), b.m = NULL;
    }
    if (o->json) geb_out_printf("\n]\n");
    rc = 0;
done:
    geb_kv_free(b.kv);
    free(b.logits);
    geb_model_free(b.m);
    geb_pool_free(pool);
    free(b.toks);
    free(b.ts);
    free(b.bw);
    return rc;
}
