/* tokenizer.h - SentencePiece (unigram and BPE) with exact library parity,
 * read straight from a serialized sentencepiece.ModelProto (.model file).
 *
 *   geb_tok *tok;
 *   if (geb_tok_load(&tok, "dir/tokenizer.model", &err) != 0) fail(err.msg);
 *   int32_t *ids; size_t n;
 *   geb_tok_encode(tok, text, strlen(text), &ids, &n, &err);
 *   char *s = geb_tok_decode(tok, ids, n, NULL);
 *   free(ids); free(s); geb_tok_free(tok);
 *
 * Ids at or above geb_tok_n_pieces() (the special tokens that ChatGLM-style
 * glue appends up to padded_vocab_size) are accepted everywhere and decode
 * to the empty string.  Their names live in a special-token table that the
 * caller fills (geb_tok_add_special, or geb_special_load in special.h);
 * geb_tok_piece shows those names, decoding still gives nothing for them.
 */
#ifndef GEB_TOKENIZER_H
#define GEB_TOKENIZER_H

#include "common.h"

typedef struct geb_tok geb_tok;

#define GEB_TOK_MAX_SPECIAL 4096     /* entries in the special-token table */
#define GEB_TOK_MAX_SPECIAL_NAME 256 /* bytes of one special-token name */

int geb_tok_load(geb_tok **out, const char *path, geb_err *err);
/* The buffer is copied; it may be freed after the call. */
int geb_tok_load_buffer(geb_tok **out, const uint8_t *buf, size_t len, geb_err *err);
void geb_tok_free(geb_tok *tok);

int geb_tok_n_pieces(const geb_tok *tok);
/* bos/eos are the CONTROL pieces named by the trainer spec's bos_piece /
 * eos_piece ("<s>", "</s>"), as the library's bos_id()/eos_id(); special
 * tokens appended by Python glue (ids >= geb_tok_n_pieces) are unknown here. */
int geb_tok_bos_id(const geb_tok *tok); /* -1 if the model has none */
int geb_tok_eos_id(const geb_tok *tok); /* -1 if the model has none */
int geb_tok_unk_id(const geb_tok *tok);

/* The piece string of id (e.g. "▁the", "<0x0A>"), the special-token name
 * for a special id outside the piece table (e.g. "[gMASK]"), or "" for
 * other ids outside the piece table. */
const char *geb_tok_piece(const geb_tok *tok, int32_t id);

/* Encodes len bytes of text exactly as sentencepiece's EncodeAsIds (no BOS
 * or EOS added).  *ids is malloc'd (caller frees), even when *n is 0. */
int geb_tok_encode(const geb_tok *tok, const char *text, size_t len,
                   int32_t **ids, size_t *n, geb_err *err);

/* Flags of geb_tok_encode_ex (0 = geb_tok_encode). */
enum {
    /* As if the model's add_dummy_prefix were false: no U+2581 is added
     * in front (or behind, for treat_whitespace_as_suffix); everything else,
     * including remove_extra_whitespaces, as the model says.  For a text
     * segment that continues a prompt after a special token (transformers'
     * legacy=false Llama behaviour). */
    GEB_TOK_ENC_NO_DUMMY_PREFIX = 1,
    /* User-defined pieces are never matched in the text: they act as the
     * library's unused pieces (skipped by unigram, merged then split back
     * by BPE), so text typed by a user cannot produce them.  Equal to the
     * library run on the model with every USER_DEFINED piece retyped as
     * UNUSED. */
    GEB_TOK_ENC_NO_USER = 2,
};
int geb_tok_encode_ex(const geb_tok *tok, const char *text, size_t len, unsigned flags,
                      int32_t **ids, size_t *n, geb_err *err);

/* Special-token table.  geb_tok_add_special records (id, name); the name is
 * copied (1..GEB_TOK_MAX_SPECIAL_NAME bytes, no NUL); an id or a name given
 * twice, a negative id or a full table is refused.  Ids inside the piece
 * table may be recorded too (added_tokens_decoder lists <s>, </s>...):
 * they keep their piece string in geb_tok_piece. */
int geb_tok_add_special(geb_tok *tok, int32_t id, const char *name, geb_err *err);
/* The id of the special token named name (exact bytes), -1 if absent. */
int32_t geb_tok_special_id(const geb_tok *tok, const char *name);
/* True if id is in the special-token table. */
int geb_tok_is_special(const geb_tok *tok, int32_t id);
/* The name of special id, or NULL if id is not in the table. */
const char *geb_tok_special_name(const geb_tok *tok, int32_t id);
/* Entries in the table; geb_tok_special_at gives the i-th (in the order
 * added) as its id, with its name in *name. */
int geb_tok_n_special(const geb_tok *tok);
int32_t geb_tok_special_at(const geb_tok *tok, int i, const char **name);
/* The id a template string such as "<s>" or "<|user|>" stands for: the
 * special-token table first, then a CONTROL or USER_DEFINED piece of that
 * exact string; -1 if neither. */
int32_t geb_tok_control_id(const geb_tok *tok, const char *s, size_t len);

/* A number of ids that geb_tok_encode(text) certainly reaches, found with
 * one normalization pass (a few bytes of memory per text byte instead of
 * encode's tens): ceil(normalized bytes / the longest piece's bytes) for
 * models with byte fallback, 0 (no bound) for the others, whose runs of
 * unknown characters become one id whatever their length. */
size_t geb_tok_min_ids(const geb_tok *tok, const char *text, size_t len);

/* Decodes exactly as sentencepiece's DecodeIds.  Returns a malloc'd
 * NUL-terminated string (NULL only when out of memory); its length goes to
 * *len if len is not NULL. */
char *geb_tok_decode(const geb_tok *tok, const int32_t *ids, size_t n, size_t *len);

/* Streaming decoder: emits the text of (prefix ids + pushed ids) minus the
 * text of the prefix ids, piece by piece, never splitting a UTF-8 sequence.
 * After geb_tok_stream_finish, everything emitted concatenated equals
 * decode(prefix + pushed) with decode(prefix) removed from its front
 * (provided the prefix does not end inside a character spelled in byte
 * pieces).  For the rare model with a denormalizer, which rewrites the whole
 * text, every byte comes out at finish. */
typedef struct geb_tok_stream geb_tok_stream;
geb_tok_stream *geb_tok_stream_new(const geb_tok *tok, const int32_t *prefix, size_t n);
/* Pushes one id; returns the bytes now safe to print (pointer valid until the
 * next call on this stream) and their count in *len. */
const char *geb_tok_stream_push(geb_tok_stream *s, int32_t id, size_t *len);
/* Returns whatever is still held back (e.g. an incomplete byte sequence, as
 * the library would decode it). */
const char *geb_tok_stream_finish(geb_tok_stream *s, size_t *len);
void geb_tok_stream_free(geb_tok_stream *s);

#endif
