/* cmd_perplexity.c - `geb perplexity`: exp(mean negative log-likelihood). */
#include <math.h>
#include <stdlib.h>

#include "cli.h"

#define PPL_CHUNK 64 /* tokens evaluated per call: bounds the logits buffer */

/* -log softmax(logits)[target] over all n logits, in double. */
static double nll(const float *logits, int n, int target) {
    double mx = logits[0], sum = 0;
    for (int i = 1; i < n; i++) if (logits[i] > mx) mx = logits[i];
    for (int i = 0; i < n; i++) sum += exp(logits[i] - mx);
    return log(sum) + mx - logits[target];
}

/* Scores the window w[0..wn) from an empty cache: every token after the
 * first `skip` is predicted from the ones before it. */
static int score_window(geb_model *m, geb_kv *kv, const int32_t *w, size_t wn, size_t skip,
                        float *logits, double *total, size_t *scored, geb_err *err) {
    int V = geb_model_config(m)->vocab;
    for (size_t c0 = 0; c0 < wn; c0 += PPL_CHUNK) {
        int cn = wn - c0 < PPL_CHUNK ? (int)(wn - c0) : PPL_CHUNK;
        if (geb_model_eval(m, kv, w + c0, cn, (int)c0, logits, 1, err)) return -1;
        for (int i = 0; i < cn; i++)
            if (c0 + i + 1 < wn && c0 + i + 1 >= skip) {
                *total += nll(logits + (size_t)i * V, V, w[c0 + i + 1]);
                (*scored)++;
            }
    }
    return 0;
}

/* Windows of `window` tokens.  Models without BOS: consecutive windows of
 * the text, every token after a window's first scored.  Models that add BOS:
 * consecutive chunks of window-1 tokens, each window BOS + chunk, every
 * chunk token scored. */
static int perplexity(geb_session *s, const int32_t *ids, size_t n, int window, geb_err *err) {
    const geb_config *c = geb_model_config(s->model);
    int bos = c->bos_id >= 0 ? c->bos_id : geb_tok_bos_id(s->tok);
    int with_bos = c->add_bos && bos >= 0, rc = -1;
    size_t step = (size_t)window - with_bos;
    float *logits = malloc(sizeof(float) * c->vocab * PPL_CHUNK);
    int32_t *w = malloc(sizeof(int32_t) * window);
    geb_kv *kv = geb_model_kv_new(s->model, window, err);
    double total = 0;
    size_t scored = 0;
    if (!logits || !w || !kv) {
        if (kv) geb_err_set(err, "out of memory");
        goto done;
    }
    for (size_t w0 = 0, k = 1; w0 + 1 - with_bos < n; w0 += step, k++) {
        size_t cn = n - w0 < step ? n - w0 : step, wn = cn + with_bos;
        if (wn < 2) break;
        if (with_bos) w[0] = bos;
        for (size_t i = 0; i < cn; i++) w[with_bos + i] = ids[w0 + i];
        if (score_window(s->model, kv, w, wn, 0, logits, &total, &scored, err)) goto done;
        if (geb_out_printf("[%zu] %.4f\n", k, exp(total / scored)) || geb_out_write(NULL, 0)) break;
    }
    if (geb_st_check_unchanged(geb_model_checkpoint(s->model), err)) goto done;
    if (scored == 0) {
        geb_err_set(err, "the text has %zu tokens: nothing to score", n);
        goto done;
    }
    geb_out_printf("perplexity: %.4f\n", exp(total / scored));
    rc = 0;
done:
    geb_kv_free(kv);
    free(w);
    free(logits);
    return rc;
}

int geb_cmd_perplexity(const geb_opts *o, geb_err *err) {
    geb_session s;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t len = 0, n = 0;
    int rc = 1;
    /* The window: -c, else min(512, the model's context), read before the
     * model is loaded so the cache is sized to it. */
    geb_config cfg;
    char dir[GEB_PATH_MAX];
    if (geb_modeldir_resolve(o->model, dir, sizeof dir, err) || geb_config_load(&cfg, dir, err))
        return 1;
    int window = o->n_ctx ? o->n_ctx : cfg.seq_len < 512 ? cfg.seq_len : 512;
    if (geb_session_load(&s, o, window, err) || geb_read_input(o->file, &text, &len, err) ||
        geb_tok_encode(s.tok, text, len, &ids, &n, err))
        goto done;
    if (perplexity(&s, ids, n, window, err) == 0) rc = 0;
done:
    free(ids);
    free(text);
    geb_session_free(&s);
    return rc;
}
