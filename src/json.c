/* json.c - a strict RFC 8259 JSON reader (see json.h).
 *
 * Recursive descent over a byte range that need not be NUL-terminated.  Every
 * read is checked against the end of the input; nesting is limited to
 * GEB_JSON_MAX_DEPTH so recursion is bounded.  On any error the partial tree
 * is freed and one line "json: <what> at byte <offset>" is reported.
 *
 * Deliberate limits (allowed by RFC 8259 section 9):
 *   - numbers whose magnitude overflows a double are rejected;
 *   - object keys containing U+0000 are rejected, because keys are exposed as
 *     NUL-terminated C strings and such a key would silently alias a shorter
 *     one (string values may contain U+0000; their length is in `len`).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l, newlocale */
#endif
#include "json.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GEB_JSON_MAX_DEPTH 64

typedef struct parser {
    const unsigned char *s; /* input */
    size_t n;               /* input length */
    size_t i;               /* current offset */
    geb_err *err;
    locale_t c_locale;      /* strtod must not depend on the user's locale */
} parser;

static int parse_value(parser *p, geb_json *out, int depth);
static void free_contents(geb_json *v);

/* Records "json: <what> at byte <offset>" and returns -1. */
static int fail(parser *p, size_t at, const char *what) {
    return geb_err_set(p->err, "json: %s at byte %zu", what, at);
}

static void skip_ws(parser *p) {
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

/* Matches the literal word (true/false/null) at the cursor. */
static int expect_word(parser *p, const char *word) {
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k) != 0)
        return fail(p, p->i, "invalid literal");
    p->i += k;
    return 0;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Exact int64 value of an optional '-' and a digit run, or -1 if it does not
 * fit.  Accumulates negatively so INT64_MIN is representable. */
static int parse_int64(const unsigned char *s, size_t k, int64_t *out) {
    int neg = s[0] == '-';
    int64_t v = 0;
    for (size_t j = (size_t)neg; j < k; j++) {
        int d = s[j] - '0';
        if (v < (INT64_MIN + d) / 10) return -1;
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN) return -1;
        v = -v;
    }
    *out = v;
    return 0;
}

/* number = [ minus ] int [ frac ] [ exp ], with int = zero / digit1-9 *DIGIT. */
static int parse_number(parser *p, geb_json *out) {
    size_t start = p->i, n = p->n;
    const unsigned char *s = p->s;
    size_t i = start;
    int integral = 1;
    if (i < n && s[i] == '-') i++;
    if (i >= n || !is_digit(s[i])) return fail(p, i, "invalid number");
    if (s[i] == '0') {
        i++;
        if (i < n && is_digit(s[i])) return fail(p, i, "leading zero in number");
    } else {
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && s[i] == '.') {
        integral = 0;
        i++;
        if (i >= n || !is_digit(s[i])) return fail(p, i, "digit expected after '.'");
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) return fail(p, i, "digit expected in exponent");
        while (i < n && is_digit(s[i])) i++;
    }
    size_t k = i - start;
    /* strtod needs a NUL-terminated copy; short numbers use the stack. */
    char small[64];
    char *buf = k < sizeof small ? small : malloc(k + 1);
    if (!buf) return fail(p, start, "out of memory");
    memcpy(buf, s + start, k);
    buf[k] = 0;
    double d = strtod_l(buf, NULL, p->c_locale);
    if (buf != small) free(buf);
    if (isinf(d)) return fail(p, start, "number out of range");
    out->type = GEB_JSON_NUMBER;
    out->number = d;
    out->is_int = integral && parse_int64(s + start, k, &out->integer) == 0;
    if (!out->is_int) out->integer = 0;
    p->i = i;
    return 0;
}

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int j = 0; j < 4; j++) {
        unsigned char c = s[j];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Writes code point cp (already validated) as UTF-8; returns bytes written. */
static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at s[0..avail), or 0 if it is not
 * well-formed (overlong forms, surrogates and values above U+10FFFF are
 * ill-formed, per RFC 3629). */
static size_t utf8_seq_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlong */
        else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;      /* no overlong */
        else if (c == 0xF4) hi = 0x8F; /* max U+10FFFF */
    } else {
        return 0;
    }
    if (avail < k) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t j = 2; j < k; j++)
        if (s[j] < 0x80 || s[j] > 0xBF) return 0;
    return k;
}

/* Decodes the escape at p->s[p->i] (just after the backslash) into o;
 * returns the bytes written or -1.  Handles \uD8xx\uDCxx surrogate pairs. */
static int decode_escape(parser *p, char *o) {
    size_t at = p->i - 1;
    if (p->i >= p->n) return fail(p, at, "unterminated string");
    unsigned char c = p->s[p->i++];
    switch (c) {
    case '"': *o = '"'; return 1;
    case '\\': *o = '\\'; return 1;
    case '/': *o = '/'; return 1;
    case 'b': *o = '\b'; return 1;
    case 'f': *o = '\f'; return 1;
    case 'n': *o = '\n'; return 1;
    case 'r': *o = '\r'; return 1;
    case 't': *o = '\t'; return 1;
    case 'u': break;
    default: return fail(p, at, "invalid escape in string");
    }
    unsigned cp, lo;
    if (p->n - p->i < 4 || hex4(p->s + p->i, &cp) != 0)
        return fail(p, at, "invalid \\u escape");
    p->i += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, at, "lone low surrogate in string");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* A high surrogate must be followed at once by \u + a low surrogate. */
        if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
            hex4(p->s + p->i + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
            return fail(p, at, "lone high surrogate in string");
        p->i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return (int)put_utf8(o, cp);
}

/* Parses a string at the opening quote into a malloc'd, NUL-terminated
 * buffer.  The decoded form is never longer than the raw one, so the raw
 * span (found first) bounds the allocation. */
static int parse_string(parser *p, char **str, size_t *len) {
    size_t open = p->i++;
    size_t end = p->i;
    while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n) return fail(p, open, "unterminated string");
    char *o = malloc(end - p->i + 1);
    if (!o) return fail(p, open, "out of memory");
    size_t k = 0;
    while (p->i < end) {
        unsigned char c = p->s[p->i];
        if (c == '\\') {
            p->i++;
            int w = decode_escape(p, o + k);
            if (w < 0) goto bad;
            k += (size_t)w;
        } else if (c < 0x20) {
            fail(p, p->i, "control character in string");
            goto bad;
        } else {
            size_t w = utf8_seq_len(p->s + p->i, end - p->i);
            if (w == 0) {
                fail(p, p->i, "invalid UTF-8 in string");
                goto bad;
            }
            memcpy(o + k, p->s + p->i, w);
            k += w;
            p->i += w;
        }
    }
    p->i = end + 1;
    o[k] = 0;
    *str = o;
    *len = k;
    return 0;
bad:
    free(o);
    return -1;
}

/* Appends an empty slot to v->items (and v->keys for objects), growing by
 * doubling; returns the slot or NULL. */
static geb_json *grow(parser *p, geb_json *v, size_t *cap) {
    if (v->count == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        if (nc > SIZE_MAX / sizeof(geb_json)) {
            fail(p, p->i, "out of memory");
            return NULL;
        }
        geb_json *items = realloc(v->items, nc * sizeof *items);
        if (!items) {
            fail(p, p->i, "out of memory");
            return NULL;
        }
        v->items = items;
        if (v->type == GEB_JSON_OBJECT) {
            char **keys = realloc(v->keys, nc * sizeof *keys);
            if (!keys) {
                fail(p, p->i, "out of memory");
                return NULL;
            }
            v->keys = keys;
        }
        *cap = nc;
    }
    geb_json *slot = &v->items[v->count];
    memset(slot, 0, sizeof *slot);
    return slot;
}

/* Parses '[' ... ']' or '{' ... '}' at the cursor into v (type preset).  On
 * failure v holds only fully parsed children, so free_contents cleans up. */
static int parse_container(parser *p, geb_json *v, int depth) {
    int is_obj = v->type == GEB_JSON_OBJECT;
    unsigned char close = is_obj ? '}' : ']';
    size_t cap = 0;
    if (depth > GEB_JSON_MAX_DEPTH) return fail(p, p->i, "nesting deeper than 64 levels");
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (is_obj) {
            size_t klen, at = p->i;
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, p->i, "object key expected");
            if (parse_string(p, &key, &klen) != 0) return -1;
            if (strlen(key) != klen) {
                free(key);
                return fail(p, at, "object key contains \\u0000");
            }
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                return fail(p, p->i, "':' expected");
            }
            p->i++;
        }
        geb_json *slot = grow(p, v, &cap);
        if (!slot || parse_value(p, slot, depth) != 0) {
            free(key);
            return -1;
        }
        if (is_obj) v->keys[v->count] = key;
        v->count++;
        skip_ws(p);
        if (p->i >= p->n) return fail(p, p->i, is_obj ? "unterminated object" : "unterminated array");
        if (p->s[p->i] == close) {
            p->i++;
            return 0;
        }
        if (p->s[p->i] != ',') return fail(p, p->i, is_obj ? "',' or '}' expected" : "',' or ']' expected");
        p->i++;
    }
}

/* Parses one value at the cursor (after whitespace) into *out, which must be
 * zeroed.  On failure *out owns nothing that free_contents cannot release. */
static int parse_value(parser *p, geb_json *out, int depth) {
    skip_ws(p);
    if (p->i >= p->n) return fail(p, p->i, "value expected");
    switch (p->s[p->i]) {
    case '{':
    case '[':
        out->type = p->s[p->i] == '{' ? GEB_JSON_OBJECT : GEB_JSON_ARRAY;
        if (parse_container(p, out, depth + 1) != 0) {
            free_contents(out);
            return -1;
        }
        return 0;
    case '"':
        out->type = GEB_JSON_STRING;
        return parse_string(p, &out->str, &out->len);
    case 't':
        out->type = GEB_JSON_BOOL;
        out->boolean = 1;
        return expect_word(p, "true");
    case 'f':
        out->type = GEB_JSON_BOOL;
        return expect_word(p, "false");
    case 'n':
        out->type = GEB_JSON_NULL;
        return expect_word(p, "null");
    default:
        if (p->s[p->i] == '-' || is_digit(p->s[p->i])) return parse_number(p, out);
        /* ',' ']' '}' here mean a missing value, typically a trailing comma. */
        if (strchr(",]}", p->s[p->i]) && p->s[p->i]) return fail(p, p->i, "value expected");
        return fail(p, p->i, "unexpected character");
    }
}

/* Releases everything v owns (not v itself) and zeroes it. */
static void free_contents(geb_json *v) {
    for (size_t j = 0; j < v->count; j++) {
        free_contents(&v->items[j]);
        if (v->keys) free(v->keys[j]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

geb_json *geb_json_parse(const char *text, size_t len, geb_err *err) {
    parser p = {(const unsigned char *)text, len, 0, err, (locale_t)0};
    if (!text && len) {
        geb_err_set(err, "json: no input");
        return NULL;
    }
    p.c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    geb_json *root = calloc(1, sizeof *root);
    if (!p.c_locale || !root) {
        if (p.c_locale) freelocale(p.c_locale);
        free(root);
        geb_err_set(err, "json: out of memory");
        return NULL;
    }
    int rc = parse_value(&p, root, 0);
    if (rc == 0) {
        skip_ws(&p);
        if (p.i != p.n) rc = fail(&p, p.i, "trailing characters after the JSON value");
    }
    freelocale(p.c_locale);
    if (rc != 0) {
        geb_json_free(root);
        return NULL;
    }
    return root;
}

void geb_json_free(geb_json *root) {
    if (!root) return;
    free_contents(root);
    free(root);
}

const geb_json *geb_json_get(const geb_json *obj, const char *key) {
    if (!obj || obj->type != GEB_JSON_OBJECT || !key) return NULL;
    /* Scan from the end so that a repeated key yields its last value. */
    for (size_t j = obj->count; j-- > 0;)
        if (strcmp(obj->keys[j], key) == 0) return &obj->items[j];
    return NULL;
}
