/* test_special.c - the special-token table (include/tokenizer.h) and its
 * readers (include/special.h): the Python list parser on realistic and
 * hostile sources, added_tokens_decoder, and the folder loader. */
#include "special.h"

#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOK_PATH "tests/data/models/geb-f32-gqa3/tokenizer.model" /* 400 pieces */

/* ChatGLM3's tokenization_chatglm.py around the list (as published; the
 * comment and the docstring carry decoys). */
static const char kChatglm3[] =
    "import re\n"
    "class SPTokenizer:\n"
    "    \"\"\"special_tokens = [\"decoy\"] in a docstring\"\"\"\n"
    "    def __init__(self, model_path: str):\n"
    "        # special_tokens = ['commented out']\n"
    "        self.n_words: int = self.sp_model.vocab_size()\n"
    "        role_special_tokens = [\"<|system|>\", \"<|user|>\", \"<|assistant|>\", \"<|observation|>\"]\n"
    "        special_tokens = [\"[MASK]\", \"[gMASK]\", \"[sMASK]\", \"sop\", \"eop\"] + role_special_tokens\n"
    "        self.special_tokens = {}\n"
    "        for token in special_tokens:\n"
    "            self.special_tokens[token] = self.n_words\n";

static const char kChatglm2[] =
    "        special_tokens = [\"[MASK]\", \"[gMASK]\", \"[sMASK]\", \"sop\", \"eop\"]\n"
    "        self.special_tokens = {}\n";

/* GEB's list as the issue describes it, multi-line with a trailing comma. */
static const char kGeb[] =
    "        special_tokens = [\n"
    "            '[MASK]', '[gMASK]', '[sMASK]',  # masks\n"
    "            '<sop>', '<eop>', \"<eod>\",\n"
    "        ]\n";

#define NOT_FOUND -2 /* expect_py: rc 0 */
#define REFUSED -1   /* expect_py: rc -1 */

/* Parses src and checks the names against want (n of them); n < 0: expects
 * that many as the return code instead (0 not found, -1 refused). */
static void expect_py(const char *src, size_t len, const char *const *want, int n, int line) {
    geb_special_list l;
    geb_err err = {{0}};
    int rc = geb_special_parse_py(src, len, &l, &err);
    if (n < 0) {
        int want_rc = n == REFUSED ? -1 : 0;
        CHECK_MSG(rc == want_rc, "line %d: rc %d (%s)", line, rc, err.msg);
        if (rc == -1) CHECK_MSG(err.msg[0] != 0, "line %d: no message", line);
        if (rc == 1) geb_special_list_free(&l);
        return;
    }
    CHECK_MSG(rc == 1 && l.n == (size_t)n, "line %d: rc %d, %zu names (%s)", line, rc,
              rc == 1 ? l.n : 0, err.msg);
    for (int i = 0; rc == 1 && i < n && (size_t)i < l.n; i++)
        CHECK_MSG(strcmp(l.names[i], want[i]) == 0 && l.ids[i] == -1, "line %d: name %d is %s",
                  line, i, l.names[i]);
    if (rc == 1) geb_special_list_free(&l);
}
#define EXPECT_PY(src, want, n) expect_py(src, strlen(src), want, n, __LINE__)

static void test_parse_py(void) {
    static const char *const geb[] = {"[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<eod>"};
    static const char *const glm3[] = {"[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
                                       "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"};
    EXPECT_PY(kChatglm3, glm3, 9);
    EXPECT_PY(kChatglm2, glm3, 5);
    /* the built-in orders agree with the published lists */
    EXPECT_PY(kChatglm3, geb_special_glm3_order, GEB_SPECIAL_GLM3_N);
    EXPECT_PY(kChatglm2, geb_special_glm2_order, GEB_SPECIAL_GLM2_N);
    for (int i = 0; i < 6; i++) CHECK(strcmp(geb_special_geb_order[i], geb[i]) == 0);
    EXPECT_PY(kGeb, geb, 6);
    /* a list named before it and added in front */
    static const char *const front[] = {"a", "b", "c"};
    EXPECT_PY("x = ['a', 'b']\nspecial_tokens = x + ['c']\n", front, 3);
    /* the most recent assignment of the name wins */
    EXPECT_PY("x = ['z']\nx = ['a', 'b']\nspecial_tokens = x + ['c']\n", front, 3);
    /* escapes, raw strings, prefixes, implicit concatenation */
    static const char *const esc[] = {"A\xc3\xa9\n\t", "\\d+", "ab", "\xe4\xbd\xa0", "q'\"", "\\q",
                                      "\xf0\x9f\x99\x82"};
    EXPECT_PY("special_tokens = ['\\x41\\u00e9\\n\\t', r'\\d+', u'a' \"b\", '\\u4f60', "
              "'q\\'\"', '\\q', '\\U0001F642']",
              esc, 7);
    static const char *const tri[] = {"x\ny"};
    EXPECT_PY("special_tokens = ['''x\ny''']", tri, 1);
    static const char *const cont[] = {"ab"};
    EXPECT_PY("special_tokens = \\\n ['a\\\nb']", cont, 1);
    /* things that are not the list */
    EXPECT_PY("", NULL, NOT_FOUND);
    EXPECT_PY("self.special_tokens = ['x']\n", NULL, NOT_FOUND);
    EXPECT_PY("if special_tokens == ['x']: pass\n", NULL, NOT_FOUND);
    EXPECT_PY("special_tokens += ['x']\n", NULL, NOT_FOUND);
    EXPECT_PY("# special_tokens = ['x']\n'''special_tokens = ['y']'''\n", NULL, NOT_FOUND);
    /* an unterminated string before the list swallows the rest of the file */
    EXPECT_PY("s = 'oops\nspecial_tokens = ['x']\n", NULL, NOT_FOUND);
    /* hostile lists are refused with a message */
    EXPECT_PY("special_tokens = ['a', 'unterminated]\n", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['a', 'b'", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['a' + 'b']", NULL, REFUSED);
    EXPECT_PY("special_tokens = [name]", NULL, REFUSED);
    EXPECT_PY("special_tokens = unknown + ['a']", NULL, REFUSED);
    EXPECT_PY("special_tokens = []", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['']", NULL, REFUSED);
    EXPECT_PY("special_tokens = [b'x']", NULL, REFUSED);
    EXPECT_PY("special_tokens = [f'{x}']", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['\\N{BULLET}']", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['\\ud800']", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['\\U00110000']", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['\\x4']", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['\\0']", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['\xff\xfe']", NULL, REFUSED);
    EXPECT_PY("special_tokens = ['a\\", NULL, REFUSED);
    EXPECT_PY("special_tokens = [[['a']]]", NULL, REFUSED);
    EXPECT_PY("special_tokens = {'a': 1}", NULL, REFUSED);
    /* an embedded NUL byte in the source literal */
    {
        static const char src[] = "special_tokens = ['a\0b']";
        expect_py(src, sizeof src - 1, NULL, REFUSED, __LINE__);
    }
    /* a name of 256 bytes passes, 257 does not */
    {
        char src[400];
        int k = snprintf(src, sizeof src, "special_tokens = ['");
        memset(src + k, 'n', 256);
        strcpy(src + k + 256, "']");
        geb_special_list l;
        geb_err err;
        CHECK(geb_special_parse_py(src, strlen(src), &l, &err) == 1 && l.n == 1 &&
              strlen(l.names[0]) == 256);
        geb_special_list_free(&l);
        memset(src + k, 'n', 257);
        strcpy(src + k + 257, "']");
        CHECK(geb_special_parse_py(src, strlen(src), &l, &err) == -1);
    }
    /* huge lists: 1024 names pass, 1025 are refused; deep brackets and a
     * long run of strings outside any list end in linear time */
    for (int count = 1024; count <= 1025; count++) {
        size_t cap = 32 + (size_t)count * 12;
        char *src = malloc(cap);
        size_t k = (size_t)snprintf(src, cap, "special_tokens = [");
        for (int i = 0; i < count; i++) k += (size_t)snprintf(src + k, cap - k, "'t%d',", i);
        snprintf(src + k, cap - k, "]");
        geb_special_list l;
        geb_err err;
        int rc = geb_special_parse_py(src, strlen(src), &l, &err);
        CHECK_MSG(count == 1024 ? rc == 1 && l.n == 1024 : rc == -1, "%d names: rc %d", count, rc);
        if (rc == 1) {
            CHECK(strcmp(l.names[1023], "t1023") == 0);
            geb_special_list_free(&l);
        }
        free(src);
    }
    {
        size_t n = 1u << 20;
        char *src = malloc(n + 32);
        memcpy(src, "special_tokens = ", 17);
        memset(src + 17, '[', n);
        geb_special_list l;
        geb_err err;
        CHECK(geb_special_parse_py(src, 17 + n, &l, &err) == -1);
        for (size_t i = 0; i + 3 <= n; i += 3) memcpy(src + i, "''\n", 3);
        CHECK(geb_special_parse_py(src, n, &l, &err) == 0);
        /* many named lists: only the last PY_KEEP are remembered */
        size_t k = 0;
        for (int i = 0; i < 100; i++) k += (size_t)snprintf(src + k, n - k, "l%d = ['x%d']\n", i, i);
        snprintf(src + k, n - k, "special_tokens = l99 + l90\n");
        CHECK(geb_special_parse_py(src, strlen(src), &l, &err) == 1 && l.n == 2 &&
              strcmp(l.names[0], "x99") == 0 && strcmp(l.names[1], "x90") == 0);
        geb_special_list_free(&l);
        snprintf(src + k, n - k, "special_tokens = l0\n");
        CHECK(geb_special_parse_py(src, strlen(src), &l, &err) == -1);
        free(src);
    }
}

static void test_table(void) {
    geb_tok *tok;
    geb_err err;
    if (geb_tok_load(&tok, TOK_PATH, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    int n = geb_tok_n_pieces(tok);
    CHECK(n == 400);
    CHECK(geb_tok_n_special(tok) == 0 && geb_tok_special_id(tok, "[gMASK]") == -1);
    CHECK(geb_tok_add_special(tok, n + 1, "[gMASK]", &err) == 0);
    CHECK(geb_tok_add_special(tok, n + 3, "<sop>", &err) == 0);
    CHECK(geb_tok_add_special(tok, n + 1, "other", &err) == -1);  /* id twice */
    CHECK(geb_tok_add_special(tok, n + 5, "[gMASK]", &err) == -1); /* name twice */
    CHECK(geb_tok_add_special(tok, -1, "neg", &err) == -1);
    CHECK(geb_tok_add_special(tok, n + 6, "", &err) == -1);
    CHECK(geb_tok_special_id(tok, "[gMASK]") == n + 1 && geb_tok_special_id(tok, "<sop>") == n + 3);
    CHECK(geb_tok_is_special(tok, n + 1) && !geb_tok_is_special(tok, n + 2) &&
          !geb_tok_is_special(tok, 5));
    CHECK(strcmp(geb_tok_piece(tok, n + 1), "[gMASK]") == 0);
    CHECK(strcmp(geb_tok_piece(tok, n + 2), "") == 0);
    const char *name;
    CHECK(geb_tok_special_at(tok, 1, &name) == n + 3 && strcmp(name, "<sop>") == 0);
    CHECK(geb_tok_special_at(tok, 2, &name) == -1 && name == NULL);
    /* control ids: the table first, then CONTROL / USER_DEFINED pieces */
    CHECK(geb_tok_control_id(tok, "[gMASK]", 7) == n + 1);
    CHECK(geb_tok_control_id(tok, "</s>", 4) == 2 && geb_tok_control_id(tok, "<s>", 3) == 1);
    CHECK(geb_tok_control_id(tok, "<unk>", 5) == -1); /* UNKNOWN is not a control */
    CHECK(geb_tok_control_id(tok, "the", 3) == -1);
    /* decoding and streaming still give nothing for specials */
    int32_t ids[] = {n + 1, n + 3, 300, n + 1};
    size_t len;
    char *a = geb_tok_decode(tok, ids + 2, 1, NULL);
    char *b = geb_tok_decode(tok, ids, 4, &len);
    CHECK(a && b && strcmp(a, b) == 0);
    geb_tok_stream *s = geb_tok_stream_new(tok, NULL, 0);
    size_t k;
    geb_tok_stream_push(s, n + 1, &k);
    CHECK(k == 0);
    geb_tok_stream_free(s);
    free(a);
    free(b);
    /* the table is full at GEB_TOK_MAX_SPECIAL */
    char nm[32];
    int ok = 1;
    for (int i = geb_tok_n_special(tok); i < GEB_TOK_MAX_SPECIAL; i++) {
        snprintf(nm, sizeof nm, "<x%d>", i);
        ok &= geb_tok_add_special(tok, 1000 + i, nm, &err) == 0;
    }
    CHECK(ok && geb_tok_n_special(tok) == GEB_TOK_MAX_SPECIAL);
    CHECK(geb_tok_add_special(tok, 999, "<one more>", &err) == -1);
    geb_tok_free(tok);
}

static void test_added(void) {
    static const char good[] =
        "{\"added_tokens_decoder\": {\"64792\": {\"content\": \"sop\", \"special\": true},"
        " \"2\": {\"content\": \"</s>\"}, \"64790\": {\"content\": \"[gMASK]\"}}}";
    geb_err err;
    geb_json *j = geb_json_parse(good, strlen(good), &err);
    geb_special_list l;
    CHECK(j && geb_special_parse_added(j, &l, &err) == 1 && l.n == 3);
    if (l.n == 3)
        CHECK(l.ids[0] == 2 && l.ids[1] == 64790 && l.ids[2] == 64792 &&
              strcmp(l.names[1], "[gMASK]") == 0 && strcmp(l.names[2], "sop") == 0);
    geb_special_list_free(&l);
    geb_json_free(j);
    static const char *const bad[] = {
        "{\"added_tokens_decoder\": []}",
        "{\"added_tokens_decoder\": {\"x1\": {\"content\": \"a\"}}}",
        "{\"added_tokens_decoder\": {\"-1\": {\"content\": \"a\"}}}",
        "{\"added_tokens_decoder\": {\"1234567890\": {\"content\": \"a\"}}}",
        "{\"added_tokens_decoder\": {\"1\": {\"content\": 5}}}",
        "{\"added_tokens_decoder\": {\"1\": {\"content\": \"\"}}}",
        "{\"added_tokens_decoder\": {\"1\": {\"content\": \"a\\u0000b\"}}}",
        "{\"added_tokens_decoder\": {\"1\": \"a\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = geb_json_parse(bad[i], strlen(bad[i]), &err);
        CHECK_MSG(j && geb_special_parse_added(j, &l, &err) == -1, "%s", bad[i]);
        geb_json_free(j);
    }
    j = geb_json_parse("{\"added_tokens_decoder\": {}}", 28, &err);
    CHECK(j && geb_special_parse_added(j, &l, &err) == 0);
    geb_json_free(j);
}

/* Writes text to dir/name. */
static void put(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void rm(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Loads the special table of a fresh tokenizer from dir. */
static int load_from(const char *dir, int32_t vocab, geb_tok **tok, char *why, geb_err *err) {
    if (geb_tok_load(tok, TOK_PATH, err) != 0) return -2;
    return geb_special_load(*tok, dir, vocab, geb_special_geb_order, GEB_SPECIAL_GEB_N, why,
                            GEB_SPECIAL_WHY, err);
}

static void test_loader(void) {
    char dir[] = "/tmp/geb_special_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp");
        return;
    }
    geb_tok *tok;
    geb_err err;
    char why[GEB_SPECIAL_WHY];
    /* nothing in the folder: the default order */
    CHECK(load_from(dir, 413, &tok, why, &err) == 0);
    CHECK(geb_tok_n_special(tok) == 10 && geb_tok_special_id(tok, "<sop>") == 403 &&
          geb_tok_special_id(tok, "<|special_9|>") == 409 && strstr(why, "built-in"));
    geb_tok_free(tok);
    /* the defaults do not fit a vocabulary of 405 */
    CHECK(load_from(dir, 405, &tok, why, &err) == -1 && strstr(err.msg, "past the vocabulary"));
    geb_tok_free(tok);
    /* tokenizer_config.json's added_tokens_decoder */
    put(dir, "tokenizer_config.json",
        "{\"added_tokens_decoder\": {\"401\": {\"content\": \"[gMASK]\"}, \"403\": {\"content\": \"sop\"}}}");
    CHECK(load_from(dir, 413, &tok, why, &err) == 0);
    CHECK(geb_tok_n_special(tok) == 2 && geb_tok_special_id(tok, "sop") == 403 &&
          strstr(why, "added_tokens_decoder"));
    geb_tok_free(tok);
    /* a .py without a list falls through to the config, and says so */
    put(dir, "tokenization_chatglm.py", "print('no list here')\n");
    CHECK(load_from(dir, 413, &tok, why, &err) == 0);
    CHECK(geb_tok_n_special(tok) == 2 && strstr(why, "no special_tokens list") &&
          strstr(why, "added_tokens_decoder"));
    geb_tok_free(tok);
    /* the .py list wins; tokenization_geb.py before tokenization_chatglm.py */
    put(dir, "tokenization_chatglm.py", kChatglm3);
    CHECK(load_from(dir, 413, &tok, why, &err) == 0);
    CHECK(geb_tok_n_special(tok) == 9 && geb_tok_special_id(tok, "<|user|>") == 406 &&
          geb_tok_special_id(tok, "<|assistant|>") == 407 && strstr(why, "tokenization_chatglm.py"));
    geb_tok_free(tok);
    put(dir, "tokenization_geb.py", kGeb);
    CHECK(load_from(dir, 413, &tok, why, &err) == 0);
    CHECK(geb_tok_n_special(tok) == 6 && geb_tok_special_id(tok, "<eod>") == 405 &&
          strcmp(geb_tok_piece(tok, 403), "<sop>") == 0 && strstr(why, "tokenization_geb.py"));
    geb_tok_free(tok);
    /* a hostile .py list: the next source is used, the reason kept */
    put(dir, "tokenization_geb.py", "special_tokens = ['a', 'b");
    CHECK(load_from(dir, 413, &tok, why, &err) == 0);
    CHECK(geb_tok_n_special(tok) == 9 && strstr(why, "tokenization_geb.py: special_tokens"));
    geb_tok_free(tok);
    /* a list that overruns the vocabulary is refused */
    put(dir, "tokenization_geb.py", kChatglm3);
    CHECK(load_from(dir, 405, &tok, why, &err) == -1 && strstr(err.msg, "tokenization_geb.py"));
    geb_tok_free(tok);
    /* duplicates in the list */
    put(dir, "tokenization_geb.py", "special_tokens = ['a', 'a']");
    CHECK(load_from(dir, 413, &tok, why, &err) == -1 && strstr(err.msg, "twice"));
    geb_tok_free(tok);
    rm(dir, "tokenization_geb.py");
    rm(dir, "tokenization_chatglm.py");
    rm(dir, "tokenizer_config.json");
    rmdir(dir);
}

int main(void) {
    test_parse_py();
    test_table();
    test_added();
    test_loader();
    return TEST_DONE("special");
}
