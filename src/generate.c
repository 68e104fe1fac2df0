/* generate.c - the decode loop (see generate.h). */
#include "generate.h"

#include <stdlib.h>
#include <string.h>

geb_gen_params geb_gen_defaults(void) {
    geb_gen_params p;
    memset(&p, 0, sizeof p);
    p.sp = geb_sampler_defaults();
    p.n_predict = 256;
    return p;
}

int geb_gen_prompt_ids(const geb_tok *tok, const char *text, size_t len, int add_bos, int bos_id,
                       int32_t **ids, size_t *n, geb_err *err) {
    int32_t *t;
    size_t nt;
    if (geb_tok_encode(tok, text, len, &t, &nt, err)) return -1;
    int bos = bos_id >= 0 ? bos_id : geb_tok_bos_id(tok);
    int lead = (add_bos || nt == 0) && bos >= 0;
    if (nt == 0 && bos < 0) {
        free(t);
        return geb_err_set(err, "the prompt is empty and the tokenizer has no BOS token");
    }
    /* In place: a long prompt's ids are not held twice. */
    int32_t *out = realloc(t, sizeof *out * (nt + 1));
    if (!out) {
        free(t);
        return geb_err_set(err, "out of memory");
    }
    if (lead) memmove(out + 1, out, sizeof *out * nt), out[0] = bos;
    *ids = out;
    *n = nt + lead;
    return 0;
}

/* ---- stop strings -------------------------------------------------------- */

/* Holds generated text back while it might be the start of a stop string,
 * and cuts the output before the first complete stop string. */
typedef struct stopper {
    const geb_gen_params *p;
    geb_emit_fn emit;
    void *ud;
    char *buf;
    size_t len, cap;
    int stopped;
} stopper;

/* Length of the longest tail of buf that is a proper prefix of a stop string. */
static size_t held_tail(const stopper *st) {
    size_t keep = 0;
    for (int i = 0; i < st->p->n_stops; i++) {
        size_t sl = strlen(st->p->stops[i]);
        for (size_t k = sl - 1; k > keep; k--)
            if (k <= st->len && memcmp(st->buf + st->len - k, st->p->stops[i], k) == 0) {
                keep = k;
                break;
            }
    }
    return keep;
}

/* Adds text; emits whatever can no longer be part of a stop string.
 * Returns -1 when emit refuses (or memory runs out). */
static int stopper_add(stopper *st, const char *s, size_t n, int final) {
    if (st->len + n + 1 > st->cap) {
        size_t cap = (st->len + n + 1) * 2;
        char *b = realloc(st->buf, cap);
        if (!b) return -1;
        st->buf = b, st->cap = cap;
    }
    memcpy(st->buf + st->len, s, n);
    st->len += n;
    size_t emit = st->len;
    for (int i = 0; i < st->p->n_stops; i++) {
        char *hit = memmem(st->buf, st->len, st->p->stops[i], strlen(st->p->stops[i]));
        if (hit && (size_t)(hit - st->buf) < emit) emit = (size_t)(hit - st->buf), st->stopped = 1;
    }
    if (!st->stopped && !final) emit = st->len - held_tail(st);
    if (emit && st->emit(st->ud, st->buf, emit)) return -1;
    memmove(st->buf, st->buf + emit, st->len - emit);
    st->len -= emit;
    return 0;
}

/* ---- the loop ------------------------------------------------------------ */

static int is_stop_id(const geb_gen_params *p, int id) {
    for (int i = 0; i < p->n_stop_ids; i++)
        if (p->stop_ids[i] == id) return 1;
    return 0;
}

typedef struct gen_run {
    geb_model *m;
    geb_kv *kv;
    const geb_gen_params *p;
    geb_sampler *smp;
    geb_tok_stream *stream;
    float *logits;
    stopper stop;
    geb_gen_stats *st;
} gen_run;

/* Samples, streams and evaluates until a stop; n is the sequence length. */
static int decode_loop(gen_run *g, int32_t *ids, int n, geb_err *err) {
    const geb_gen_params *p = g->p;
    int want = p->n_predict, n_ctx = g->kv->n_ctx;
    for (;;) {
        if (p->interrupt && *p->interrupt) return g->st->end = GEB_GEN_INTERRUPT, 0;
        if (want >= 0 && g->st->n_gen >= want) return g->st->end = GEB_GEN_LIMIT, 0;
        int id = geb_sampler_sample(g->smp, g->logits, ids, n);
        if (is_stop_id(p, id) && !p->ignore_eos) return g->st->end = GEB_GEN_STOP_ID, 0;
        ids[n++] = id;
        g->st->n_gen++;
        size_t len;
        const char *piece = geb_tok_stream_push(g->stream, id, &len);
        if (stopper_add(&g->stop, piece, len, 0)) return g->st->end = GEB_GEN_CLOSED, 0;
        if (g->stop.stopped) return g->st->end = GEB_GEN_STOP_STRING, 0;
        if (want >= 0 && g->st->n_gen == want) return g->st->end = GEB_GEN_LIMIT, 0;
        if (n == n_ctx) return g->st->end = GEB_GEN_CONTEXT, 0;
        double t0 = geb_now_ms();
        if (geb_model_eval(g->m, g->kv, &ids[n - 1], 1, n - 1, g->logits, 0, err)) return -1;
        g->st->tg_ms += geb_now_ms() - t0;
        g->st->n_eval++;
    }
}

int geb_generate(geb_model *m, geb_kv *kv, const geb_tok *tok, int32_t *ids, int n_prompt,
                 int n_cached, const geb_gen_params *p, geb_emit_fn emit, void *ud,
                 geb_gen_stats *st, geb_err *err) {
    memset(st, 0, sizeof *st);
    if (n_prompt < 1 || n_prompt > kv->n_ctx) return geb_err_set(err, "prompt does not fit the context");
    if (n_cached >= n_prompt) n_cached = n_prompt - 1; /* the last prompt token gives the logits */
    gen_run g = {.m = m, .kv = kv, .p = p, .st = st, .stop = {.p = p, .emit = emit, .ud = ud}};
    int rc = -1;
    g.smp = geb_sampler_new(&p->sp, geb_model_config(m)->vocab, err);
    g.logits = malloc(sizeof(float) * geb_model_config(m)->vocab);
    g.stream = geb_tok_stream_new(tok, ids, (size_t)n_prompt);
    if (!g.smp || !g.logits || !g.stream) {
        if (g.smp) geb_err_set(err, "out of memory");
        goto done;
    }
    /* The prompt one batch per call, so that an interrupt stops it between
     * batches and n_prompt_eval says how far it got; only the last batch
     * computes logits. */
    double t0 = geb_now_ms();
    for (int i = n_cached; i < n_prompt; i += GEB_BATCH) {
        if (i > n_cached && p->interrupt && *p->interrupt) {
            st->pp_ms = geb_now_ms() - t0;
            st->end = GEB_GEN_INTERRUPT, rc = 0;
            goto done;
        }
        int b = n_prompt - i < GEB_BATCH ? n_prompt - i : GEB_BATCH;
        if (geb_model_eval(m, kv, ids + i, b, i, i + b == n_prompt ? g.logits : NULL, 0, err))
            goto done;
        st->n_prompt_eval += b;
    }
    st->pp_ms = geb_now_ms() - t0;
    st->prefilled = 1;
    if (decode_loop(&g, ids, n_prompt, err)) goto done;
    if (st->end != GEB_GEN_CLOSED && st->end != GEB_GEN_STOP_STRING) {
        size_t len;
        const char *tail = geb_tok_stream_finish(g.stream, &len);
        if (stopper_add(&g.stop, tail, len, 1)) st->end = GEB_GEN_CLOSED;
    }
    rc = 0;
done:
    free(g.stop.buf);
    geb_tok_stream_free(g.stream);
    free(g.logits);
    geb_sampler_free(g.smp);
    return rc;
}
