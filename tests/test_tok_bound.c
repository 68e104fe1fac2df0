/* test_tok_bound.c - geb_tok_min_ids never exceeds the ids geb_tok_encode
 * gives (which test_tokenizer checks against the sentencepiece library), on
 * every tokenizer fixture and every test string, one by one and joined into
 * one long text; it is 0 for models without byte fallback and above 0 for
 * the others on the long text (how far below the real count depends on the
 * longest piece: 1/24 for fixtures with long user symbols).  `geb run`
 * refuses a prompt whose bound reaches the context, so a bound too high
 * would refuse a prompt that fits. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tokenizer.h"

#define TOK_DIR "tests/data/tok/"

/* "\xHH" and "\\" escapes of strings.txt, in place; returns the length. */
static size_t unescape(char *s) {
    size_t w = 0;
    for (size_t r = 0; s[r]; r++) {
        unsigned v;
        if (s[r] == '\\' && s[r + 1] == '\\') s[w++] = '\\', r++;
        else if (s[r] == '\\' && s[r + 1] == 'x' && sscanf(s + r + 2, "%2x", &v) == 1) s[w++] = (char)v, r += 3;
        else s[w++] = s[r];
    }
    return w;
}

static void check(const char *path, int byte_fallback, const char *const *str, const size_t *len,
                  size_t n, const char *all, size_t all_len) {
    geb_tok *tok;
    geb_err err;
    if (geb_tok_load(&tok, path, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    int over = 0;
    for (size_t i = 0; i <= n; i++) {
        const char *s = i < n ? str[i] : all;
        size_t sl = i < n ? len[i] : all_len, k;
        int32_t *ids;
        if (geb_tok_encode(tok, s, sl, &ids, &k, &err)) {
            CHECK_MSG(0, "%s: %s", path, err.msg);
            continue;
        }
        free(ids);
        size_t lo = geb_tok_min_ids(tok, s, sl);
        if (lo > k && over++ < 5) fprintf(stderr, "%s: string %zu: bound %zu > %zu ids\n", path, i, lo, k);
        if (i == n) {
            if (byte_fallback) CHECK_MSG(lo > 0, "%s: long text: bound %zu of %zu ids", path, lo, k);
            else CHECK_MSG(lo == 0, "%s: no byte fallback, bound %zu", path, lo);
        }
    }
    CHECK_MSG(over == 0, "%s: %d strings over the bound", path, over);
    geb_tok_free(tok);
}

int main(void) {
    uint8_t *data;
    size_t len;
    geb_err err;
    if (geb_read_file(TOK_DIR "strings.txt", &data, &len, 64u << 20, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return TEST_DONE("tok_bound");
    }
    size_t n = 0, cap = 64;
    const char **str = malloc(cap * sizeof *str);
    size_t *lens = malloc(cap * sizeof *lens);
    char *all = malloc(len + 1);
    size_t all_len = 0;
    for (char *save, *l = strtok_r((char *)data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap) {
            cap *= 2;
            str = realloc(str, cap * sizeof *str);
            lens = realloc(lens, cap * sizeof *lens);
        }
        lens[n] = unescape(l);
        str[n] = l;
        memcpy(all + all_len, l, lens[n]);
        all_len += lens[n];
        n++;
    }
    /* byte_fallback as tools/gen_tok_fixtures.py, tools/ref_model.py and
     * tools/train_tiny.py train them */
    static const struct { const char *path; int bf; } models[] = {
        {TOK_DIR "bpe_bf.model", 1}, {TOK_DIR "bpe_raw.model", 0}, {TOK_DIR "bpe_suffix.model", 0},
        {TOK_DIR "bpe_ws.model", 1}, {TOK_DIR "uni.model", 0}, {TOK_DIR "uni_bf.model", 1},
        {TOK_DIR "uni_rules.model", 0}, {TOK_DIR "uni_raw.model", 1},
        {"tests/data/models/geb-f32-gqa3/tokenizer.model", 1},
        {"tests/data/models/chatglm-bf16-sharded/tokenizer.model", 1},
        {"models/geb-tiny/tokenizer.model", 1},
    };
    CHECK(n > 100);
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++)
        check(models[m].path, models[m].bf, str, lens, n, all, all_len);
    free(all);
    free(str);
    free(lens);
    free(data);
    return TEST_DONE("tok_bound");
}
