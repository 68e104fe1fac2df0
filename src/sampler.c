/* sampler.c - repetition penalty, top-k, top-p, min-p, temperature. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

typedef struct cand {
    float logit;
    int id;
} cand;

struct geb_sampler {
    geb_sampler_params p;
    int vocab;
    uint64_t rng;   /* xorshift64* state, never 0 */
    cand *cands;    /* (vocab) candidate scratch */
    double *probs;  /* (vocab) probabilities of the kept candidates */
    uint8_t *seen;  /* (vocab) marks for the penalty, so a repeat counts once */
};

geb_sampler_params geb_sampler_defaults(void) {
    geb_sampler_params p = {0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0};
    return p;
}

/* Checks the ranges of the parameters; the CLI calls it before loading a
 * model so that a bad flag is reported at once. */
int geb_sampler_check(const geb_sampler_params *p, geb_err *err) {
    if (!(p->temp >= 0 && p->temp <= 100))
        return geb_err_set(err, "--temp must be between 0 and 100 (got %g)", p->temp);
    if (!(p->top_p >= 0 && p->top_p <= 1))
        return geb_err_set(err, "--top-p must be between 0 and 1 (got %g)", p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return geb_err_set(err, "--min-p must be between 0 and 1 (got %g)", p->min_p);
    if (!(p->repeat_penalty > 0 && p->repeat_penalty <= 100))
        return geb_err_set(err, "--repeat-penalty must be in (0, 100] (got %g)", p->repeat_penalty);
    if (p->top_k < 0 || p->repeat_last_n < -1)
        return geb_err_set(err, "--top-k and --repeat-last-n must not be negative");
    return 0;
}

geb_sampler *geb_sampler_new(const geb_sampler_params *p, int vocab, geb_err *err) {
    if (geb_sampler_check(p, err)) return NULL;
    geb_sampler *s = calloc(1, sizeof *s);
    if (!s || !(s->cands = malloc(sizeof *s->cands * vocab)) ||
        !(s->probs = malloc(sizeof *s->probs * vocab)) || !(s->seen = calloc(vocab, 1))) {
        geb_sampler_free(s);
        geb_err_set(err, "out of memory");
        return NULL;
    }
    s->p = *p;
    s->vocab = vocab;
    /* splitmix64 of the seed: any seed, including 0, gives a non-zero state. */
    uint64_t z = p->seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    s->rng = (z ^ (z >> 31)) | 1;
    return s;
}

void geb_sampler_free(geb_sampler *s) {
    if (!s) return;
    free(s->cands);
    free(s->probs);
    free(s->seen);
    free(s);
}

/* A uniform double in [0, 1) from xorshift64*. */
static double next_uniform(geb_sampler *s) {
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return ((s->rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

/* CTRL-style penalty as llama.cpp applies it: each distinct recent token's
 * logit is divided by the penalty if positive, multiplied if negative. */
static void penalize(geb_sampler *s, float *logits, const int32_t *hist, int n) {
    float pen = s->p.repeat_penalty;
    if (pen == 1.0f || n <= 0) return;
    int from = s->p.repeat_last_n < 0 || s->p.repeat_last_n > n ? 0 : n - s->p.repeat_last_n;
    for (int i = from; i < n; i++) {
        int t = hist[i];
        if (t < 0 || t >= s->vocab || s->seen[t]) continue;
        s->seen[t] = 1;
        logits[t] = logits[t] > 0 ? logits[t] / pen : logits[t] * pen;
    }
    for (int i = from; i < n; i++)
        if (hist[i] >= 0 && hist[i] < s->vocab) s->seen[hist[i]] = 0;
}

/* Descending by logit, ascending by id on ties, so results never depend on
 * the sort algorithm. */
static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id;
}

/* Keeps the k best candidates of n at the front, sorted; returns k.  A
 * min-heap of size k makes this O(n log k) instead of sorting all 65k. */
static int keep_top(cand *c, int n, int k) {
    if (k <= 0 || k >= n) {
        qsort(c, n, sizeof *c, cand_cmp);
        return n;
    }
    /* heap[0] is the worst of the kept ones (max under cand_cmp). */
    for (int i = 0; i < n; i++) {
        int at;
        if (i < k) at = i;
        else if (cand_cmp(&c[i], &c[0]) < 0) {
            c[0] = c[i];
            at = -1;
        } else continue;
        if (at >= 0) { /* sift up */
            while (at > 0 && cand_cmp(&c[(at - 1) / 2], &c[at]) < 0) {
                cand t = c[at]; c[at] = c[(at - 1) / 2]; c[(at - 1) / 2] = t;
                at = (at - 1) / 2;
            }
        } else { /* sift down from the root */
            int j = 0;
            for (;;) {
                int l = 2 * j + 1, r = l + 1, w = j;
                if (l < k && cand_cmp(&c[l], &c[w]) > 0) w = l;
                if (r < k && cand_cmp(&c[r], &c[w]) > 0) w = r;
                if (w == j) break;
                cand t = c[j]; c[j] = c[w]; c[w] = t;
                j = w;
            }
        }
    }
    qsort(c, k, sizeof *c, cand_cmp);
    return k;
}

int geb_sampler_sample(geb_sampler *s, float *logits, const int32_t *hist, int n) {
    penalize(s, logits, hist, n);
    if (s->p.temp <= 0) {
        int best = 0; /* strict > keeps the lowest id among equal maxima */
        for (int i = 1; i < s->vocab; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    int m = 0;
    for (int i = 0; i < s->vocab; i++)
        if (!isnan(logits[i])) s->cands[m++] = (cand){logits[i], i};
    if (m == 0) return 0;
    m = keep_top(s->cands, m, s->p.top_k);
    /* Probabilities at temperature 1 for the filters, as llama.cpp does. */
    double sum = 0, mx = s->cands[0].logit;
    for (int i = 0; i < m; i++) sum += s->probs[i] = exp(s->cands[i].logit - mx);
    if (s->p.top_p < 1) {
        double acc = 0;
        for (int i = 0; i < m; i++) {
            acc += s->probs[i] / sum;
            if (acc >= s->p.top_p) { m = i + 1; break; }
        }
    }
    if (s->p.min_p > 0) { /* probs[0] is the maximum: keep p >= min_p * max */
        int keep = 1;
        while (keep < m && s->probs[keep] >= s->p.min_p * s->probs[0]) keep++;
        m = keep;
    }
    sum = 0;
    for (int i = 0; i < m; i++)
        sum += s->probs[i] = exp((s->cands[i].logit - mx) / s->p.temp);
    double r = next_uniform(s) * sum;
    for (int i = 0; i < m; i++) {
        r -= s->probs[i];
        if (r < 0) return s->cands[i].id;
    }
    return s->cands[m - 1].id;
}
