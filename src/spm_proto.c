/* spm_proto.c - reads a serialized sentencepiece.ModelProto with a minimal
 * protobuf decoder of our own (varints, length-delimited fields, fixed32
 * floats; unknown fields skipped; groups refused; every length checked
 * against the buffer) and builds the tables the tokenizer needs.
 *
 * Field numbers relied on (sentencepiece_model.proto, proto2):
 *   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec,
 *                   3 normalizer_spec, 5 denormalizer_spec (4 self_test_data
 *                   is skipped)
 *   SentencePiece   1 piece (string), 2 score (float, fixed32),
 *                   3 type (enum: 1 NORMAL, 2 UNKNOWN, 3 CONTROL,
 *                   4 USER_DEFINED, 5 UNUSED, 6 BYTE; default NORMAL)
 *   TrainerSpec     3 model_type (1 UNIGRAM default, 2 BPE), 24
 *                   treat_whitespace_as_suffix, 35 byte_fallback, 44
 *                   unk_surface (default " \u2047 "), 46 bos_piece ("<s>"),
 *                   47 eos_piece ("</s>")
 *   NormalizerSpec  2 precompiled_charsmap, 3 add_dummy_prefix, 4
 *                   remove_extra_whitespaces, 5 escape_whitespaces (all
 *                   three default true)
 * Training-only fields (vocab_size 4, split_by_whitespace 22, split_digits
 * 25, max_sentencepiece_length 20, unk/bos/eos/pad_id 40-43, ...) do not
 * change how a trained model encodes, so they are not read. */
#include "spm_internal.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over one protobuf message: [p, end). */
typedef struct {
    const uint8_t *p, *end;
} pb_reader;

/* One decoded field. */
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
    if (spm_map_get(m, s, p->len) >= 0)
        return geb_err_set(err, "tokenizer: piece %d is already defined", i);
    if (spm_map_put(m, s, p->len, i) != 0) return geb_err_set(err, "tokenizer: out of memory");
    if (p->type == TOK_USER_DEFINED) {
        if (spm_trie_insert(&t->user_trie, s, p->len, i) != 0)
            return geb_err_set(err, "tokenizer: out of memory");
        t->has_user = 1;
    }
    if (normal && t->model_type == TOK_MODEL_UNIGRAM &&
        spm_trie_insert(&t->vocab_trie, s, p->len, i) != 0)
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
int32_t spm_piece_to_id(const geb_tok *t, const uint8_t *s, size_t n) {
    int32_t id = spm_map_get(&t->reserved_map, s, n);
    if (id >= 0) return id;
    id = spm_map_get(&t->normal_map, s, n);
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
    int32_t id = spm_piece_to_id(t, (const uint8_t *)s, strlen(s));
    return id >= 0 && t->pieces[id].type == TOK_CONTROL ? id : -1;
}

/* True if no NORMAL piece holds the whitespace marker except at its start
 * (its end when ws_suffix) and none is unused: then BPE merges never cross
 * a marker and encode_bpe may merge each whitespace-delimited run alone.
 * USER_DEFINED pieces do not count: merges never produce them, since any
 * place where one occurs at a symbol start is already a frozen symbol. */
static int bpe_can_split(const geb_tok *t) {
    const char *mk = t->norm.escape_whitespaces ? SPM_SPACE : " ";
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
        t->decode_id[i] = spm_piece_to_id(t, s, p->len);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        static const char hex[] = "0123456789ABCDEF";
        memcpy(name, "<0x", 3);
        name[3] = hex[b >> 4];
        name[4] = hex[b & 15];
        name[5] = '>';
        t->byte_id[b] = spm_piece_to_id(t, (const uint8_t *)name, 6);
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
    if (spm_map_init(&t->normal_map, count) != 0 || spm_map_init(&t->reserved_map, 16) != 0)
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
    spm_map_free(&t->normal_map);
    spm_map_free(&t->reserved_map);
    spm_trie_free(&t->vocab_trie);
    spm_trie_free(&t->user_trie);
    free(t->norm.cm.units);
    free(t->denorm.cm.units);
    free(t->pieces);
    free(t->strs);
    free(t->str_off);
    free(t->piece_byte);
    free(t->decode_id);
    for (size_t i = 0; i < t->n_special; i++) free(t->special[i].name);
    free(t->special);
    free(t->buf);
    free(t);
}

int geb_tok_n_pieces(const geb_tok *t) { return t->n_pieces; }
int geb_tok_bos_id(const geb_tok *t) { return t->bos_id; }
int geb_tok_eos_id(const geb_tok *t) { return t->eos_id; }
int geb_tok_unk_id(const geb_tok *t) { return t->unk_id; }

const char *geb_tok_piece(const geb_tok *t, int32_t id) {
    if (id < 0 || id >= t->n_pieces) {
        const char *name = geb_tok_special_name(t, id);
        return name ? name : "";
    }
    return t->strs + t->str_off[id];
}
