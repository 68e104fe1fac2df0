/* tokenizer.c - SentencePiece (unigram and BPE) with the behaviour of the
 * sentencepiece library, read straight from a serialized ModelProto.
 *
 * Layout of this file, in pipeline order:
 *   1. small helpers: growable byte buffer, UTF-8 rules of the library
 *   2. a hash map from piece string to id, and a byte trie with hashed edges
 *   3. the protobuf reader (ModelProto, TrainerSpec, NormalizerSpec)
 *   4. the normalizer (precompiled charsmap double array + whitespace rules)
 *   5. the two segmenters (BPE with a heap, unigram Viterbi)
 *   6. encode, decode and the streaming decoder
 *
 * Every length and offset read from the model is checked against its
 * buffer; all index arithmetic on text is bounded by GEB_TOK_MAX_INPUT.
 */
#include "tokenizer.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#define GEB_TOK_MAX_FILE (1u << 30)   /* refuse bigger .model files */
#define GEB_TOK_MAX_INPUT (1u << 28)  /* longest text encode accepts (bytes) */
#define GEB_TOK_MAX_PIECES (1 << 24)  /* more pieces than this is not a real model */

/* Piece types: sentencepiece.ModelProto.SentencePiece.Type values. */
enum {
    TOK_NORMAL = 1,
    TOK_UNKNOWN = 2,
    TOK_CONTROL = 3,
    TOK_USER_DEFINED = 4,
    TOK_UNUSED = 5,
    TOK_BYTE = 6,
};

/* TrainerSpec.ModelType values we implement. */
enum { TOK_MODEL_UNIGRAM = 1, TOK_MODEL_BPE = 2 };

static const char kSpaceSymbol[] = "\xe2\x96\x81"; /* U+2581, 3 bytes */
static const char kReplacement[] = "\xef\xbf\xbd"; /* U+FFFD, 3 bytes */

/* ------------------------------------------------------------------ */
/* 1. Helpers                                                          */

/* A growable byte buffer; on allocation failure `failed` is set and later
 * appends are ignored, so callers check once at the end. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    int failed;
} tok_buf;

/* Makes room for `more` bytes plus a NUL; returns 0 or -1 (and marks b). */
static int buf_reserve(tok_buf *b, size_t more) {
    size_t need;
    if (b->failed) return -1;
    if (geb_add_size(b->n, more, &need) != 0 || geb_add_size(need, 1, &need) != 0) {
        b->failed = 1;
        return -1;
    }
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Appends n bytes and keeps the buffer NUL-terminated. */
static void buf_add(tok_buf *b, const void *s, size_t n) {
    if (buf_reserve(b, n) != 0) return;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* The library's OneCharLen: UTF-8 length from the lead byte's top nibble,
 * without validating anything (used to step over normalized text). */
static size_t one_char_len(uint8_t c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

static int is_trail(uint8_t c) { return (c & 0xC0) == 0x80; }

static int valid_cp(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

/* The library's DecodeUTF8 validity: returns the length (1..4) of the valid
 * character at s[0..len), or 0 if the bytes there are not one valid
 * character (the library then consumes one byte as U+FFFD).  Overlong forms
 * and surrogates are invalid; a literal U+FFFD is valid.  len >= 1. */
static size_t utf8_valid_len(const uint8_t *s, size_t len) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        if (len < 2 || !is_trail(s[1])) return 0;
        uint32_t cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return cp >= 0x80 ? 2 : 0;
    }
    if ((c & 0xF0) == 0xE0) {
        if (len < 3 || !is_trail(s[1]) || !is_trail(s[2])) return 0;
        uint32_t cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
                      (s[2] & 0x3F);
        return cp >= 0x800 && valid_cp(cp) ? 3 : 0;
    }
    if ((c & 0xF8) == 0xF0) {
        if (len < 4 || !is_trail(s[1]) || !is_trail(s[2]) || !is_trail(s[3])) return 0;
        uint32_t cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                      ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return cp >= 0x10000 && valid_cp(cp) ? 4 : 0;
    }
    return 0;
}

/* 64-bit FNV-1a; pieces are short so this is cheap and good enough. */
static uint64_t hash_bytes(const uint8_t *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

/* ------------------------------------------------------------------ */
/* 2. String map and byte trie                                         */

/* Open-addressing map from a byte string to an int32 value.  Keys are not
 * copied: they must outlive the map. */
typedef struct {
    const uint8_t **key;
    uint32_t *klen;
    int32_t *val;
    size_t cap, n; /* cap is a power of two, or 0 */
} tok_map;

static void map_free(tok_map *m) {
    free(m->key);
    free(m->klen);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* Prepares an empty map for up to n keys; returns 0 or -1. */
static int map_init(tok_map *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 1) {
        if (cap > SIZE_MAX / 4) return -1;
        cap *= 2;
    }
    memset(m, 0, sizeof *m);
    m->key = calloc(cap, sizeof *m->key);
    m->klen = calloc(cap, sizeof *m->klen);
    m->val = calloc(cap, sizeof *m->val);
    if (!m->key || !m->klen || !m->val) {
        map_free(m);
        return -1;
    }
    m->cap = cap;
    return 0;
}

/* Returns the slot holding s, or the empty slot where it would go. */
static size_t map_slot(const tok_map *m, const uint8_t *s, size_t n) {
    size_t i = (size_t)hash_bytes(s, n) & (m->cap - 1);
    while (m->key[i] &&
           !(m->klen[i] == n && memcmp(m->key[i], s, n) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* Returns the value of s, or -1 if absent. */
static int32_t map_get(const tok_map *m, const uint8_t *s, size_t n) {
    if (!m->cap) return -1;
    size_t i = map_slot(m, s, n);
    return m->key[i] ? m->val[i] : -1;
}

/* Inserts or overwrites; grows the table when it is half full.  s must not
 * be NULL (use a pointer into a live buffer even for empty strings). */
static int map_put(tok_map *m, const uint8_t *s, size_t n, int32_t v) {
    if (2 * (m->n + 1) > m->cap) {
        tok_map big;
        if (map_init(&big, m->n + 1 > m->cap ? m->n + 1 : m->cap) != 0) return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = map_slot(&big, m->key[i], m->klen[i]);
                big.key[j] = m->key[i];
                big.klen[j] = m->klen[i];
                big.val[j] = m->val[i];
                big.n++;
            }
        map_free(m);
        *m = big;
    }
    size_t i = map_slot(m, s, n);
    if (!m->key[i]) {
        m->key[i] = s;
        m->klen[i] = (uint32_t)n;
        m->n++;
    }
    m->val[i] = v;
    return 0;
}

/* A byte trie: node 0 is the root, node values are piece ids (-1 = none),
 * and the edge (node, byte) -> child lives in a hash table so that one
 * step costs one probe whatever the fan-out. */
typedef struct {
    uint64_t *ekey;  /* (node << 8 | byte) + 1, 0 = empty slot */
    int32_t *echild; /* child node of each edge */
    size_t ecap, n_edges;
    int32_t *val; /* value per node */
    size_t n_nodes, node_cap;
} tok_trie;

static void trie_free(tok_trie *t) {
    free(t->ekey);
    free(t->echild);
    free(t->val);
    memset(t, 0, sizeof *t);
}

static size_t trie_hash(uint64_t k, size_t cap) {
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* Returns the child of node through byte c, or -1. */
static int32_t trie_child(const tok_trie *t, int32_t node, uint8_t c) {
    if (!t->ecap) return -1;
    uint64_t k = (((uint64_t)node << 8) | c) + 1;
    for (size_t i = trie_hash(k, t->ecap);; i = (i + 1) & (t->ecap - 1)) {
        if (t->ekey[i] == k) return t->echild[i];
        if (!t->ekey[i]) return -1;
    }
}

/* Doubles the edge table (or creates it). */
static int trie_grow_edges(tok_trie *t) {
    size_t cap = t->ecap ? t->ecap * 2 : 1024;
    uint64_t *k = calloc(cap, sizeof *k);
    int32_t *c = malloc(cap * sizeof *c);
    if (!k || !c || cap > SIZE_MAX / 16) {
        free(k);
        free(c);
        return -1;
    }
    for (size_t i = 0; i < t->ecap; i++)
        if (t->ekey[i]) {
            size_t j = trie_hash(t->ekey[i], cap);
            while (k[j]) j = (j + 1) & (cap - 1);
            k[j] = t->ekey[i];
            c[j] = t->echild[i];
        }
    free(t->ekey);
    free(t->echild);
    t->ekey = k;
    t->echild = c;
    t->ecap = cap;
    return 0;
}

/* Appends a node with no value; returns its index or -1. */
static int32_t trie_new_node(tok_trie *t) {
    if (t->n_nodes == t->node_cap) {
        size_t cap = t->node_cap ? t->node_cap * 2 : 256;
        if (cap > (size_t)INT32_MAX) return -1;
        int32_t *v = realloc(t->val, cap * sizeof *v);
        if (!v) return -1;
        t->val = v;
        t->node_cap = cap;
    }
    t->val[t->n_nodes] = -1;
    return (int32_t)t->n_nodes++;
}

/* Inserts s with value v (a later insert of the same key overwrites). */
static int trie_insert(tok_trie *t, const uint8_t *s, size_t n, int32_t v) {
    if (!t->n_nodes && trie_new_node(t) < 0) return -1;
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t next = trie_child(t, node, s[i]);
        if (next < 0) {
            if (2 * (t->n_edges + 1) > t->ecap && trie_grow_edges(t) != 0) return -1;
            if ((next = trie_new_node(t)) < 0) return -1;
            uint64_t k = (((uint64_t)node << 8) | s[i]) + 1;
            size_t j = trie_hash(k, t->ecap);
            while (t->ekey[j]) j = (j + 1) & (t->ecap - 1);
            t->ekey[j] = k;
            t->echild[j] = next;
            t->n_edges++;
        }
        node = next;
    }
    t->val[node] = v;
    return 0;
}

/* Length of the longest key that prefixes s[0..n), or 0 if none. */
static size_t trie_longest(const tok_trie *t, const uint8_t *s, size_t n) {
    size_t best = 0;
    int32_t node = 0;
    if (!t->n_nodes) return 0;
    for (size_t i = 0; i < n; i++) {
        node = trie_child(t, node, s[i]);
        if (node < 0) break;
        if (t->val[node] >= 0) best = i + 1;
    }
    return best;
}

/* ------------------------------------------------------------------ */
/* 3. Model and protobuf reader                                        */

/* A precompiled charsmap: darts-clone double array + replacement strings. */
typedef struct {
    uint32_t *units; /* double-array units, host order */
    size_t n_units;
    const uint8_t *repl; /* NUL-separated replacement strings */
    size_t repl_len;
} tok_charsmap;

/* The parts of a NormalizerSpec the encoder uses. */
typedef struct {
    const uint8_t *charsmap; /* field 2 precompiled_charsmap (into tok->buf) */
    size_t charsmap_len;
    int add_dummy_prefix;        /* field 3, default true */
    int remove_extra_whitespaces; /* field 4, default true */
    int escape_whitespaces;      /* field 5, default true */
    int present;                 /* the spec occurred in the file */
    tok_charsmap cm;             /* decoded charsmap (n_units 0 if none) */
} tok_norm;

typedef struct {
    uint32_t off, len; /* piece bytes at tok->buf + off */
    float score;
    uint8_t type;   /* TOK_* */
} tok_piece;

struct geb_tok {
    uint8_t *buf; /* copy of the model file; piece strings point into it */
    size_t len;
    char *strs;   /* NUL-terminated copies of the pieces, for geb_tok_piece */
    size_t *str_off;
    tok_piece *pieces;
    int n_pieces;
    tok_map normal_map;   /* NORMAL, USER_DEFINED, UNUSED pieces -> id */
    tok_map reserved_map; /* UNKNOWN, CONTROL, BYTE pieces -> id */
    tok_trie vocab_trie;  /* unigram: normal_map's pieces */
    tok_trie user_trie;   /* USER_DEFINED pieces, matched before anything */
    int has_user;
    tok_norm norm, denorm;
    int model_type;       /* TrainerSpec field 3 */
    int byte_fallback;    /* TrainerSpec field 35 */
    int ws_suffix;        /* TrainerSpec field 24 treat_whitespace_as_suffix */
    int unk_id, bos_id, eos_id;
    const uint8_t *unk_surface; /* TrainerSpec field 44 */
    size_t unk_surface_len;
    char bos_piece[64], eos_piece[64]; /* TrainerSpec fields 46, 47 */
    float min_score, max_score; /* over NORMAL pieces (unigram) */
    int bpe_split_ws;           /* BPE may merge each whitespace run alone */
    int32_t byte_id[256];       /* id of "<0xNN>" as PieceToId gives it */
    int16_t *piece_byte;        /* byte value of BYTE pieces, else -1 */
    int32_t *decode_id;         /* PieceToId(IdToPiece(id)) */
};

typedef struct {
    const uint8_t *p, *end;
} pb_reader;

typedef struct {
    uint32_t field;
    int wire;            /* 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
    uint64_t u;          /* varint / fixed value */
    const uint8_t *data; /* wire type 2 payload */
    size_t len;
} pb_field;

/* Reads one base-128 varint (at most 10 bytes). */
static int pb_varint(pb_reader *r, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Reads the next field's key and value; returns 1, 0 at the end, -1 on a
 * malformed or truncated field.  Groups (wire types 3, 4) are refused. */
static int pb_next(pb_reader *r, pb_field *f) {
    uint64_t key, v;
    if (r->p >= r->end) return 0;
    if (pb_varint(r, &key) != 0) return -1;
    f->field = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 0x1FFFFFFF) return -1;
    switch (f->wire) {
    case 0:
        return pb_varint(r, &f->u) == 0 ? 1 : -1;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) return -1;
        f->u = 0;
        for (size_t i = 0; i < n; i++) f->u |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return 1;
    }
    case 2:
        if (pb_varint(r, &v) != 0 || v > (uint64_t)(r->end - r->p)) return -1;
        f->data = r->p;
        f->len = (size_t)v;
        r->p += v;
        return 1;
    default:
        return -1;
    }
}

/* Parses one ModelProto.SentencePiece (fields: 1 piece, 2 score as
 * fixed32 float, 3 type enum, default NORMAL). */
static int parse_piece(const uint8_t *base, const uint8_t *d, size_t n, tok_piece *out,
                       geb_err *err) {
    pb_reader r = {d, d + n};
    pb_field f;
    int rc;
    out->off = (uint32_t)(d - base);
    out->len = 0;
    out->score = 0.0f;
    out->type = TOK_NORMAL;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.field == 1 && f.wire == 2) {
            out->off = (uint32_t)(f.data - base);
            out->len = (uint32_t)f.len;
        } else if (f.field == 2 && f.wire == 5) {
            uint32_t bits = (uint32_t)f.u;
            memcpy(&out->score, &bits, sizeof bits);
        } else if (f.field == 3 && f.wire == 0) {
            /* proto2 keeps unknown enum values out of the field */
            if (f.u >= TOK_NORMAL && f.u <= TOK_BYTE) out->type = (uint8_t)f.u;
        }
    }
    return rc < 0 ? geb_err_set(err, "tokenizer: malformed piece entry") : 0;
}

/* Copies a short string field into a fixed NUL-terminated buffer (longer
 * values cannot name a real piece for our purposes and are cut). */
static void copy_field(char *dst, size_t cap, const uint8_t *s, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

/* Parses TrainerSpec fields we need: 3 model_type, 24
 * treat_whitespace_as_suffix, 35 byte_fallback, 44 unk_surface, 46
 * bos_piece, 47 eos_piece.  The ids 40-43 (unk/bos/eos/pad) only place the
 * pieces at training time; at run time the library finds <unk> by piece
 * type and bos/eos by piece string, and so do we.  (split_digits 25,
 * split_by_whitespace 22, max_sentencepiece_length 20 and the other
 * splitting options only shape training, not encoding.) */
static int parse_trainer(geb_tok *t, const uint8_t *d, size_t n, geb_err *err) {
    pb_reader r = {d, d + n};
    pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.wire == 0 && f.field == 3) t->model_type = (int)f.u;
        else if (f.wire == 0 && f.field == 24) t->ws_suffix = f.u != 0;
        else if (f.wire == 0 && f.field == 35) t->byte_fallback = f.u != 0;
        else if (f.wire == 2 && f.field == 44) {
            t->unk_surface = f.data;
            t->unk_surface_len = f.len;
        } else if (f.wire == 2 && f.field == 46)
            copy_field(t->bos_piece, sizeof t->bos_piece, f.data, f.len);
        else if (f.wire == 2 && f.field == 47)
            copy_field(t->eos_piece, sizeof t->eos_piece, f.data, f.len);
    }
    return rc < 0 ? geb_err_set(err, "tokenizer: malformed trainer_spec") : 0;
}

/* Parses NormalizerSpec fields 2-5 (1 name and 6 rule tsv are not needed:
 * the compiled charsmap carries the rules). */
static int parse_norm(tok_norm *ns, const uint8_t *d, size_t n, geb_err *err) {
    pb_reader r = {d, d + n};
    pb_field f;
    int rc;
    ns->present = 1;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.wire == 2 && f.field == 2) {
            ns->charsmap = f.data;
            ns->charsmap_len = f.len;
        } else if (f.wire == 0 && f.field == 3) ns->add_dummy_prefix = f.u != 0;
        else if (f.wire == 0 && f.field == 4) ns->remove_extra_whitespaces = f.u != 0;
        else if (f.wire == 0 && f.field == 5) ns->escape_whitespaces = f.u != 0;
    }
    return rc < 0 ? geb_err_set(err, "tokenizer: malformed normalizer_spec") : 0;
}

/* Splits a precompiled charsmap blob: <u32 LE trie size><double array>
 * <replacement strings>, as the library's DecodePrecompiledCharsMap. */
static int decode_charsmap(tok_norm *ns, geb_err *err) {
    const uint8_t *b = ns->charsmap;
    size_t n = ns->charsmap_len;
    if (!n) return 0;
    if (n <= 4) return geb_err_set(err, "tokenizer: charsmap blob is broken");
    uint32_t trie = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                    (uint32_t)b[3] << 24;
    if (trie >= n) return geb_err_set(err, "tokenizer: charsmap trie exceeds blob");
    if (n - 4 < trie) return geb_err_set(err, "tokenizer: charsmap trie exceeds blob");
    size_t units = trie / 4;
    ns->cm.units = malloc((units ? units : 1) * sizeof(uint32_t));
    if (!ns->cm.units) return geb_err_set(err, "tokenizer: out of memory");
    for (size_t i = 0; i < units; i++) {
        const uint8_t *u = b + 4 + 4 * i;
        ns->cm.units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
                          (uint32_t)u[3] << 24;
    }
    ns->cm.n_units = units;
    ns->cm.repl = b + 4 + trie;
    ns->cm.repl_len = n - 4 - trie;
    return 0;
}

/* Registers piece i in its map (with the library's duplicate check). */
static int index_piece(geb_tok *t, int i, geb_err *err) {
    const tok_piece *p = &t->pieces[i];
    const uint8_t *s = t->buf + p->off;
    int normal = p->type == TOK_NORMAL || p->type == TOK_USER_DEFINED || p->type == TOK_UNUSED;
    tok_map *m = normal ? &t->normal_map : &t->reserved_map;
    if (!p->len) return geb_err_set(err, "tokenizer: piece %d is empty", i);
    if (map_get(m, s, p->len) >= 0)
        return geb_err_set(err, "tokenizer: piece %d is already defined", i);
    if (map_put(m, s, p->len, i) != 0) return geb_err_set(err, "tokenizer: out of memory");
    if (p->type == TOK_USER_DEFINED) {
        if (trie_insert(&t->user_trie, s, p->len, i) != 0)
            return geb_err_set(err, "tokenizer: out of memory");
        t->has_user = 1;
    }
    if (normal && t->model_type == TOK_MODEL_UNIGRAM &&
        trie_insert(&t->vocab_trie, s, p->len, i) != 0)
        return geb_err_set(err, "tokenizer: out of memory");
    if (p->type == TOK_UNKNOWN) {
        if (t->unk_id >= 0) return geb_err_set(err, "tokenizer: unk is already defined");
        t->unk_id = i;
    }
    if (p->type == TOK_NORMAL) {
        if (p->score < t->min_score) t->min_score = p->score;
        if (p->score > t->max_score) t->max_score = p->score;
    }
    return 0;
}

/* The library's PieceToId: reserved pieces first, then normal ones, else
 * the unknown id. */
static int32_t piece_to_id(const geb_tok *t, const uint8_t *s, size_t n) {
    int32_t id = map_get(&t->reserved_map, s, n);
    if (id >= 0) return id;
    id = map_get(&t->normal_map, s, n);
    return id >= 0 ? id : t->unk_id;
}

/* Returns the byte of a "<0xNN>" piece (upper-case hex), or -1. */
static int byte_of_piece(const uint8_t *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
    if (!s[3] || !s[4] || !hi || !lo) return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

/* Looks up the id of a special piece string (bos/eos) the way the library's
 * bos_id()/eos_id() do: it must exist and be a CONTROL piece. */
static int control_id(const geb_tok *t, const char *s) {
    int32_t id = piece_to_id(t, (const uint8_t *)s, strlen(s));
    return id >= 0 && t->pieces[id].type == TOK_CONTROL ? id : -1;
}

/* True if no NORMAL piece holds the whitespace marker except at its start
 * (its end when ws_suffix) and none is unused: then BPE merges never cross
 * a marker and encode_bpe may merge each whitespace-delimited run alone.
 * USER_DEFINED pieces do not count: merges never produce them, since any
 * place where one occurs at a symbol start is already a frozen symbol. */
static int bpe_can_split(const geb_tok *t) {
    const char *mk = t->norm.escape_whitespaces ? kSpaceSymbol : " ";
    size_t k = t->norm.escape_whitespaces ? 3 : 1;
    for (int i = 0; i < t->n_pieces; i++) {
        const tok_piece *p = &t->pieces[i];
        const uint8_t *s = t->buf + p->off;
        if (p->type == TOK_UNUSED) return 0;
        if (p->type != TOK_NORMAL) continue;
        for (size_t j = 0; j + k <= p->len; j++) {
            if (memcmp(s + j, mk, k) != 0) continue;
            if (t->ws_suffix ? j + k != p->len : j != 0) return 0;
        }
    }
    return 1;
}

/* Builds the derived tables once the pieces are read. */
static int finish_model(geb_tok *t, geb_err *err) {
    size_t total = 0;
    for (int i = 0; i < t->n_pieces; i++) {
        if (index_piece(t, i, err) != 0) return -1;
        total += t->pieces[i].len + 1;
    }
    if (t->unk_id < 0) return geb_err_set(err, "tokenizer: unk is not defined");
    if (t->model_type != TOK_MODEL_UNIGRAM && t->model_type != TOK_MODEL_BPE)
        return geb_err_set(err, "tokenizer: model_type %d not supported", t->model_type);
    t->strs = malloc(total ? total : 1);
    t->str_off = malloc((size_t)t->n_pieces * sizeof *t->str_off + 1);
    t->piece_byte = malloc((size_t)t->n_pieces * sizeof *t->piece_byte + 1);
    t->decode_id = malloc((size_t)t->n_pieces * sizeof *t->decode_id + 1);
    if (!t->strs || !t->str_off || !t->piece_byte || !t->decode_id)
        return geb_err_set(err, "tokenizer: out of memory");
    size_t off = 0;
    for (int i = 0; i < t->n_pieces; i++) {
        const tok_piece *p = &t->pieces[i];
        const uint8_t *s = t->buf + p->off;
        memcpy(t->strs + off, s, p->len);
        t->strs[off + p->len] = 0;
        t->str_off[i] = off;
        off += p->len + 1;
        t->piece_byte[i] = -1;
        if (p->type == TOK_BYTE) {
            if (!t->byte_fallback)
                return geb_err_set(err, "tokenizer: byte piece %d but byte_fallback is off", i);
            int b = byte_of_piece(s, p->len);
            if (b < 0) return geb_err_set(err, "tokenizer: bad byte piece %d", i);
            t->piece_byte[i] = (int16_t)b;
        }
        t->decode_id[i] = piece_to_id(t, s, p->len);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        static const char hex[] = "0123456789ABCDEF";
        memcpy(name, "<0x", 3);
        name[3] = hex[b >> 4];
        name[4] = hex[b & 15];
        name[5] = '>';
        t->byte_id[b] = piece_to_id(t, (const uint8_t *)name, 6);
    }
    t->bpe_split_ws = bpe_can_split(t);
    t->bos_id = control_id(t, t->bos_piece);
    t->eos_id = control_id(t, t->eos_piece);
    if (decode_charsmap(&t->norm, err) != 0) return -1;
    if (t->denorm.present && decode_charsmap(&t->denorm, err) != 0) return -1;
    return 0;
}

/* Parses the top-level ModelProto: 1 pieces (repeated), 2 trainer_spec,
 * 3 normalizer_spec, 4 self_test_data (ignored), 5 denormalizer_spec. */
static int parse_model(geb_tok *t, geb_err *err) {
    pb_reader r = {t->buf, t->buf + t->len};
    pb_field f;
    int rc;
    size_t count = 0;
    while ((rc = pb_next(&r, &f)) > 0)
        if (f.field == 1 && f.wire == 2) count++;
    if (rc < 0) return geb_err_set(err, "tokenizer: malformed ModelProto");
    if (count > GEB_TOK_MAX_PIECES) return geb_err_set(err, "tokenizer: too many pieces");
    t->pieces = calloc(count ? count : 1, sizeof *t->pieces);
    if (!t->pieces) return geb_err_set(err, "tokenizer: out of memory");
    if (map_init(&t->normal_map, count) != 0 || map_init(&t->reserved_map, 16) != 0)
        return geb_err_set(err, "tokenizer: out of memory");
    r.p = t->buf;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.wire != 2) continue;
        if (f.field == 1) {
            if (parse_piece(t->buf, f.data, f.len, &t->pieces[t->n_pieces++], err) != 0) return -1;
        } else if (f.field == 2) {
            if (parse_trainer(t, f.data, f.len, err) != 0) return -1;
        } else if (f.field == 3) {
            if (parse_norm(&t->norm, f.data, f.len, err) != 0) return -1;
        } else if (f.field == 5) {
            if (parse_norm(&t->denorm, f.data, f.len, err) != 0) return -1;
        }
    }
    return finish_model(t, err);
}

int geb_tok_load_buffer(geb_tok **out, const uint8_t *buf, size_t len, geb_err *err) {
    *out = NULL;
    if (len > GEB_TOK_MAX_FILE) return geb_err_set(err, "tokenizer: model too large");
    geb_tok *t = calloc(1, sizeof *t);
    if (!t) return geb_err_set(err, "tokenizer: out of memory");
    t->buf = malloc(len ? len : 1);
    if (!t->buf) {
        free(t);
        return geb_err_set(err, "tokenizer: out of memory");
    }
    if (len) memcpy(t->buf, buf, len);
    t->len = len;
    /* proto2 defaults of the fields we read */
    t->model_type = TOK_MODEL_UNIGRAM;
    t->unk_id = -1;
    t->bos_id = t->eos_id = -1;
    t->unk_surface = (const uint8_t *)" \xe2\x81\x87 ";
    t->unk_surface_len = 5;
    strcpy(t->bos_piece, "<s>");
    strcpy(t->eos_piece, "</s>");
    t->min_score = FLT_MAX;
    t->max_score = FLT_MIN; /* sic: the library starts from FLT_MIN too */
    t->norm.add_dummy_prefix = t->norm.remove_extra_whitespaces = 1;
    t->norm.escape_whitespaces = 1;
    t->denorm = t->norm;
    if (parse_model(t, err) != 0) {
        geb_tok_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int geb_tok_load(geb_tok **out, const char *path, geb_err *err) {
    uint8_t *data;
    size_t len;
    *out = NULL;
    if (geb_read_file(path, &data, &len, GEB_TOK_MAX_FILE, err) != 0) return -1;
    int rc = geb_tok_load_buffer(out, data, len, err);
    free(data);
    return rc;
}

void geb_tok_free(geb_tok *t) {
    if (!t) return;
    map_free(&t->normal_map);
    map_free(&t->reserved_map);
    trie_free(&t->vocab_trie);
    trie_free(&t->user_trie);
    free(t->norm.cm.units);
    free(t->denorm.cm.units);
    free(t->pieces);
    free(t->strs);
    free(t->str_off);
    free(t->piece_byte);
    free(t->decode_id);
    free(t->buf);
    free(t);
}

int geb_tok_n_pieces(const geb_tok *t) { return t->n_pieces; }
int geb_tok_bos_id(const geb_tok *t) { return t->bos_id; }
int geb_tok_eos_id(const geb_tok *t) { return t->eos_id; }
int geb_tok_unk_id(const geb_tok *t) { return t->unk_id; }

const char *geb_tok_piece(const geb_tok *t, int32_t id) {
    if (id < 0 || id >= t->n_pieces) return "";
    return t->strs + t->str_off[id];
}

/* ------------------------------------------------------------------ */
/* 4. Normalizer                                                       */

/* darts-clone DoubleArray::commonPrefixSearch restricted to the longest
 * match: returns its length (0 if none) and its value in *value. */
static size_t charsmap_longest(const tok_charsmap *cm, const uint8_t *s, size_t n,
                               uint32_t *value) {
    const uint32_t *a = cm->units;
    size_t best = 0;
    if (!cm->n_units) return 0;
    uint32_t unit = a[0];
    size_t id = (unit >> 10) << ((unit & (1u << 9)) >> 6); /* offset() */
    for (size_t i = 0; i < n; i++) {
        id ^= s[i];
        if (id >= cm->n_units) break;
        unit = a[id];
        if ((unit & ((1u << 31) | 0xFF)) != s[i]) break; /* label() */
        id ^= (unit >> 10) << ((unit & (1u << 9)) >> 6);
        if ((unit >> 8) & 1) { /* has_leaf(): the leaf unit is at id */
            if (id >= cm->n_units) break;
            best = i + 1;
            *value = a[id] & 0x7FFFFFFFu;
        }
    }
    return best;
}

/* One step of the library's NormalizePrefix: the replacement text for the
 * start of s (user-defined symbol as is, else the longest charsmap rule,
 * else one valid character as is, else U+FFFD for one bad byte).  Returns
 * the number of input bytes consumed (>= 1); n >= 1. */
static size_t normalize_prefix(const geb_tok *t, const tok_norm *ns, int use_user,
                               const uint8_t *s, size_t n, const uint8_t **out,
                               size_t *out_len) {
    if (use_user && t->has_user) {
        size_t m = trie_longest(&t->user_trie, s, n);
        if (m) {
            *out = s;
            *out_len = m;
            return m;
        }
    }
    uint32_t value = 0;
    size_t m = charsmap_longest(&ns->cm, s, n, &value);
    if (m) {
        const tok_charsmap *cm = &ns->cm;
        /* the replacement is NUL-terminated inside the blob; an offset or
         * string running off the end is cut at the end (malformed model) */
        if (value >= cm->repl_len) {
            *out = cm->repl;
            *out_len = 0;
        } else {
            const uint8_t *r = cm->repl + value;
            const uint8_t *z = memchr(r, 0, cm->repl_len - value);
            *out = r;
            *out_len = z ? (size_t)(z - r) : cm->repl_len - value;
        }
        return m;
    }
    size_t v = utf8_valid_len(s, n);
    if (!v) {
        *out = (const uint8_t *)kReplacement;
        *out_len = 3;
        return 1;
    }
    *out = s;
    *out_len = v;
    return v;
}

/* Appends one whitespace marker (U+2581 or a plain space). */
static void add_ws(tok_buf *o, const tok_norm *ns) {
    if (ns->escape_whitespaces) buf_add(o, kSpaceSymbol, 3);
    else buf_add(o, " ", 1);
}

/* The library's Normalizer::Normalize: charsmap rules, then whitespace
 * handling (drop leading, trailing and repeated spaces if
 * remove_extra_whitespaces; dummy prefix, or suffix when ws_suffix; spaces
 * escaped as U+2581).  Writes the normalized text to o. */
static void normalize(const geb_tok *t, const tok_norm *ns, int use_user, int ws_suffix,
                      const uint8_t *s, size_t n, tok_buf *o) {
    const uint8_t *rep;
    size_t rep_len;
    o->n = 0;
    if (!n) return;
    if (ns->remove_extra_whitespaces) {
        while (n) {
            size_t c = normalize_prefix(t, ns, use_user, s, n, &rep, &rep_len);
            if (!(rep_len == 1 && rep[0] == ' ')) break;
            s += c;
            n -= c;
        }
    }
    if (!n) return;
    buf_reserve(o, n * 3);
    if (!ws_suffix && ns->add_dummy_prefix) add_ws(o, ns);
    int prev_space = ns->remove_extra_whitespaces;
    while (n) {
        size_t c = normalize_prefix(t, ns, use_user, s, n, &rep, &rep_len);
        while (prev_space && rep_len && rep[0] == ' ') {
            rep++;
            rep_len--;
        }
        if (rep_len) {
            for (size_t i = 0; i < rep_len; i++) {
                if (ns->escape_whitespaces && rep[i] == ' ') buf_add(o, kSpaceSymbol, 3);
                else buf_add(o, &rep[i], 1);
            }
            prev_space = rep[rep_len - 1] == ' ';
        }
        s += c;
        n -= c;
        if (!ns->remove_extra_whitespaces) prev_space = 0;
    }
    if (ns->remove_extra_whitespaces) {
        const char *sp = ns->escape_whitespaces ? kSpaceSymbol : " ";
        size_t k = ns->escape_whitespaces ? 3 : 1;
        while (!o->failed && o->n >= k && memcmp(o->p + o->n - k, sp, k) == 0) o->n -= k;
    }
    if (ws_suffix && ns->add_dummy_prefix) add_ws(o, ns);
}

/* ------------------------------------------------------------------ */
/* 5. Segmenters: both write (start, len, id) triples over the text.    */

typedef struct {
    uint32_t start, len;
    int32_t id;
} tok_seg;

typedef struct {
    tok_seg *v;
    size_t n, cap;
    int failed;
} tok_segs;

static void segs_add(tok_segs *s, uint32_t start, uint32_t len, int32_t id) {
    if (s->failed) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        tok_seg *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->failed = 1;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (tok_seg){start, len, id};
}

/* Unigram: the library's optimized Viterbi.  For each character start it
 * walks the piece trie; user-defined pieces score len*max_score-0.1 (in
 * double, as the library computes it), unused pieces are skipped, and a
 * character with no single-character piece gets an unknown node scored
 * min_score - 10.  Ties keep the earlier candidate. */
static int encode_unigram(const geb_tok *t, const uint8_t *s, size_t n, tok_segs *out) {
    typedef struct {
        int32_t id;
        int32_t from; /* -1 = unset */
        float score;
    } node;
    node *best = malloc((n + 1) * sizeof *best);
    if (!best) return -1;
    for (size_t i = 0; i <= n; i++) best[i] = (node){-1, -1, 0.0f};
    const float unk_score = t->min_score - 10.0f;
    size_t pos = 0;
    while (pos < n) {
        const float till_here = best[pos].score;
        size_t mblen = one_char_len(s[pos]);
        if (mblen > n - pos) mblen = n - pos;
        int single = 0;
        int32_t nd = t->vocab_trie.n_nodes ? 0 : -1;
        for (size_t k = pos; k < n && nd >= 0; k++) {
            nd = trie_child(&t->vocab_trie, nd, s[k]);
            if (nd < 0) break;
            int32_t id = t->vocab_trie.val[nd];
            if (id < 0 || t->pieces[id].type == TOK_UNUSED) continue;
            size_t length = k + 1 - pos;
            double score = t->pieces[id].type == TOK_USER_DEFINED
                               ? (double)((float)length * t->max_score) - 0.1
                               : (double)t->pieces[id].score;
            double cand = score + (double)till_here;
            node *tg = &best[k + 1];
            if (tg->from == -1 || cand > (double)tg->score) {
                tg->score = (float)cand;
                tg->from = (int32_t)pos;
                tg->id = id;
            }
            if (length == mblen) single = 1;
        }
        if (!single) {
            node *tg = &best[pos + mblen];
            float cand = unk_score + till_here;
            if (tg->from == -1 || cand > tg->score) {
                tg->score = cand;
                tg->from = (int32_t)pos;
                tg->id = t->unk_id;
            }
        }
        pos += mblen;
    }
    /* backtrack, then reverse in place */
    size_t first = out->n;
    for (size_t end = n; end > 0;) {
        size_t from = (size_t)best[end].from;
        segs_add(out, (uint32_t)from, (uint32_t)(end - from), best[end].id);
        end = from;
    }
    for (size_t i = first, j = out->n; !out->failed && i + 1 < j; i++, j--) {
        tok_seg tmp = out->v[i];
        out->v[i] = out->v[j - 1];
        out->v[j - 1] = tmp;
    }
    free(best);
    return out->failed ? -1 : 0;
}

/* BPE symbol: a span of the text in a doubly linked list. */
typedef struct {
    int32_t prev, next;
    uint32_t start, len; /* len 0 = merged away */
    uint8_t freeze;      /* user-defined symbol: never merged */
} bpe_sym;

/* A candidate merge of symbols left and right (adjacent when pushed). */
typedef struct {
    float score;
    int32_t left, right;
    uint32_t size; /* byte length of the merged piece when pushed */
} bpe_pair;

typedef struct {
    bpe_pair *v;
    size_t n, cap;
} bpe_heap;

/* Heap order of the library's agenda: higher score first, then lower left. */
static int pair_before(const bpe_pair *a, const bpe_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(bpe_heap *h, bpe_pair p) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        bpe_pair *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_before(&p, &h->v[up])) break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = p;
    return 0;
}

static bpe_pair heap_pop(bpe_heap *h) {
    bpe_pair top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pair_before(&h->v[c + 1], &h->v[c])) c++;
        if (!pair_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct {
    const geb_tok *t;
    const uint8_t *s;
    bpe_sym *sym;
    bpe_heap heap;
    tok_map rev;      /* merged unused piece -> left length (last wins) */
    int failed;
} bpe_state;

/* The library's MaybeAddNewSymbolPair: queues (left, right) if their
 * concatenation is a piece in the normal map; remembers how unused pieces
 * were formed so that they can be split back afterwards. */
static void bpe_try_pair(bpe_state *b, int32_t left, int32_t right) {
    if (left < 0 || right < 0 || b->sym[left].freeze || b->sym[right].freeze) return;
    const uint8_t *p = b->s + b->sym[left].start;
    uint32_t size = b->sym[left].len + b->sym[right].len;
    int32_t id = map_get(&b->t->normal_map, p, size);
    if (id < 0) return;
    bpe_pair pr = {b->t->pieces[id].score, left, right, size};
    if (heap_push(&b->heap, pr) != 0) b->failed = 1;
    if (b->t->pieces[id].type == TOK_UNUSED &&
        map_put(&b->rev, p, size, (int32_t)b->sym[left].len) != 0)
        b->failed = 1;
}

/* The library's resegment: a final symbol that is an unused piece is split
 * back into the two symbols it was merged from, recursively (with an
 * explicit stack: merges can nest as deep as the text is long). */
static int bpe_emit(bpe_state *b, uint32_t start, uint32_t len, tok_segs *out) {
    uint32_t *stack = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        int32_t id = piece_to_id(b->t, b->s + start, len);
        int32_t left = -1;
        if (id >= 0 && b->t->pieces[id].type == TOK_UNUSED)
            left = map_get(&b->rev, b->s + start, len);
        if (left > 0 && (uint32_t)left < len) {
            if (n + 2 > cap) {
                size_t c = cap ? cap * 2 : 32;
                uint32_t *v = realloc(stack, c * sizeof *v);
                if (!v) {
                    free(stack);
                    return -1;
                }
                stack = v;
                cap = c;
            }
            stack[n++] = start + (uint32_t)left; /* right part, later */
            stack[n++] = len - (uint32_t)left;
            len = (uint32_t)left;
            continue;
        }
        segs_add(out, start, len, id);
        if (!n) break;
        len = stack[--n];
        start = stack[--n];
    }
    free(stack);
    return 0;
}

/* True if the symbol at i begins a new independent BPE segment (see
 * encode_bpe): in prefix mode it starts with the whitespace marker, in
 * suffix mode the symbol before it ends with the marker. */
static int bpe_segment_starts(const geb_tok *t, const uint8_t *s, const bpe_sym *sym, int32_t i) {
    const char *mk = t->norm.escape_whitespaces ? kSpaceSymbol : " ";
    size_t k = t->norm.escape_whitespaces ? 3 : 1;
    if (!t->ws_suffix) return sym[i].len >= k && memcmp(s + sym[i].start, mk, k) == 0;
    const bpe_sym *p = &sym[i - 1];
    return p->len >= k && memcmp(s + p->start + p->len - k, mk, k) == 0;
}

/* Runs the library's merge loop over the symbols first..last (inclusive,
 * linked) and emits the result. */
static void bpe_merge_run(bpe_state *b, int32_t first, int32_t last, tok_segs *out) {
    b->sym[first].prev = -1;
    b->sym[last].next = -1;
    b->heap.n = 0;
    for (int32_t i = first + 1; i <= last; i++) bpe_try_pair(b, i - 1, i);
    while (b->heap.n && !b->failed) {
        bpe_pair top = heap_pop(&b->heap);
        bpe_sym *l = &b->sym[top.left], *r = &b->sym[top.right];
        if (!l->len || !r->len || l->len + r->len != top.size) continue; /* stale */
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) b->sym[r->next].prev = top.left;
        r->len = 0;
        bpe_try_pair(b, l->prev, top.left);
        bpe_try_pair(b, top.left, l->next);
    }
    for (int32_t i = first; i >= 0 && !b->failed; i = b->sym[i].next)
        if (bpe_emit(b, b->sym[i].start, b->sym[i].len, out) != 0) b->failed = 1;
}

/* BPE: split into characters (user-defined symbols whole and frozen), then
 * repeatedly merge the best adjacent pair from a heap, skipping stale
 * entries exactly as the library does.  O(n log n).
 *
 * The library runs one heap over the whole text.  When no piece holds the
 * whitespace marker anywhere but at its start (its end with
 * treat_whitespace_as_suffix), no merge can cross a marker, so each
 * whitespace-delimited run merges independently and in the same order:
 * we run one small heap per run, which keeps the heap in cache (several
 * times faster on long texts) and gives the same ids.  Models with unused
 * pieces keep the single heap: their split-back table is shared. */
static int encode_bpe(const geb_tok *t, const uint8_t *s, size_t n, tok_segs *out) {
    bpe_state b = {t, s, NULL, {0}, {0}, 0};
    if (!n) return 0;
    b.sym = malloc(n * sizeof *b.sym);
    if (!b.sym) return -1;
    int32_t count = 0;
    for (size_t pos = 0; pos < n;) {
        size_t m = t->has_user ? trie_longest(&t->user_trie, s + pos, n - pos) : 0;
        bpe_sym *y = &b.sym[count];
        y->freeze = m > 0;
        if (!m) {
            m = one_char_len(s[pos]);
            if (m > n - pos) m = n - pos;
        }
        y->start = (uint32_t)pos;
        y->len = (uint32_t)m;
        y->prev = count - 1;
        pos += m;
        y->next = pos < n ? count + 1 : -1;
        count++;
    }
    int32_t first = 0;
    for (int32_t i = 1; i < count && t->bpe_split_ws && !b.failed; i++)
        if (bpe_segment_starts(t, s, b.sym, i)) {
            bpe_merge_run(&b, first, i - 1, out);
            first = i;
        }
    if (!b.failed) bpe_merge_run(&b, first, count - 1, out);
    free(b.sym);
    free(b.heap.v);
    map_free(&b.rev);
    return b.failed || out->failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* 6. Encode and decode                                                */

int geb_tok_encode(const geb_tok *t, const char *text, size_t len, int32_t **ids,
                   size_t *n, geb_err *err) {
    tok_buf norm = {0};
    tok_segs segs = {0};
    *ids = NULL;
    *n = 0;
    if (len > GEB_TOK_MAX_INPUT) return geb_err_set(err, "tokenizer: input too long");
    normalize(t, &t->norm, 1, t->ws_suffix, (const uint8_t *)text, len, &norm);
    if (norm.failed || norm.n > 0x7FFFFFF0u) {
        free(norm.p);
        return geb_err_set(err, "tokenizer: out of memory");
    }
    int rc = t->model_type == TOK_MODEL_BPE ? encode_bpe(t, norm.p, norm.n, &segs)
                                            : encode_unigram(t, norm.p, norm.n, &segs);
    /* at most one id per normalized byte (byte fallback) */
    int32_t *v = rc == 0 ? malloc((norm.n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(norm.p);
        free(segs.v);
        return geb_err_set(err, "tokenizer: out of memory");
    }
    /* the library's PopulateSentencePieceText: unknown pieces become byte
     * pieces under byte_fallback, else a run of unknowns becomes one id */
    size_t k = 0;
    int prev_unk = 0;
    for (size_t i = 0; i < segs.n; i++) {
        const tok_seg *g = &segs.v[i];
        int unk = g->id >= 0 && t->pieces[g->id].type == TOK_UNKNOWN;
        if (unk && t->byte_fallback) {
            for (uint32_t j = 0; j < g->len; j++) v[k++] = t->byte_id[norm.p[g->start + j]];
        } else if (!(unk && prev_unk)) {
            v[k++] = g->id;
        }
        prev_unk = unk;
    }
    free(norm.p);
    free(segs.v);
    *ids = v;
    *n = k;
    return 0;
}

/* Decoder state shared by geb_tok_decode and the streaming decoder: it
 * follows the library's Decode loop piece by piece, holding back at most
 * three bytes of a byte-piece run that may still become one character. */
struct geb_tok_stream {
    const geb_tok *tok;
    tok_buf out;         /* text produced by the current call */
    size_t total;        /* bytes of text produced so far, prefix included */
    uint8_t pend[4];     /* undecided bytes of the current byte run */
    size_t n_pend;
    int bos_ws_seen;     /* the last text piece consumed a leading U+2581 */
    int bos_done;        /* no later piece may lose a leading U+2581 */
    /* Models with a denormalizer rewrite the finished text as a whole, so
     * their stream keeps every id and emits everything at finish. */
    int hold_all;
    int32_t *ids;
    size_t n_ids, cap_ids;
    size_t prefix_len; /* bytes of decode(prefix) */
    int failed;
};

/* Emits decided characters from the front of the pending bytes; when
 * `end` is set the run is over and everything left is decided. */
static void dec_bytes(geb_tok_stream *d, int end) {
    while (d->n_pend) {
        uint8_t c = d->pend[0];
        size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                   : (c & 0xF8) == 0xF0 ? 4 : 1;
        if (!end && d->n_pend < need) {
            /* wait for more bytes unless the ones seen already fail */
            int ok = 1;
            for (size_t i = 1; i < d->n_pend; i++) ok &= is_trail(d->pend[i]);
            if (ok) return;
        }
        size_t v = utf8_valid_len(d->pend, d->n_pend);
        size_t used = v ? v : 1;
        if (v) buf_add(&d->out, d->pend, v);
        else buf_add(&d->out, kReplacement, 3);
        d->total += v ? v : 3;
        memmove(d->pend, d->pend + used, d->n_pend - used);
        d->n_pend -= used;
    }
}

/* Appends the text of a non-byte piece (the library's DecodeSentencePiece):
 * control pieces and ids outside the table are empty, the unknown piece is
 * unk_surface, the first text piece loses one leading U+2581 when the model
 * adds a dummy prefix or removes extra whitespace, U+2581 becomes a space. */
static void dec_piece(geb_tok_stream *d, int32_t id) {
    const geb_tok *t = d->tok;
    if (d->bos_ws_seen || d->total > 0) d->bos_done = 1;
    int is_bos_ws = !d->bos_done;
    d->bos_ws_seen = 0;
    if (id < 0 || id >= t->n_pieces) return;
    int type = t->pieces[id].type;
    if (type == TOK_CONTROL) return;
    if (type == TOK_UNKNOWN) {
        buf_add(&d->out, t->unk_surface, t->unk_surface_len);
        d->total += t->unk_surface_len;
        return;
    }
    const uint8_t *s = t->buf + t->pieces[id].off;
    size_t n = t->pieces[id].len;
    if (is_bos_ws && (t->norm.add_dummy_prefix || t->norm.remove_extra_whitespaces)) {
        if (n >= 3 && memcmp(s, kSpaceSymbol, 3) == 0) {
            s += 3;
            n -= 3;
            d->bos_ws_seen = !t->norm.remove_extra_whitespaces;
        }
    }
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(s + i, kSpaceSymbol, 3) == 0) {
            buf_add(&d->out, " ", 1);
            d->total++;
            i += 3;
        } else {
            buf_add(&d->out, s + i, 1);
            d->total++;
            i++;
        }
    }
}

/* Feeds one id through the decoder (the id roundtrips through its piece
 * string first, as the library's Decode(ids) does). */
static void dec_push(geb_tok_stream *d, int32_t id) {
    const geb_tok *t = d->tok;
    if (id >= 0 && id < t->n_pieces) id = t->decode_id[id];
    if (id >= 0 && id < t->n_pieces && t->pieces[id].type == TOK_BYTE) {
        d->pend[d->n_pend++] = (uint8_t)t->piece_byte[id];
        dec_bytes(d, 0);
        return;
    }
    dec_bytes(d, 1);
    dec_piece(d, id);
}

/* Applies the denormalizer (if the model has one) to a finished text. */
static char *denormalize(const geb_tok *t, tok_buf *text, size_t *len) {
    if (t->denorm.present && t->denorm.cm.n_units && !text->failed) {
        tok_buf o = {0};
        normalize(t, &t->denorm, 0, 0, text->p, text->n, &o);
        free(text->p);
        *text = o;
    }
    buf_add(text, "", 0);
    if (text->failed) {
        free(text->p);
        return NULL;
    }
    if (len) *len = text->n;
    return (char *)text->p;
}

char *geb_tok_decode(const geb_tok *t, const int32_t *ids, size_t n, size_t *len) {
    geb_tok_stream d = {0};
    d.tok = t;
    for (size_t i = 0; i < n; i++) dec_push(&d, ids[i]);
    dec_bytes(&d, 1);
    return denormalize(t, &d.out, len);
}

/* Appends an id to a hold_all stream's list. */
static void stream_keep(geb_tok_stream *d, int32_t id) {
    if (d->n_ids == d->cap_ids) {
        size_t cap = d->cap_ids ? d->cap_ids * 2 : 64;
        int32_t *v = cap < SIZE_MAX / sizeof *v ? realloc(d->ids, cap * sizeof *v) : NULL;
        if (!v) {
            d->failed = 1;
            return;
        }
        d->ids = v;
        d->cap_ids = cap;
    }
    d->ids[d->n_ids++] = id;
}

geb_tok_stream *geb_tok_stream_new(const geb_tok *t, const int32_t *prefix, size_t n) {
    geb_tok_stream *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->tok = t;
    d->hold_all = t->denorm.present && t->denorm.cm.n_units;
    if (d->hold_all) {
        for (size_t i = 0; i < n; i++) stream_keep(d, prefix[i]);
        char *pre = geb_tok_decode(t, prefix, n, &d->prefix_len);
        if (!pre) d->failed = 1;
        free(pre);
        return d;
    }
    for (size_t i = 0; i < n; i++) {
        dec_push(d, prefix[i]);
        d->out.n = 0; /* the prefix's text is never emitted */
    }
    return d;
}

/* Returns the stream's output buffer (or "" after a failure). */
static const char *stream_result(geb_tok_stream *d, size_t *len) {
    buf_add(&d->out, "", 0);
    if (d->out.failed || d->failed) {
        *len = 0;
        return "";
    }
    *len = d->out.n;
    return (const char *)d->out.p;
}

const char *geb_tok_stream_push(geb_tok_stream *d, int32_t id, size_t *len) {
    d->out.n = 0;
    if (d->hold_all) stream_keep(d, id);
    else dec_push(d, id);
    return stream_result(d, len);
}

const char *geb_tok_stream_finish(geb_tok_stream *d, size_t *len) {
    d->out.n = 0;
    if (d->hold_all && !d->failed) {
        size_t n;
        char *full = geb_tok_decode(d->tok, d->ids, d->n_ids, &n);
        if (!full) d->failed = 1;
        else if (n > d->prefix_len) buf_add(&d->out, full + d->prefix_len, n - d->prefix_len);
        free(full);
        d->n_ids = 0;
        d->prefix_len = 0;
    } else {
        dec_bytes(d, 1);
    }
    return stream_result(d, len);
}

void geb_tok_stream_free(geb_tok_stream *d) {
    if (!d) return;
    free(d->out.p);
    free(d->ids);
    free(d);
}
