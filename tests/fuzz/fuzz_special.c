/* fuzz_special.c - fuzz target for the special-token readers (src/special.c)
 * and chat rendering (src/chat.c).  Run from the repository root (it loads
 * two tokenizers once).  The first input byte picks the mode:
 *
 *   0  the rest is Python source for geb_special_parse_py: a found list has
 *      1..GEB_SPECIAL_MAX_LIST names of 1..256 bytes of valid UTF-8;
 *   1  the rest is a tokenizer_config.json: added_tokens_decoder gives
 *      ascending ids, chat_template is NUL-terminated and detection ends;
 *   2  the rest is a conversation (messages split at NUL bytes, the second
 *      byte picks the template and the tokenizer; a leading 'S' makes the
 *      first message the system prompt): the prompt carries exactly as many
 *      special ids as the same conversation with every message "x" (typed
 *      text never becomes a special token), the spans are ordered and
 *      inside the ids, and every id is a piece or a special.
 */
#include "chat.h"
#include "special.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                        \
    do {                                                                  \
        if (!(c)) {                                                       \
            fprintf(stderr, "fuzz_special: invariant failed: %s\n", #c);  \
            abort();                                                      \
        }                                                                 \
    } while (0)

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

static void fuzz_py(const char *s, size_t n) {
    geb_special_list l;
    geb_err err;
    int rc = geb_special_parse_py(s, n, &l, &err);
    REQUIRE(rc >= -1 && rc <= 1);
    if (rc != 1) return;
    REQUIRE(l.n >= 1 && l.n <= GEB_SPECIAL_MAX_LIST);
    for (size_t i = 0; i < l.n; i++) {
        size_t k = strlen(l.names[i]);
        REQUIRE(k >= 1 && k <= GEB_TOK_MAX_SPECIAL_NAME && valid_utf8((const uint8_t *)l.names[i], k));
        REQUIRE(l.ids[i] == -1);
    }
    geb_special_list_free(&l);
}

static void fuzz_config(const char *s, size_t n) {
    geb_err err;
    char *tmpl;
    size_t tlen;
    if (geb_chat_parse_config(s, n, &tmpl, &tlen, &err) == 0 && tmpl) {
        REQUIRE(tmpl[tlen] == 0);
        char why[256];
        geb_chat_detect(tmpl, tlen, why, sizeof why);
        REQUIRE(strlen(why) < sizeof why);
        free(tmpl);
    }
    geb_json *root = geb_json_parse(s, n, &err);
    if (!root) return;
    geb_special_list l;
    if (geb_special_parse_added(root, &l, &err) == 1) {
        for (size_t i = 0; i < l.n; i++) {
            REQUIRE(l.ids[i] >= 0 && (i == 0 || l.ids[i - 1] <= l.ids[i]));
            REQUIRE(valid_utf8((const uint8_t *)l.names[i], strlen(l.names[i])));
        }
        geb_special_list_free(&l);
    }
    geb_json_free(root);
}

static geb_tok *load(const char *path, int glm3) {
    static const char *const names[] = {"[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
                                        "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"};
    geb_tok *tok;
    geb_err err;
    if (geb_tok_load(&tok, path, &err) != 0) {
        fprintf(stderr, "fuzz_special: %s (run from the repository root)\n", err.msg);
        abort();
    }
    for (int i = 0; glm3 && i < 9; i++)
        REQUIRE(geb_tok_add_special(tok, geb_tok_n_pieces(tok) + i, names[i], &err) == 0);
    return tok;
}

static int is_special_id(const geb_tok *tok, int32_t id) {
    if (geb_tok_is_special(tok, id)) return 1;
    const char *p = geb_tok_piece(tok, id);
    return p[0] && geb_tok_control_id(tok, p, strlen(p)) == id;
}

static size_t n_special(const geb_tok *tok, const geb_chat_prompt *p) {
    size_t c = 0;
    for (size_t i = 0; i < p->n; i++) c += (size_t)is_special_id(tok, p->ids[i]);
    return c;
}

static void fuzz_chat(const uint8_t *d, size_t n) {
    static geb_tok *toks[2];
    static const char *const tmpls[] = {"chatglm3", "chatglm2", "zephyr", "llama2", "chatml", "bitnet"};
    if (!toks[0]) {
        toks[0] = load("tests/data/models/geb-f32-gqa3/tokenizer.model", 1);
        toks[1] = load("tests/data/tok/bpe_bf.model", 0); /* user pieces [gMASK], <|user|> */
    }
    if (n < 1) return;
    const geb_chat_template *t = geb_chat_find(tmpls[(d[0] & 0x7F) % 6]);
    const geb_tok *tok = toks[d[0] >> 7];
    d++;
    n--;
    geb_chat_msg m[8], x[8];
    size_t k = 0;
    int sys = n > 0 && d[0] == 'S';
    for (size_t a = 0; k < 8;) {
        const uint8_t *z = memchr(d + a, 0, n - a);
        size_t b = z ? (size_t)(z - d) : n;
        geb_chat_role r = sys && k == 0 ? GEB_CHAT_SYSTEM
                                        : (k - (size_t)sys) % 2 == 0 ? GEB_CHAT_USER : GEB_CHAT_ASSISTANT;
        m[k] = (geb_chat_msg){r, (const char *)d + a, b - a};
        x[k] = (geb_chat_msg){r, "x", 1};
        k++;
        if (!z) break;
        a = b + 1;
    }
    geb_chat_prompt p, q;
    geb_err err;
    if (geb_chat_render(t, tok, m, k, 1, 1, &p, &err) != 0) return;
    REQUIRE(geb_chat_render(t, tok, x, k, 1, 1, &q, &err) == 0);
    REQUIRE(n_special(tok, &p) == n_special(tok, &q));
    REQUIRE(p.text && p.text[p.text_len] == 0 && p.n_msgs == k && p.gen_begin <= p.n);
    for (size_t i = 0; i < k; i++) {
        REQUIRE(p.spans[i].begin <= p.spans[i].end && p.spans[i].end <= p.n);
        REQUIRE(i == 0 || p.spans[i - 1].end <= p.spans[i].begin);
    }
    REQUIRE(k == 0 || p.spans[k - 1].end <= p.gen_begin);
    for (size_t i = 0; i < p.n; i++)
        REQUIRE(p.ids[i] >= 0 && (p.ids[i] < geb_tok_n_pieces(tok) || geb_tok_is_special(tok, p.ids[i])));
    geb_chat_prompt_free(&p);
    geb_chat_prompt_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: fuzz_py(s, n); break;
    case 1: fuzz_config(s, n); break;
    default: fuzz_chat(data + 1, n); break;
    }
    return 0;
}
