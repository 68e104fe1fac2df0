/* chat.c - chat templates as data and the rule that turns a conversation
 * into prompt ids (see include/chat.h for the rule itself).
 *
 * A template is a handful of literal lists: what it writes once before the
 * first message, before and after each role's content, and to open the
 * assistant's turn.  Rendering lays the conversation out as a list of parts
 * (special-token strings, template text, message text, segment breaks);
 * the text form concatenates them, the ids come from resolving the special
 * strings and encoding the text between them. */
#include "chat.h"

#include "json.h"

#define CHAT_MAX_TEXT (1u << 28) /* the tokenizer's input limit (GEB_TOK_MAX_INPUT) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The templates                                                      */

enum {
    L_END,   /* end of a literal list */
    L_SPEC,  /* a special-token string the template writes (s, or alt) */
    L_TEXT,  /* template text, encoded as text */
    L_SHOWN, /* text form only: stands for the dummy prefix of a separate encode */
    L_BREAK, /* GLM: the text before and after are separate encodes */
    L_ROUND, /* chatglm2: s is a format with one %d, the round number */
};

typedef struct {
    unsigned char kind;
    const char *s;
    const char *alt; /* L_SPEC: another spelling to look up ("sop" / "<sop>") */
} chat_lit;

enum { ENC_LLAMA, ENC_GLM };
enum {
    F_STRIP = 1,       /* message content stripped of surrounding whitespace */
    F_ALTERNATE = 2,   /* user/assistant must alternate after the system message */
    F_SYS_IN_USER = 4, /* the system message goes inside the first user turn */
    F_WRITES_BOS = 8,  /* the template writes its own begin-of-text token */
};

struct geb_chat_template {
    const char *name;
    int enc;
    unsigned flags;
    const chat_lit *prefix;
    const chat_lit *open[3], *close[3]; /* by geb_chat_role */
    const chat_lit *gen;
    const char *stops[3];
};

#define SP(x) {L_SPEC, x, NULL}
#define TX(x) {L_TEXT, x, NULL}
#define END {L_END, NULL, NULL}

static const chat_lit kNone[] = {END};

/* ChatGLM3: [gMASK] sop, then <|role|> + encode("\n") + encode(content)
 * per message, then <|assistant|>.  The HF template writes "\n " for the
 * "\n" encode followed by the content encode: the space is the U+2581 the
 * second encode's dummy prefix adds. */
static const chat_lit kGlmPrefix[] = {SP("[gMASK]"), {L_SPEC, "sop", "<sop>"}, END};
static const chat_lit kGlm3Sys[] = {SP("<|system|>"), TX("\n"), {L_SHOWN, " ", NULL},
                                    {L_BREAK, "", NULL}, END};
static const chat_lit kGlm3User[] = {SP("<|user|>"), TX("\n"), {L_SHOWN, " ", NULL},
                                     {L_BREAK, "", NULL}, END};
static const chat_lit kGlm3Asst[] = {SP("<|assistant|>"), TX("\n"), {L_SHOWN, " ", NULL},
                                     {L_BREAK, "", NULL}, END};
static const chat_lit kGlm3End[] = {{L_BREAK, "", NULL}, END}; /* content: its own encode */
static const chat_lit kGlm3Gen[] = {SP("<|assistant|>"), END};

/* ChatGLM2: [gMASK] sop + "[Round i]\n\n问：{q}\n\n答：{a}\n\n" as one
 * text.  It has no system role: geb writes a system message as its own
 * paragraph before the first round. */
static const chat_lit kGlm2User[] = {{L_ROUND, "[Round %d]\n\n问：", NULL}, END};
static const chat_lit kGlm2UserEnd[] = {TX("\n\n答："), END};
static const chat_lit kGlm2Para[] = {TX("\n\n"), END};

/* Zephyr (TinyLlama-Chat): <|role|>\n{content}</s>\n, then <|assistant|>\n. */
static const chat_lit kZephyrSys[] = {SP("<|system|>"), TX("\n"), END};
static const chat_lit kZephyrUser[] = {SP("<|user|>"), TX("\n"), END};
static const chat_lit kZephyrAsst[] = {SP("<|assistant|>"), TX("\n"), END};
static const chat_lit kZephyrEnd[] = {SP("</s>"), TX("\n"), END};

/* Llama 2: <s>[INST] <<SYS>>\n{s}\n<</SYS>>\n\n{q} [/INST] {a} </s>... */
static const chat_lit kLlamaUser[] = {SP("<s>"), TX("[INST] "), END};
static const chat_lit kLlamaUserEnd[] = {TX(" [/INST]"), END};
static const chat_lit kLlamaSys[] = {TX("<<SYS>>\n"), END};
static const chat_lit kLlamaSysEnd[] = {TX("\n<</SYS>>\n\n"), END};
static const chat_lit kLlamaAsst[] = {TX(" "), END};
static const chat_lit kLlamaAsstEnd[] = {TX(" "), SP("</s>"), END};

/* ChatML: <|im_start|>role\n{content}<|im_end|>\n. */
static const chat_lit kMlSys[] = {SP("<|im_start|>"), TX("system\n"), END};
static const chat_lit kMlUser[] = {SP("<|im_start|>"), TX("user\n"), END};
static const chat_lit kMlAsst[] = {SP("<|im_start|>"), TX("assistant\n"), END};
static const chat_lit kMlEnd[] = {SP("<|im_end|>"), TX("\n"), END};

/* BitNet b1.58 2B4T: <|begin_of_text|>Role: {content}<|eot_id|>... */
static const chat_lit kBnPrefix[] = {SP("<|begin_of_text|>"), END};
static const chat_lit kBnSys[] = {TX("System: "), END};
static const chat_lit kBnUser[] = {TX("User: "), END};
static const chat_lit kBnAsst[] = {TX("Assistant: "), END};
static const chat_lit kBnEnd[] = {SP("<|eot_id|>"), END};

static const geb_chat_template kTemplates[] = {
    {"chatglm3", ENC_GLM, 0, kGlmPrefix,
     {kGlm3Sys, kGlm3User, kGlm3Asst}, {kGlm3End, kGlm3End, kGlm3End}, kGlm3Gen,
     {"<|user|>", "<|observation|>", NULL}},
    {"chatglm2", ENC_GLM, F_ALTERNATE, kGlmPrefix,
     {kNone, kGlm2User, kNone}, {kGlm2Para, kGlm2UserEnd, kGlm2Para}, kNone,
     {NULL}},
    {"zephyr", ENC_LLAMA, 0, kNone,
     {kZephyrSys, kZephyrUser, kZephyrAsst}, {kZephyrEnd, kZephyrEnd, kZephyrEnd}, kZephyrAsst,
     {"</s>", NULL}},
    {"llama2", ENC_LLAMA, F_STRIP | F_ALTERNATE | F_SYS_IN_USER | F_WRITES_BOS, kNone,
     {kLlamaSys, kLlamaUser, kLlamaAsst}, {kLlamaSysEnd, kLlamaUserEnd, kLlamaAsstEnd}, kNone,
     {"</s>", NULL}},
    {"chatml", ENC_LLAMA, 0, kNone,
     {kMlSys, kMlUser, kMlAsst}, {kMlEnd, kMlEnd, kMlEnd}, kMlAsst,
     {"<|im_end|>", NULL}},
    {"bitnet", ENC_LLAMA, F_STRIP | F_WRITES_BOS, kBnPrefix,
     {kBnSys, kBnUser, kBnAsst}, {kBnEnd, kBnEnd, kBnEnd}, kBnAsst,
     {"<|end_of_text|>", "<|eot_id|>", NULL}},
};
#define N_TEMPLATES (sizeof kTemplates / sizeof kTemplates[0])

const geb_chat_template *geb_chat_find(const char *name) {
    for (size_t i = 0; name && i < N_TEMPLATES; i++)
        if (strcmp(kTemplates[i].name, name) == 0) return &kTemplates[i];
    return NULL;
}

const char *geb_chat_name(const geb_chat_template *t) { return t->name; }

const char *geb_chat_names(void) { return "chatglm3, chatglm2, zephyr, llama2, chatml, bitnet"; }

/* ------------------------------------------------------------------ */
/* Choosing a template                                                */

static int has(const char *s, size_t n, const char *w) {
    size_t k = strlen(w);
    for (size_t i = 0; k <= n && i + k <= n; i++)
        if (s[i] == w[0] && memcmp(s + i, w, k) == 0) return 1;
    return 0;
}

const geb_chat_template *geb_chat_detect(const char *j, size_t n, char *why, size_t cap) {
    /* llama.cpp's order; formats geb does not build in are named so that -v
     * can say why the template was not used */
    static const struct {
        const char *a, *b, *c; /* a and (b or c) present; NULL = no condition */
        const char *name;      /* NULL = recognised but not built in */
        const char *what;
    } rules[] = {
        {"<|im_start|>", NULL, NULL, "chatml", "it writes <|im_start|>"},
        {"[gMASK]sop", NULL, NULL, "chatglm3", "it writes [gMASK]sop"},
        {"[gMASK]<sop>", NULL, NULL, NULL, "it writes [gMASK]<sop> (ChatGLM4, not built in)"},
        {"[INST]", NULL, NULL, "llama2", "it writes [INST]"},
        {"<|assistant|>", "<|end|>", NULL, NULL, "it writes <|assistant|> and <|end|> (Phi-3, not built in)"},
        {"<|user|>", "<|endoftext|>", "eos_token", "zephyr", "it writes <|user|> and an end token"},
        {"<start_of_turn>", NULL, NULL, NULL, "it writes <start_of_turn> (Gemma, not built in)"},
        {"<|start_header_id|>", NULL, NULL, NULL, "it writes <|start_header_id|> (Llama 3, not built in)"},
        {"<|eot_id|>", "Assistant:", NULL, "bitnet", "it writes <|eot_id|> and Assistant:"},
    };
    for (size_t i = 0; j && i < sizeof rules / sizeof rules[0]; i++) {
        if (!has(j, n, rules[i].a)) continue;
        if (rules[i].b && !has(j, n, rules[i].b) && !(rules[i].c && has(j, n, rules[i].c))) continue;
        if (why) snprintf(why, cap, "%s", rules[i].what);
        return rules[i].name ? geb_chat_find(rules[i].name) : NULL;
    }
    if (why) snprintf(why, cap, "no known format's markers in it");
    return NULL;
}

const char *geb_chat_glm_default(const geb_tok *tok) {
    if (tok && geb_tok_special_id(tok, "<|user|>") >= 0 && geb_tok_special_id(tok, "<|assistant|>") >= 0)
        return "chatglm3";
    return "chatglm2";
}

int geb_chat_choose(const char *name, const char *jinja, size_t jinja_len,
                    const char *family_default, geb_chat_choice *out, geb_err *err) {
    memset(out, 0, sizeof *out);
    if (name) {
        out->tmpl = geb_chat_find(name);
        if (!out->tmpl)
            return geb_err_set(err, "unknown chat template %.64s (built in: %s)", name, geb_chat_names());
        snprintf(out->why, sizeof out->why, "named by --chat-template");
        return 0;
    }
    char why[200] = "";
    if (jinja) {
        out->tmpl = geb_chat_detect(jinja, jinja_len, why, sizeof why);
        if (out->tmpl) {
            snprintf(out->why, sizeof out->why, "tokenizer_config.json chat_template: %s", why);
            return 0;
        }
    }
    out->tmpl = geb_chat_find(family_default);
    if (!out->tmpl)
        return geb_err_set(err, "no chat template: the family default %.64s is not built in",
                           family_default ? family_default : "(none)");
    if (jinja)
        snprintf(out->why, sizeof out->why, "the family default (chat_template not used: %s)", why);
    else
        snprintf(out->why, sizeof out->why, "the family default (no chat_template)");
    return 0;
}

int geb_chat_parse_config(const char *json, size_t len, char **tmpl, size_t *tlen, geb_err *err) {
    *tmpl = NULL;
    *tlen = 0;
    geb_err e;
    geb_json *root = geb_json_parse(json, len, &e);
    if (!root) return geb_err_set(err, "tokenizer_config.json: %s", e.msg);
    const geb_json *v = geb_json_get(root, "chat_template");
    const geb_json *pick = NULL;
    int rc = 0;
    if (v && v->type == GEB_JSON_STRING) {
        pick = v;
    } else if (v && v->type == GEB_JSON_ARRAY) {
        /* [{"name": "default", "template": "..."}, {"name": "tool_use", ...}] */
        for (size_t i = 0; i < v->count; i++) {
            const geb_json *nm = geb_json_get(&v->items[i], "name");
            const geb_json *tp = geb_json_get(&v->items[i], "template");
            if (nm && nm->type == GEB_JSON_STRING && strcmp(nm->str, "default") == 0 && tp &&
                tp->type == GEB_JSON_STRING)
                pick = tp;
        }
    } else if (v && v->type != GEB_JSON_NULL) {
        rc = geb_err_set(err, "tokenizer_config.json: chat_template is neither a string nor a list");
    }
    if (pick) {
        *tmpl = malloc(pick->len + 1);
        if (!*tmpl) {
            rc = geb_err_set(err, "out of memory");
        } else {
            memcpy(*tmpl, pick->str, pick->len + 1);
            *tlen = pick->len;
        }
    }
    geb_json_free(root);
    return rc;
}

int geb_chat_read_template(const char *dir, char **tmpl, size_t *tlen, geb_err *err) {
    char path[4096];
    uint8_t *data;
    size_t len;
    *tmpl = NULL;
    *tlen = 0;
    if (snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= (int)sizeof path)
        return geb_err_set(err, "model path too long");
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        if (geb_read_file(path, &data, &len, GEB_CHAT_MAX_CONFIG, err) != 0) return -1;
        int rc = geb_chat_parse_config((const char *)data, len, tmpl, tlen, err);
        free(data);
        if (rc != 0 || *tmpl) return rc;
    }
    if (snprintf(path, sizeof path, "%s/chat_template.jinja", dir) >= (int)sizeof path) return 0;
    if (!(f = fopen(path, "rb"))) return 0;
    fclose(f);
    if (geb_read_file(path, &data, &len, GEB_CHAT_MAX_CONFIG, err) != 0) return -1;
    *tmpl = (char *)data; /* NUL-terminated by geb_read_file */
    *tlen = len;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Rendering: the part list                                           */

enum { P_SPEC, P_TEXT, P_CONTENT, P_SHOWN, P_BREAK, P_ROUND };

typedef struct {
    unsigned char kind;
    const char *s; /* P_ROUND: the format */
    size_t len;
    const char *alt;
    int round;
    long msg; /* -1 before the first message, n_msgs for the opened turn */
} chat_part;

typedef struct {
    chat_part *v;
    size_t n, cap;
    int failed;
} chat_parts;

static void parts_add(chat_parts *p, chat_part x) {
    if (p->failed) return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        chat_part *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            p->failed = 1;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = x;
}

static void parts_lits(chat_parts *p, const chat_lit *l, long msg, int round) {
    static const unsigned char kind_of[] = {0, P_SPEC, P_TEXT, P_SHOWN, P_BREAK, P_ROUND};
    for (; l->kind != L_END; l++)
        parts_add(p, (chat_part){kind_of[l->kind], l->s, strlen(l->s), l->alt, round, msg});
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Python's str.strip() over the text of parts [a, b) taken as one string
 * (ASCII whitespace only): leading whitespace off the first non-empty parts,
 * trailing off the last. */
static void parts_strip(chat_parts *p, size_t a, size_t b) {
    for (size_t i = a; i < b && !p->failed; i++) {
        chat_part *x = &p->v[i];
        while (x->len && is_ws(x->s[0])) {
            x->s++;
            x->len--;
        }
        if (x->len) break;
    }
    for (size_t i = b; i-- > a && !p->failed;) {
        chat_part *x = &p->v[i];
        while (x->len && is_ws(x->s[x->len - 1])) x->len--;
        if (x->len) break;
    }
}

/* Checks the conversation against what the template accepts. */
static int check_msgs(const geb_chat_template *t, const geb_chat_msg *m, size_t n, geb_err *err) {
    if (n == 0) return geb_err_set(err, "chat: the conversation is empty");
    if (n > GEB_CHAT_MAX_MSGS) return geb_err_set(err, "chat: more than %d messages", GEB_CHAT_MAX_MSGS);
    for (size_t i = 0; i < n; i++) {
        if (m[i].role != GEB_CHAT_SYSTEM && m[i].role != GEB_CHAT_USER && m[i].role != GEB_CHAT_ASSISTANT)
            return geb_err_set(err, "chat: message %zu has no valid role", i);
        if (m[i].role == GEB_CHAT_SYSTEM && i > 0)
            return geb_err_set(err, "chat: a system message may only come first");
        if (m[i].len && !m[i].text) return geb_err_set(err, "chat: message %zu has no text", i);
    }
    if (t->flags & F_ALTERNATE) {
        size_t first = m[0].role == GEB_CHAT_SYSTEM;
        for (size_t i = first; i < n; i++)
            if ((m[i].role == GEB_CHAT_USER) != ((i - first) % 2 == 0))
                return geb_err_set(err, "chat: %s needs roles alternating user/assistant/user/...",
                                   t->name);
    }
    return 0;
}

/* Lays the conversation out as parts. */
static void build_parts(const geb_chat_template *t, const geb_chat_msg *m, size_t n, int add_gen,
                        chat_parts *p) {
    size_t start = (t->flags & F_SYS_IN_USER) && m[0].role == GEB_CHAT_SYSTEM ? 1 : 0;
    int round = 0;
    parts_lits(p, t->prefix, -1, 0);
    for (size_t i = start; i < n; i++) {
        int r = m[i].role;
        int merged = start && i == 1; /* llama2: the system goes in here */
        long owner = merged ? 0 : (long)i;
        if (r == GEB_CHAT_USER) round++;
        parts_lits(p, t->open[r], owner, round);
        size_t cs = p->n;
        if (merged) {
            parts_lits(p, t->open[GEB_CHAT_SYSTEM], 0, round);
            parts_add(p, (chat_part){P_CONTENT, m[0].text ? m[0].text : "", m[0].len, NULL, 0, 0});
            parts_lits(p, t->close[GEB_CHAT_SYSTEM], 0, round);
        }
        parts_add(p, (chat_part){P_CONTENT, m[i].text ? m[i].text : "", m[i].len, NULL, 0, (long)i});
        if (t->flags & F_STRIP) parts_strip(p, cs, p->n);
        parts_lits(p, t->close[r], (long)i, round);
    }
    if (add_gen) parts_lits(p, t->gen, (long)n, round);
}

/* ------------------------------------------------------------------ */
/* Rendering: text and ids                                            */

typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} chat_buf;

static void buf_add(chat_buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (n > CHAT_MAX_TEXT || b->n > CHAT_MAX_TEXT) {
        b->failed = 1;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *v = realloc(b->p, cap);
        if (!v) {
            b->failed = 1;
            return;
        }
        b->p = v;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* The text a part contributes (P_ROUND formatted into tmp). */
static const char *part_text(const chat_part *x, char *tmp, size_t cap, size_t *len) {
    if (x->kind == P_ROUND) {
        int k = snprintf(tmp, cap, x->s, x->round);
        *len = k > 0 && (size_t)k < cap ? (size_t)k : 0;
        return tmp;
    }
    *len = x->kind == P_BREAK ? 0 : x->len;
    return x->s;
}

/* Ids under construction, each with the message it belongs to. */
typedef struct {
    int32_t *ids;
    long *owner;
    size_t n, cap;
    int failed;
} chat_ids;

static void ids_add(chat_ids *d, const int32_t *v, size_t n, long owner) {
    if (d->failed) return;
    if (d->n + n > d->cap) {
        size_t cap = d->cap ? d->cap : 64;
        while (cap < d->n + n) cap *= 2;
        int32_t *a = realloc(d->ids, cap * sizeof *a);
        if (a) d->ids = a;
        long *o = a ? realloc(d->owner, cap * sizeof *o) : NULL;
        if (!a || !o) {
            d->failed = 1;
            return;
        }
        d->owner = o;
        d->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        d->ids[d->n + i] = v[i];
        d->owner[d->n + i] = owner;
    }
    d->n += n;
}

/* The pending text segment of the id pass. */
typedef struct {
    chat_buf text;
    long owner; /* message of its first non-empty part */
    int any_id; /* a template id has been written before it */
} chat_seg;

/* Encodes the pending segment (if it holds text) and appends its ids. */
static int seg_flush(const geb_chat_template *t, const geb_tok *tok, chat_seg *g, chat_ids *d,
                     geb_err *err) {
    if (g->text.failed) return geb_err_set(err, "chat: prompt too long or out of memory");
    if (!g->text.n) return 0;
    unsigned flags = GEB_TOK_ENC_NO_USER;
    if (t->enc == ENC_LLAMA && g->any_id) flags |= GEB_TOK_ENC_NO_DUMMY_PREFIX;
    int32_t *v;
    size_t k;
    if (geb_tok_encode_ex(tok, g->text.p, g->text.n, flags, &v, &k, err) != 0) return -1;
    ids_add(d, v, k, g->owner);
    free(v);
    g->text.n = 0;
    return 0;
}

/* The id pass over the parts. */
static int render_ids(const geb_chat_template *t, const geb_tok *tok, const chat_parts *p,
                      int add_bos, chat_ids *d, geb_err *err) {
    chat_seg g = {{0}, 0, 0};
    int rc = 0;
    if (add_bos && !(t->flags & F_WRITES_BOS) && geb_tok_bos_id(tok) >= 0) {
        int32_t bos = geb_tok_bos_id(tok);
        ids_add(d, &bos, 1, -1);
    }
    for (size_t i = 0; i < p->n && rc == 0; i++) {
        const chat_part *x = &p->v[i];
        if (x->kind == P_SHOWN) continue;
        if (x->kind == P_BREAK) {
            if (t->enc == ENC_GLM) rc = seg_flush(t, tok, &g, d, err);
            continue;
        }
        if (x->kind == P_SPEC) {
            int32_t id = geb_tok_control_id(tok, x->s, x->len);
            if (id < 0 && x->alt) id = geb_tok_control_id(tok, x->alt, strlen(x->alt));
            if (id >= 0) {
                rc = seg_flush(t, tok, &g, d, err);
                ids_add(d, &id, 1, x->msg);
                g.any_id = 1;
                continue;
            }
            /* the tokenizer has no such token: it is text */
        }
        char tmp[64];
        size_t len;
        const char *s = part_text(x, tmp, sizeof tmp, &len);
        if (len && !g.text.n) g.owner = x->msg;
        buf_add(&g.text, s, len);
    }
    if (rc == 0) rc = seg_flush(t, tok, &g, d, err);
    free(g.text.p);
    if (rc == 0 && d->failed) rc = geb_err_set(err, "chat: out of memory");
    return rc;
}

void geb_chat_prompt_free(geb_chat_prompt *p) {
    if (!p) return;
    free(p->ids);
    free(p->spans);
    free(p->text);
    memset(p, 0, sizeof *p);
}

int geb_chat_render(const geb_chat_template *t, const geb_tok *tok, const geb_chat_msg *msgs,
                    size_t n_msgs, int add_bos, int add_gen, geb_chat_prompt *out, geb_err *err) {
    memset(out, 0, sizeof *out);
    if (check_msgs(t, msgs, n_msgs, err) != 0) return -1;
    chat_parts p = {0};
    build_parts(t, msgs, n_msgs, add_gen, &p);
    if (p.failed) {
        free(p.v);
        return geb_err_set(err, "chat: out of memory");
    }
    chat_buf text = {0};
    buf_add(&text, "", 0);
    for (size_t i = 0; i < p.n; i++) {
        char tmp[64];
        size_t len;
        const chat_part *x = &p.v[i];
        const char *s = part_text(x, tmp, sizeof tmp, &len);
        /* the spelling the tokenizer has (GEB's "<sop>" for ChatGLM's "sop") */
        if (tok && x->kind == P_SPEC && x->alt && geb_tok_control_id(tok, x->s, x->len) < 0 &&
            geb_tok_control_id(tok, x->alt, strlen(x->alt)) >= 0) {
            s = x->alt;
            len = strlen(x->alt);
        }
        buf_add(&text, s, len);
    }
    chat_ids d = {0};
    int rc = text.failed ? geb_err_set(err, "chat: prompt too long or out of memory") : 0;
    if (rc == 0 && tok) rc = render_ids(t, tok, &p, add_bos, &d, err);
    free(p.v);
    out->spans = rc == 0 ? calloc(n_msgs, sizeof *out->spans) : NULL;
    if (rc == 0 && !out->spans) rc = geb_err_set(err, "chat: out of memory");
    if (rc != 0) {
        free(text.p);
        free(d.ids);
        free(d.owner);
        free(out->spans);
        memset(out, 0, sizeof *out);
        return -1;
    }
    /* owners never decrease along the ids, so each message's ids are one run */
    size_t k = 0;
    for (size_t i = 0; i < n_msgs; i++) {
        while (k < d.n && d.owner[k] < (long)i) k++;
        out->spans[i].begin = k;
        while (k < d.n && d.owner[k] == (long)i) k++;
        out->spans[i].end = k;
    }
    while (k < d.n && d.owner[k] < (long)n_msgs) k++;
    out->gen_begin = k;
    free(d.owner);
    out->ids = d.ids;
    out->n = d.n;
    out->n_msgs = n_msgs;
    out->text = text.p;
    out->text_len = text.n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Replies                                                            */

int geb_chat_stop_ids(const geb_chat_template *t, const geb_tok *tok, int32_t extra_eos,
                      int32_t *out) {
    int32_t cand[2 + 3];
    int nc = 0, n = 0;
    cand[nc++] = geb_tok_eos_id(tok);
    cand[nc++] = extra_eos;
    for (int i = 0; i < 3 && t->stops[i]; i++)
        cand[nc++] = geb_tok_control_id(tok, t->stops[i], strlen(t->stops[i]));
    for (int i = 0; i < nc; i++) {
        int dup = cand[i] < 0;
        for (int j = 0; j < n && !dup; j++) dup = out[j] == cand[i];
        if (!dup && n < GEB_CHAT_MAX_STOP) out[n++] = cand[i];
    }
    return n;
}

size_t geb_chat_common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

const char *geb_chat_trim_push(geb_chat_trim *tr, const char *s, size_t len, size_t *out_len) {
    size_t i = 0;
    if (!tr->started) {
        while (i < len && is_ws(s[i])) i++;
        if (i < len) tr->started = 1;
    }
    *out_len = len - i;
    return s + i;
}
