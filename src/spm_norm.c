/* spm_norm.c - the sentencepiece normalizer: user-defined
 * symbols kept as is, the precompiled charsmap (darts-clone double array,
 * longest match wins), invalid UTF-8 as U+FFFD, whitespace rules. */
#include "spm_internal.h"

#include <string.h>

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
        size_t m = spm_trie_longest(&t->user_trie, s, n);
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
    size_t v = spm_utf8_len(s, n);
    if (!v) {
        *out = (const uint8_t *)SPM_REPLACEMENT;
        *out_len = 3;
        return 1;
    }
    *out = s;
    *out_len = v;
    return v;
}

/* Appends one whitespace marker (U+2581 or a plain space). */
static void add_ws(tok_buf *o, const tok_norm *ns) {
    if (ns->escape_whitespaces) spm_buf_add(o, SPM_SPACE, 3);
    else spm_buf_add(o, " ", 1);
}

/* The library's Normalizer::Normalize: charsmap rules, then whitespace
 * handling (drop leading, trailing and repeated spaces if
 * remove_extra_whitespaces; dummy prefix, or suffix when ws_suffix, unless
 * `no_dummy` asks for the model's behaviour with add_dummy_prefix false;
 * spaces escaped as U+2581).  Writes the normalized text to o. */
void spm_normalize(const geb_tok *t, const tok_norm *ns, int use_user, int ws_suffix,
                   int no_dummy, const uint8_t *s, size_t n, tok_buf *o) {
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
    spm_buf_reserve(o, n * 3);
    if (!ws_suffix && ns->add_dummy_prefix && !no_dummy) add_ws(o, ns);
    int prev_space = ns->remove_extra_whitespaces;
    while (n) {
        size_t c = normalize_prefix(t, ns, use_user, s, n, &rep, &rep_len);
        while (prev_space && rep_len && rep[0] == ' ') {
            rep++;
            rep_len--;
        }
        if (rep_len) {
            for (size_t i = 0; i < rep_len; i++) {
                if (ns->escape_whitespaces && rep[i] == ' ') spm_buf_add(o, SPM_SPACE, 3);
                else spm_buf_add(o, &rep[i], 1);
            }
            prev_space = rep[rep_len - 1] == ' ';
        }
        s += c;
        n -= c;
        if (!ns->remove_extra_whitespaces) prev_space = 0;
    }
    if (ns->remove_extra_whitespaces) {
        const char *sp = ns->escape_whitespaces ? SPM_SPACE : " ";
        size_t k = ns->escape_whitespaces ? 3 : 1;
        while (!o->failed && o->n >= k && memcmp(o->p + o->n - k, sp, k) == 0) o->n -= k;
    }
    if (ws_suffix && ns->add_dummy_prefix && !no_dummy) add_ws(o, ns);
}
