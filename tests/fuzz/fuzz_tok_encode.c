/* fuzz_tok_encode.c - fuzz target for SentencePiece encoding and decoding
 * (src/tokenizer.c) with fixed models from tests/data/tok/ (loaded once;
 * run from the repository root).  The first input byte picks the model
 * (BPE or unigram, both with byte fallback, nmt_nfkc and user symbols);
 * the rest is the text, often invalid UTF-8.
 *
 * Invariants: ids lie in the piece table and are never <unk> (byte
 * fallback covers every character); the decoded text is valid UTF-8; the
 * streaming decoder adds up to the full decode and emits whole characters.
 */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                          \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_tok_encode: invariant failed: %s\n", #c); \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* True if s[0..n) is valid UTF-8 (whole characters, shortest forms). */
static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                             : c >= 0xF0 && c < 0xF5 ? 4 : 0;
        if (!k || n - i < k) return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        i += k;
    }
    return 1;
}

static geb_tok *load(const char *path) {
    geb_tok *tok;
    geb_err err;
    if (geb_tok_load(&tok, path, &err) != 0) {
        fprintf(stderr, "fuzz_tok_encode: %s (run from the repository root)\n", err.msg);
        abort();
    }
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static geb_tok *models[2];
    if (!models[0]) {
        models[0] = load("tests/data/tok/bpe_bf.model");
        models[1] = load("tests/data/tok/uni_bf.model");
    }
    if (size == 0) return 0;
    const geb_tok *tok = models[data[0] & 1];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t *ids;
    size_t n;
    geb_err err;
    REQUIRE(geb_tok_encode(tok, text, len, &ids, &n, &err) == 0);
    for (size_t i = 0; i < n; i++) {
        REQUIRE(ids[i] >= 0 && ids[i] < geb_tok_n_pieces(tok));
        REQUIRE(ids[i] != geb_tok_unk_id(tok));
    }
    size_t dlen;
    char *dec = geb_tok_decode(tok, ids, n, &dlen);
    REQUIRE(dec != NULL && valid_utf8((const uint8_t *)dec, dlen));
    geb_tok_stream *s = geb_tok_stream_new(tok, NULL, 0);
    REQUIRE(s != NULL);
    size_t got = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t k;
        const char *c = i < n ? geb_tok_stream_push(s, ids[i], &k) : geb_tok_stream_finish(s, &k);
        REQUIRE(valid_utf8((const uint8_t *)c, k));
        REQUIRE(got + k <= dlen && memcmp(dec + got, c, k) == 0);
        got += k;
    }
    REQUIRE(got == dlen);
    geb_tok_stream_free(s);
    free(dec);
    free(ids);
    return 0;
}
