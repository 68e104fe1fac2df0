/* fuzz_json.c - fuzz target for the JSON reader (src/json.c).
 *
 * Besides "no crash, no leak, no sanitizer report", every accepted document
 * must satisfy the tree's invariants and survive a round trip: the tree is
 * written back as JSON, parsed again, and must compare equal.  A violation
 * aborts, so libFuzzer reports it like a crash.  Each accepted document is
 * also read as a tokenizer_config.json (chat_template, added_tokens_decoder).
 */
#include "chat.h"
#include "json.h"
#include "special.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                          \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_json: invariant failed: %s\n", #c);       \
            abort();                                                        \
        }                                                                   \
    } while (0)

typedef struct out_buf {
    char *p;
    size_t n, cap;
} out_buf;

static void put(out_buf *o, const char *s, size_t k) {
    if (o->n + k + 1 > o->cap) {
        o->cap = (o->n + k + 1) * 2;
        o->p = realloc(o->p, o->cap);
        REQUIRE(o->p != NULL);
    }
    memcpy(o->p + o->n, s, k);
    o->n += k;
}

/* Writes a string with the escapes JSON requires; other bytes are raw
 * (the parser has already validated them as UTF-8). */
static void put_string(out_buf *o, const char *s, size_t len) {
    put(o, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(o, esc, 6);
        } else {
            put(o, (const char *)&s[i], 1);
        }
    }
    put(o, "\"", 1);
}

/* Serializes v and checks the invariants of the tree on the way. */
static void emit(out_buf *o, const geb_json *v, int depth) {
    char num[40];
    REQUIRE(depth <= 64);
    switch (v->type) {
    case GEB_JSON_NULL: put(o, "null", 4); break;
    case GEB_JSON_BOOL:
        REQUIRE(v->boolean == 0 || v->boolean == 1);
        put(o, v->boolean ? "true" : "false", v->boolean ? 4 : 5);
        break;
    case GEB_JSON_NUMBER:
        if (v->is_int) {
            REQUIRE((double)v->integer == v->number);
            snprintf(num, sizeof num, "%lld", (long long)v->integer);
        } else {
            snprintf(num, sizeof num, "%.17g", v->number);
            /* Keep it a non-integer literal: 1.0 must not come back as 1. */
            if (!strpbrk(num, ".e")) strcat(num, ".0");
        }
        put(o, num, strlen(num));
        break;
    case GEB_JSON_STRING:
        REQUIRE(v->str != NULL && v->str[v->len] == 0);
        put_string(o, v->str, v->len);
        break;
    case GEB_JSON_ARRAY:
    case GEB_JSON_OBJECT:
        REQUIRE(v->count == 0 || v->items != NULL);
        put(o, v->type == GEB_JSON_ARRAY ? "[" : "{", 1);
        for (size_t i = 0; i < v->count; i++) {
            if (i) put(o, ",", 1);
            if (v->type == GEB_JSON_OBJECT) {
                put_string(o, v->keys[i], strlen(v->keys[i]));
                put(o, ":", 1);
            }
            emit(o, &v->items[i], depth + 1);
        }
        put(o, v->type == GEB_JSON_ARRAY ? "]" : "}", 1);
        break;
    default: REQUIRE(0);
    }
}

/* 1 if the two trees hold the same values (integers exactly, doubles by
 * value, strings byte for byte). */
static int same(const geb_json *a, const geb_json *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case GEB_JSON_NULL: return 1;
    case GEB_JSON_BOOL: return a->boolean == b->boolean;
    case GEB_JSON_NUMBER:
        if (a->is_int != b->is_int) return 0;
        return a->is_int ? a->integer == b->integer : a->number == b->number;
    case GEB_JSON_STRING: return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    default:
        if (a->count != b->count) return 0;
        for (size_t i = 0; i < a->count; i++) {
            if (a->type == GEB_JSON_OBJECT && strcmp(a->keys[i], b->keys[i]) != 0) return 0;
            if (!same(&a->items[i], &b->items[i])) return 0;
        }
        return 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    geb_err err;
    err.msg[0] = 0;
    geb_json *root = geb_json_parse((const char *)data, size, &err);
    if (!root) {
        /* Rejections always explain themselves with an offset. */
        REQUIRE(strncmp(err.msg, "json: ", 6) == 0 && strstr(err.msg, " at byte ") != NULL);
        return 0;
    }
    out_buf o = {NULL, 0, 0};
    emit(&o, root, 0);
    geb_json *again = geb_json_parse(o.p, o.n, &err);
    if (!again) fprintf(stderr, "fuzz_json: re-parse failed: %s\n", err.msg);
    REQUIRE(again != NULL);
    REQUIRE(same(root, again));
    /* Lookups on every key find a member with that key (the last of repeats). */
    if (root->type == GEB_JSON_OBJECT)
        for (size_t i = 0; i < root->count; i++) {
            const geb_json *m = geb_json_get(root, root->keys[i]);
            REQUIRE(m != NULL && m >= &root->items[i]);
        }
    /* The same document read as a tokenizer_config.json (src/chat.c,
     * src/special.c): chat_template and added_tokens_decoder. */
    char *tmpl;
    size_t tlen;
    if (geb_chat_parse_config((const char *)data, size, &tmpl, &tlen, &err) == 0 && tmpl) {
        REQUIRE(tmpl[tlen] == 0);
        char why[256];
        geb_chat_detect(tmpl, tlen, why, sizeof why);
        free(tmpl);
    }
    geb_special_list l;
    if (geb_special_parse_added(root, &l, &err) == 1) {
        for (size_t i = 1; i < l.n; i++) REQUIRE(l.ids[i - 1] <= l.ids[i]);
        geb_special_list_free(&l);
    }
    geb_json_free(again);
    geb_json_free(root);
    free(o.p);
    return 0;
}
