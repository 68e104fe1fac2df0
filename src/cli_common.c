/* cli_common.c - helpers shared by the subcommands (see cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "special.h"
#include "weights.h"

volatile sig_atomic_t geb_interrupted;

/* ---- stdout -------------------------------------------------------------- */

static int out_closed;  /* the reader went away: stop quietly */
static int out_errno;   /* another write error: report it at the end */

static int out_fail(void) {
    if (errno == EPIPE) out_closed = 1;
    else if (!out_errno) out_errno = errno ? errno : EIO;
    return -1;
}

int geb_out_write(const char *s, size_t n) {
    if (out_closed || out_errno) return -1;
    if (n && fwrite(s, 1, n, stdout) != n) return out_fail();
    return fflush(stdout) == 0 ? 0 : out_fail();
}

int geb_out_printf(const char *fmt, ...) {
    if (out_closed || out_errno) return -1;
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return r < 0 ? out_fail() : 0;
}

int geb_out_close(geb_err *err) {
    if (!out_closed && !out_errno && (fflush(stdout) != 0 || ferror(stdout))) out_fail();
    if (!out_closed && !out_errno && fclose(stdout) != 0) out_fail();
    if (out_errno && !out_closed)
        return geb_err_set(err, "cannot write to standard output: %s", strerror(out_errno)), 1;
    return 0;
}

/* ---- input --------------------------------------------------------------- */

/* Appends all of stream f to a growing buffer. */
static int slurp(FILE *f, const char *what, char **buf, size_t *len, geb_err *err) {
    size_t cap = 4096;
    char *b = malloc(cap);
    if (!b) return geb_err_set(err, "out of memory reading %s", what);
    *buf = b, *len = 0;
    for (;;) {
        if (cap - *len < 4096) {
            if (cap >= GEB_MAX_INPUT)
                return geb_err_set(err, "%s is larger than %u MB", what, GEB_MAX_INPUT >> 20);
            cap *= 2;
            if (!(b = realloc(*buf, cap))) return geb_err_set(err, "out of memory reading %s", what);
            *buf = b;
        }
        size_t n = fread(*buf + *len, 1, cap - *len - 1, f);
        *len += n;
        if (n == 0) break;
    }
    if (ferror(f)) return geb_err_set(err, "error reading %s", what);
    (*buf)[*len] = 0;
    return 0;
}

int geb_read_input(const char *path, char **buf, size_t *len, geb_err *err) {
    *buf = NULL, *len = 0;
    if (strcmp(path, "-") == 0) return slurp(stdin, "stdin", buf, len, err);
    FILE *f = fopen(path, "rb");
    if (!f) return geb_err_set(err, "cannot open %s: %s", path, strerror(errno));
    int rc = slurp(f, path, buf, len, err);
    fclose(f);
    return rc;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t geb_unescape(char *s, size_t n) {
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (s[r] != '\\' || r + 1 == n) { s[w++] = s[r]; continue; }
        char c = s[++r];
        switch (c) {
        case 'n': s[w++] = '\n'; break;
        case 't': s[w++] = '\t'; break;
        case 'r': s[w++] = '\r'; break;
        case '\\': s[w++] = '\\'; break;
        case '"': s[w++] = '"'; break;
        case '\'': s[w++] = '\''; break;
        case 'x':
            if (r + 2 < n && hexval(s[r + 1]) >= 0 && hexval(s[r + 2]) >= 0) {
                s[w++] = (char)(hexval(s[r + 1]) * 16 + hexval(s[r + 2]));
                r += 2;
                break;
            }
            /* fall through */
        default: s[w++] = '\\'; s[w++] = c;
        }
    }
    s[w] = 0;
    return w;
}

/* Sampling: each setting from its flag, else the model's own (transformers'
 * meaning: do_sample false = greedy, the penalty over the whole context),
 * else llama.cpp's default.  src[] names where each came from (for -v). */
static geb_sampler_params pick_sampling(const geb_opts *o, const geb_config *c, const char *src[6]) {
    geb_sampler_params sp = o->sp;
    const geb_sampling_defaults *d = &c->sampling;
    const char *flag = "flag", *model = d->source, *dflt = "default";
    for (int i = 0; i < 6; i++) src[i] = o->sp_given & (1u << i) ? flag : dflt;
    if (!d->present) return sp;
    if (!(o->sp_given & 1)) sp.temp = d->do_sample ? d->temperature : 0.0f, src[0] = model;
    if (!(o->sp_given & 2)) sp.top_k = d->top_k, src[1] = model;
    if (!(o->sp_given & 4)) sp.top_p = d->top_p, src[2] = model;
    if (!(o->sp_given & 8)) sp.min_p = 0.0f, src[3] = model;
    if (!(o->sp_given & 16)) sp.repeat_penalty = d->repetition_penalty, src[4] = model;
    if (!(o->sp_given & 32)) sp.repeat_last_n = -1, src[5] = model;
    return sp;
}

/* Every id that ends the text: config/generation_config EOS ids, else the
 * tokenizer's EOS. */
static void stop_ids(const geb_session *s, geb_gen_params *gp) {
    const geb_config *c = geb_model_config(s->model);
    for (int i = 0; i < c->n_eos && gp->n_stop_ids < GEB_MAX_STOP_IDS; i++)
        gp->stop_ids[gp->n_stop_ids++] = c->eos_ids[i];
    if (gp->n_stop_ids == 0 && geb_tok_eos_id(s->tok) >= 0)
        gp->stop_ids[gp->n_stop_ids++] = geb_tok_eos_id(s->tok);
}

int geb_cli_gen_params(const geb_opts *o, const geb_session *s, geb_gen_params *gp,
                       const char *src[6]) {
    const char *ignored[6];
    *gp = geb_gen_defaults();
    gp->sp = pick_sampling(o, geb_model_config(s->model), src ? src : ignored);
    if (!o->have_seed) gp->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    gp->n_predict = o->n_predict;
    gp->n_stops = o->n_stops;
    memcpy(gp->stops, o->stops, sizeof o->stops);
    gp->ignore_eos = o->ignore_eos;
    gp->interrupt = &geb_interrupted;
    stop_ids(s, gp);
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

static void progress_bar(void *ud, double frac) {
    (void)ud;
    int w = 40, k = (int)(frac * w + 0.5);
    fprintf(stderr, "\rloading [");
    for (int i = 0; i < w; i++) fputc(i < k ? '#' : ' ', stderr);
    fprintf(stderr, "] %3d%%", (int)(frac * 100 + 0.5));
    if (frac >= 1) fprintf(stderr, "\r%*s\r", w + 16, "");
    fflush(stderr);
}

int geb_cli_specials(geb_tok *tok, const char *dir, const geb_config *c, char *why, size_t cap,
                     geb_err *err) {
    size_t n = 0;
    const char *const *d = c->arch->specials;
    while (d && d[n]) n++;
    return geb_special_load(tok, dir, c->vocab, d, n, why, cap, err);
}

int geb_cli_arch(const char *dir, geb_config *c, geb_err *err) {
    geb_st *st = NULL;
    geb_weights *w = NULL;
    int rc = geb_config_load(c, dir, err) || geb_st_open(&st, dir, err) ||
             geb_weights_open(&w, c, st, GEB_TYPE_F32, err);
    geb_weights_free(w);
    if (st) geb_st_close(st);
    return rc ? -1 : 0;
}

int geb_cli_threads(int requested) {
    int capped, t = geb_threads_pick(requested, &capped);
    if (capped) fprintf(stderr, "geb: warning: %d threads capped to %d\n", requested, t);
    return t;
}

int geb_session_load(geb_session *s, const geb_opts *o, int n_ctx, geb_err *err) {
    memset(s, 0, sizeof *s);
    double t0 = geb_now_ms();
    char tpath[GEB_PATH_MAX + 64];
    if (geb_modeldir_resolve(o->model, s->dir, sizeof s->dir, err) ||
        geb_modeldir_tokenizer(s->dir, tpath, sizeof tpath, err) || geb_tok_load(&s->tok, tpath, err))
        return -1;
    if (!(s->pool = geb_pool_create(geb_cli_threads(o->threads), err))) return -1;
    geb_model_params mp = {.n_ctx = n_ctx, .type = o->n_types ? o->types[0] : GEB_TYPE_F32,
                           .kv_k = o->kv_k, .kv_v = o->kv_v};
    if (isatty(STDERR_FILENO)) mp.progress = progress_bar;
    if (geb_model_load(&s->model, s->dir, &mp, s->pool, err)) return -1;
    const geb_config *c = geb_model_config(s->model);
    if (geb_cli_specials(s->tok, s->dir, c, s->specials_why, sizeof s->specials_why, err)) return -1;
    int seq = geb_model_config(s->model)->seq_len;
    if (n_ctx > seq)
        fprintf(stderr, "geb: warning: -c %d is longer than the %d tokens the model was trained on\n",
                n_ctx, seq);
    geb_model_set_interrupt(s->model, &geb_interrupted);
    s->load_ms = geb_now_ms() - t0;
    return 0;
}

void geb_session_free(geb_session *s) {
    geb_model_free(s->model);
    geb_tok_free(s->tok);
    geb_pool_free(s->pool);
    memset(s, 0, sizeof *s);
}
