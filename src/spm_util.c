/* spm_util.c - helpers shared by the SentencePiece tokenizer:
 * a growable byte buffer, the library's UTF-8 rules, a string map and a
 * byte trie with hashed edges. */
#include "spm_internal.h"

#include <stdlib.h>
#include <string.h>

/* Makes room for `more` bytes plus a NUL; returns 0 or -1 (and marks b). */
int spm_buf_reserve(tok_buf *b, size_t more) {
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
void spm_buf_add(tok_buf *b, const void *s, size_t n) {
    if (spm_buf_reserve(b, n) != 0) return;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* The library's OneCharLen: UTF-8 length from the lead byte's top nibble,
 * without validating anything (used to step over normalized text). */
size_t spm_one_char_len(uint8_t c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

int spm_is_trail(uint8_t c) { return (c & 0xC0) == 0x80; }

static int valid_cp(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

/* The library's DecodeUTF8 validity: returns the length (1..4) of the valid
 * character at s[0..len), or 0 if the bytes there are not one valid
 * character (the library then consumes one byte as U+FFFD).  Overlong forms
 * and surrogates are invalid; a literal U+FFFD is valid.  len >= 1. */
size_t spm_utf8_len(const uint8_t *s, size_t len) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        if (len < 2 || !spm_is_trail(s[1])) return 0;
        uint32_t cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return cp >= 0x80 ? 2 : 0;
    }
    if ((c & 0xF0) == 0xE0) {
        if (len < 3 || !spm_is_trail(s[1]) || !spm_is_trail(s[2])) return 0;
        uint32_t cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
                      (s[2] & 0x3F);
        return cp >= 0x800 && valid_cp(cp) ? 3 : 0;
    }
    if ((c & 0xF8) == 0xF0) {
        if (len < 4 || !spm_is_trail(s[1]) || !spm_is_trail(s[2]) || !spm_is_trail(s[3])) return 0;
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
/* String map and byte trie                                         */

void spm_map_free(tok_map *m) {
    free(m->key);
    free(m->klen);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* Prepares an empty map for up to n keys; returns 0 or -1. */
int spm_map_init(tok_map *m, size_t n) {
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
        spm_map_free(m);
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
int32_t spm_map_get(const tok_map *m, const uint8_t *s, size_t n) {
    if (!m->cap) return -1;
    size_t i = map_slot(m, s, n);
    return m->key[i] ? m->val[i] : -1;
}

/* Inserts or overwrites; grows the table when it is half full.  s must not
 * be NULL (use a pointer into a live buffer even for empty strings). */
int spm_map_put(tok_map *m, const uint8_t *s, size_t n, int32_t v) {
    if (2 * (m->n + 1) > m->cap) {
        tok_map big;
        if (spm_map_init(&big, m->n + 1 > m->cap ? m->n + 1 : m->cap) != 0) return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = map_slot(&big, m->key[i], m->klen[i]);
                big.key[j] = m->key[i];
                big.klen[j] = m->klen[i];
                big.val[j] = m->val[i];
                big.n++;
            }
        spm_map_free(m);
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

void spm_trie_free(tok_trie *t) {
    free(t->ekey);
    free(t->echild);
    free(t->val);
    memset(t, 0, sizeof *t);
}

static size_t trie_hash(uint64_t k, size_t cap) {
    return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* Returns the child of node through byte c, or -1. */
int32_t spm_trie_child(const tok_trie *t, int32_t node, uint8_t c) {
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
int spm_trie_insert(tok_trie *t, const uint8_t *s, size_t n, int32_t v) {
    if (!t->n_nodes && trie_new_node(t) < 0) return -1;
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t next = spm_trie_child(t, node, s[i]);
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
size_t spm_trie_longest(const tok_trie *t, const uint8_t *s, size_t n) {
    size_t best = 0;
    int32_t node = 0;
    if (!t->n_nodes) return 0;
    for (size_t i = 0; i < n; i++) {
        node = spm_trie_child(t, node, s[i]);
        if (node < 0) break;
        if (t->val[node] >= 0) best = i + 1;
    }
    return best;
}
