/* test_json.c - the strict JSON reader: values, escapes, numbers, limits and
 * every class of malformed input.  Expected values are written by hand from
 * RFC 8259 / RFC 3629 (UTF-8 byte sequences checked against Python's
 * str.encode('utf-8')). */
#include "json.h"
#include "test.h"

#include <stdlib.h>

/* Parses a NUL-terminated text (the NUL is not part of the input). */
static geb_json *parse(const char *s, geb_err *err) { return geb_json_parse(s, strlen(s), err); }

/* Parses a one-string document and checks the decoded bytes. */
static void check_string(const char *doc, const char *want, size_t want_len) {
    geb_err err = {{0}};
    geb_json *v = parse(doc, &err);
    CHECK_MSG(v && v->type == GEB_JSON_STRING, "%s: %s", doc, err.msg);
    if (v && v->type == GEB_JSON_STRING) {
        CHECK_MSG(v->len == want_len && memcmp(v->str, want, want_len) == 0, "%s", doc);
        CHECK(v->str[v->len] == 0);
    }
    geb_json_free(v);
}

/* Checks that a document (len bytes) is rejected with a message holding
 * `what` and, if at >= 0, "at byte <at>". */
static void check_bad_n(const char *doc, size_t len, const char *what, long at) {
    geb_err err = {{0}};
    geb_json *v = geb_json_parse(doc, len, &err);
    CHECK_MSG(v == NULL, "accepted: %.*s", (int)len, doc);
    geb_json_free(v);
    CHECK_MSG(strstr(err.msg, what) != NULL, "%.*s: message '%s' lacks '%s'", (int)len, doc,
              err.msg, what);
    if (at >= 0) {
        char want[48];
        snprintf(want, sizeof want, "at byte %ld", at);
        CHECK_MSG(strstr(err.msg, want) != NULL, "%.*s: message '%s' lacks '%s'", (int)len, doc,
                  err.msg, want);
    }
}

static void check_bad(const char *doc, const char *what, long at) {
    check_bad_n(doc, strlen(doc), what, at);
}

static void test_object(void) {
    const char *doc = " {\"num_layers\": 24, \"layernorm_epsilon\": 1e-05,\n"
                      "\t\"tie_word_embeddings\": false, \"x\": null, \"ok\": true,\r\n"
                      "\"eos\": [2, 3], \"name\": \"geb\", \"num_layers\": 25, \"e\": {}} ";
    geb_err err = {{0}};
    geb_json *r = parse(doc, &err);
    CHECK_MSG(r != NULL, "%s", err.msg);
    if (!r) return;
    CHECK(r->type == GEB_JSON_OBJECT && r->count == 9);
    const geb_json *v = geb_json_get(r, "num_layers");
    CHECK(v && v->type == GEB_JSON_NUMBER && v->is_int && v->integer == 25); /* last wins */
    v = geb_json_get(r, "layernorm_epsilon");
    CHECK(v && v->type == GEB_JSON_NUMBER && !v->is_int && v->number == 1e-05);
    v = geb_json_get(r, "tie_word_embeddings");
    CHECK(v && v->type == GEB_JSON_BOOL && v->boolean == 0);
    v = geb_json_get(r, "ok");
    CHECK(v && v->type == GEB_JSON_BOOL && v->boolean == 1);
    v = geb_json_get(r, "x");
    CHECK(v && v->type == GEB_JSON_NULL);
    v = geb_json_get(r, "eos");
    CHECK(v && v->type == GEB_JSON_ARRAY && v->count == 2 && v->items[1].integer == 3);
    v = geb_json_get(r, "name");
    CHECK(v && v->type == GEB_JSON_STRING && v->len == 3 && strcmp(v->str, "geb") == 0);
    v = geb_json_get(r, "e");
    CHECK(v && v->type == GEB_JSON_OBJECT && v->count == 0);
    CHECK(geb_json_get(r, "missing") == NULL);
    CHECK(geb_json_get(r, "num_layer") == NULL);
    CHECK(geb_json_get(geb_json_get(r, "eos"), "0") == NULL); /* not an object */
    CHECK(geb_json_get(NULL, "x") == NULL);
    CHECK(strcmp(r->keys[0], "num_layers") == 0 && strcmp(r->keys[8], "e") == 0);
    geb_json_free(r);
    geb_json_free(NULL);
}

static void test_strings(void) {
    check_string("\"\"", "", 0);
    check_string("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    check_string("\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9", 5);
    check_string("\"\\u4e2d\\u6587\"", "\xe4\xb8\xad\xe6\x96\x87", 6);           /* 中文 */
    check_string("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);                   /* U+1F600 */
    check_string("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);                   /* U+10FFFF */
    check_string("\"a\\u0000b\"", "a\0b", 3);                                   /* NUL kept */
    check_string("\"\xe4\xba\xba\xe7\x94\x9f \xf0\x9f\x98\x80 \x7f\"",
                 "\xe4\xba\xba\xe7\x94\x9f \xf0\x9f\x98\x80 \x7f", 13);         /* raw UTF-8 */
    check_string("\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", "\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7);

    check_bad("\"abc", "unterminated string", 0);
    check_bad("\"abc\\", "unterminated string", 0);
    check_bad("\"a\x01\"", "control character", 2);
    check_bad("\"a\tb\"", "control character", 2);
    check_bad("\"a\nb\"", "control character", 2);
    check_bad_n("\"a\0b\"", 5, "control character", 2);
    check_bad("\"\\x\"", "invalid escape", 1);
    check_bad("\"\\'\"", "invalid escape", 1);
    check_bad("\"\\u12\"", "invalid \\u escape", 1);
    check_bad("\"\\u12g4\"", "invalid \\u escape", 1);
    check_bad("\"\\ud800\"", "lone high surrogate", 1);
    check_bad("\"\\ud800x\"", "lone high surrogate", 1);
    check_bad("\"\\ud800\\u0041\"", "lone high surrogate", 1);
    check_bad("\"\\ud800\\ud800\"", "lone high surrogate", 1);
    check_bad("\"\\udc00\"", "lone low surrogate", 1);
    check_bad("\"x\\ude00\\ud83d\"", "lone low surrogate", 2);
    check_bad("\"\xff\"", "invalid UTF-8", 1);
    check_bad("\"ab\x80\"", "invalid UTF-8", 3);
    check_bad("\"\xc0\xaf\"", "invalid UTF-8", 1);          /* overlong '/' */
    check_bad("\"\xc1\xbf\"", "invalid UTF-8", 1);          /* overlong */
    check_bad("\"\xe0\x80\xaf\"", "invalid UTF-8", 1);      /* overlong */
    check_bad("\"\xf0\x80\x80\xaf\"", "invalid UTF-8", 1);  /* overlong */
    check_bad("\"\xed\xa0\x80\"", "invalid UTF-8", 1);      /* encoded surrogate */
    check_bad("\"\xf4\x90\x80\x80\"", "invalid UTF-8", 1);  /* above U+10FFFF */
    check_bad("\"\xf5\x80\x80\x80\"", "invalid UTF-8", 1);
    check_bad("\"\xe4\xb8\"", "invalid UTF-8", 1);          /* truncated */
    check_bad("\"\xe4\"", "invalid UTF-8", 1);
    check_bad("\"\xe4\xb8x\"", "invalid UTF-8", 1);
    check_bad("'a'", "unexpected character", 0);
}

static void test_numbers(void) {
    static const struct {
        const char *doc;
        int is_int;
        int64_t integer;
        double number;
    } ok[] = {
        {"0", 1, 0, 0.0},
        {"-0", 1, 0, -0.0},
        {"7", 1, 7, 7.0},
        {"-12", 1, -12, -12.0},
        {"5632", 1, 5632, 5632.0},
        {"9223372036854775807", 1, INT64_MAX, 9223372036854775807.0},
        {"-9223372036854775808", 1, INT64_MIN, -9223372036854775808.0},
        {"9007199254740993", 1, 9007199254740993LL, 9007199254740992.0}, /* 2^53 + 1 */
        {"9223372036854775808", 0, 0, 9223372036854775808.0},
        {"-9223372036854775809", 0, 0, -9223372036854775808.0},
        {"123456789012345678901234567890", 0, 0, 1.2345678901234568e29},
        {"1.5", 0, 0, 1.5},
        {"-0.25", 0, 0, -0.25},
        {"0.1", 0, 0, 0.1},
        {"1e2", 0, 0, 100.0},
        {"1E+2", 0, 0, 100.0},
        {"25e-1", 0, 0, 2.5},
        {"1.0", 0, 0, 1.0},
        {"1e-400", 0, 0, 0.0},
        {"1.7976931348623157e308", 0, 0, 1.7976931348623157e308},
        {"4.9406564584124654e-324", 0, 0, 4.9406564584124654e-324},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        geb_err err = {{0}};
        geb_json *v = parse(ok[i].doc, &err);
        CHECK_MSG(v && v->type == GEB_JSON_NUMBER, "%s: %s", ok[i].doc, err.msg);
        if (!v) continue;
        CHECK_MSG(v->is_int == ok[i].is_int, "%s: is_int %d", ok[i].doc, v->is_int);
        if (ok[i].is_int)
            CHECK_MSG(v->integer == ok[i].integer, "%s: integer %lld", ok[i].doc,
                      (long long)v->integer);
        CHECK_MSG(v->number == ok[i].number, "%s: number %.17g", ok[i].doc, v->number);
        geb_json_free(v);
    }
    check_bad("01", "leading zero", 1);
    check_bad("-01", "leading zero", 2);
    check_bad("-", "invalid number", 1);
    check_bad("-a", "invalid number", 1);
    check_bad("1.", "digit expected after '.'", 2);
    check_bad("1.e5", "digit expected after '.'", 2);
    check_bad(".5", "unexpected character", 0);
    check_bad("+1", "unexpected character", 0);
    check_bad("1e", "digit expected in exponent", 2);
    check_bad("1e+", "digit expected in exponent", 3);
    check_bad("0x10", "trailing characters", 1);
    check_bad("1e999", "out of range", 0);
    check_bad("[-1e400]", "out of range", 1);
    check_bad("NaN", "unexpected character", 0);
    check_bad("Infinity", "unexpected character", 0);
    check_bad("-Infinity", "invalid number", 1);
    /* A number longer than the stack buffer goes through the heap path. */
    char big[310]; /* 307 ones, ".5" and NUL: about 1.1e306 */
    memset(big, '1', sizeof big - 3);
    memcpy(big + sizeof big - 3, ".5", 3);
    geb_err err = {{0}};
    geb_json *v = parse(big, &err);
    CHECK_MSG(v && v->type == GEB_JSON_NUMBER && !v->is_int && v->number > 1.1e306 &&
                  v->number < 1.2e306, "%s", err.msg);
    geb_json_free(v);
}

static void test_syntax(void) {
    check_bad("", "value expected", 0);
    check_bad("   ", "value expected", 3);
    check_bad("[1,]", "value expected", 3);
    check_bad("[1 2]", "',' or ']' expected", 3);
    check_bad("[,1]", "value expected", 1);
    check_bad("[1", "unterminated array", 2);
    check_bad("[", "value expected", 1);
    check_bad("{\"a\":1,}", "object key expected", 7);
    check_bad("{\"a\":1 \"b\":2}", "',' or '}' expected", 7);
    check_bad("{\"a\" 1}", "':' expected", 5);
    check_bad("{\"a\":}", "value expected", 5);
    check_bad("{1:2}", "object key expected", 1);
    check_bad("{a:1}", "object key expected", 1);
    check_bad("{\"a\":1", "unterminated object", 6);
    check_bad("{\"a\\u0000b\":1}", "key contains", 1);
    check_bad("// c\n1", "unexpected character", 0);
    check_bad("1 // c", "trailing characters", 2);
    check_bad("[1] /* c */", "trailing characters", 4);
    check_bad("1 2", "trailing characters", 2);
    check_bad("{} {}", "trailing characters", 3);
    check_bad("tru", "invalid literal", 0);
    check_bad("TRUE", "unexpected character", 0);
    check_bad("nul", "invalid literal", 0);
    check_bad("falsey", "trailing characters", 5);
    check_bad("\xef\xbb\xbf{}", "unexpected character", 0); /* no BOM */
    check_bad("[1]\x0b", "trailing characters", 3);         /* VT is not whitespace */
    check_bad("\f1", "unexpected character", 0);
    check_bad_n("1\0", 2, "trailing characters", 1);
    /* Only the given length is read: a valid prefix of a longer buffer. */
    geb_err err = {{0}};
    geb_json *v = geb_json_parse("[1]garbage", 3, &err);
    CHECK(v && v->type == GEB_JSON_ARRAY && v->count == 1);
    geb_json_free(v);
    v = geb_json_parse("[12345", 3, &err);
    CHECK(!v && strstr(err.msg, "unterminated array"));
    geb_json_free(v);
    CHECK(geb_json_parse(NULL, 0, &err) == NULL);
    v = geb_json_parse("1", 1, NULL); /* err may be NULL */
    CHECK(v != NULL);
    geb_json_free(v);
    CHECK(geb_json_parse("[", 1, NULL) == NULL);
}

/* Builds n nested arrays around 0: "[[...0...]]". */
static char *nested(int n) {
    char *s = malloc((size_t)n * 2 + 2);
    for (int i = 0; i < n; i++) s[i] = '[';
    s[n] = '0';
    for (int i = 0; i < n; i++) s[n + 1 + i] = ']';
    s[2 * n + 1] = 0;
    return s;
}

static void test_depth(void) {
    geb_err err = {{0}};
    char *s = nested(64);
    geb_json *v = parse(s, &err);
    CHECK_MSG(v != NULL, "64 levels: %s", err.msg);
    const geb_json *w = v;
    int levels = 0;
    while (w && w->type == GEB_JSON_ARRAY) {
        levels++;
        w = w->count ? &w->items[0] : NULL;
    }
    CHECK(levels == 64 && w && w->type == GEB_JSON_NUMBER);
    geb_json_free(v);
    free(s);
    s = nested(65);
    check_bad(s, "nesting deeper than 64", 64);
    free(s);
    s = nested(100000); /* must not recurse 100000 deep */
    check_bad(s, "nesting deeper than 64", 64);
    free(s);
    check_bad("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
              "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
              "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
              "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
              "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
              "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
              "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[1]}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"
              "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}",
              "nesting deeper than 64", -1);
}

/* Many members: arrays grow past their first allocation correctly. */
static void test_large(void) {
    size_t n = 5000, cap = n * 16 + 16, k = 0;
    char *s = malloc(cap);
    s[k++] = '{';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s\"k%zu\":%zu", i ? "," : "", i, i * 3);
    s[k++] = '}';
    geb_err err = {{0}};
    geb_json *v = geb_json_parse(s, k, &err);
    CHECK_MSG(v && v->count == n, "%s", err.msg);
    const geb_json *x = geb_json_get(v, "k4321");
    CHECK(x && x->integer == 4321 * 3);
    geb_json_free(v);
    free(s);
}

int main(void) {
    test_object();
    test_strings();
    test_numbers();
    test_syntax();
    test_depth();
    test_large();
    return TEST_DONE("json");
}
