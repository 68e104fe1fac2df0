/* spm_internal.h - private to the tokenizer (src/tokenizer.c, spm_*.c):
 * the model struct and the helpers the SentencePiece files share.
 *
 *   spm_util.c   growable buffer, the library's UTF-8 rules, string map, trie
 *   spm_proto.c  ModelProto reader: pieces, trainer and normalizer specs
 *   spm_norm.c   normalizer: precompiled charsmap + whitespace rules
 *   tokenizer.c  BPE and unigram segmenters, encode, decode, streaming
 */
#ifndef GEB_SPM_INTERNAL_H
#define GEB_SPM_INTERNAL_H

#include "tokenizer.h"

#define GEB_TOK_MAX_FILE (1u << 30)   /* refuse bigger .model files */
#define GEB_TOK_MAX_INPUT (1u << 28)  /* longest text encode accepts (bytes) */
#define GEB_TOK_MAX_PIECES (1 << 24)  /* more pieces than this is not a real model */

#define SPM_SPACE "\xe2\x96\x81"       /* U+2581, the escaped space, 3 bytes */
#define SPM_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, 3 bytes */

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

/* A growable byte buffer; on allocation failure `failed` is set and later
 * appends are ignored, so callers check once at the end. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    int failed;
} tok_buf;

/* Open-addressing map from a byte string to an int32 value.  Keys are not
 * copied: they must outlive the map. */
typedef struct {
    const uint8_t **key;
    uint32_t *klen;
    int32_t *val;
    size_t cap, n; /* cap is a power of two, or 0 */
} tok_map;

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

/* A special token of the Python glue (or of tokenizer_config.json): its id
 * (usually past the piece table) and its name, NUL-terminated. */
typedef struct {
    int32_t id;
    char *name;
} tok_special;

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
    tok_special *special;       /* special-token table (src/special.c) */
    size_t n_special, cap_special;
};

/* spm_util.c */
int spm_buf_reserve(tok_buf *b, size_t more);
void spm_buf_add(tok_buf *b, const void *s, size_t n);
size_t spm_one_char_len(uint8_t c);
int spm_is_trail(uint8_t c);
size_t spm_utf8_len(const uint8_t *s, size_t len);
void spm_map_free(tok_map *m);
int spm_map_init(tok_map *m, size_t n);
int32_t spm_map_get(const tok_map *m, const uint8_t *s, size_t n);
int spm_map_put(tok_map *m, const uint8_t *s, size_t n, int32_t v);
void spm_trie_free(tok_trie *t);
int32_t spm_trie_child(const tok_trie *t, int32_t node, uint8_t c);
int spm_trie_insert(tok_trie *t, const uint8_t *s, size_t n, int32_t v);
size_t spm_trie_longest(const tok_trie *t, const uint8_t *s, size_t n);

/* spm_proto.c */
int32_t spm_piece_to_id(const geb_tok *t, const uint8_t *s, size_t n);

/* spm_norm.c */
void spm_normalize(const geb_tok *t, const tok_norm *ns, int use_user, int ws_suffix,
                   int no_dummy, const uint8_t *s, size_t n, tok_buf *o);

#endif
