/* sampler.h - picks the next token from logits.
 *
 *   geb_sampler_params p = geb_sampler_defaults();
 *   p.temp = 0;                                   // greedy
 *   geb_sampler *s = geb_sampler_new(&p, vocab, &err);
 *   int id = geb_sampler_sample(s, logits, history, n_history);
 *   geb_sampler_free(s);
 *
 * The chain is llama.cpp's: repetition penalty, top-k, top-p, min-p,
 * temperature, then a draw.  temp <= 0 is greedy: the highest logit after
 * the penalty, ties to the lowest id.  The same seed gives the same draws.
 * Sampling never allocates: the candidate buffer is made once in _new.
 */
#ifndef GEB_SAMPLER_H
#define GEB_SAMPLER_H

#include "common.h"

typedef struct geb_sampler_params {
    float temp;           /* <= 0: greedy */
    int top_k;            /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off; CTRL-style divide/multiply of seen logits */
    int repeat_last_n;    /* how many recent tokens the penalty looks at; -1 = all */
    uint64_t seed;
} geb_sampler_params;

typedef struct geb_sampler geb_sampler;

/* llama.cpp's defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * repeat penalty 1.0 over the last 64 tokens, seed 0. */
geb_sampler_params geb_sampler_defaults(void);

/* Validates the parameters (ranges in the message) and allocates. */
/* 0 if every parameter is in range, else -1 with a message naming the flag. */
int geb_sampler_check(const geb_sampler_params *p, geb_err *err);
geb_sampler *geb_sampler_new(const geb_sampler_params *p, int vocab, geb_err *err);
void geb_sampler_free(geb_sampler *s);

/* Samples an id in [0, vocab).  logits[vocab] is modified (penalty applied
 * in place); history holds the n tokens so far (prompt + generated). */
int geb_sampler_sample(geb_sampler *s, float *logits, const int32_t *history, int n);

#endif
