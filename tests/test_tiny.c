/* test_tiny.c - the shipped models/geb-tiny against PyTorch (tools/train_tiny.py):
 * greedy continuations of tests/data/tiny/greedy_ref.txt, id for id.  (The
 * perplexity cross-check is in tiny_test.sh, through the CLI.) */
#include <stdlib.h>

#include "model.h"
#include "test.h"
#include "tokenizer.h"

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

int main(void) {
    geb_err err = {{0}};
    geb_pool *pool = geb_pool_create(2, &err);
    geb_model *m = NULL;
    geb_tok *tok = NULL;
    geb_kv *kv = NULL;
    geb_model_params mp = {0};
    CHECK_MSG(geb_model_load(&m, "models/geb-tiny", &mp, pool, &err) == 0, "%s", err.msg);
    if (m) CHECK_MSG((kv = geb_model_kv_new(m, 0, &err)) != NULL, "%s", err.msg);
    CHECK_MSG(geb_tok_load(&tok, "models/geb-tiny/tokenizer.model", &err) == 0, "%s", err.msg);
    FILE *f = fopen("tests/data/tiny/greedy_ref.txt", "r");
    CHECK(f != NULL);
    if (!m || !kv || !tok || !f) return TEST_DONE("tiny");
    int V = geb_model_config(m)->vocab, cases = 0;
    float *logits = malloc(sizeof(float) * V);
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "prompt ", 7) != 0) continue;
        char text[4096];
        size_t n = 0;
        const char *p = line + 7;
        while (p[0] && p[0] != ' ' && p[1] && n < sizeof text - 1) {
            text[n++] = (char)(hexval(p[0]) * 16 + hexval(p[1]));
            p += 2;
        }
        p = strstr(p, " ids ");
        CHECK(p != NULL);
        if (!p) break;
        p += 5;
        int32_t *ids;
        size_t np;
        CHECK(geb_tok_encode(tok, text, n, &ids, &np, &err) == 0);
        CHECK(geb_model_eval(m, kv, ids, (int)np, 0, logits, 0, &err) == 0);
        int pos = (int)np, step = 0, agree = 1;
        char *end;
        for (long want = strtol(p, &end, 10); end != p; want = strtol(p = end, &end, 10), step++) {
            int best = 0;
            for (int i = 1; i < V; i++)
                if (logits[i] > logits[best]) best = i;
            if (best != want) {
                agree = 0;
                fprintf(stderr, "case %d step %d: geb %d (%.6f), torch %ld (%.6f)\n", cases, step,
                        best, logits[best], want, logits[want]);
                break;
            }
            int32_t t = best;
            if (geb_model_eval(m, kv, &t, 1, pos++, logits, 0, &err)) break;
        }
        CHECK_MSG(agree && step == 32, "greedy continuation %d agrees for %d of 32 steps", cases, step);
        free(ids);
        cases++;
    }
    CHECK(cases == 2);
    fclose(f);
    free(logits);
    geb_tok_free(tok);
    geb_kv_free(kv);
    geb_model_free(m);
    geb_pool_free(pool);
    return TEST_DONE("tiny");
}
