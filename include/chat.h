/* chat.h - chat templates as data, and a conversation turned into prompt ids
 * (no forward pass here).
 *
 *   // which template: --chat-template NAME, else tokenizer_config.json's
 *   // chat_template, else the family default
 *   char *jinja = NULL; size_t jlen = 0;
 *   geb_chat_read_template(dir, &jinja, &jlen, &err);         // NULL if none
 *   const char *fam = geb_chat_glm_default(tok);               // GEB/ChatGLM family
 *   geb_chat_choice ch;
 *   if (geb_chat_choose(opt_name, jinja, jlen, fam, &ch, &err)) fail(err.msg);
 *   // -v: fprintf(stderr, "chat template: %s (%s)\n", geb_chat_name(ch.tmpl), ch.why);
 *
 *   geb_chat_msg msgs[] = {{GEB_CHAT_SYSTEM, sys, strlen(sys)},
 *                          {GEB_CHAT_USER, q, strlen(q)}};
 *   geb_chat_prompt p;
 *   if (geb_chat_render(ch.tmpl, tok, msgs, 2, add_bos, 1, &p, &err)) fail(err.msg);
 *   // p.ids[0..p.n): the prompt; p.spans[i]: the ids of msgs[i];
 *   // p.text: the same prompt as the template's text
 *   int32_t stop[GEB_CHAT_MAX_STOP];
 *   int n_stop = geb_chat_stop_ids(ch.tmpl, tok, cfg.eos_id, stop);
 *   geb_chat_prompt_free(&p);
 *
 * How the prompt becomes ids: the template's own special-token strings
 * ("<|user|>", "</s>", "[gMASK]"...) become the id geb_tok_control_id gives
 * (the special-token table, else a CONTROL or USER_DEFINED piece), or stay
 * text when the tokenizer has no such token; all other text is encoded by
 * SentencePiece with GEB_TOK_ENC_NO_USER.  Llama-style templates (zephyr,
 * llama2, chatml, bitnet) encode each run of text between two ids as one
 * segment, and only a segment with no template id before it gets the dummy
 * prefix (transformers' legacy=false).  GLM templates encode each piece of
 * text separately with its own dummy prefix (chatglm3: "\n" and the content
 * are two encodes; chatglm2: the whole round text is one).  Messages are
 * never scanned for special-token strings: a user who types "</s>" gets
 * those characters as text.
 *
 * Keeping the KV cache between turns: render the whole conversation each
 * turn and evaluate from geb_chat_common_prefix(cached ids, new ids).  For
 * chatglm3 a later turn's prompt extends the earlier prompt token for token
 * (every message starts with a role id and is encoded on its own).  For the
 * llama-style templates it holds unless SentencePiece merges across the
 * boundary of the opened assistant turn (a text segment continues into the
 * reply: zephyr "\n"+reply, chatml "assistant\n"+reply, llama2 " [/INST]"
 * + " " + reply); chatglm2 puts the whole history in one encode, so its
 * round text may re-tokenize at the boundary.  Measured on the project's five
 * test tokenizers (3 turns each): every format extended except bitnet, whose
 * opened turn ends in "Assistant: " and the space joins the reply's first
 * word (2 of 3 turns re-tokenized on geb-tiny and on the Llama-style one).
 * In every format the reply is re-encoded from its text, which need not
 * equal the ids the model sampled: keep the common prefix, never assume.
 */
#ifndef GEB_CHAT_H
#define GEB_CHAT_H

#include "tokenizer.h"

#define GEB_CHAT_MAX_STOP 8    /* stop ids of one template, at most */
#define GEB_CHAT_MAX_MSGS 4096 /* messages in one conversation */
#define GEB_CHAT_MAX_CONFIG (16u << 20) /* larger tokenizer_config.json is refused */

typedef enum geb_chat_role {
    GEB_CHAT_SYSTEM,
    GEB_CHAT_USER,
    GEB_CHAT_ASSISTANT,
} geb_chat_role;

typedef struct geb_chat_msg {
    geb_chat_role role;
    const char *text; /* UTF-8, not NUL-terminated necessarily */
    size_t len;
} geb_chat_msg;

typedef struct geb_chat_template geb_chat_template;

/* The built-in template named name ("chatglm3", "chatglm2", "zephyr",
 * "llama2", "chatml", "bitnet"), NULL if none. */
const geb_chat_template *geb_chat_find(const char *name);
const char *geb_chat_name(const geb_chat_template *t);
/* "chatglm3, chatglm2, zephyr, llama2, chatml, bitnet" (for messages). */
const char *geb_chat_names(void);

/* Recognises a Jinja chat_template by the substrings that identify each
 * format (as llama.cpp does; no Jinja is parsed).  Returns NULL when none
 * matches; why (may be NULL) gets the evidence or the reason. */
const geb_chat_template *geb_chat_detect(const char *jinja, size_t len, char *why, size_t cap);

/* The GEB/ChatGLM family default: "chatglm3" when the tokenizer's special
 * table names <|user|> and <|assistant|>, else "chatglm2" (which needs only
 * [gMASK] and sop). */
const char *geb_chat_glm_default(const geb_tok *tok);

typedef struct geb_chat_choice {
    const geb_chat_template *tmpl;
    char why[256]; /* how it was chosen, for -v */
} geb_chat_choice;

/* Picks the template: name if not NULL (unknown names are refused), else
 * the detected jinja (if not NULL), else family_default. */
int geb_chat_choose(const char *name, const char *jinja, size_t jinja_len,
                    const char *family_default, geb_chat_choice *out, geb_err *err);

/* chat_template of a tokenizer_config.json text: *tmpl gets a malloc'd
 * NUL-terminated copy (length in *len), or NULL when the key is absent.
 * A list of named templates (newer transformers) gives the one named
 * "default".  -1 on malformed JSON or a chat_template of another type. */
int geb_chat_parse_config(const char *json, size_t len, char **tmpl, size_t *tlen, geb_err *err);
/* Reads dir/tokenizer_config.json (absent file: *tmpl NULL, returns 0),
 * then dir/chat_template.jinja if the JSON has none. */
int geb_chat_read_template(const char *dir, char **tmpl, size_t *tlen, geb_err *err);

/* [begin, end) of ids. */
typedef struct geb_chat_span {
    size_t begin, end;
} geb_chat_span;

typedef struct geb_chat_prompt {
    int32_t *ids;          /* the prompt, n ids */
    size_t n;
    geb_chat_span *spans;  /* one per message: the ids its markup and text gave
                              (a text segment shared by two messages counts for
                              the one it starts in) */
    size_t n_msgs;
    size_t gen_begin;      /* ids from here open the assistant turn (n if not opened) */
    char *text;            /* the template's text form, NUL-terminated (a
                              special with two spellings, sop / <sop>, in
                              the one the tokenizer has) */
    size_t text_len;
} geb_chat_prompt;

/* Renders msgs (a system message only first; llama2 and chatglm2 need
 * user/assistant alternating after it) into ids and text.  add_bos: the
 * family's rule (the tokenizer's BOS id first unless the template writes
 * it; it is not part of the text form).  add_gen: open the assistant's turn.
 * tok may be NULL: then only the text is made (ids NULL, n 0).  On error
 * *out is empty. */
int geb_chat_render(const geb_chat_template *t, const geb_tok *tok, const geb_chat_msg *msgs,
                    size_t n_msgs, int add_bos, int add_gen, geb_chat_prompt *out, geb_err *err);
void geb_chat_prompt_free(geb_chat_prompt *p);

/* Ids that end a reply: the tokenizer's eos, extra_eos (config.json's
 * eos_token_id, -1 for none) and the template's own stop tokens that the
 * tokenizer has (chatglm3: <|user|> <|observation|>; chatml: <|im_end|>;
 * bitnet: <|end_of_text|> <|eot_id|>).  Writes at most GEB_CHAT_MAX_STOP
 * distinct ids to out and returns their count. */
int geb_chat_stop_ids(const geb_chat_template *t, const geb_tok *tok, int32_t extra_eos,
                      int32_t *out);

/* Length of the common prefix of two id lists (how much of a cached prompt
 * a new prompt may keep). */
size_t geb_chat_common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb);

/* Streaming trim of the whitespace every built-in format puts before a
 * reply (chatglm3's "\n", llama2's " "): text passes through once the first
 * other character has been seen.  Zero-initialise the struct per reply. */
typedef struct geb_chat_trim {
    int started;
} geb_chat_trim;
/* Returns the part of s[0..len) to print and its length in *out_len. */
const char *geb_chat_trim_push(geb_chat_trim *tr, const char *s, size_t len, size_t *out_len);

#endif
