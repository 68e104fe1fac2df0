/* generate.h - text generation over a model: prompt ids, prefill, sampling,
 * streaming decode, stop strings and stop ids.  Used by `geb run` and by
 * chat; knows nothing of the command line.
 *
 *   geb_gen_params gp = geb_gen_defaults();
 *   gp.n_predict = 64;
 *   int32_t *ids = ...;                // room for the whole context
 *   geb_generate(m, kv, tok, ids, n_prompt, 0, &gp, emit, ud, &stats, &err);
 *
 * ids[0..n_prompt) is the prompt; generated ids are appended after it (the
 * caller keeps them, e.g. as a chat history).  n_cached of the prompt's ids
 * are already in kv (a chat turn that extends the previous one): only the
 * rest is evaluated.  Text goes to emit as it becomes final: stdout carries
 * exactly decode(prompt + generated) minus decode(prompt), never a split
 * UTF-8 character, and nothing of a stop string.
 */
#ifndef GEB_GENERATE_H
#define GEB_GENERATE_H

#include <signal.h>

#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

#define GEB_MAX_STOPS 16
#define GEB_MAX_STOP_IDS 16

typedef struct geb_gen_params {
    geb_sampler_params sp;
    int n_predict;             /* tokens to generate; -1 or -2 (llama.cpp's "until the
                                  context is full": geb never shifts the context, so the
                                  two agree): until a stop id or the context is full */
    const char *stops[GEB_MAX_STOPS]; /* stop strings (-r) */
    int n_stops;
    int32_t stop_ids[GEB_MAX_STOP_IDS]; /* end of text and the template's stops */
    int n_stop_ids;
    int ignore_eos;            /* do not stop at stop ids */
    const volatile sig_atomic_t *interrupt; /* polled between tokens and prompt batches */
} geb_gen_params;

typedef enum geb_gen_end {
    GEB_GEN_LIMIT,       /* n_predict reached */
    GEB_GEN_STOP_ID,     /* a stop id was sampled */
    GEB_GEN_STOP_STRING, /* a stop string was generated */
    GEB_GEN_CONTEXT,     /* the context is full */
    GEB_GEN_INTERRUPT,   /* the interrupt flag was set */
    GEB_GEN_CLOSED,      /* emit refused more text (stdout closed) */
} geb_gen_end;

typedef struct geb_gen_stats {
    int n_prompt_eval;   /* prompt tokens evaluated (not counting cached ones) */
    int prefilled;       /* the whole prompt is in the cache */
    int n_gen;           /* tokens generated (appended to ids) */
    int n_eval;          /* single-token evaluations */
    double pp_ms, tg_ms;
    geb_gen_end end;
} geb_gen_stats;

/* Writes text; returns -1 when no more can be written (the run ends quietly). */
typedef int (*geb_emit_fn)(void *ud, const char *text, size_t n);

geb_gen_params geb_gen_defaults(void);

/* Encodes a prompt by the family's rule: BOS first when add_bos (and the
 * tokenizer has one), then the SentencePiece ids; an empty prompt becomes BOS
 * alone.  *ids is malloc'd with room for cap ids (>= n). */
int geb_gen_prompt_ids(const geb_tok *tok, const char *text, size_t len, int add_bos, int bos_id,
                       int32_t **ids, size_t *n, geb_err *err);

/* Generates after ids[0..n_prompt) (n_cached of them already in kv; the
 * buffer has room for geb_kv n_ctx ids).  Returns 0 (stats->end says why it
 * stopped), or -1 with a message. */
int geb_generate(geb_model *m, geb_kv *kv, const geb_tok *tok, int32_t *ids, int n_prompt,
                 int n_cached, const geb_gen_params *p, geb_emit_fn emit, void *ud,
                 geb_gen_stats *stats, geb_err *err);

#endif
