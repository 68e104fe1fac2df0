/* cmd_run.c - `geb run`: a prompt in, its continuation streamed to stdout. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "guard.h"
#include "kernels.h"
#include "qk.h"

static void on_sigint(int sig) {
    (void)sig;
    geb_interrupted = 1;
}

/* The prompt text: -f FILE ('-' = stdin), then -p TEXT (joined by a space,
 * as ollama joins piped input and the prompt); without -p and -f, a stdin
 * that is not a terminal.  With -p alone stdin is never read, so a loop that
 * feeds geb from a file keeps its input. */
static int read_prompt(const geb_opts *o, char **out, size_t *len, geb_err *err) {
    *out = NULL, *len = 0;
    if (o->file) {
        if (geb_read_input(o->file, out, len, err)) return -1;
    } else if (!o->prompt && !isatty(STDIN_FILENO)) {
        if (geb_read_input("-", out, len, err)) return -1;
    }
    if (o->prompt) {
        size_t pl = strlen(o->prompt), sep = *len > 0;
        char *b = realloc(*out, *len + sep + pl + 1);
        if (!b) return geb_err_set(err, "out of memory");
        if (sep) b[(*len)++] = ' ';
        memcpy(b + *len, o->prompt, pl + 1);
        if (o->escape) pl = geb_unescape(b + *len, pl);
        *len += pl;
        *out = b;
    }
    if (!*out && !(*out = calloc(1, 1))) return geb_err_set(err, "out of memory");
    return 0;
}

/* Prompt ids by the family's BOS rule, fitted into the context: refused if
 * too long, or with --truncate cut from the left to half the context. */
static int prompt_ids(const geb_session *s, const geb_opts *o, int32_t **ids, size_t *n,
                      geb_err *err) {
    char *text;
    size_t len;
    if (read_prompt(o, &text, &len, err)) return -1;
    const geb_config *c = geb_model_config(s->model);
    int n_ctx = geb_model_n_ctx(s->model);
    /* Tokenizing costs tens of bytes per text byte: a prompt that certainly
     * cannot fit is refused after a cheap normalization pass instead. */
    size_t least = o->truncate ? 0 : geb_tok_min_ids(s->tok, text, len);
    if (least >= (size_t)n_ctx) {
        free(text);
        return geb_err_set(err, "the prompt (%zu bytes) is at least %zu tokens but the context "
                                "holds %d (use -c to enlarge it or --truncate to keep the end)",
                           len, least, n_ctx);
    }
    int rc = geb_gen_prompt_ids(s->tok, text, len, c->add_bos, c->bos_id, ids, n, err);
    free(text);
    if (rc) return -1;
    if (*n >= (size_t)n_ctx) {
        if (!o->truncate)
            return geb_err_set(err, "the prompt is %zu tokens but the context holds %d "
                                    "(use -c to enlarge it or --truncate to keep the end)", *n, n_ctx);
        size_t keep = (size_t)n_ctx / 2;
        fprintf(stderr, "geb: --truncate: the prompt is %zu tokens; the first %zu were dropped to "
                        "fit the context of %d\n", *n, *n - keep, n_ctx);
        memmove(*ids, *ids + *n - keep, keep * sizeof **ids);
        *n = keep;
    }
    return 0;
}

static int emit_stdout(void *ud, const char *s, size_t n) {
    (void)ud;
    return geb_out_write(s, n);
}

static void print_timings(const geb_session *s, const geb_gen_params *gp, const char *src[6],
                          const geb_gen_stats *st, double total_ms) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const geb_weights *w = geb_model_weights(s->model);
    size_t bytes = geb_weights_bytes_streamed(w, geb_weights_type(w));
    const geb_sampler_params *sp = &gp->sp;
    fprintf(stderr, "geb: sampling: temp %g (%s), top-k %d (%s), top-p %g (%s), min-p %g (%s), "
                    "repeat-penalty %g (%s) over %d (%s)\n",
            sp->temp, src[0], sp->top_k, src[1], sp->top_p, src[2], sp->min_p, src[3],
            sp->repeat_penalty, src[4], sp->repeat_last_n, src[5]);
    fprintf(stderr, "geb:        load time = %10.2f ms\n", s->load_ms);
    fprintf(stderr, "geb: prompt eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)\n",
            st->pp_ms, st->n_prompt_eval, st->n_prompt_eval ? st->pp_ms / st->n_prompt_eval : 0,
            st->pp_ms > 0 ? 1e3 * st->n_prompt_eval / st->pp_ms : 0);
    fprintf(stderr, "geb:        eval time = %10.2f ms / %5d runs   (%8.2f ms per token, %8.2f tokens per second)\n",
            st->tg_ms, st->n_eval, st->n_eval ? st->tg_ms / st->n_eval : 0,
            st->tg_ms > 0 ? 1e3 * st->n_eval / st->tg_ms : 0);
    fprintf(stderr, "geb:       total time = %10.2f ms / %5d tokens\n", total_ms, st->n_prompt_eval + st->n_eval);
    double gbs = st->tg_ms > 0 ? bytes * (double)st->n_eval / (st->tg_ms * 1e6) : 0;
    fprintf(stderr, "geb:        bandwidth = %10.2f GB/s (%.3f GB of %s weights per token)\n", gbs,
            bytes / 1e9, geb_type_traits_of(geb_weights_type(w))->name);
    /* ru_maxrss is in KiB on Linux; MB here are 10^6 bytes like GB above. */
    fprintf(stderr, "geb:         peak rss = %10.2f MB\n", ru.ru_maxrss * 1024.0 / 1e6);
    const char *isa = geb_model_kernels(s->model)->name, *variant = geb_qk_best(isa);
    fprintf(stderr, "geb:          threads = %d (%s kernels), software prefetch %s\n", geb_pool_size(s->pool),
            variant ? variant : isa, geb_kernels_prefetch_name());
    fprintf(stderr, "geb:             seed = %llu\n", (unsigned long long)sp->seed);
}

int geb_cmd_run(const geb_opts *o, geb_err *err) {
    double t_start = geb_now_ms();
    geb_session s;
    int32_t *ids = NULL;
    size_t n_prompt = 0;
    geb_kv *kv = NULL;
    int rc = 1;
    if (geb_session_load(&s, o, o->n_ctx, err)) goto done;
    int n_ctx = geb_model_n_ctx(s.model);
    if (prompt_ids(&s, o, &ids, &n_prompt, err)) goto done;
    int32_t *hist = realloc(ids, sizeof *ids * n_ctx);
    if (!hist) { geb_err_set(err, "out of memory"); goto done; }
    ids = hist;
    if (!(kv = geb_model_kv_new(s.model, n_ctx, err))) goto done;
    geb_gen_params gp;
    const char *src[6];
    geb_cli_gen_params(o, &s, &gp, src);

    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, NULL);

    int closed = 0;
    if (o->echo) {
        size_t len;
        char *txt = geb_tok_decode(s.tok, ids, n_prompt, &len);
        closed = !txt || geb_out_write(txt, len);
        free(txt);
    }
    geb_gen_stats st = {0};
    geb_guard_test_pause("GEB_TEST_PAUSE_BEFORE_GEN"); /* tests only: loaded, nothing generated */
    if (!closed && geb_generate(s.model, kv, s.tok, ids, (int)n_prompt, 0, &gp, emit_stdout, NULL, &st, err))
        goto done;
    closed = closed || st.end == GEB_GEN_CLOSED;
    if (!closed && isatty(STDOUT_FILENO)) geb_out_write("\n", 1);
    if (st.end == GEB_GEN_CONTEXT)
        fprintf(stderr, "geb: the context of %d tokens is full; generation stopped\n", n_ctx);
    if (o->verbose) print_timings(&s, &gp, src, &st, geb_now_ms() - t_start);
    if (geb_st_check_unchanged(geb_model_checkpoint(s.model), err)) goto done;
    rc = st.end == GEB_GEN_INTERRUPT ? 130 : 0;
done:
    geb_kv_free(kv);
    free(ids);
    geb_session_free(&s);
    return rc;
}
