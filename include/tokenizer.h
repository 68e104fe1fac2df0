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
 * to the empty string.
 */
#ifndef GEB_TOKENIZER_H
#define GEB_TOKENIZER_H

#include "common.h"

typedef struct geb_tok geb_tok;

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

/* The piece string of id (e.g. "▁the", "<0x0A>"), or "" for ids outside
 * the piece table. */
const char *geb_tok_piece(const geb_tok *tok, int32_t id);

/* Encodes len bytes of text exactly as sentencepiece's EncodeAsIds (no BOS
 * or EOS added).  *ids is malloc'd (caller frees), even when *n is 0. */
int geb_tok_encode(const geb_tok *tok, const char *text, size_t len,
                   int32_t **ids, size_t *n, geb_err *err);

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
