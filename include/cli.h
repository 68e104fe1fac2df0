/* cli.h - what the command-line modules share: the parsed options and a few
 * helpers (loading a session, writing stdout, reading the prompt).  Each
 * subcommand is one file (cmd_run.c, cmd_tokenize.c, cmd_info.c,
 * cmd_perplexity.c, cmd_bench.c); main.c parses flags and dispatches.
 * Subcommands return an exit status; on 1 the message is in err. */
#ifndef GEB_CLI_H
#define GEB_CLI_H

#include <signal.h>
#include <stdio.h>

#include "generate.h"
#include "model.h"
#include "modeldir.h"
#include "pool.h"
#include "sampler.h"
#include "tokenizer.h"
#include "types.h"

#define GEB_MAX_INPUT (256u << 20) /* prompt / file size limit */
#define GEB_MAX_TYPES 8

typedef struct geb_opts {
    const char *cmd;       /* run, tokenize, perplexity, bench, info */
    const char *model;     /* -m */
    const char *prompt;    /* -p, or the positional text */
    const char *file;      /* -f */
    int n_predict;         /* -n */
    int threads;           /* -t (0: physical cores) */
    int n_ctx;             /* -c (0: the model's) */
    int have_seed;         /* -s given (else a random seed) */
    geb_sampler_params sp;
    uint32_t sp_given;     /* sampling flags given: 1 temp, 2 top-k, 4 top-p, 8 min-p, 16 penalty, 32 last-n */
    const char *stops[GEB_MAX_STOPS]; /* -r */
    int n_stops;
    int ignore_eos, echo, escape, verbose, truncate, pieces;
    geb_type types[GEB_MAX_TYPES]; /* -w (bench: a list) */
    geb_type kv_k, kv_v;   /* -ctk, -ctv */
    int n_types;
    /* bench */
    int bench_p, bench_n, bench_r;
    const char *bench_t;   /* -t LIST */
    const char *bench_d;   /* -d LIST: tokens already in the cache */
    int chat;              /* --chat (run, tokenize) */
    const char *chat_template; /* --chat-template NAME */
    const char *system;    /* -sys, --system-prompt TEXT */
    int json;              /* -o json */
} geb_opts;

extern volatile sig_atomic_t geb_interrupted;

/* A loaded tokenizer + model + pool. */
typedef struct geb_session {
    char dir[GEB_PATH_MAX];
    geb_pool *pool;
    geb_model *model;
    geb_tok *tok;
    double load_ms;
    char specials_why[256]; /* where the special-token names came from */
} geb_session;

int geb_session_load(geb_session *s, const geb_opts *o, int n_ctx, geb_err *err);
void geb_session_free(geb_session *s);

/* Fills tok's special-token table for the family of c from dir (the glue
 * code's list, tokenizer_config.json, else the family's default order). */
int geb_cli_specials(geb_tok *tok, const char *dir, const geb_config *c, char *why, size_t cap,
                     geb_err *err);
/* Reads dir's config and settles its family from the checkpoint's tensor
 * names, without loading any weights. */
int geb_cli_arch(const char *dir, geb_config *c, geb_err *err);

/* Threads for o->threads with the one warning geb prints when it caps. */
int geb_cli_threads(int requested);

/* stdout: write all (0), or -1 once it is closed (EPIPE) or failing; the
 * failure other than a closed pipe is remembered for geb_out_close. */
int geb_out_write(const char *s, size_t n);
int geb_out_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Flushes and closes stdout: 0, or 1 with a message if anything written was
 * lost (a full disk); a closed pipe is a quiet success. */
int geb_out_close(geb_err *err);

/* Reads a file ('-' = stdin) into a malloc'd, NUL-terminated buffer. */
int geb_read_input(const char *path, char **buf, size_t *len, geb_err *err);
/* Turns C-style escapes into characters in place; returns the new length. */
size_t geb_unescape(char *s, size_t n);

/* Generation settings for a session: sampling (flags, else the model's own,
 * else llama.cpp's defaults; src[i] names where setting i came from, may be
 * NULL), seed, -n, -r, stop ids. */
int geb_cli_gen_params(const geb_opts *o, const geb_session *s, geb_gen_params *gp,
                       const char *src[6]);

int geb_cmd_run(const geb_opts *o, geb_err *err);
int geb_cmd_run_chat(const geb_opts *o, geb_err *err);
int geb_cmd_tokenize_chat(const geb_opts *o, geb_err *err);
int geb_cmd_chat(const geb_opts *o, geb_err *err);
int geb_cmd_tokenize(const geb_opts *o, geb_err *err);
int geb_cmd_info(const geb_opts *o, geb_err *err);
int geb_cmd_perplexity(const geb_opts *o, geb_err *err);
int geb_cmd_bench(const geb_opts *o, geb_err *err);

#endif
