/* special.c - the special-token table of the tokenizer and the readers that
 * fill it from a model folder: the Python glue's list (read by a bounded
 * lexer of Python tokens; nothing is executed), tokenizer_config.json's
 * added_tokens_decoder, or a default order. */
#include "special.h"

#include "spm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const geb_special_geb_order[GEB_SPECIAL_GEB_N] = {
    "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<eod>",
    "<|special_6|>", "<|special_7|>", "<|special_8|>", "<|special_9|>"};
const char *const geb_special_glm2_order[GEB_SPECIAL_GLM2_N] = {"[MASK]", "[gMASK]", "[sMASK]",
                                                               "sop", "eop"};
const char *const geb_special_glm3_order[GEB_SPECIAL_GLM3_N] = {
    "[MASK]", "[gMASK]", "[sMASK]", "sop", "eop",
    "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"};

/* ------------------------------------------------------------------ */
/* The table (linear search: a few dozen entries, looked up rarely)  */

static long special_index(const geb_tok *t, int32_t id) {
    for (size_t i = 0; i < t->n_special; i++)
        if (t->special[i].id == id) return (long)i;
    return -1;
}

int geb_tok_add_special(geb_tok *t, int32_t id, const char *name, geb_err *err) {
    size_t len = name ? strlen(name) : 0;
    if (id < 0) return geb_err_set(err, "special token id %d is negative", (int)id);
    if (len == 0 || len > GEB_TOK_MAX_SPECIAL_NAME)
        return geb_err_set(err, "special token %d: name of %zu bytes (1 to %d allowed)", (int)id,
                           len, GEB_TOK_MAX_SPECIAL_NAME);
    if (special_index(t, id) >= 0) return geb_err_set(err, "special token id %d given twice", (int)id);
    if (geb_tok_special_id(t, name) >= 0)
        return geb_err_set(err, "special token name %s given twice", name);
    if (t->n_special >= GEB_TOK_MAX_SPECIAL)
        return geb_err_set(err, "more than %d special tokens", GEB_TOK_MAX_SPECIAL);
    if (t->n_special == t->cap_special) {
        size_t cap = t->cap_special ? t->cap_special * 2 : 16;
        tok_special *v = realloc(t->special, cap * sizeof *v);
        if (!v) return geb_err_set(err, "out of memory");
        t->special = v;
        t->cap_special = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return geb_err_set(err, "out of memory");
    memcpy(copy, name, len + 1);
    t->special[t->n_special++] = (tok_special){id, copy};
    return 0;
}

int32_t geb_tok_special_id(const geb_tok *t, const char *name) {
    for (size_t i = 0; i < t->n_special; i++)
        if (strcmp(t->special[i].name, name) == 0) return t->special[i].id;
    return -1;
}

int geb_tok_is_special(const geb_tok *t, int32_t id) { return special_index(t, id) >= 0; }

const char *geb_tok_special_name(const geb_tok *t, int32_t id) {
    long i = special_index(t, id);
    return i < 0 ? NULL : t->special[i].name;
}

int geb_tok_n_special(const geb_tok *t) { return (int)t->n_special; }

int32_t geb_tok_special_at(const geb_tok *t, int i, const char **name) {
    if (i < 0 || (size_t)i >= t->n_special) {
        if (name) *name = NULL;
        return -1;
    }
    if (name) *name = t->special[i].name;
    return t->special[i].id;
}

int32_t geb_tok_control_id(const geb_tok *t, const char *s, size_t len) {
    if (len == 0 || len > GEB_TOK_MAX_SPECIAL_NAME) return -1;
    for (size_t i = 0; i < t->n_special; i++)
        if (strlen(t->special[i].name) == len && memcmp(t->special[i].name, s, len) == 0)
            return t->special[i].id;
    int32_t id = spm_piece_to_id(t, (const uint8_t *)s, len);
    if (id < 0) return -1;
    int type = t->pieces[id].type;
    return type == TOK_CONTROL || type == TOK_USER_DEFINED ? id : -1;
}

/* ------------------------------------------------------------------ */
/* Lists                                                              */

void geb_special_list_free(geb_special_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    free(l->ids);
    l->names = NULL;
    l->ids = NULL;
    l->n = 0;
}

/* Appends (id, name[0..len)) to l; the name is copied. */
static int list_add(geb_special_list *l, int32_t id, const char *name, size_t len) {
    if (l->n >= GEB_SPECIAL_MAX_LIST) return -1;
    if ((l->n & (l->n - 1)) == 0) { /* grow at powers of two */
        size_t cap = l->n ? l->n * 2 : 8;
        char **nv = realloc(l->names, cap * sizeof *nv);
        if (!nv) return -1;
        l->names = nv;
        int32_t *iv = realloc(l->ids, cap * sizeof *iv);
        if (!iv) return -1;
        l->ids = iv;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, name, len);
    copy[len] = 0;
    l->names[l->n] = copy;
    l->ids[l->n++] = id;
    return 0;
}

/* True if s[0..n) is valid UTF-8 without NUL bytes. */
static int name_ok(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        if (!s[i]) return 0;
        size_t k = spm_utf8_len(s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* A lexer of Python tokens: just enough to tell names, string literals
 * and operators apart, so that text inside comments and strings (a
 * docstring quoting the list, say) is never mistaken for code. */

enum { PY_END, PY_NAME, PY_STR, PY_OP, PY_OTHER };

typedef struct {
    int kind;
    size_t start, end; /* NAME, OTHER: the token; STR: the body between quotes */
    char op;           /* PY_OP: the character; '=' only for a lone '=' */
    int raw, bytes, fstr, bad; /* STR: prefix letters; bad = unterminated */
    int attr;          /* NAME: preceded by '.' (an attribute, not a variable) */
} py_tok;

typedef struct {
    const char *s;
    size_t n, pos;
    int after_dot;
} py_lex;

static int py_name_char(unsigned char c, int first) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80 ||
           (!first && c >= '0' && c <= '9');
}

/* Skips a string literal whose opening quote is at lx->pos. */
static void py_lex_string(py_lex *lx, py_tok *t) {
    const char *s = lx->s;
    size_t n = lx->n, p = lx->pos;
    char q = s[p];
    int triple = n - p >= 3 && s[p + 1] == q && s[p + 2] == q;
    p += triple ? 3 : 1;
    t->kind = PY_STR;
    t->start = p;
    for (;;) {
        if (p >= n || (!triple && (s[p] == '\n' || s[p] == '\r'))) {
            t->bad = 1; /* unterminated: the rest of the file is swallowed */
            t->end = p < n ? p : n;
            lx->pos = n;
            return;
        }
        if (s[p] == '\\') {
            p += 2; /* an escape (raw strings too: \" never ends them) */
            continue;
        }
        if (s[p] == q && (!triple || (n - p >= 3 && s[p + 1] == q && s[p + 2] == q))) {
            t->end = p;
            lx->pos = p + (triple ? 3 : 1);
            return;
        }
        p++;
    }
}

/* Reads the next token. */
static py_tok py_next(py_lex *lx) {
    py_tok t = {0};
    const char *s = lx->s;
    size_t n = lx->n;
    for (;;) { /* whitespace, comments, line continuations */
        while (lx->pos < n && (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\n' ||
                               s[lx->pos] == '\r' || s[lx->pos] == '\f' || s[lx->pos] == '\\'))
            lx->pos++;
        if (lx->pos < n && s[lx->pos] == '#') {
            while (lx->pos < n && s[lx->pos] != '\n') lx->pos++;
            continue;
        }
        break;
    }
    if (lx->pos >= n) {
        t.kind = PY_END;
        return t;
    }
    size_t p = lx->pos;
    unsigned char c = (unsigned char)s[p];
    if (py_name_char(c, 1)) {
        size_t e = p;
        while (e < n && py_name_char((unsigned char)s[e], 0)) e++;
        /* up to two prefix letters right before a quote make a string */
        if (e - p <= 2 && e < n && (s[e] == '\'' || s[e] == '"')) {
            int ok = 1;
            for (size_t i = p; i < e; i++) {
                char l = (char)(s[i] | 0x20);
                if (l == 'r') t.raw = 1;
                else if (l == 'b') t.bytes = 1;
                else if (l == 'f') t.fstr = 1;
                else if (l != 'u') ok = 0;
            }
            if (ok) {
                lx->pos = e;
                py_lex_string(lx, &t);
                lx->after_dot = 0;
                return t;
            }
            t.raw = t.bytes = t.fstr = 0;
        }
        t.kind = PY_NAME;
        t.start = p;
        t.end = e;
        t.attr = lx->after_dot;
        lx->pos = e;
        lx->after_dot = 0;
        return t;
    }
    if (c == '\'' || c == '"') {
        py_lex_string(lx, &t);
        lx->after_dot = 0;
        return t;
    }
    lx->pos = p + 1;
    t.kind = PY_OP;
    t.op = (char)c;
    t.start = p;
    t.end = p + 1;
    if (c == '=' || c == '!' || c == '<' || c == '>' || c == '+' || c == '-' || c == '*' ||
        c == '/' || c == '%' || c == '&' || c == '|' || c == '^' || c == ':' || c == '@') {
        /* compound operators (==, +=, :=, ...) are not a plain '=' */
        if (lx->pos < n && s[lx->pos] == '=') {
            t.op = 'X';
            lx->pos++;
        } else if (c != '=' && c != '+') {
            t.op = 'X';
        }
    }
    lx->after_dot = c == '.';
    return t;
}

/* Appends the UTF-8 form of code point u to o (room checked by caller). */
static size_t put_utf8(uint8_t *o, uint32_t u) {
    if (u < 0x80) {
        o[0] = (uint8_t)u;
        return 1;
    }
    if (u < 0x800) {
        o[0] = (uint8_t)(0xC0 | (u >> 6));
        o[1] = (uint8_t)(0x80 | (u & 63));
        return 2;
    }
    if (u < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (u >> 12));
        o[1] = (uint8_t)(0x80 | ((u >> 6) & 63));
        o[2] = (uint8_t)(0x80 | (u & 63));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (u >> 18));
    o[1] = (uint8_t)(0x80 | ((u >> 12) & 63));
    o[2] = (uint8_t)(0x80 | ((u >> 6) & 63));
    o[3] = (uint8_t)(0x80 | (u & 63));
    return 4;
}

static int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the body of a str literal into o (cap bytes), Python's escapes:
 * \\ \' \" \n \t \r \a \b \f \v, octal, \xHH, \uXXXX, \UXXXXXXXX, and
 * backslash-newline; an unknown escape keeps its backslash, as Python does.
 * \N{...}, surrogates, code points past U+10FFFF and output longer than cap
 * are refused.  Returns the length, or -1. */
static long py_str_decode(const char *s, size_t a, size_t b, int raw, uint8_t *o, size_t cap) {
    size_t k = 0;
    for (size_t p = a; p < b;) {
        if (k + 4 > cap) return -1;
        char c = s[p];
        if (c != '\\' || raw) {
            o[k++] = (uint8_t)c;
            p++;
            continue;
        }
        if (p + 1 >= b) return -1;
        char e = s[p + 1];
        p += 2;
        static const char from[] = "\\'\"ntrabfv", to[] = "\\'\"\n\t\r\a\b\f\v";
        const char *m = memchr(from, e, sizeof from - 1);
        if (m) {
            o[k++] = (uint8_t)to[m - from];
        } else if (e == '\n') {
            /* continuation: nothing */
        } else if (e >= '0' && e <= '7') {
            unsigned v = (unsigned)(e - '0');
            for (int i = 0; i < 2 && p < b && s[p] >= '0' && s[p] <= '7'; i++) v = v * 8 + (unsigned)(s[p++] - '0');
            k += put_utf8(o + k, v);
        } else if (e == 'x' || e == 'u' || e == 'U') {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int i = 0; i < digits; i++) {
                int h = p < b ? hex_val(s[p]) : -1;
                if (h < 0) return -1;
                v = v * 16 + (uint32_t)h;
                p++;
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
            k += put_utf8(o + k, v);
        } else if (e == 'N') {
            return -1; /* named characters: not worth a table */
        } else {
            o[k++] = '\\';
            p--; /* the character after the backslash is read as itself */
        }
    }
    return (long)k;
}

/* Reads one string element: one or more adjacent plain str literals
 * (implicit concatenation), decoded into buf.  *t is the first literal and
 * gets the token after the last one.  Returns the length or -1. */
static long py_read_string(py_lex *lx, py_tok *t, uint8_t *buf, size_t cap) {
    size_t k = 0;
    while (t->kind == PY_STR) {
        if (t->bad || t->bytes || t->fstr) return -1;
        long m = py_str_decode(lx->s, t->start, t->end, t->raw, buf + k, cap - k);
        if (m < 0) return -1;
        k += (size_t)m;
        *t = py_next(lx);
    }
    return (long)k;
}

/* Parses a list literal of strings; *t is its '['.  On return *t is the
 * token after ']'.  Returns 0 on success, -1 if it is not a list of plain
 * strings (or is too long). */
static int py_read_list(py_lex *lx, py_tok *t, geb_special_list *out) {
    uint8_t buf[GEB_TOK_MAX_SPECIAL_NAME + 8];
    *t = py_next(lx);
    while (!(t->kind == PY_OP && t->op == ']')) {
        if (t->kind != PY_STR) return -1;
        long m = py_read_string(lx, t, buf, GEB_TOK_MAX_SPECIAL_NAME + 4);
        if (m <= 0 || m > GEB_TOK_MAX_SPECIAL_NAME || !name_ok(buf, (size_t)m)) return -1;
        if (list_add(out, -1, (const char *)buf, (size_t)m) != 0) return -1;
        if (t->kind == PY_OP && t->op == ',') *t = py_next(lx);
        else if (!(t->kind == PY_OP && t->op == ']')) return -1;
    }
    *t = py_next(lx);
    return 0;
}

/* Earlier `NAME = [...]` lists, so that `special_tokens = [...] + NAME`
 * resolves; only the most recent few are kept. */
#define PY_KEEP 16
typedef struct {
    size_t start, len; /* the name in the source */
    geb_special_list list;
} py_named;

static void py_named_free(py_named *v, size_t n) {
    for (size_t i = 0; i < n; i++) geb_special_list_free(&v[i].list);
}

/* Appends the list named by token t (the most recent assignment) to out. */
static int py_append_named(const py_lex *lx, const py_tok *t, py_named *kept, size_t n_kept,
                           geb_special_list *out) {
    for (size_t i = n_kept; i-- > 0;) {
        if (kept[i].len != t->end - t->start || memcmp(lx->s + kept[i].start, lx->s + t->start, kept[i].len))
            continue;
        for (size_t j = 0; j < kept[i].list.n; j++)
            if (list_add(out, -1, kept[i].list.names[j], strlen(kept[i].list.names[j])) != 0) return -1;
        return 0;
    }
    return -1;
}

/* Parses `term (+ term)*` after the '=' of special_tokens; *t is the token
 * after '='. */
static int py_read_expr(py_lex *lx, py_tok *t, py_named *kept, size_t n_kept,
                        geb_special_list *out) {
    for (;;) {
        if (t->kind == PY_OP && t->op == '[') {
            if (py_read_list(lx, t, out) != 0) return -1;
        } else if (t->kind == PY_NAME && !t->attr) {
            if (py_append_named(lx, t, kept, n_kept, out) != 0) return -1;
            *t = py_next(lx);
        } else {
            return -1;
        }
        if (!(t->kind == PY_OP && t->op == '+')) return 0;
        *t = py_next(lx);
    }
}

static int name_is(const py_lex *lx, const py_tok *t, const char *w) {
    size_t n = strlen(w);
    return t->kind == PY_NAME && t->end - t->start == n && memcmp(lx->s + t->start, w, n) == 0;
}

int geb_special_parse_py(const char *src, size_t len, geb_special_list *out, geb_err *err) {
    py_lex lx = {src, len, 0, 0};
    py_named kept[PY_KEEP];
    size_t n_kept = 0;
    memset(out, 0, sizeof *out);
    py_tok t = py_next(&lx);
    while (t.kind != PY_END) {
        if (t.kind != PY_NAME || t.attr) {
            t = py_next(&lx);
            continue;
        }
        py_tok name = t;
        t = py_next(&lx);
        if (!(t.kind == PY_OP && t.op == '=')) continue;
        size_t at = t.start;
        t = py_next(&lx);
        if (name_is(&lx, &name, "special_tokens")) {
            int rc = py_read_expr(&lx, &t, kept, n_kept, out);
            py_named_free(kept, n_kept);
            if (rc == 0 && out->n > 0) return 1;
            geb_special_list_free(out);
            return geb_err_set(err, "special_tokens at byte %zu is not a list of at most %d "
                               "string literals", at, GEB_SPECIAL_MAX_LIST);
        }
        if (t.kind == PY_OP && t.op == '[') {
            py_named nv = {name.start, name.end - name.start, {0}};
            if (py_read_list(&lx, &t, &nv.list) != 0) {
                geb_special_list_free(&nv.list); /* some other list: ignored */
                continue;
            }
            if (n_kept == PY_KEEP) {
                geb_special_list_free(&kept[0].list);
                memmove(kept, kept + 1, (PY_KEEP - 1) * sizeof *kept);
                n_kept--;
            }
            kept[n_kept++] = nv;
        }
    }
    py_named_free(kept, n_kept);
    return 0;
}

/* ------------------------------------------------------------------ */
/* tokenizer_config.json                                              */

int geb_special_parse_added(const geb_json *config, geb_special_list *out, geb_err *err) {
    memset(out, 0, sizeof *out);
    const geb_json *dec = geb_json_get(config, "added_tokens_decoder");
    if (!dec) return 0;
    if (dec->type != GEB_JSON_OBJECT)
        return geb_err_set(err, "tokenizer_config.json: added_tokens_decoder is not an object");
    for (size_t i = 0; i < dec->count; i++) {
        const char *key = dec->keys[i];
        size_t kl = strlen(key);
        long id = 0;
        int ok = kl > 0 && kl <= 9;
        for (size_t j = 0; ok && j < kl; j++) {
            ok = key[j] >= '0' && key[j] <= '9';
            id = id * 10 + (key[j] - '0');
        }
        const geb_json *c = geb_json_get(&dec->items[i], "content");
        if (!ok || !c || c->type != GEB_JSON_STRING || c->len == 0 ||
            c->len > GEB_TOK_MAX_SPECIAL_NAME || !name_ok((const uint8_t *)c->str, c->len)) {
            geb_special_list_free(out);
            return geb_err_set(err, "tokenizer_config.json: added_tokens_decoder entry \"%.40s\" "
                               "is not an id with a content string of 1 to %d bytes",
                               key, GEB_TOK_MAX_SPECIAL_NAME);
        }
        if (list_add(out, (int32_t)id, c->str, c->len) != 0) {
            geb_special_list_free(out);
            return geb_err_set(err, "tokenizer_config.json: more than %d added tokens",
                               GEB_SPECIAL_MAX_LIST);
        }
    }
    /* ascending ids (insertion sort: the list is short and nearly sorted) */
    for (size_t i = 1; i < out->n; i++)
        for (size_t j = i; j > 0 && out->ids[j - 1] > out->ids[j]; j--) {
            int32_t ti = out->ids[j];
            out->ids[j] = out->ids[j - 1];
            out->ids[j - 1] = ti;
            char *tn = out->names[j];
            out->names[j] = out->names[j - 1];
            out->names[j - 1] = tn;
        }
    return out->n > 0;
}

/* ------------------------------------------------------------------ */
/* The loader                                                         */

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Adds a list to the table: positional entries (id -1) get n_pieces + i. */
static int table_fill(geb_tok *tok, const geb_special_list *l, int32_t vocab, const char *src,
                      geb_err *err) {
    int32_t base = geb_tok_n_pieces(tok);
    for (size_t i = 0; i < l->n; i++) {
        int32_t id = l->ids[i] >= 0 ? l->ids[i] : base + (int32_t)i;
        if (vocab > 0 && id >= vocab)
            return geb_err_set(err, "%s: special token %s would be id %d, past the vocabulary of %d",
                               src, l->names[i], (int)id, (int)vocab);
        if (geb_tok_add_special(tok, id, l->names[i], err) != 0) {
            geb_err inner = *err;
            return geb_err_set(err, "%s: %s", src, inner.msg);
        }
    }
    return 0;
}

/* Source 1: the Python glue.  Returns 1 if it filled the table, 0 if there
 * is no usable list (why says so), -1 on a table error. */
static int load_py(geb_tok *tok, const char *dir, int32_t vocab, char *why, size_t why_cap,
                   geb_err *err) {
    static const char *const files[] = {"tokenization_geb.py", "tokenization_chatglm.py"};
    for (size_t f = 0; f < 2; f++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, files[f]) >= (int)sizeof path) continue;
        if (!file_exists(path)) continue;
        uint8_t *data;
        size_t len;
        geb_err e;
        geb_special_list l;
        size_t used = why ? strlen(why) : 0;
        if (geb_read_file(path, &data, &len, GEB_SPECIAL_MAX_FILE, &e) != 0) {
            if (why) snprintf(why + used, why_cap - used, "%s unreadable (%s); ", files[f], e.msg);
            continue;
        }
        int rc = geb_special_parse_py((const char *)data, len, &l, &e);
        free(data);
        if (rc <= 0) { /* the next source may still have it */
            if (why)
                snprintf(why + used, why_cap - used, "%s: %s; ", files[f],
                         rc < 0 ? e.msg : "no special_tokens list");
            continue;
        }
        rc = table_fill(tok, &l, vocab, files[f], err);
        if (rc == 0 && why)
            snprintf(why + used, why_cap - used, "%zu from the list in %s", l.n, files[f]);
        geb_special_list_free(&l);
        return rc ? -1 : 1;
    }
    return 0;
}

/* Source 2: added_tokens_decoder.  Same returns as load_py. */
static int load_config(geb_tok *tok, const char *dir, int32_t vocab, char *why, size_t why_cap,
                       geb_err *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= (int)sizeof path) return 0;
    if (!file_exists(path)) return 0;
    uint8_t *data;
    size_t len;
    geb_err e;
    size_t used = why ? strlen(why) : 0;
    if (geb_read_file(path, &data, &len, GEB_SPECIAL_MAX_FILE, &e) != 0) {
        if (why) snprintf(why + used, why_cap - used, "tokenizer_config.json unreadable; ");
        return 0;
    }
    geb_json *root = geb_json_parse((const char *)data, len, &e);
    free(data);
    geb_special_list l;
    int rc = root ? geb_special_parse_added(root, &l, &e) : -1;
    geb_json_free(root);
    if (rc <= 0) {
        if (why && rc < 0) snprintf(why + used, why_cap - used, "tokenizer_config.json: %s; ", e.msg);
        return 0;
    }
    rc = table_fill(tok, &l, vocab, "tokenizer_config.json", err);
    if (rc == 0 && why)
        snprintf(why + used, why_cap - used, "%zu from tokenizer_config.json added_tokens_decoder", l.n);
    geb_special_list_free(&l);
    return rc ? -1 : 1;
}

int geb_special_load(geb_tok *tok, const char *dir, int32_t vocab,
                     const char *const *defaults, size_t n_defaults, char *why,
                     size_t why_cap, geb_err *err) {
    if (why && why_cap) why[0] = 0;
    if (why && !why_cap) why = NULL;
    int rc = load_py(tok, dir, vocab, why, why_cap, err);
    if (rc == 0) rc = load_config(tok, dir, vocab, why, why_cap, err);
    if (rc != 0) return rc < 0 ? -1 : 0;
    size_t used = why ? strlen(why) : 0;
    if (!n_defaults) {
        if (why) snprintf(why + used, why_cap - used, "none");
        return 0;
    }
    geb_special_list l = {0};
    for (size_t i = 0; i < n_defaults; i++)
        if (list_add(&l, -1, defaults[i], strlen(defaults[i])) != 0) {
            geb_special_list_free(&l);
            return geb_err_set(err, "out of memory");
        }
    rc = table_fill(tok, &l, vocab, "default special tokens", err);
    if (rc == 0 && why) snprintf(why + used, why_cap - used, "%zu in the built-in order", l.n);
    geb_special_list_free(&l);
    return rc;
}
