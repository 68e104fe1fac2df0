/* main.c - the geb command line: run (the default), tokenize, perplexity,
 * bench, info.
 *
 * Flags follow llama.cpp where it has one (-m -p -f -n -t -c -s --temp
 * --top-k --top-p --min-p --repeat-penalty --repeat-last-n -r -e -v).
 * stdout carries only results (generated text, ids, tables); every failure
 * is one line on stderr and a non-zero exit: 2 for bad arguments, 1 for
 * anything else, 130 after Ctrl-C.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kernels.h"
#include "model.h"
#include "pool.h"
#include "safetensors.h"
#include "sampler.h"
#include "tokenizer.h"

#define MAX_STOPS 16
#define MAX_THREADS 512
#define GEB_MAX_INPUT (256u << 20) /* prompt / file size limit */

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

/* ------------------------------------------------------------- options */

typedef struct opts {
    const char *cmd;       /* run, tokenize, perplexity, bench, info */
    const char *model;     /* -m */
    const char *prompt;    /* -p */
    const char *file;      /* -f */
    const char *text;      /* positional TEXT of tokenize */
    int n_predict;         /* -n */
    int threads;           /* -t (0: physical cores) */
    int n_ctx;             /* -c (0: model's; perplexity: window, default 512) */
    int have_seed;         /* -s given (else a random seed) */
    geb_sampler_params sp;
    const char *stops[MAX_STOPS]; /* -r */
    int n_stops;
    int ignore_eos, echo, escape, verbose, truncate, pieces;
    /* bench */
    int bench_p, bench_n, bench_r;
    const char *bench_t;   /* -t LIST for bench */
    const char *bench_o;   /* md | json */
} opts;

static void usage(FILE *f) {
    fputs(
        "usage: geb [run] [options]            generate text (the default)\n"
        "       geb tokenize -m DIR [TEXT]      print the token ids of TEXT (or stdin)\n"
        "       geb perplexity -m DIR -f FILE [-c N]\n"
        "       geb bench -m DIR [-p 512] [-n 128] [-r 5] [-t 1,2] [-o md|json]\n"
        "       geb info -m DIR\n"
        "\n"
        "options:\n"
        "  -m, --model DIR        model folder (config.json, *.safetensors, tokenizer);\n"
        "                         default $GEB_MODEL, else models/geb-tiny\n"
        "  -p, --prompt TEXT      prompt (stdin, if piped, comes first)\n"
        "  -f, --file FILE        read the prompt from FILE ('-' for stdin)\n"
        "  -n, --n-predict N      tokens to generate (default 256, -1 = until end or context full)\n"
        "  -t, --threads N        threads (default: physical cores)\n"
        "  -c, --ctx-size N       context length (default: the model's)\n"
        "  -s, --seed N           random seed (default: random)\n"
        "      --temp F           temperature (default 0.8; 0 = greedy)\n"
        "      --top-k N          top-k sampling (default 40, 0 = off)\n"
        "      --top-p F          top-p sampling (default 0.95, 1 = off)\n"
        "      --min-p F          min-p sampling (default 0.05, 0 = off)\n"
        "      --repeat-penalty F penalize repeated tokens (default 1.0 = off)\n"
        "      --repeat-last-n N  tokens the penalty looks back (default 64, -1 = all)\n"
        "  -r, --reverse-prompt S stop when S is generated (repeatable)\n"
        "      --ignore-eos       keep generating past the end-of-sequence token\n"
        "      --echo             print the prompt before the continuation\n"
        "  -e, --escape           turn \\n, \\t, \\\\, \\\", \\xHH in -p text into characters\n"
        "      --truncate         keep the end of a prompt longer than the context\n"
        "      --pieces           (tokenize) print pieces instead of ids\n"
        "  -v, --verbose          timings, bandwidth and seed on stderr\n"
        "  -h, --help             this help\n",
        f);
}

/* Strict integer parse: the whole string, within [lo, hi]. */
static int parse_int(const char *flag, const char *s, long lo, long hi, int *out, geb_err *err) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return geb_err_set(err, "%s expects an integer from %ld to %ld, got '%s'", flag, lo, hi,
                           s ? s : "");
    *out = (int)v;
    return 0;
}

static int parse_float(const char *flag, const char *s, float *out, geb_err *err) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v))
        return geb_err_set(err, "%s expects a number, got '%s'", flag, s ? s : "");
    *out = (float)v;
    return 0;
}

/* a equals the short or the long spelling of a flag (either may be NULL). */
static int is_flag(const char *a, const char *s1, const char *s2) {
    return (s1 && strcmp(a, s1) == 0) || (s2 && strcmp(a, s2) == 0);
}

static int parse_opts(opts *o, int argc, char **argv, geb_err *err) {
    memset(o, 0, sizeof *o);
    o->cmd = "run";
    o->n_predict = 256;
    o->sp = geb_sampler_defaults();
    o->bench_p = 512, o->bench_n = 128, o->bench_r = 5;
    o->bench_o = "md";
    int i = 1;
    static const char *const cmds[] = {"run", "tokenize", "perplexity", "bench", "info", NULL};
    if (argc > 1)
        for (int c = 0; cmds[c]; c++)
            if (strcmp(argv[1], cmds[c]) == 0) o->cmd = cmds[c], i = 2;
    int bench = strcmp(o->cmd, "bench") == 0;
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define IS(s1, s2) is_flag(a, s1, s2)
#define NEED_ARG() \
    do { if (!v) return geb_err_set(err, "%s needs an argument", a); i++; } while (0)
        if (IS("-h", "--help")) {
            usage(stdout);
            exit(0);
        } else if (IS("-m", "--model")) { NEED_ARG(); o->model = v; }
        else if (IS("-p", "--prompt") && !bench) { NEED_ARG(); o->prompt = v; }
        else if (IS("-f", "--file")) { NEED_ARG(); o->file = v; }
        else if (IS("-n", "--n-predict") && !bench) {
            NEED_ARG();
            if (parse_int(a, v, -1, 1 << 30, &o->n_predict, err)) return -1;
        } else if (IS("-t", "--threads") && !bench) {
            NEED_ARG();
            if (parse_int(a, v, 1, 1 << 20, &o->threads, err)) return -1;
        } else if (IS("-c", "--ctx-size")) {
            NEED_ARG();
            if (parse_int(a, v, 2, 1 << 22, &o->n_ctx, err)) return -1;
        } else if (IS("-s", "--seed")) {
            NEED_ARG();
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (!*v || *end || errno || *v == '-')
                return geb_err_set(err, "%s expects a non-negative integer, got '%s'", a, v);
            o->sp.seed = s, o->have_seed = 1;
        } else if (IS("--temp", "--temperature")) {
            NEED_ARG();
            if (parse_float(a, v, &o->sp.temp, err)) return -1;
        } else if (IS("--top-k", NULL)) {
            NEED_ARG();
            if (parse_int(a, v, 0, 1 << 30, &o->sp.top_k, err)) return -1;
        } else if (IS("--top-p", NULL)) {
            NEED_ARG();
            if (parse_float(a, v, &o->sp.top_p, err)) return -1;
        } else if (IS("--min-p", NULL)) {
            NEED_ARG();
            if (parse_float(a, v, &o->sp.min_p, err)) return -1;
        } else if (IS("--repeat-penalty", NULL)) {
            NEED_ARG();
            if (parse_float(a, v, &o->sp.repeat_penalty, err)) return -1;
        } else if (IS("--repeat-last-n", NULL)) {
            NEED_ARG();
            if (parse_int(a, v, -1, 1 << 30, &o->sp.repeat_last_n, err)) return -1;
        } else if (IS("-r", "--reverse-prompt") && !bench) {
            NEED_ARG();
            if (o->n_stops == MAX_STOPS) return geb_err_set(err, "at most %d stop strings", MAX_STOPS);
            if (!*v) return geb_err_set(err, "%s needs a non-empty string", a);
            o->stops[o->n_stops++] = v;
        } else if (IS("--ignore-eos", NULL)) o->ignore_eos = 1;
        else if (IS("--echo", NULL)) o->echo = 1;
        else if (IS("-e", "--escape")) o->escape = 1;
        else if (IS("-v", "--verbose")) o->verbose = 1;
        else if (IS("--truncate", NULL)) o->truncate = 1;
        else if (IS("--pieces", NULL)) o->pieces = 1;
        else if (bench && IS("-p", "--n-prompt")) {
            NEED_ARG();
            if (parse_int(a, v, 0, 1 << 20, &o->bench_p, err)) return -1;
        } else if (bench && IS("-n", "--n-gen")) {
            NEED_ARG();
            if (parse_int(a, v, 0, 1 << 20, &o->bench_n, err)) return -1;
        } else if (bench && IS("-r", "--repetitions")) {
            NEED_ARG();
            if (parse_int(a, v, 1, 1000, &o->bench_r, err)) return -1;
        } else if (bench && IS("-t", "--threads")) { NEED_ARG(); o->bench_t = v; }
        else if (bench && IS("-o", "--output")) {
            NEED_ARG();
            if (strcmp(v, "md") && strcmp(v, "json"))
                return geb_err_set(err, "-o expects md or json, got '%s'", v);
            o->bench_o = v;
        } else if (a[0] == '-' && a[1]) {
            return geb_err_set(err, "unknown option '%s' (see geb --help)", a);
        } else if (strcmp(o->cmd, "tokenize") == 0 && !o->text) {
            o->text = a;
        } else {
            return geb_err_set(err, "unexpected argument '%s' (see geb --help)", a);
        }
#undef IS
#undef NEED_ARG
    }
    return geb_sampler_check(&o->sp, err); /* before any model is loaded */
}

/* -------------------------------------------------------------- inputs */

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The model folder: -m, else $GEB_MODEL, else models/geb-tiny here or next
 * to the binary. */
static int resolve_model(const opts *o, char *out, size_t cap, geb_err *err) {
    const char *m = o->model ? o->model : getenv("GEB_MODEL");
    if (m && *m) {
        if (!is_dir(m)) return geb_err_set(err, "model folder %s does not exist", m);
        snprintf(out, cap, "%s", m);
        return 0;
    }
    if (is_dir("models/geb-tiny")) {
        snprintf(out, cap, "models/geb-tiny");
        return 0;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            if (snprintf(out, cap, "%s/models/geb-tiny", exe) < (int)cap && is_dir(out)) return 0;
        }
    }
    return geb_err_set(err, "no model given: use -m DIR or set GEB_MODEL");
}

/* tokenizer.model, else GEBtokenizer.model, else the only *.model. */
static int resolve_tokenizer(const char *dir, char *out, size_t cap, geb_err *err) {
    static const char *const names[] = {"tokenizer.model", "GEBtokenizer.model"};
    struct stat st;
    for (int i = 0; i < 2; i++) {
        snprintf(out, cap, "%s/%s", dir, names[i]);
        if (stat(out, &st) == 0) return 0;
    }
    DIR *d = opendir(dir);
    if (!d) return geb_err_set(err, "cannot open model folder %s", dir);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".model") == 0) {
            if (found++) break;
            snprintf(out, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (found == 1) return 0;
    if (found > 1) return geb_err_set(err, "%s holds several *.model files; name one tokenizer.model", dir);
    return geb_err_set(err, "no tokenizer in %s (tokenizer.model, GEBtokenizer.model or *.model)", dir);
}

/* Appends all of stream f to a growing buffer. */
static int slurp(FILE *f, const char *what, char **buf, size_t *len, geb_err *err) {
    size_t cap = *len + 4096;
    char *b = realloc(*buf, cap);
    if (!b) return geb_err_set(err, "out of memory reading %s", what);
    *buf = b;
    for (;;) {
        if (cap - *len < 4096) {
            if (cap >= GEB_MAX_INPUT) return geb_err_set(err, "%s is larger than %u MB", what, GEB_MAX_INPUT >> 20);
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

static int read_path(const char *path, char **buf, size_t *len, geb_err *err) {
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

/* Turns C-style escapes into characters in place (only for -p with -e);
 * unknown escapes are kept as written. */
static size_t unescape(char *s, size_t n) {
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

/* The prompt: stdin (when piped and no -f), then -f FILE, then -p TEXT,
 * joined by a space as ollama joins piped input and the prompt. */
static int read_prompt(const opts *o, char **out, size_t *len, geb_err *err) {
    *out = NULL;
    *len = 0;
    if (o->file) {
        if (read_path(o->file, out, len, err)) return -1;
    } else if (!isatty(STDIN_FILENO)) {
        if (slurp(stdin, "stdin", out, len, err)) return -1;
    }
    if (o->prompt) {
        size_t pl = strlen(o->prompt), sep = *len > 0;
        char *b = realloc(*out, *len + sep + pl + 1);
        if (!b) return geb_err_set(err, "out of memory");
        if (sep) b[(*len)++] = ' ';
        memcpy(b + *len, o->prompt, pl + 1);
        if (o->escape) pl = unescape(b + *len, pl);
        *len += pl;
        *out = b;
    }
    if (!*out && !(*out = calloc(1, 1))) return geb_err_set(err, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- load */

static void progress_bar(void *ud, double frac) {
    (void)ud;
    int w = 40, k = (int)(frac * w + 0.5);
    fprintf(stderr, "\rloading [");
    for (int i = 0; i < w; i++) fputc(i < k ? '#' : ' ', stderr);
    fprintf(stderr, "] %3d%%", (int)(frac * 100 + 0.5));
    if (frac >= 1) fprintf(stderr, "\r%*s\r", w + 16, "");
    fflush(stderr);
}

/* Threads: -t, else physical cores; capped with a warning. */
static int pick_threads(int t) {
    if (t <= 0) return geb_physical_cores();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int cap = online > 0 && online * 4 < MAX_THREADS ? (int)online * 4 : MAX_THREADS;
    if (t > cap) {
        fprintf(stderr, "geb: warning: %d threads capped to %d\n", t, cap);
        t = cap;
    }
    return t;
}

typedef struct session {
    char dir[4096];
    geb_pool *pool;
    geb_model *model;
    geb_tok *tok;
    double load_ms;
} session;

static void session_free(session *s) {
    geb_model_free(s->model);
    geb_tok_free(s->tok);
    geb_pool_free(s->pool);
}

/* Loads tokenizer and model (with -c checks) on a pool of `threads`. */
static int session_load(session *s, const opts *o, int threads, int n_ctx, geb_err *err) {
    memset(s, 0, sizeof *s);
    double t0 = geb_now_ms();
    if (resolve_model(o, s->dir, sizeof s->dir, err)) return -1;
    char tpath[4200];
    if (resolve_tokenizer(s->dir, tpath, sizeof tpath, err)) return -1;
    if (geb_tok_load(&s->tok, tpath, err)) return -1;
    geb_config cfg;
    if (geb_config_load(&cfg, s->dir, err)) return -1;
    if (n_ctx > cfg.seq_len)
        fprintf(stderr, "geb: warning: -c %d is longer than the %d tokens the model was trained on\n",
                n_ctx, cfg.seq_len);
    if (!(s->pool = geb_pool_create(threads, err))) return -1;
    int bar = isatty(STDERR_FILENO);
    if (geb_model_load(&s->model, s->dir, n_ctx, s->pool, bar ? progress_bar : NULL, NULL, err))
        return -1;
    s->load_ms = geb_now_ms() - t0;
    return 0;
}

/* ------------------------------------------------------------- output */

/* Writes to stdout and flushes; returns -1 once stdout is closed (EPIPE),
 * which ends the run quietly. */
static int out_write(const char *s, size_t n) {
    if (n && fwrite(s, 1, n, stdout) != n) return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

/* Holds generated text back while it might be the start of a stop string,
 * and cuts the output before the first complete stop string. */
typedef struct stopper {
    const opts *o;
    char *buf;
    size_t len, cap;
    int stopped;
} stopper;

/* Adds text; prints whatever can no longer be part of a stop string. */
static int stopper_add(stopper *st, const char *s, size_t n, int final) {
    if (st->len + n + 1 > st->cap) {
        size_t cap = (st->len + n + 1) * 2;
        char *b = realloc(st->buf, cap);
        if (!b) return -1;
        st->buf = b, st->cap = cap;
    }
    memcpy(st->buf + st->len, s, n);
    st->len += n;
    st->buf[st->len] = 0;
    size_t emit = st->len;
    for (int i = 0; i < st->o->n_stops; i++) {
        char *hit = memmem(st->buf, st->len, st->o->stops[i], strlen(st->o->stops[i]));
        if (hit && (size_t)(hit - st->buf) < emit) emit = hit - st->buf, st->stopped = 1;
    }
    if (!st->stopped && !final) {
        /* Keep the longest tail that is a proper prefix of some stop string. */
        for (int i = 0; i < st->o->n_stops; i++) {
            size_t sl = strlen(st->o->stops[i]);
            for (size_t k = sl - 1; k > 0; k--)
                if (k <= st->len && memcmp(st->buf + st->len - k, st->o->stops[i], k) == 0) {
                    if (st->len - k < emit) emit = st->len - k;
                    break;
                }
        }
    }
    if (out_write(st->buf, emit)) return -1;
    memmove(st->buf, st->buf + emit, st->len - emit);
    st->len -= emit;
    return 0;
}

static void print_timings(const session *s, const opts *o, double pp_ms, int n_prompt,
                          double tg_ms, int n_runs, double total_ms) {
    if (!o->verbose) return;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "geb:        load time = %10.2f ms\n", s->load_ms);
    fprintf(stderr,
            "geb: prompt eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)\n",
            pp_ms, n_prompt, n_prompt ? pp_ms / n_prompt : 0, pp_ms > 0 ? 1e3 * n_prompt / pp_ms : 0);
    fprintf(stderr,
            "geb:        eval time = %10.2f ms / %5d runs   (%8.2f ms per token, %8.2f tokens per second)\n",
            tg_ms, n_runs, n_runs ? tg_ms / n_runs : 0, tg_ms > 0 ? 1e3 * n_runs / tg_ms : 0);
    fprintf(stderr, "geb:       total time = %10.2f ms / %5d tokens\n", total_ms, n_prompt + n_runs);
    double gbs = tg_ms > 0 ? geb_model_weight_bytes(s->model) * (double)n_runs / (tg_ms * 1e6) : 0;
    fprintf(stderr, "geb:        bandwidth = %10.2f GB/s (%.2f GB of weights per token)\n", gbs,
            geb_model_weight_bytes(s->model) / 1e9);
    /* ru_maxrss is in KiB on Linux; MB here are 10^6 bytes like GB above. */
    fprintf(stderr, "geb:         peak rss = %10.2f MB\n", ru.ru_maxrss * 1024.0 / 1e6);
    fprintf(stderr, "geb:          threads = %d (%s kernels)\n", geb_pool_size(s->pool),
            geb_kernels_current()->name);
    fprintf(stderr, "geb:             seed = %llu\n", (unsigned long long)o->sp.seed);
}

/* ----------------------------------------------------------------- run */

/* Tokenizes the prompt and fits it into the context: refused if too long,
 * or with --truncate cut from the left to half the context. */
static int prompt_ids(session *s, const opts *o, int32_t **ids, size_t *n, geb_err *err) {
    char *text;
    size_t len;
    if (read_prompt(o, &text, &len, err)) return -1;
    int rc = geb_tok_encode(s->tok, text, len, ids, n, err);
    free(text);
    if (rc) return -1;
    int n_ctx = geb_model_n_ctx(s->model);
    if (*n == 0) {
        /* Nothing to condition on: start from BOS, which decodes to "". */
        int bos = geb_tok_bos_id(s->tok);
        if (bos < 0) return geb_err_set(err, "the prompt is empty and the tokenizer has no BOS token");
        (*ids)[0] = bos;
        *n = 1;
    }
    if (*n >= (size_t)n_ctx) {
        if (!o->truncate)
            return geb_err_set(err, "the prompt is %zu tokens but the context holds %d "
                                    "(use -c to enlarge it or --truncate to keep the end)", *n, n_ctx);
        size_t keep = (size_t)n_ctx / 2;
        memmove(*ids, *ids + *n - keep, keep * sizeof **ids);
        *n = keep;
    }
    return 0;
}

static int cmd_run(const opts *oin, geb_err *err) {
    opts o = *oin;
    if (!o.have_seed) o.sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    double t_start = geb_now_ms();
    session s;
    int32_t *ids = NULL;
    size_t n_prompt = 0;
    geb_sampler *smp = NULL;
    geb_tok_stream *stream = NULL;
    float *logits = NULL;
    stopper stop = {.o = &o};
    int rc = 1;
    if (session_load(&s, &o, pick_threads(o.threads), o.n_ctx, err)) goto done;
    const geb_config *cfg = geb_model_config(s.model);
    int n_ctx = geb_model_n_ctx(s.model);
    if (prompt_ids(&s, &o, &ids, &n_prompt, err)) goto done;
    int32_t *hist = realloc(ids, sizeof *ids * n_ctx);
    if (!hist) { geb_err_set(err, "out of memory"); goto done; }
    ids = hist;
    if (!(smp = geb_sampler_new(&o.sp, cfg->vocab, err))) goto done;
    if (!(logits = malloc(sizeof *logits * cfg->vocab))) { geb_err_set(err, "out of memory"); goto done; }
    int eos = cfg->eos_id >= 0 ? cfg->eos_id : geb_tok_eos_id(s.tok);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, NULL);

    int closed = 0;
    if (o.echo) {
        size_t len;
        char *txt = geb_tok_decode(s.tok, ids, n_prompt, &len);
        closed = !txt || out_write(txt, len);
        free(txt);
    }
    if (!(stream = geb_tok_stream_new(s.tok, ids, n_prompt))) { geb_err_set(err, "out of memory"); goto done; }

    double t0 = geb_now_ms();
    if (geb_model_eval(s.model, ids, (int)n_prompt, 0, logits, 0, err)) goto done;
    double pp_ms = geb_now_ms() - t0, tg_ms = 0;
    int n = (int)n_prompt, runs = 0, want = o.n_predict, full = 0;
    for (int gen = 0; !closed && !g_interrupted && (want < 0 || gen < want); gen++) {
        int id = geb_sampler_sample(smp, logits, ids, n);
        if (id == eos && !o.ignore_eos) break;
        ids[n++] = id;
        size_t len;
        const char *piece = geb_tok_stream_push(stream, id, &len);
        if (stopper_add(&stop, piece, len, 0)) { closed = 1; break; }
        if (stop.stopped) break;
        if (want >= 0 && gen + 1 == want) break;
        if (n == n_ctx) { full = 1; break; }
        t0 = geb_now_ms();
        if (geb_model_eval(s.model, &ids[n - 1], 1, n - 1, logits, 0, err)) goto done;
        tg_ms += geb_now_ms() - t0;
        runs++;
    }
    if (!closed && !stop.stopped) {
        size_t len;
        const char *tail = geb_tok_stream_finish(stream, &len);
        closed = stopper_add(&stop, tail, len, 1) != 0;
    }
    if (!closed && isatty(STDOUT_FILENO)) out_write("\n", 1);
    if (full) fprintf(stderr, "geb: the context of %d tokens is full; generation stopped\n", n_ctx);
    print_timings(&s, &o, pp_ms, (int)n_prompt, tg_ms, runs, geb_now_ms() - t_start);
    rc = g_interrupted ? 130 : 0;
done:
    free(stop.buf);
    geb_tok_stream_free(stream);
    free(logits);
    geb_sampler_free(smp);
    free(ids);
    session_free(&s);
    return rc;
}

/* ------------------------------------------------------------ tokenize */

static int cmd_tokenize(const opts *o, geb_err *err) {
    char dir[4096], tpath[4200];
    if (resolve_model(o, dir, sizeof dir, err) || resolve_tokenizer(dir, tpath, sizeof tpath, err))
        return 1;
    geb_tok *tok;
    if (geb_tok_load(&tok, tpath, err)) return 1;
    char *text = NULL;
    size_t len = 0;
    int rc = 1;
    const char *src = o->text ? o->text : o->prompt;
    if (src) {
        len = strlen(src);
        text = strdup(src);
        if (text && o->escape) len = unescape(text, len);
    } else if (o->file) {
        if (read_path(o->file, &text, &len, err)) goto done;
    } else if (slurp(stdin, "stdin", &text, &len, err)) goto done;
    if (!text) { geb_err_set(err, "out of memory"); goto done; }
    int32_t *ids;
    size_t n;
    if (geb_tok_encode(tok, text, len, &ids, &n, err)) goto done;
    for (size_t i = 0; i < n; i++) {
        if (o->pieces) printf("%s%s", i ? " " : "", geb_tok_piece(tok, ids[i]));
        else printf("%s%d", i ? " " : "", ids[i]);
    }
    printf("\n");
    free(ids);
    rc = fflush(stdout) ? 1 : 0;
done:
    free(text);
    geb_tok_free(tok);
    return rc;
}

int main(int argc, char **argv) {
    opts o;
    geb_err err = {{0}};
    if (parse_opts(&o, argc, argv, &err)) {
        fprintf(stderr, "geb: %s\n", err.msg);
        return 2;
    }
    int rc;
    if (strcmp(o.cmd, "tokenize") == 0) rc = cmd_tokenize(&o, &err);
    else if (strcmp(o.cmd, "run") == 0) rc = cmd_run(&o, &err);
    else {
        char dir[4096];
        if (resolve_model(&o, dir, sizeof dir, &err)) rc = 1;
        else if (strcmp(o.cmd, "info") == 0) rc = geb_cli_info(dir, o.n_ctx, &err);
        else if (strcmp(o.cmd, "perplexity") == 0) {
            if (!o.file) {
                fprintf(stderr, "geb: perplexity needs -f FILE\n");
                return 2;
            }
            session s;
            int window = o.n_ctx ? o.n_ctx : 512;
            opts oo = o;
            oo.model = dir;
            rc = session_load(&s, &oo, pick_threads(o.threads), window, &err) ? 1 : 0;
            char *text = NULL;
            size_t len = 0;
            if (rc == 0) rc = read_path(o.file, &text, &len, &err) ? 1 : 0;
            if (rc == 0) rc = geb_cli_perplexity(s.model, s.tok, text, len, window, &err);
            free(text);
            session_free(&s);
        } else {
            geb_cli_bench_opts b = {dir, o.bench_p, o.bench_n, o.bench_r, o.bench_t,
                                    strcmp(o.bench_o, "json") == 0};
            rc = geb_cli_bench(&b, &err);
        }
    }
    if (rc == 1 && err.msg[0]) fprintf(stderr, "geb: %s\n", err.msg);
    return rc;
}
