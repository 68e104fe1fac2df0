/* cli.h - the subcommands besides `run` and `tokenize`: they print their
 * results on stdout and return an exit status (errors go to err for main). */
#ifndef GEB_CLI_H
#define GEB_CLI_H

#include "model.h"
#include "tokenizer.h"

/* `geb info`: architecture, shapes, parameters, dtype on disk, memory. */
int geb_cli_info(const char *dir, int n_ctx, geb_err *err);

/* `geb perplexity`: windows of `window` tokens from an empty cache, every
 * token after the first of its window scored; last line "perplexity: X". */
int geb_cli_perplexity(geb_model *m, const geb_tok *tok, const char *text, size_t len,
                       int window, geb_err *err);

typedef struct geb_cli_bench_opts {
    const char *dir;
    int n_prompt;        /* -p: tokens of the pp test (0: skip) */
    int n_gen;           /* -n: tokens of the tg test (0: skip) */
    int reps;            /* -r */
    const char *threads; /* -t LIST, e.g. "1,2"; NULL: physical cores */
    int json;            /* -o json */
} geb_cli_bench_opts;

/* `geb bench`: llama-bench's pp/tg table plus GB/s against a read-bandwidth
 * test run on the same threads. */
int geb_cli_bench(const geb_cli_bench_opts *o, geb_err *err);

#endif
