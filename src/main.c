/* main.c - the geb command line: flags and dispatch.
 *
 * Flags follow llama.cpp where it has one.  stdout carries only results
 * (generated text, ids, tables); every failure is one line on stderr and a
 * non-zero exit: 2 for bad arguments, 1 for anything else, 130 after Ctrl-C.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "kernels.h"

#ifndef GEB_VERSION
#define GEB_VERSION "0.3"
#endif
#ifndef GEB_COMMIT
#define GEB_COMMIT "unknown"
#endif
#ifndef GEB_BUILD_FLAGS
#define GEB_BUILD_FLAGS "unknown"
#endif

static void usage(FILE *f) {
    fputs(
        "usage: geb [run] [options] [PROMPT]   generate text (the default)\n"
        "       geb tokenize -m DIR [TEXT]      print the token ids of TEXT (or stdin)\n"
        "       geb perplexity -m DIR -f FILE [-c N]\n"
        "       geb bench -m DIR [-p 512] [-n 128] [-r 5] [-t 1,2] [-d 0,4096] [-w f32,bf16] [-o md|json]\n"
        "       geb info -m DIR\n"
        "       geb chat -m DIR [-sys TEXT]      talk with the model (its own chat format)\n"
        "\n"
        "options:\n"
        "  -m, --model DIR        model folder (config.json, weights, tokenizer) or a file in it;\n"
        "                         default $GEB_MODEL, else models/geb-tiny\n"
        "  -p, --prompt TEXT      prompt (stdin is read only without -p, or with -f -)\n"
        "  -f, --file FILE        read the prompt from FILE ('-' for stdin)\n"
        "  -n, --n-predict N      tokens to generate (default 256; -1 or -2: until the end or the\n"
        "                         context is full)\n"
        "  -t, --threads N        threads (default: physical cores)\n"
        "  -c, --ctx-size N       context length (default and 0: the model's)\n"
        "  -w, --weights TYPE     weights in memory: f32 (default), bf16, f16, q8_0, q4_0\n"
        "  -ctk, -ctv TYPE        KV cache keys / values: f32 (default), f16, bf16\n"
        "  -s, --seed N           random seed (default and -1: random)\n"
        "      --temp F           temperature (0 = greedy)          } default: the model's own\n"
        "      --top-k N          top-k sampling (0 = off)          } settings from\n"
        "      --top-p F          top-p sampling (1 = off)          } generation_config.json or\n"
        "      --min-p F          min-p sampling (0 = off)          } config.json, else 0.8, 40,\n"
        "      --repeat-penalty F penalize repeated tokens (1 = off)} 0.95, 0.05, 1.0, 64\n"
        "      --repeat-last-n N  tokens the penalty looks back (-1 = all)\n"
        "  -r, --reverse-prompt S stop when S is generated (repeatable)\n"
        "      --ignore-eos       keep generating past the end-of-sequence token\n"
        "      --echo             print the prompt before the continuation\n"
        "  -e, --escape           turn \\n, \\t, \\\\, \\\", \\xHH in -p text into characters\n"
        "      --truncate         keep the end of a prompt longer than the context\n"
        "      --pieces           (tokenize) print pieces instead of ids\n"
        "      --chat             (run, tokenize) the prompt is one user message in the model's\n"
        "                         chat format; stdout carries only the reply\n"
        "      --chat-template N  chatglm3, chatglm2, zephyr, llama2, chatml or bitnet (default:\n"
        "                         tokenizer_config.json's chat_template, else the family's)\n"
        "  -sys, --system-prompt TEXT  system message for --chat and chat\n"
        "  -b, --batch-size N     accepted (geb evaluates prompts in batches of 256)\n"
        "  -ngl, --n-gpu-layers N accepted (geb runs on the CPU)\n"
        "      --no-mmap, --mlock accepted (see README)\n"
        "  -v, --verbose          timings, bandwidth, sampling settings and seed on stderr\n"
        "      --version          version, build and kernel tables\n"
        "  -h, --help             this help\n"
        "\n"
        "environment: GEB_MODEL (model folder), GEB_KERNEL=scalar|avx2|avx512|neon (force a\n"
        "kernel table; an unknown or unsupported one is an error), GEB_PREFETCH=0|1 (software\n"
        "prefetch in decoding; default: off on AMD, on elsewhere)\n",
        f);
}

static int version(void) {
    geb_err err = {{0}};
    const geb_kernels *k = geb_kernels_best(&err);
    geb_out_printf("geb %s (commit %s), built with %s\n", GEB_VERSION, GEB_COMMIT,
#ifdef __clang__
                   "clang " __clang_version__
#else
                   "gcc " __VERSION__
#endif
    );
    geb_out_printf("build flags: %s\n", GEB_BUILD_FLAGS);
    geb_out_printf("kernels:");
    for (const char *const *n = geb_kernels_names(); *n; n++)
        if (geb_kernels_get(*n)) geb_out_printf(" %s", *n);
    geb_out_printf(" (using %s)\n", k ? k->name : err.msg);
    return geb_out_close(&err) ? (fprintf(stderr, "geb: %s\n", err.msg), 1) : 0;
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

/* -w: one type, or (bench) a comma list. */
static int parse_types(geb_opts *o, const char *v, int list, geb_err *err) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", v);
    o->n_types = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->n_types == GEB_MAX_TYPES) return geb_err_set(err, "-w: at most %d types", GEB_MAX_TYPES);
        if (geb_type_from_name(t, &o->types[o->n_types]))
            return geb_err_set(err, "-w expects f32, bf16, f16, q8_0 or q4_0, got '%s'", t);
        o->n_types++;
    }
    if (o->n_types == 0 || (o->n_types > 1 && !list))
        return geb_err_set(err, "-w expects one of f32, bf16, f16, q8_0, q4_0");
    return 0;
}

static int is_flag(const char *a, const char *s1, const char *s2) {
    return (s1 && strcmp(a, s1) == 0) || (s2 && strcmp(a, s2) == 0);
}

/* The flags every subcommand shares; returns 1 if a was one, 0 if not, -1 on error. */
static int parse_common(geb_opts *o, const char *a, const char *v, int *i, geb_err *err) {
    int bench = strcmp(o->cmd, "bench") == 0;
#define IS(s1, s2) is_flag(a, s1, s2)
#define ARG() do { if (!v) return geb_err_set(err, "%s needs an argument", a); (*i)++; } while (0)
    if (IS("-m", "--model")) { ARG(); o->model = v; }
    else if (IS("-f", "--file")) { ARG(); o->file = v; }
    else if (IS("-c", "--ctx-size")) {
        ARG();
        if (parse_int(a, v, 0, 1 << 22, &o->n_ctx, err)) return -1;
        if (o->n_ctx == 1) return geb_err_set(err, "%s expects 0 (the model's) or at least 2", a);
    } else if (IS("-w", "--weights")) { ARG(); if (parse_types(o, v, bench, err)) return -1; }
    else if (IS("-ctk", "--cache-type-k") || IS("-ctv", "--cache-type-v")) {
        geb_type t;
        ARG();
        if (geb_type_from_name(v, &t) || (t != GEB_TYPE_F32 && t != GEB_TYPE_F16 && t != GEB_TYPE_BF16))
            return geb_err_set(err, "%s expects f32, f16 or bf16, got '%s'", a, v);
        if (IS("-ctk", "--cache-type-k")) o->kv_k = t;
        else o->kv_v = t;
    }
    else if (IS("-s", "--seed")) {
        ARG();
        char *end;
        errno = 0;
        if (strcmp(v, "-1") == 0) { o->have_seed = 0; return 1; }
        unsigned long long s = strtoull(v, &end, 10);
        if (!*v || *end || errno || *v == '-')
            return geb_err_set(err, "%s expects a non-negative integer or -1, got '%s'", a, v);
        o->sp.seed = s, o->have_seed = 1;
    } else if (IS("--temp", "--temperature")) { ARG(); if (parse_float(a, v, &o->sp.temp, err)) return -1; o->sp_given |= 1; }
    else if (IS("--top-k", NULL)) { ARG(); if (parse_int(a, v, 0, 1 << 30, &o->sp.top_k, err)) return -1; o->sp_given |= 2; }
    else if (IS("--top-p", NULL)) { ARG(); if (parse_float(a, v, &o->sp.top_p, err)) return -1; o->sp_given |= 4; }
    else if (IS("--min-p", NULL)) { ARG(); if (parse_float(a, v, &o->sp.min_p, err)) return -1; o->sp_given |= 8; }
    else if (IS("--repeat-penalty", NULL)) { ARG(); if (parse_float(a, v, &o->sp.repeat_penalty, err)) return -1; o->sp_given |= 16; }
    else if (IS("--repeat-last-n", NULL)) { ARG(); if (parse_int(a, v, -1, 1 << 30, &o->sp.repeat_last_n, err)) return -1; o->sp_given |= 32; }
    else if (IS("-b", "--batch-size") || IS("-ub", "--ubatch-size")) { int b; ARG(); if (parse_int(a, v, 1, 1 << 20, &b, err)) return -1; }
    else if (IS("-ngl", "--n-gpu-layers") || IS("--gpu-layers", NULL)) {
        int n;
        ARG();
        if (parse_int(a, v, -1, 1 << 20, &n, err)) return -1;
        if (n > 0) fprintf(stderr, "geb: warning: %s %d ignored: geb runs on the CPU\n", a, n);
    } else if (IS("--no-mmap", NULL)) fprintf(stderr, "geb: note: --no-mmap: weights are converted into anonymous memory or read in place from the page cache; there is nothing to switch\n");
    else if (IS("--mlock", NULL)) fprintf(stderr, "geb: note: --mlock ignored: geb does not lock its memory\n");
    else if (IS("--ignore-eos", NULL)) o->ignore_eos = 1;
    else if (IS("--echo", NULL)) o->echo = 1;
    else if (IS("-e", "--escape")) o->escape = 1;
    else if (IS("-v", "--verbose")) o->verbose = 1;
    else if (IS("--truncate", NULL)) o->truncate = 1;
    else if (IS("--pieces", NULL)) o->pieces = 1;
    else if (IS("--chat", "-cnv")) o->chat = 1;
    else if (IS("--chat-template", NULL)) { ARG(); o->chat_template = v; }
    else if (IS("-sys", "--system-prompt")) { ARG(); o->system = v; }
    else return 0;
    return 1;
}

/* Flags whose meaning is llama-bench's under `bench` and llama-cli's elsewhere. */
static int parse_cmd_flag(geb_opts *o, const char *a, const char *v, int *i, geb_err *err) {
    if (strcmp(o->cmd, "bench") == 0) {
        if (IS("-p", "--n-prompt")) { ARG(); return parse_int(a, v, 0, 1 << 20, &o->bench_p, err) ? -1 : 1; }
        if (IS("-n", "--n-gen")) { ARG(); return parse_int(a, v, 0, 1 << 20, &o->bench_n, err) ? -1 : 1; }
        if (IS("-r", "--repetitions")) { ARG(); return parse_int(a, v, 1, 1000, &o->bench_r, err) ? -1 : 1; }
        if (IS("-t", "--threads")) { ARG(); o->bench_t = v; return 1; }
        if (IS("-d", "--n-depth")) { ARG(); o->bench_d = v; return 1; }
        if (IS("-o", "--output")) {
            ARG();
            if (strcmp(v, "md") && strcmp(v, "json")) return geb_err_set(err, "-o expects md or json, got '%s'", v);
            o->json = strcmp(v, "json") == 0;
            return 1;
        }
        return 0;
    }
    if (IS("-p", "--prompt")) { ARG(); o->prompt = v; return 1; }
    if (IS("-n", "--n-predict")) { ARG(); return parse_int(a, v, -2, 1 << 30, &o->n_predict, err) ? -1 : 1; }
    if (IS("-t", "--threads")) { ARG(); return parse_int(a, v, 1, 1 << 20, &o->threads, err) ? -1 : 1; }
    if (IS("-r", "--reverse-prompt")) {
        ARG();
        if (o->n_stops == GEB_MAX_STOPS) return geb_err_set(err, "at most %d stop strings", GEB_MAX_STOPS);
        if (!*v) return geb_err_set(err, "%s needs a non-empty string", a);
        o->stops[o->n_stops++] = v;
        return 1;
    }
    return 0;
#undef IS
#undef ARG
}

static int parse_opts(geb_opts *o, int argc, char **argv, geb_err *err) {
    memset(o, 0, sizeof *o);
    o->cmd = "run";
    o->n_predict = 256;
    o->sp = geb_sampler_defaults();
    o->bench_p = 512, o->bench_n = 128, o->bench_r = 5;
    int i = 1;
    static const char *const cmds[] = {"run", "tokenize", "perplexity", "bench", "info", "chat", NULL};
    if (argc > 1)
        for (int c = 0; cmds[c]; c++)
            if (strcmp(argv[1], cmds[c]) == 0) o->cmd = cmds[c], i = 2;
    for (; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r;
        if (is_flag(a, "-h", "--help")) return 3;
        if (is_flag(a, "--version", NULL)) return 4;
        if ((r = parse_cmd_flag(o, a, v, &i, err)) < 0 || (r == 0 && (r = parse_common(o, a, v, &i, err)) < 0))
            return -1;
        if (r) continue;
        if (a[0] == '-' && a[1]) return geb_err_set(err, "unknown option '%s' (see geb --help)", a);
        if ((strcmp(o->cmd, "run") == 0 || strcmp(o->cmd, "tokenize") == 0) && !o->prompt) o->prompt = a;
        else return geb_err_set(err, "unexpected argument '%s' (see geb --help)", a);
    }
    if (strcmp(o->cmd, "perplexity") == 0 && !o->file)
        return geb_err_set(err, "perplexity needs -f FILE");
    return geb_sampler_check(&o->sp, err); /* before any model is loaded */
}

/* The calling thread is worker 0 of the pool and runs GEMM jobs that keep
 * about 100 KB on its stack (the other workers get 4 MB, pool.c): a stack
 * limit far below the usual 8 MB is refused with one line, not a crash. */
#define GEB_MIN_STACK ((rlim_t)1 << 20)
static int stack_too_small(void) {
    struct rlimit rl;
    return getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
           rl.rlim_cur < GEB_MIN_STACK;
}

int main(int argc, char **argv) {
    geb_opts o;
    geb_err err = {{0}};
    /* A closed stdout is seen as EPIPE by the writes, which end the run
     * quietly; every other write error is reported. */
    signal(SIGPIPE, SIG_IGN);
    int p = parse_opts(&o, argc, argv, &err);
    if (p == 3) {
        usage(stdout);
        return geb_out_close(&err) ? (fprintf(stderr, "geb: %s\n", err.msg), 1) : 0;
    }
    if (p == 4) return version();
    if (p) {
        fprintf(stderr, "geb: %s\n", err.msg);
        return 2;
    }
    if (stack_too_small()) {
        fprintf(stderr, "geb: the stack limit (ulimit -s) is below %d KB; raise it\n",
                (int)(GEB_MIN_STACK >> 10));
        return 1;
    }
    int rc;
    if (strcmp(o.cmd, "tokenize") == 0) rc = o.chat ? geb_cmd_tokenize_chat(&o, &err) : geb_cmd_tokenize(&o, &err);
    else if (strcmp(o.cmd, "chat") == 0) rc = geb_cmd_chat(&o, &err);
    else if (strcmp(o.cmd, "info") == 0) rc = geb_cmd_info(&o, &err);
    else if (strcmp(o.cmd, "perplexity") == 0) rc = geb_cmd_perplexity(&o, &err);
    else if (strcmp(o.cmd, "bench") == 0) rc = geb_cmd_bench(&o, &err);
    else rc = o.chat ? geb_cmd_run_chat(&o, &err) : geb_cmd_run(&o, &err);
    if (rc != 130 && rc != 2 && geb_out_close(rc ? NULL : &err)) rc = 1;
    if (rc && rc != 130 && err.msg[0]) fprintf(stderr, "geb: %s\n", err.msg);
    return rc;
}
