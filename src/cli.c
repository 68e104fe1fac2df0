/* cli.c - `geb info`, `geb perplexity` and `geb bench`. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "safetensors.h"

/* ---------------------------------------------------------------- info */

/* "5.39 GB", "612.4 MB", "12.0 KB": decimal units, as disk sizes are sold. */
static const char *human(size_t bytes, char *buf, size_t cap) {
    if (bytes >= 1000000000) snprintf(buf, cap, "%.2f GB", bytes / 1e9);
    else if (bytes >= 1000000) snprintf(buf, cap, "%.1f MB", bytes / 1e6);
    else snprintf(buf, cap, "%.1f KB", bytes / 1e3);
    return buf;
}

int geb_cli_info(const char *dir, int n_ctx, geb_err *err) {
    geb_config c;
    if (geb_config_load(&c, dir, err)) return 1;
    size_t wbytes, kvbytes;
    if (geb_model_estimate(dir, n_ctx, &wbytes, &kvbytes, err)) return 1;
    geb_st *st;
    if (geb_st_open(&st, dir, err)) return 1;
    const char *dtype = NULL;
    int mixed = 0, fused = 0;
    for (size_t i = 0; i < geb_st_count(st); i++) {
        const geb_tensor *t = geb_st_at(st, i);
        if (dtype && strcmp(dtype, t->dtype_name)) mixed = 1;
        dtype = t->dtype_name;
        if (strstr(t->name, "query_key_value")) fused = 1;
    }
    printf("model:       %s\n", dir);
    printf("arch:        %s\n", fused ? "ChatGLM2 (fused query_key_value)" : "GEB (query + key_value)");
    printf("layers:      %d\n", c.n_layers);
    printf("hidden:      %d\n", c.dim);
    printf("ffn:         %d (SwiGLU)\n", c.ffn_dim);
    printf("heads:       %d query x %d dims, %d kv heads (GQA %d:1)\n", c.n_heads, c.head_dim,
           c.n_kv_heads, c.n_heads / c.n_kv_heads);
    printf("vocab:       %d (padded)\n", c.vocab);
    printf("context:     %d trained, %d used\n", c.seq_len, n_ctx > 0 ? n_ctx : c.seq_len);
    printf("rope:        base %g on %d of %d dims (ChatGLM2 adjacent pairs)\n", c.rope_base,
           c.head_dim / 2, c.head_dim);
    char b1[32], b2[32];
    int64_t params = geb_config_params(&c);
    printf("params:      %lld (%.3f B)\n", (long long)params, params / 1e9);
    printf("on disk:     %s, %s in %zu tensors\n", mixed ? "mixed" : dtype ? dtype : "?",
           human(geb_st_file_bytes(st), b1, sizeof b1), geb_st_count(st));
    printf("memory:      %s FP32 weights + %s KV cache\n", human(wbytes, b1, sizeof b1),
           human(kvbytes, b2, sizeof b2));
    /* Every weight but the embedding (one row per token) is read per token. */
    printf("per token:   %s of weights streamed\n",
           human(wbytes - (c.tied ? 0 : (size_t)c.vocab * c.dim * sizeof(float)), b1, sizeof b1));
    geb_st_close(st);
    return 0;
}

/* ---------------------------------------------------------- perplexity */

/* -log softmax(logits)[target] over all n logits, in double. */
static double nll(const float *logits, int n, int target) {
    double mx = logits[0], sum = 0;
    for (int i = 1; i < n; i++) if (logits[i] > mx) mx = logits[i];
    for (int i = 0; i < n; i++) sum += exp(logits[i] - mx);
    return log(sum) + mx - logits[target];
}

#define PPL_CHUNK 64 /* tokens evaluated per call: bounds the logits buffer */

int geb_cli_perplexity(geb_model *m, const geb_tok *tok, const char *text, size_t len,
                       int window, geb_err *err) {
    int32_t *ids;
    size_t n;
    if (geb_tok_encode(tok, text, len, &ids, &n, err)) return 1;
    int V = geb_model_config(m)->vocab, rc = 1;
    float *logits = malloc(sizeof(float) * V * PPL_CHUNK);
    if (!logits) { geb_err_set(err, "out of memory"); goto done; }
    if (n < 2) { geb_err_set(err, "the text has %zu tokens: nothing to score", n); goto done; }
    double total = 0;
    size_t scored = 0;
    int k = 0;
    for (size_t w0 = 0; w0 + 1 < n; w0 += window, k++) {
        size_t wn = n - w0 < (size_t)window ? n - w0 : (size_t)window;
        if (wn < 2) break;
        for (size_t c0 = 0; c0 < wn; c0 += PPL_CHUNK) {
            int cn = wn - c0 < PPL_CHUNK ? (int)(wn - c0) : PPL_CHUNK;
            if (geb_model_eval(m, ids + w0 + c0, cn, (int)c0, logits, 1, err)) goto done;
            for (int i = 0; i < cn; i++)
                if (c0 + i + 1 < wn) {
                    total += nll(logits + (size_t)i * V, V, ids[w0 + c0 + i + 1]);
                    scored++;
                }
        }
        printf("[%d] %.4f\n", k + 1, exp(total / scored));
        fflush(stdout);
    }
    printf("perplexity: %.4f\n", exp(total / scored));
    rc = 0;
done:
    free(logits);
    free(ids);
    return rc;
}

/* --------------------------------------------------------------- bench */

typedef struct stats {
    double mean, sd;
} stats;

static stats summarize(const double *v, int n) {
    stats s = {0, 0};
    for (int i = 0; i < n; i++) s.mean += v[i];
    s.mean /= n;
    for (int i = 0; i < n; i++) s.sd += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = n > 1 ? sqrt(s.sd / (n - 1)) : 0;
    return s;
}

/* Parses "1,2,4" into at most cap thread counts. */
static int parse_list(const char *s, int *out, int cap, geb_err *err) {
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 512 || n == cap || (*end && *end != ','))
            return geb_err_set(err, "-t expects a list of thread counts like 1,2");
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    if (!n) return geb_err_set(err, "-t expects a list of thread counts like 1,2");
    return n;
}

/* Times r runs of one test; returns tokens/s per run in ts[].  With bw, the
 * pool's read bandwidth is measured just before each timed run into bw[]:
 * on a shared machine the rate drifts over seconds, so the roofline and the
 * run it judges are measured under the same conditions. */
static int time_test(geb_model *m, geb_pool *pool, const int32_t *toks, int np, int ng,
                     int reps, double *ts, double *bw, float *logits, geb_err *err) {
    for (int r = -1; r < reps; r++) { /* r == -1 is the warm-up */
        if (bw && r >= 0) bw[r] = geb_measure_bandwidth(pool, (size_t)1 << 30);
        double t0 = geb_now_ms();
        if (np && geb_model_eval(m, toks, np, 0, logits, 0, err)) return -1;
        for (int i = 0; i < ng; i++)
            if (geb_model_eval(m, toks + i, 1, i, logits, 0, err)) return -1;
        double ms = geb_now_ms() - t0;
        if (r >= 0) ts[r] = (np + ng) * 1e3 / ms;
    }
    return 0;
}

static const char *base_name(const char *p) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    static char buf[256];
    size_t b = n;
    while (b > 0 && p[b - 1] != '/') b--;
    snprintf(buf, sizeof buf, "%.*s", (int)(n - b), p + b);
    return buf;
}

int geb_cli_bench(const geb_cli_bench_opts *o, geb_err *err) {
    int threads[16], nt;
    if (o->threads) {
        if ((nt = parse_list(o->threads, threads, 16, err)) < 0) return 2;
    } else threads[0] = geb_physical_cores(), nt = 1;
    int tmax = 1;
    for (int i = 0; i < nt; i++) if (threads[i] > tmax) tmax = threads[i];
    int ctx = (o->n_prompt > o->n_gen ? o->n_prompt : o->n_gen) + 1, rc = 1;
    geb_pool *pool = geb_pool_create(tmax, err), *tp = NULL;
    geb_model *m = NULL;
    int32_t *toks = NULL;
    float *logits = NULL;
    double *ts = malloc(sizeof(double) * o->reps), *bws = malloc(sizeof(double) * o->reps);
    if (!pool || !ts || !bws) goto done;
    double t0 = geb_now_ms();
    if (geb_model_load(&m, o->dir, ctx, pool, NULL, NULL, err)) goto done;
    double load_ms = geb_now_ms() - t0;
    const geb_config *c = geb_model_config(m);
    toks = malloc(sizeof *toks * ctx);
    logits = malloc(sizeof *logits * c->vocab);
    if (!toks || !logits) { geb_err_set(err, "out of memory"); goto done; }
    uint64_t x = 42; /* fixed pseudo-random prompt: ids spread over the vocabulary */
    for (int i = 0; i < ctx; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((x >> 33) % (uint64_t)c->vocab);
    }
    double wgb = geb_model_weight_bytes(m) / 1e9;
    char model[300];
    snprintf(model, sizeof model, "%s %s", base_name(o->dir), geb_model_file_dtype(m));
    /* llama-bench's units: binary for bytes, decimal for parameters. */
    double wb = (double)geb_model_weight_bytes(m), np_ = (double)geb_config_params(c);
    char size[32], params[32];
    if (wb >= 1073741824.0) snprintf(size, sizeof size, "%.2f GiB", wb / 1073741824.0);
    else snprintf(size, sizeof size, "%.2f MiB", wb / 1048576.0);
    if (np_ >= 1e9) snprintf(params, sizeof params, "%.2f B", np_ / 1e9);
    else snprintf(params, sizeof params, "%.2f M", np_ / 1e6);
    if (o->json) printf("[\n");
    else {
        printf("| model | size | params | backend | threads | test | t/s | GB/s | %% of read bw |\n");
        printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    }
    int first = 1;
    for (int ti = 0; ti < nt; ti++) {
        geb_pool_free(tp);
        if (!(tp = geb_pool_create(threads[ti], err)) || geb_model_set_pool(m, tp, err)) goto done;
        for (int test = 0; test < 2; test++) {
            int np = test == 0 ? o->n_prompt : 0, ng = test == 1 ? o->n_gen : 0;
            if (np + ng == 0) continue;
            /* The roofline of tg: what these threads can read from a buffer
             * much larger than the caches, measured before each run. */
            if (time_test(m, tp, toks, np, ng, o->reps, ts, ng ? bws : NULL, logits, err))
                goto done;
            stats s = summarize(ts, o->reps);
            double gbs = ng ? s.mean * wgb : 0, bw = ng ? summarize(bws, o->reps).mean : 0;
            char name[32];
            snprintf(name, sizeof name, "%s%d", np ? "pp" : "tg", np ? np : ng);
            if (o->json) {
                printf("%s  {\"model\": \"%s\", \"size_bytes\": %zu, \"params\": %lld, "
                       "\"backend\": \"%s\", \"threads\": %d, \"test\": \"%s\", \"n_prompt\": %d, "
                       "\"n_gen\": %d, \"avg_ts\": %.4f, \"stddev_ts\": %.4f, \"samples_ts\": [",
                       first ? "" : ",\n", model, geb_model_weight_bytes(m),
                       (long long)geb_config_params(c), geb_kernels_current()->name, threads[ti],
                       name, np, ng, s.mean, s.sd);
                for (int r = 0; r < o->reps; r++) printf("%s%.4f", r ? ", " : "", ts[r]);
                printf("]");
                if (ng) printf(", \"weights_gbs\": %.4f, \"read_bw_gbs\": %.4f", gbs, bw);
                printf(", \"load_ms\": %.1f}", load_ms);
            } else {
                printf("| %s | %s | %s | %s | %d | %s | %.2f ± %.2f | ", model, size, params, geb_kernels_current()->name, threads[ti], name, s.mean, s.sd);
                if (ng) printf("%.1f | %.0f%% of %.1f |\n", gbs, 100 * gbs / bw, bw);
                else printf(" |  |\n");
            }
            first = 0;
            fflush(stdout);
        }
    }
    if (o->json) printf("\n]\n");
    rc = 0;
done:
    geb_model_free(m);
    geb_pool_free(tp);
    geb_pool_free(pool);
    free(toks);
    free(logits);
    free(ts);
    free(bws);
    return rc;
}
