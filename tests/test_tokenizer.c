/* test_tokenizer.c - checks the SentencePiece tokenizer against fixtures
 * written by the python sentencepiece library (tools/gen_tok_fixtures.py):
 * every test string under every model must encode to exactly the library's
 * ids and those ids must decode to exactly the library's text; random id
 * sequences must decode as the library decodes them; the streaming decoder
 * must emit whole UTF-8 characters only and add up to the full decode.
 *
 *   build/test_tokenizer        run the checks
 *   build/test_tokenizer -v     also print per-model counts and time 1 MB
 */
#include "test.h"
#include "tokenizer.h"

#include <stdlib.h>

#define TOK_DIR "tests/data/tok/"

static const char *const kModels[] = {"bpe_bf", "bpe_raw", "bpe_suffix", "bpe_ws", "uni_rules",
                                      "uni",    "uni_bf",  "uni_raw"};
#define N_MODELS (sizeof kModels / sizeof kModels[0])

static int verbose;

/* A byte string with its length. */
typedef struct {
    uint8_t *p;
    size_t n;
} bytes;

/* Splits a NUL-terminated buffer into lines in place (the '\n's become
 * NULs); returns the number of lines, *lines is malloc'd. */
static size_t split_lines(char *buf, size_t len, char ***lines) {
    size_t n = 0, cap = 1024;
    *lines = malloc(cap * sizeof **lines);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && buf[j] != '\n') j++;
        buf[j] = 0;
        if (n == cap) *lines = realloc(*lines, (cap *= 2) * sizeof **lines);
        (*lines)[n++] = buf + i;
        i = j + 1;
    }
    return n;
}

/* Unescapes a text field (printable UTF-8 as is, "\\" and "\xNN"
 * escapes); returns -1 on a malformed escape. */
static int parse_esc(const char *s, bytes *out) {
    size_t n = strlen(s);
    out->p = malloc(n + 1);
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out->p[out->n++] = (uint8_t)s[i];
        } else if (s[i + 1] == '\\') {
            out->p[out->n++] = '\\';
            i++;
        } else {
            unsigned v;
            if (s[i + 1] != 'x' || !s[i + 2] || !s[i + 3] || sscanf(s + i + 2, "%2x", &v) != 1)
                return -1;
            out->p[out->n++] = (uint8_t)v;
            i += 3;
        }
    }
    return 0;
}

/* Parses a space-separated id list ("-" = empty) into a malloc'd array. */
static size_t parse_ids(const char *s, int32_t **ids) {
    size_t n = 0, cap = 16;
    *ids = malloc(cap * sizeof **ids);
    if (strcmp(s, "-") == 0) return 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) break;
        if (n == cap) *ids = realloc(*ids, (cap *= 2) * sizeof **ids);
        (*ids)[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

/* Splits a tab-separated line in place into at most max fields. */
static int split_tabs(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = 0;
            f[n++] = p + 1;
        }
    return n;
}

/* True if s[0..n) is valid UTF-8 made of whole characters. */
static int whole_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                             : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!k || n - i < k) return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        i += k;
    }
    return 1;
}

/* Streams ids through the incremental decoder, with the first `split` ids
 * as prefix; checks that every chunk is whole UTF-8 and that the chunks add
 * up to decode(all) minus decode(prefix).  Returns 1 if all held, 0 if
 * not, -1 if decode(prefix) is not a prefix of decode(all) (possible only
 * with a denormalizer, which rewrites across the split). */
static int stream_ok(const geb_tok *tok, const int32_t *ids, size_t n, size_t split) {
    size_t full_len, pre_len;
    /* the contract holds for a prefix that does not end inside a character
     * spelled in byte pieces, so move the split before any byte piece */
    while (split > 0 && strncmp(geb_tok_piece(tok, ids[split - 1]), "<0x", 3) == 0) split--;
    char *full = geb_tok_decode(tok, ids, n, &full_len);
    char *pre = geb_tok_decode(tok, ids, split, &pre_len);
    geb_tok_stream *s = geb_tok_stream_new(tok, ids, split);
    int ok = full && pre && s;
    char *got = malloc(full_len + 64);
    size_t got_n = 0;
    for (size_t i = split; ok && i <= n; i++) {
        size_t len;
        const char *chunk = i < n ? geb_tok_stream_push(s, ids[i], &len)
                                  : geb_tok_stream_finish(s, &len);
        if (!whole_utf8((const uint8_t *)chunk, len) || got_n + len > full_len) ok = 0;
        else memcpy(got + got_n, chunk, len), got_n += len;
    }
    if (ok && !(pre_len <= full_len && memcmp(full, pre, pre_len) == 0)) ok = -1;
    else ok = ok && got_n == full_len - pre_len && memcmp(got, full + pre_len, got_n) == 0;
    free(got);
    free(full);
    free(pre);
    geb_tok_stream_free(s);
    return ok;
}

typedef struct {
    size_t enc_total, enc_ok, dec_total, dec_ok, rnd_total, rnd_ok, stream_total, stream_ok;
    size_t stream_na; /* decode(prefix) not a prefix of decode(all) */
} counts;

/* Adds one stream_ok() result to the counts. */
static void count_stream(counts *c, int r) {
    if (r < 0) c->stream_na++;
    else {
        c->stream_total++;
        c->stream_ok += (size_t)r;
    }
}

/* Prints a short description of a mismatch (first few per model only). */
static void show_mismatch(const char *model, const char *what, size_t line,
                          const int32_t *got, size_t n_got) {
    fprintf(stderr, "%s line %zu: %s mismatch; got", model, line + 1, what);
    for (size_t i = 0; i < n_got && i < 40; i++) fprintf(stderr, " %d", got[i]);
    fputc('\n', stderr);
}

/* Runs one fixture line; updates the counts. */
static void run_line(const geb_tok *tok, const char *model, char *line, size_t lineno,
                     bytes *strings, size_t n_strings, size_t *e_index, counts *c,
                     int *shown) {
    char *f[5];
    int nf = split_tabs(line, f, 5);
    int32_t *want = NULL;
    bytes dec = {0};
    if (nf == 3 && strcmp(f[0], "E") == 0) {
        size_t k = (*e_index)++;
        CHECK_MSG(k < n_strings, "more E lines than strings");
        if (k >= n_strings) return;
        const bytes *in = &strings[k];
        size_t n_want = parse_ids(f[1], &want);
        int eq_input = strcmp(f[2], "\\=") == 0;
        if (!eq_input) CHECK(parse_esc(f[2], &dec) == 0);
        const bytes *want_text = eq_input ? in : &dec;
        int32_t *ids;
        size_t n;
        geb_err err;
        int rc = geb_tok_encode(tok, (const char *)in->p, in->n, &ids, &n, &err);
        c->enc_total++;
        if (rc == 0 && n == n_want && memcmp(ids, want, n * sizeof *ids) == 0) c->enc_ok++;
        else if ((*shown)++ < 8) show_mismatch(model, "encode", lineno, ids, n);
        size_t tl;
        char *text = geb_tok_decode(tok, want, n_want, &tl);
        c->dec_total++;
        if (text && tl == want_text->n && memcmp(text, want_text->p, tl) == 0) c->dec_ok++;
        else if ((*shown)++ < 8) fprintf(stderr, "%s line %zu: decode mismatch: '%s'\n",
                                         model, lineno + 1, text ? text : "(null)");
        count_stream(c, stream_ok(tok, want, n_want, n_want / 3));
        free(text);
        free(ids);
    } else if (nf == 3 && strcmp(f[0], "D") == 0) {
        size_t n_want = parse_ids(f[1], &want);
        CHECK(parse_esc(f[2], &dec) == 0);
        size_t tl;
        char *text = geb_tok_decode(tok, want, n_want, &tl);
        c->rnd_total++;
        if (text && tl == dec.n && memcmp(text, dec.p, tl) == 0) c->rnd_ok++;
        else if ((*shown)++ < 8) fprintf(stderr, "%s line %zu: random decode mismatch: '%s'\n",
                                         model, lineno + 1, text ? text : "(null)");
        count_stream(c, stream_ok(tok, want, n_want, n_want / 2));
        free(text);
    } else if (nf == 5 && strcmp(f[0], "M") == 0) {
        CHECK_MSG(geb_tok_n_pieces(tok) == atoi(f[1]), "%s: piece count", model);
        CHECK_MSG(geb_tok_unk_id(tok) == atoi(f[2]), "%s: unk id", model);
        CHECK_MSG(geb_tok_bos_id(tok) == atoi(f[3]), "%s: bos id", model);
        CHECK_MSG(geb_tok_eos_id(tok) == atoi(f[4]), "%s: eos id", model);
    } else if (nf == 3 && strcmp(f[0], "P") == 0) {
        CHECK(parse_esc(f[2], &dec) == 0);
        const char *piece = geb_tok_piece(tok, atoi(f[1]));
        CHECK_MSG(strlen(piece) == dec.n && memcmp(piece, dec.p, dec.n) == 0,
                  "%s: piece %s is '%s'", model, f[1], piece);
    } else {
        CHECK_MSG(0, "%s line %zu: malformed fixture line", model, lineno + 1);
    }
    free(want);
    free(dec.p);
}

/* Checks one model against its fixture file. */
static void check_model(const char *model, bytes *strings, size_t n_strings) {
    char path[256];
    geb_err err;
    geb_tok *tok;
    snprintf(path, sizeof path, TOK_DIR "%s.model", model);
    CHECK_MSG(geb_tok_load(&tok, path, &err) == 0, "%s: %s", path, err.msg);
    if (!tok) return;
    snprintf(path, sizeof path, TOK_DIR "%s.txt", model);
    uint8_t *data;
    size_t len;
    if (geb_read_file(path, &data, &len, 64u << 20, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        geb_tok_free(tok);
        return;
    }
    char **lines;
    size_t n_lines = split_lines((char *)data, len, &lines);
    counts c = {0};
    size_t e_index = 0;
    int shown = 0;
    for (size_t i = 0; i < n_lines; i++)
        run_line(tok, model, lines[i], i, strings, n_strings, &e_index, &c, &shown);
    CHECK_MSG(e_index == n_strings, "%s: %zu E lines for %zu strings", model, e_index, n_strings);
    CHECK_MSG(c.enc_total >= 2000, "%s: only %zu strings", model, c.enc_total);
    CHECK_MSG(c.enc_ok == c.enc_total, "%s: encode %zu/%zu exact", model, c.enc_ok, c.enc_total);
    CHECK_MSG(c.dec_ok == c.dec_total, "%s: decode %zu/%zu exact", model, c.dec_ok, c.dec_total);
    CHECK_MSG(c.rnd_ok == c.rnd_total, "%s: random decode %zu/%zu", model, c.rnd_ok, c.rnd_total);
    CHECK_MSG(c.stream_ok == c.stream_total, "%s: stream %zu/%zu", model, c.stream_ok,
              c.stream_total);
    /* only the model with a denormalizer may rewrite text across a split */
    CHECK_MSG(c.stream_na == 0 || strcmp(model, "uni_rules") == 0, "%s: %zu splits change the "
              "prefix text", model, c.stream_na);
    printf("%-10s pieces %5d  encode %zu/%zu  decode %zu/%zu  random-decode %zu/%zu  "
           "stream %zu/%zu\n",
           model, geb_tok_n_pieces(tok), c.enc_ok, c.enc_total, c.dec_ok, c.dec_total,
           c.rnd_ok, c.rnd_total, c.stream_ok, c.stream_total);
    free(lines);
    free(data);
    geb_tok_free(tok);
}

/* Streams the three byte pieces of a Chinese character one at a time: the
 * first two pushes must emit nothing, the third the whole character. */
static void check_stream_bytes(void) {
    geb_err err;
    geb_tok *tok;
    CHECK_MSG(geb_tok_load(&tok, TOK_DIR "bpe_bf.model", &err) == 0, "%s", err.msg);
    if (!tok) return;
    const char *pieces[] = {"<0xF0>", "<0xA0>", "<0x80>", "<0x80>", "<0xE4>", "<0xB8>",
                            "<0xAD>", "<0xE4>"};
    int32_t ids[8];
    for (int i = 0; i < 8; i++) {
        ids[i] = -1;
        for (int j = 0; j < geb_tok_n_pieces(tok); j++)
            if (strcmp(geb_tok_piece(tok, j), pieces[i]) == 0) ids[i] = j;
        CHECK(ids[i] >= 0);
    }
    geb_tok_stream *s = geb_tok_stream_new(tok, NULL, 0);
    size_t len;
    const char *out;
    for (int i = 0; i < 3; i++) {
        out = geb_tok_stream_push(s, ids[i], &len);
        CHECK(len == 0);
    }
    out = geb_tok_stream_push(s, ids[3], &len);
    CHECK(len == 4 && memcmp(out, "\xf0\xa0\x80\x80", 4) == 0);
    out = geb_tok_stream_push(s, ids[4], &len);
    CHECK(len == 0);
    out = geb_tok_stream_push(s, ids[5], &len);
    CHECK(len == 0);
    out = geb_tok_stream_push(s, ids[6], &len);
    CHECK(len == 3 && memcmp(out, "\xe4\xb8\xad", 3) == 0);
    out = geb_tok_stream_push(s, ids[7], &len); /* a dangling lead byte */
    CHECK(len == 0);
    out = geb_tok_stream_finish(s, &len); /* comes out as U+FFFD, like decode */
    CHECK(len == 3 && memcmp(out, "\xef\xbf\xbd", 3) == 0);
    geb_tok_stream_free(s);

    /* ids past the piece table (ChatGLM-style specials) are empty text */
    int32_t special[] = {geb_tok_n_pieces(tok), 64000, ids[4], ids[5], ids[6], -5};
    size_t n;
    char *text = geb_tok_decode(tok, special, 6, &n);
    CHECK(text && n == 3 && memcmp(text, "\xe4\xb8\xad", 3) == 0);
    free(text);
    CHECK(strcmp(geb_tok_piece(tok, 64000), "") == 0);
    CHECK(strcmp(geb_tok_piece(tok, -1), "") == 0);
    geb_tok_free(tok);
}

/* Every truncation and a few corruptions of a model must load or fail
 * cleanly (no crash; ASan catches out-of-bounds reads). */
static void check_bad_models(void) {
    uint8_t *data;
    size_t len;
    geb_err err;
    CHECK(geb_read_file(TOK_DIR "uni_raw.model", &data, &len, 1u << 24, &err) == 0);
    size_t cuts = 0, loaded = 0;
    for (size_t cut = 0; cut < len; cut += 1 + cut / 64, cuts++) {
        geb_tok *tok;
        /* a cut at a field boundary is a valid (smaller) model; a cut inside
         * a field must be refused.  ASan checks that neither reads past. */
        if (geb_tok_load_buffer(&tok, data, cut, &err) == 0) {
            loaded++;
            geb_tok_free(tok);
        }
    }
    CHECK_MSG(loaded * 4 < cuts, "%zu of %zu truncated models loaded", loaded, cuts);
    geb_tok *tok;
    CHECK(geb_tok_load_buffer(&tok, data, 0, &err) != 0); /* no unk piece */
    uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    CHECK(geb_tok_load_buffer(&tok, junk, sizeof junk, &err) != 0);
    uint32_t seed = 1;
    for (int round = 0; round < 200; round++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, data, len);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[(seed >> 8) % len] = (uint8_t)(seed >> 24);
        }
        if (geb_tok_load_buffer(&tok, copy, len, &err) == 0) {
            int32_t *ids;
            size_t n;
            const char *txt = "Hello \xe4\xb8\xad\xff world  ";
            if (geb_tok_encode(tok, txt, strlen(txt), &ids, &n, &err) == 0) {
                free(geb_tok_decode(tok, ids, n, NULL));
                free(ids);
            }
            geb_tok_free(tok);
        }
        free(copy);
    }
    free(data);
}

/* Appends a protobuf varint to a growing buffer. */
static void pb_put_varint(bytes *b, uint64_t v) {
    do {
        uint8_t c = v & 0x7F;
        v >>= 7;
        b->p[b->n++] = c | (v ? 0x80 : 0);
    } while (v);
}

/* Appends one ModelProto.pieces entry (piece 1, score 2, type 3). */
static void pb_put_piece(bytes *b, const uint8_t *s, size_t n, float score, int type) {
    uint8_t inner[600];
    bytes in = {inner, 0};
    pb_put_varint(&in, 1 << 3 | 2);
    pb_put_varint(&in, n);
    memcpy(in.p + in.n, s, n);
    in.n += n;
    pb_put_varint(&in, 2 << 3 | 5);
    memcpy(in.p + in.n, &score, 4);
    in.n += 4;
    pb_put_varint(&in, 3 << 3 | 0);
    pb_put_varint(&in, (uint64_t)type);
    pb_put_varint(b, 1 << 3 | 2);
    pb_put_varint(b, in.n);
    memcpy(b->p + b->n, in.p, in.n);
    b->n += in.n;
}

/* -v: a GEB-sized BPE model built in memory (64,896 pieces: specials, 256
 * byte pieces, then every lower-case string of 1-3 letters with and
 * without a leading U+2581, then 4-letter ones) to time loading and
 * encoding at that vocabulary size. */
static void time_big_vocab(const uint8_t *text, size_t len) {
    enum { N = 64896 };
    bytes m = {malloc(8u << 20), 0};
    char tmp[16];
    int count = 0;
    pb_put_piece(&m, (const uint8_t *)"<unk>", 5, 0, 2);
    pb_put_piece(&m, (const uint8_t *)"<s>", 3, 0, 3);
    pb_put_piece(&m, (const uint8_t *)"</s>", 4, 0, 3);
    for (int b = 0; b < 256; b++) {
        snprintf(tmp, sizeof tmp, "<0x%02X>", b);
        pb_put_piece(&m, (const uint8_t *)tmp, 6, 0, 6);
    }
    pb_put_piece(&m, (const uint8_t *)"\xe2\x96\x81", 3, -1, 1);
    count = 260;
    for (int l = 1; l <= 4 && count < N; l++) {
        for (long x = 0, end = (long)pow(26, l); x < end && count < N; x++) {
            char w[8];
            long v = x;
            for (int k = l - 1; k >= 0; k--, v /= 26) w[k] = (char)('a' + v % 26);
            for (int ws = l == 4 ? 0 : 1; ws >= 0 && count < N; ws--) {
                size_t n = 0;
                if (ws) memcpy(tmp, "\xe2\x96\x81", 3), n = 3;
                memcpy(tmp + n, w, (size_t)l);
                pb_put_piece(&m, (const uint8_t *)tmp, n + (size_t)l, -(float)count, 1);
                count++;
            }
        }
    }
    /* trainer_spec: model_type BPE (3), byte_fallback (35) */
    const uint8_t spec[] = {2 << 3 | 2, 5, 3 << 3, 2, 0x98, 0x02, 1};
    memcpy(m.p + m.n, spec, sizeof spec);
    m.n += sizeof spec;
    geb_tok *tok;
    geb_err err;
    double t0 = geb_now_ms();
    int rc = geb_tok_load_buffer(&tok, m.p, m.n, &err);
    double t1 = geb_now_ms();
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(geb_tok_n_pieces(tok) == N);
        int32_t *ids;
        size_t k;
        double t2 = geb_now_ms();
        CHECK(geb_tok_encode(tok, (const char *)text, len, &ids, &k, &err) == 0);
        double t3 = geb_now_ms();
        printf("65k-vocab BPE (synthetic, %zu-byte model): load %.1f ms, 1MB encode %.1f ms "
               "(%zu ids)\n", m.n, t1 - t0, t3 - t2, k);
        free(ids);
        geb_tok_free(tok);
    }
    free(m.p);
}

/* -v: encodes ~1 MB of the test strings (mixed English, Chinese, odd
 * characters) with every model and prints the time. */
static void time_1mb(bytes *strings, size_t n_strings) {
    uint8_t *big = malloc((1 << 20) + 4096);
    size_t n = 0;
    for (size_t i = 0; n < (1 << 20); i = (i + 1) % n_strings) {
        if (strings[i].n > 4000) continue;
        memcpy(big + n, strings[i].p, strings[i].n);
        n += strings[i].n;
        big[n++] = '\n';
    }
    for (size_t m = 0; m < N_MODELS; m++) {
        char path[256];
        geb_err err;
        geb_tok *tok;
        snprintf(path, sizeof path, TOK_DIR "%s.model", kModels[m]);
        if (geb_tok_load(&tok, path, &err) != 0) continue;
        int32_t *ids;
        size_t k;
        double t0 = geb_now_ms();
        int rc = geb_tok_encode(tok, (const char *)big, n, &ids, &k, &err);
        double t1 = geb_now_ms();
        char *text = rc == 0 ? geb_tok_decode(tok, ids, k, NULL) : NULL;
        double t2 = geb_now_ms();
        printf("%-10s 1MB: %zu bytes -> %zu ids, encode %.1f ms, decode %.1f ms\n",
               kModels[m], n, k, t1 - t0, t2 - t1);
        free(text);
        if (rc == 0) free(ids);
        geb_tok_free(tok);
    }
    time_big_vocab(big, n);
    free(big);
}

int main(int argc, char **argv) {
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    uint8_t *data;
    size_t len;
    geb_err err;
    if (geb_read_file(TOK_DIR "strings.txt", &data, &len, 64u << 20, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        return TEST_DONE("tokenizer");
    }
    char **lines;
    size_t n_strings = split_lines((char *)data, len, &lines);
    bytes *strings = calloc(n_strings, sizeof *strings);
    for (size_t i = 0; i < n_strings; i++) CHECK(parse_esc(lines[i], &strings[i]) == 0);
    for (size_t m = 0; m < N_MODELS; m++) check_model(kModels[m], strings, n_strings);
    check_stream_bytes();
    check_bad_models();
    if (verbose) time_1mb(strings, n_strings);
    for (size_t i = 0; i < n_strings; i++) free(strings[i].p);
    free(strings);
    free(lines);
    free(data);
    return TEST_DONE("tokenizer");
}
