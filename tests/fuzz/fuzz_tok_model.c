/* fuzz_tok_model.c - fuzz target for the SentencePiece model reader
 * (src/tokenizer.c): the input is a .model file.
 *
 * Besides "no crash, no leak, no sanitizer report", an accepted model must
 * encode a few fixed texts to ids inside its piece table, decode any ids
 * without failing, and its streaming decoder must add up to the full decode.
 * A violation aborts, so libFuzzer reports it like a crash.
 */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                          \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_tok_model: invariant failed: %s\n", #c);  \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Decodes ids in one go and through the streaming decoder; both must agree. */
static void check_decode(const geb_tok *tok, const int32_t *ids, size_t n) {
    size_t len;
    char *full = geb_tok_decode(tok, ids, n, &len);
    REQUIRE(full != NULL);
    REQUIRE(strlen(full) <= len);
    geb_tok_stream *s = geb_tok_stream_new(tok, NULL, 0);
    REQUIRE(s != NULL);
    size_t got = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t k;
        const char *c = i < n ? geb_tok_stream_push(s, ids[i], &k) : geb_tok_stream_finish(s, &k);
        REQUIRE(got + k <= len && memcmp(full + got, c, k) == 0);
        got += k;
    }
    REQUIRE(got == len);
    geb_tok_stream_free(s);
    free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const texts[] = {
        "", " ", "Hello  world\t\n", "\xe4\xb8\xad\xe6\x96\x87 abc 123",
        "\xff\xc3 \xef\xbc\xa1\xe2\x91\xa0 \xf0\x9f\x98\x80", "<s></s><unk><0x41>"};
    geb_tok *tok;
    geb_err err;
    if (geb_tok_load_buffer(&tok, data, size, &err) != 0) {
        REQUIRE(err.msg[0] != 0);
        return 0;
    }
    int n_pieces = geb_tok_n_pieces(tok);
    REQUIRE(n_pieces > 0);
    REQUIRE(geb_tok_unk_id(tok) >= 0 && geb_tok_unk_id(tok) < n_pieces);
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        int32_t *ids;
        size_t n;
        if (geb_tok_encode(tok, texts[t], strlen(texts[t]), &ids, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++) REQUIRE(ids[i] >= 0 && ids[i] < n_pieces);
            check_decode(tok, ids, n);
            free(ids);
        }
    }
    /* every id once, plus ids outside the table */
    int32_t some[64];
    for (int i = 0; i < 64; i++) some[i] = (int32_t)((i * 7919) % (n_pieces + 8)) - 4;
    check_decode(tok, some, 64);
    for (int i = 0; i < n_pieces && i < 4096; i++) (void)geb_tok_piece(tok, i);
    geb_tok_free(tok);
    return 0;
}
