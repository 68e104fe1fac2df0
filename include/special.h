/* special.h - the special tokens that ChatGLM-style Python glue appends
 * after the SentencePiece pieces, read from a model folder as data.
 *
 *   char why[GEB_SPECIAL_WHY];
 *   if (geb_special_load(tok, dir, cfg.vocab, geb_special_geb_order,
 *                        GEB_SPECIAL_GEB_N, why, sizeof why, &err))
 *       fail(err.msg);
 *   // -v: printf("special tokens: %s\n", why);
 *   int32_t gmask = geb_tok_special_id(tok, "[gMASK]");
 *
 * Sources, first that applies:
 *   1. tokenization_geb.py or tokenization_chatglm.py: the string literals of
 *      the `special_tokens = [...] (+ NAME)*` assignment, NAME being an earlier
 *      `NAME = [...]` list; ids n_pieces, n_pieces + 1, ... in list order.
 *      The file is read as data by a small lexer of Python tokens; nothing
 *      is run.
 *   2. tokenizer_config.json's added_tokens_decoder ("id": {"content": ...}).
 *   3. the default order the caller passes (ids n_pieces + i).
 * A source that is present but holds no usable list is skipped, and `why`
 * says so.
 */
#ifndef GEB_SPECIAL_H
#define GEB_SPECIAL_H

#include "json.h"
#include "tokenizer.h"

#define GEB_SPECIAL_MAX_LIST 1024      /* names in one parsed list */
#define GEB_SPECIAL_MAX_FILE (4u << 20) /* larger .py / json files are refused */
#define GEB_SPECIAL_WHY 256            /* room for the description of the source */

/* Known orders, for callers to pass as defaults: GEB-1.3B's
 * tokenization_geb.py list (its last four names are not known: called
 * <|special_6|>..<|special_9|> here), ChatGLM2's and ChatGLM3's. */
#define GEB_SPECIAL_GEB_N 10
#define GEB_SPECIAL_GLM2_N 5
#define GEB_SPECIAL_GLM3_N 9
extern const char *const geb_special_geb_order[GEB_SPECIAL_GEB_N];
extern const char *const geb_special_glm2_order[GEB_SPECIAL_GLM2_N];
extern const char *const geb_special_glm3_order[GEB_SPECIAL_GLM3_N];

/* A parsed list: names[i] (NUL-terminated, valid UTF-8) with ids[i] (-1 for
 * the positional .py list).  Owned by the list; free with
 * geb_special_list_free. */
typedef struct geb_special_list {
    char **names;
    int32_t *ids;
    size_t n;
} geb_special_list;

void geb_special_list_free(geb_special_list *l);

/* Finds the special-token list in Python source src[0..len).  Returns 1 and
 * fills out when found, 0 when the source has no `special_tokens =`
 * assignment, -1 (message in err) when it has one that is not a list of
 * plain string literals (or of names of such lists), or a literal is
 * malformed (unterminated, bad escape, not UTF-8, too long), or the list is
 * longer than GEB_SPECIAL_MAX_LIST.  Runs in time linear in len. */
int geb_special_parse_py(const char *src, size_t len, geb_special_list *out, geb_err *err);

/* Reads added_tokens_decoder from a parsed tokenizer_config.json: 1 and
 * fills out (ids ascending) when it has entries, 0 when absent or empty,
 * -1 on a malformed entry (key not a decimal id, content not a string). */
int geb_special_parse_added(const geb_json *config, geb_special_list *out, geb_err *err);

/* Fills tok's special table from dir (see the top of this file).  vocab is
 * padded_vocab_size: every id must be below it (0 = no limit).  A
 * description of what was used goes to why (why_cap bytes, may be NULL). */
int geb_special_load(geb_tok *tok, const char *dir, int32_t vocab,
                     const char *const *defaults, size_t n_defaults, char *why,
                     size_t why_cap, geb_err *err);

#endif
