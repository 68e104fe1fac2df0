/* tokenizer.c - SentencePiece (unigram and BPE) with the behaviour of the
 * sentencepiece library, read straight from a serialized ModelProto.
 *
 * The pipeline: spm_proto.c reads the model; encode normalizes the text
 * (spm_norm.c), segments it (BPE with a heap, or unigram Viterbi, below),
 * then applies byte fallback or merges unknown runs; decode follows the
 * library's Decode loop piece by piece, which also makes it a streaming
 * decoder.  All index arithmetic on text is bounded by GEB_TOK_MAX_INPUT.
 */
#include "spm_internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Segmenters: both write (start, len, id) triples over the text.    */

/* One segment of the normalized text and the id the model gave it. */
typedef struct {
    uint32_t start, len;
    int32_t id;
} tok_seg;

/* A growable list of segments; `failed` records an allocation failure. */
typedef struct {
    tok_seg *v;
    size_t n, cap;
    int failed;
} tok_segs;

/* Appends one segment (ignored once an allocation has failed). */
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
static int encode_unigram(const geb_tok *t, const uint8_t *s, size_t n, int no_user,
                          tok_segs *out) {
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
        size_t mblen = spm_one_char_len(s[pos]);
        if (mblen > n - pos) mblen = n - pos;
        int single = 0;
        int32_t nd = t->vocab_trie.n_nodes ? 0 : -1;
        for (size_t k = pos; k < n && nd >= 0; k++) {
            nd = spm_trie_child(&t->vocab_trie, nd, s[k]);
            if (nd < 0) break;
            int32_t id = t->vocab_trie.val[nd];
            if (id < 0 || t->pieces[id].type == TOK_UNUSED) continue;
            if (no_user && t->pieces[id].type == TOK_USER_DEFINED) continue;
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
    int no_user;      /* GEB_TOK_ENC_NO_USER: user-defined pieces act as unused */
    int failed;
} bpe_state;

/* True if piece id is merged and then split back (the library's unused
 * pieces; user-defined ones too under GEB_TOK_ENC_NO_USER). */
static int bpe_unused(const bpe_state *b, int32_t id) {
    int type = b->t->pieces[id].type;
    return type == TOK_UNUSED || (b->no_user && type == TOK_USER_DEFINED);
}

/* The library's MaybeAddNewSymbolPair: queues (left, right) if their
 * concatenation is a piece in the normal map; remembers how unused pieces
 * were formed so that they can be split back afterwards. */
static void bpe_try_pair(bpe_state *b, int32_t left, int32_t right) {
    if (left < 0 || right < 0 || b->sym[left].freeze || b->sym[right].freeze) return;
    const uint8_t *p = b->s + b->sym[left].start;
    uint32_t size = b->sym[left].len + b->sym[right].len;
    int32_t id = spm_map_get(&b->t->normal_map, p, size);
    if (id < 0) return;
    bpe_pair pr = {b->t->pieces[id].score, left, right, size};
    if (heap_push(&b->heap, pr) != 0) b->failed = 1;
    if (bpe_unused(b, id) &&
        spm_map_put(&b->rev, p, size, (int32_t)b->sym[left].len) != 0)
        b->failed = 1;
}

/* The library's resegment: a final symbol that is an unused piece is split
 * back into the two symbols it was merged from, recursively (with an
 * explicit stack: merges can nest as deep as the text is long). */
static int bpe_emit(bpe_state *b, uint32_t start, uint32_t len, tok_segs *out) {
    uint32_t *stack = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        int32_t id = spm_piece_to_id(b->t, b->s + start, len);
        int32_t left = -1;
        if (id >= 0 && bpe_unused(b, id))
            left = spm_map_get(&b->rev, b->s + start, len);
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
    const char *mk = t->norm.escape_whitespaces ? SPM_SPACE : " ";
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
static int encode_bpe(const geb_tok *t, const uint8_t *s, size_t n, int no_user,
                      tok_segs *out) {
    bpe_state b = {t, s, NULL, {0}, {0}, no_user, 0};
    /* with user pieces demoted to unused, their split-back table is shared
     * and they may hold interior markers: one heap, as the library runs */
    int split_ws = t->bpe_split_ws && !(no_user && t->has_user);
    if (!n) return 0;
    b.sym = malloc(n * sizeof *b.sym);
    if (!b.sym) return -1;
    int32_t count = 0;
    for (size_t pos = 0; pos < n;) {
        size_t m = t->has_user && !no_user ? spm_trie_longest(&t->user_trie, s + pos, n - pos) : 0;
        bpe_sym *y = &b.sym[count];
        y->freeze = m > 0;
        if (!m) {
            m = spm_one_char_len(s[pos]);
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
    for (int32_t i = 1; i < count && split_ws && !b.failed; i++)
        if (bpe_segment_starts(t, s, b.sym, i)) {
            bpe_merge_run(&b, first, i - 1, out);
            first = i;
        }
    if (!b.failed) bpe_merge_run(&b, first, count - 1, out);
    free(b.sym);
    free(b.heap.v);
    spm_map_free(&b.rev);
    return b.failed || out->failed ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Encode and decode                                                */

int geb_tok_encode(const geb_tok *t, const char *text, size_t len, int32_t **ids,
                   size_t *n, geb_err *err) {
    return geb_tok_encode_ex(t, text, len, 0, ids, n, err);
}

int geb_tok_encode_ex(const geb_tok *t, const char *text, size_t len, unsigned flags,
                      int32_t **ids, size_t *n, geb_err *err) {
    tok_buf norm = {0};
    tok_segs segs = {0};
    int no_user = (flags & GEB_TOK_ENC_NO_USER) != 0;
    *ids = NULL;
    *n = 0;
    if (len > GEB_TOK_MAX_INPUT) return geb_err_set(err, "tokenizer: input too long");
    spm_normalize(t, &t->norm, !no_user, t->ws_suffix, (flags & GEB_TOK_ENC_NO_DUMMY_PREFIX) != 0,
                  (const uint8_t *)text, len, &norm);
    if (norm.failed || norm.n > 0x7FFFFFF0u) {
        free(norm.p);
        return geb_err_set(err, "tokenizer: out of memory");
    }
    int rc = t->model_type == TOK_MODEL_BPE ? encode_bpe(t, norm.p, norm.n, no_user, &segs)
                                            : encode_unigram(t, norm.p, norm.n, no_user, &segs);
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
            for (size_t i = 1; i < d->n_pend; i++) ok &= spm_is_trail(d->pend[i]);
            if (ok) return;
        }
        size_t v = spm_utf8_len(d->pend, d->n_pend);
        size_t used = v ? v : 1;
        if (v) spm_buf_add(&d->out, d->pend, v);
        else spm_buf_add(&d->out, SPM_REPLACEMENT, 3);
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
        spm_buf_add(&d->out, t->unk_surface, t->unk_surface_len);
        d->total += t->unk_surface_len;
        return;
    }
    const uint8_t *s = t->buf + t->pieces[id].off;
    size_t n = t->pieces[id].len;
    if (is_bos_ws && (t->norm.add_dummy_prefix || t->norm.remove_extra_whitespaces)) {
        if (n >= 3 && memcmp(s, SPM_SPACE, 3) == 0) {
            s += 3;
            n -= 3;
            d->bos_ws_seen = !t->norm.remove_extra_whitespaces;
        }
    }
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(s + i, SPM_SPACE, 3) == 0) {
            spm_buf_add(&d->out, " ", 1);
            d->total++;
            i += 3;
        } else {
            spm_buf_add(&d->out, s + i, 1);
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
        spm_normalize(t, &t->denorm, 0, 0, 0, text->p, text->n, &o);
        free(text->p);
        *text = o;
    }
    spm_buf_add(text, "", 0);
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
    spm_buf_add(&d->out, "", 0);
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
        else if (n > d->prefix_len) spm_buf_add(&d->out, full + d->prefix_len, n - d->prefix_len);
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

/* ------------------------------------------------------------------ */
/* A lower bound on the id count, for refusing a prompt early          */

/* With byte fallback every id covers at most the bytes of the longest
 * NORMAL or USER_DEFINED piece of the normalized text (an unknown character
 * becomes one id per byte; an UNUSED piece is split back into smaller
 * ones), so ids >= ceil(normalized bytes / longest piece).  Without byte
 * fallback a run of unknown characters of any length is one id: no bound. */
size_t geb_tok_min_ids(const geb_tok *t, const char *text, size_t len) {
    if (!t->byte_fallback || len > GEB_TOK_MAX_INPUT) return 0;
    size_t longest = 1;
    for (int i = 0; i < t->n_pieces; i++)
        if ((t->pieces[i].type == TOK_NORMAL || t->pieces[i].type == TOK_USER_DEFINED) &&
            t->pieces[i].len > longest)
            longest = t->pieces[i].len;
    tok_buf norm = {0};
    spm_normalize(t, &t->norm, 1, t->ws_suffix, 0, (const uint8_t *)text, len, &norm);
    size_t n = norm.failed ? 0 : (norm.n + longest - 1) / longest;
    free(norm.p);
    return n;
}
