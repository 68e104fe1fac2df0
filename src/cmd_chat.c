/* cmd_chat.c - chat: `geb run --chat` (one turn), `geb tokenize --chat`
 * (the prompt's ids) and the interactive `geb chat`.
 *
 * A conversation is a list of messages rendered by the model's own template
 * (chat.h) into prompt ids.  Between turns the KV cache keeps what it holds:
 * each turn renders the whole conversation again and evaluates only the ids
 * after the common prefix of the cached ids and the new prompt.  When the
 * context fills, the oldest turns go (the system prompt stays) and the
 * conversation is evaluated again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "cli.h"

#define MAX_TURN_TEXT (1u << 20) /* one typed message, at most */

/* ---- the template -------------------------------------------------------- */

/* --chat-template, else tokenizer_config.json's chat_template, else the
 * family's default (GLM: chatglm3 when the special table names the role
 * tokens, else chatglm2). */
static int choose_template(const geb_opts *o, const char *dir, const geb_tok *tok,
                           const geb_config *c, geb_chat_choice *ch, geb_err *err) {
    char *jinja = NULL;
    size_t jlen = 0;
    if (!o->chat_template && geb_chat_read_template(dir, &jinja, &jlen, err)) return -1;
    const char *fam = strcmp(c->arch->dialect, "glm") == 0 ? geb_chat_glm_default(tok)
                                                            : c->arch->chat_template;
    int rc = geb_chat_choose(o->chat_template, jinja, jlen, fam, ch, err);
    free(jinja);
    return rc;
}

/* ---- a conversation ------------------------------------------------------ */

typedef struct convo {
    geb_chat_msg msgs[GEB_CHAT_MAX_MSGS];
    char *owned[GEB_CHAT_MAX_MSGS]; /* copies of the texts */
    size_t n;
} convo;

static int convo_add(convo *cv, geb_chat_role role, const char *text, size_t len, geb_err *err) {
    if (cv->n == GEB_CHAT_MAX_MSGS) return geb_err_set(err, "the conversation is too long");
    char *copy = malloc(len + 1);
    if (!copy) return geb_err_set(err, "out of memory");
    memcpy(copy, text, len);
    copy[len] = 0;
    cv->owned[cv->n] = copy;
    cv->msgs[cv->n++] = (geb_chat_msg){role, copy, len};
    return 0;
}

/* Drops message i (and moves the rest down). */
static void convo_drop(convo *cv, size_t i) {
    free(cv->owned[i]);
    memmove(cv->owned + i, cv->owned + i + 1, sizeof cv->owned[0] * (cv->n - i - 1));
    memmove(cv->msgs + i, cv->msgs + i + 1, sizeof cv->msgs[0] * (cv->n - i - 1));
    cv->n--;
}

static void convo_clear(convo *cv, int keep_system) {
    size_t keep = keep_system && cv->n && cv->msgs[0].role == GEB_CHAT_SYSTEM;
    while (cv->n > keep) convo_drop(cv, cv->n - 1);
}

/* ---- one reply ----------------------------------------------------------- */

typedef struct chat_state {
    const geb_opts *o;
    geb_session s;
    geb_chat_choice ch;
    geb_gen_params gp;
    geb_kv *kv;
    int32_t *ids;      /* this turn: the prompt, then the reply (room for the context) */
    int32_t *cached;   /* the ids whose keys and values kv holds */
    size_t n_cached;
    convo cv;
    char *reply;       /* the reply's text as printed */
    size_t reply_len, reply_cap;
    geb_chat_trim trim;
} chat_state;

/* Streams the reply (its leading whitespace trimmed) and keeps its text. */
static int emit_reply(void *ud, const char *s, size_t n) {
    chat_state *cs = ud;
    size_t k;
    const char *t = geb_chat_trim_push(&cs->trim, s, n, &k);
    if (cs->reply_len + k + 1 > cs->reply_cap) {
        size_t cap = (cs->reply_len + k + 1) * 2;
        char *b = realloc(cs->reply, cap);
        if (!b) return -1;
        cs->reply = b, cs->reply_cap = cap;
    }
    memcpy(cs->reply + cs->reply_len, t, k);
    cs->reply_len += k;
    return geb_out_write(t, k);
}

/* Renders the conversation with the assistant's turn opened into cs->ids;
 * drops the oldest turns (never the system prompt) while the prompt and a
 * reply of `reserve` tokens would not fit the context. */
static int render_fitting(chat_state *cs, size_t *n, int reserve, geb_err *err) {
    const geb_config *c = geb_model_config(cs->s.model);
    size_t n_ctx = (size_t)cs->kv->n_ctx, first = cs->cv.n && cs->cv.msgs[0].role == GEB_CHAT_SYSTEM;
    for (int dropped = 0;;) {
        geb_chat_prompt p;
        if (geb_chat_render(cs->ch.tmpl, cs->s.tok, cs->cv.msgs, cs->cv.n, c->add_bos, 1, &p, err))
            return -1;
        if (p.n + (size_t)reserve <= n_ctx || cs->cv.n - first <= 1) {
            int ok = p.n < n_ctx;
            if (ok) memcpy(cs->ids, p.ids, sizeof *p.ids * p.n), *n = p.n;
            else geb_err_set(err, "the prompt is %zu tokens but the context holds %zu (use -c)", p.n, n_ctx);
            geb_chat_prompt_free(&p);
            if (ok && dropped)
                fprintf(stderr, "geb: the context of %zu tokens is full: the %d oldest message(s) "
                                "were dropped and the conversation is evaluated again\n", n_ctx, dropped);
            return ok ? 0 : -1;
        }
        geb_chat_prompt_free(&p);
        /* The oldest user message and the reply after it go together, so the
         * conversation keeps alternating. */
        convo_drop(&cs->cv, first), dropped++;
        if (cs->cv.n > first + 1 && cs->cv.msgs[first].role == GEB_CHAT_ASSISTANT)
            convo_drop(&cs->cv, first), dropped++;
    }
}

/* One user turn: render, evaluate what the cache lacks, stream the reply and
 * add it to the conversation.  Sets *end to how generation ended. */
static int chat_turn(chat_state *cs, const char *text, size_t len, geb_gen_end *end, geb_err *err) {
    if (convo_add(&cs->cv, GEB_CHAT_USER, text, len, err)) return -1;
    int reserve = cs->o->n_predict > 0 ? cs->o->n_predict : cs->kv->n_ctx / 4;
    size_t n;
    if (render_fitting(cs, &n, reserve, err)) {
        convo_drop(&cs->cv, cs->cv.n - 1);
        return -1;
    }
    size_t keep = geb_chat_common_prefix(cs->cached, cs->n_cached, cs->ids, n);
    cs->reply_len = 0;
    memset(&cs->trim, 0, sizeof cs->trim);
    geb_gen_stats st;
    if (geb_generate(cs->s.model, cs->kv, cs->s.tok, cs->ids, (int)n, (int)keep, &cs->gp, emit_reply,
                     cs, &st, err))
        return -1;
    *end = st.end;
    /* The cache now holds the prompt and every reply token but the last
     * one sampled (which was never evaluated); a prompt cut short by Ctrl-C
     * leaves only what was cached before. */
    cs->n_cached = st.prefilled ? n + (size_t)st.n_eval : keep;
    memcpy(cs->cached, cs->ids, sizeof *cs->ids * cs->n_cached);
    static const char *const ends[] = {"limit", "stop id", "stop string", "context full",
                                       "interrupted", "output closed"};
    if (cs->o->verbose)
        fprintf(stderr, "geb: turn: %d prompt tokens evaluated (%zu cached), %d generated, "
                        "%.2f tokens/s, ended by %s\n", st.n_prompt_eval, n - (size_t)st.n_prompt_eval,
                st.n_gen, st.tg_ms > 0 ? 1e3 * st.n_eval / st.tg_ms : 0.0, ends[st.end]);
    return convo_add(&cs->cv, GEB_CHAT_ASSISTANT, cs->reply ? cs->reply : "", cs->reply_len, err);
}

/* ---- setup --------------------------------------------------------------- */

static void chat_free(chat_state *cs) {
    convo_clear(&cs->cv, 0);
    free(cs->reply);
    free(cs->ids);
    free(cs->cached);
    geb_kv_free(cs->kv);
    geb_session_free(&cs->s);
}

/* Loads the model, picks the template, prepares sampling and stop ids. */
static int chat_init(chat_state *cs, const geb_opts *o, geb_err *err) {
    memset(cs, 0, sizeof *cs);
    cs->o = o;
    if (geb_session_load(&cs->s, o, o->n_ctx, err)) return -1;
    const geb_config *c = geb_model_config(cs->s.model);
    int n_ctx = geb_model_n_ctx(cs->s.model);
    if (choose_template(o, cs->s.dir, cs->s.tok, c, &cs->ch, err)) return -1;
    if (!(cs->kv = geb_model_kv_new(cs->s.model, n_ctx, err))) return -1;
    cs->ids = malloc(sizeof *cs->ids * n_ctx);
    cs->cached = malloc(sizeof *cs->cached * n_ctx);
    if (!cs->ids || !cs->cached) return geb_err_set(err, "out of memory");
    geb_cli_gen_params(o, &cs->s, &cs->gp, NULL);
    int32_t stops[GEB_CHAT_MAX_STOP];
    int ns = geb_chat_stop_ids(cs->ch.tmpl, cs->s.tok, c->n_eos ? c->eos_ids[0] : -1, stops);
    for (int i = 0; i < ns && cs->gp.n_stop_ids < GEB_MAX_STOP_IDS; i++) {
        int dup = 0;
        for (int j = 0; j < cs->gp.n_stop_ids; j++) dup |= cs->gp.stop_ids[j] == stops[i];
        if (!dup) cs->gp.stop_ids[cs->gp.n_stop_ids++] = stops[i];
    }
    if (o->verbose)
        fprintf(stderr, "geb: chat template: %s (%s); special tokens: %s\n", geb_chat_name(cs->ch.tmpl),
                cs->ch.why, cs->s.specials_why);
    if (o->system) return convo_add(&cs->cv, GEB_CHAT_SYSTEM, o->system, strlen(o->system), err);
    return 0;
}

/* ---- the subcommands ------------------------------------------------------ */

/* The prompt text of run/tokenize --chat: -p/positional, else -f, else stdin. */
static int user_text(const geb_opts *o, char **text, size_t *len, geb_err *err) {
    if (o->prompt) {
        *len = strlen(o->prompt);
        if (!(*text = strdup(o->prompt))) return geb_err_set(err, "out of memory");
        if (o->escape) *len = geb_unescape(*text, *len);
        return 0;
    }
    return geb_read_input(o->file ? o->file : "-", text, len, err);
}

int geb_cmd_tokenize_chat(const geb_opts *o, geb_err *err) {
    char dir[GEB_PATH_MAX], tpath[GEB_PATH_MAX + 64], why[256];
    geb_config c;
    geb_tok *tok = NULL;
    char *text = NULL;
    size_t len = 0;
    geb_chat_prompt p = {0};
    geb_chat_choice ch;
    int rc = 1;
    if (geb_modeldir_resolve(o->model, dir, sizeof dir, err) || geb_cli_arch(dir, &c, err) ||
        geb_modeldir_tokenizer(dir, tpath, sizeof tpath, err) || geb_tok_load(&tok, tpath, err) ||
        geb_cli_specials(tok, dir, &c, why, sizeof why, err) ||
        choose_template(o, dir, tok, &c, &ch, err) || user_text(o, &text, &len, err))
        goto done;
    geb_chat_msg m[2] = {{GEB_CHAT_SYSTEM, o->system, o->system ? strlen(o->system) : 0},
                         {GEB_CHAT_USER, text, len}};
    int sys = o->system != NULL;
    if (geb_chat_render(ch.tmpl, tok, m + !sys, 1 + sys, c.add_bos, 1, &p, err)) goto done;
    if (o->verbose) fprintf(stderr, "geb: chat template: %s (%s)\n", geb_chat_name(ch.tmpl), ch.why);
    for (size_t i = 0; i < p.n; i++)
        if (o->pieces) {
            const char *sp = geb_tok_special_name(tok, p.ids[i]);
            geb_out_printf("%s%s", i ? " " : "", sp ? sp : geb_tok_piece(tok, p.ids[i]));
        } else geb_out_printf("%s%d", i ? " " : "", p.ids[i]);
    geb_out_printf("\n");
    rc = 0;
done:
    geb_chat_prompt_free(&p);
    free(text);
    geb_tok_free(tok);
    return rc;
}

static void on_sigint(int sig) {
    (void)sig;
    geb_interrupted = 1;
}

/* Ctrl-C sets the flag and interrupts a blocked read (no SA_RESTART). */
static void catch_sigint(int once) {
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sa.sa_flags = once ? SA_RESETHAND : 0;
    sigaction(SIGINT, &sa, NULL);
}

int geb_cmd_run_chat(const geb_opts *o, geb_err *err) {
    chat_state *cs = calloc(1, sizeof *cs);
    char *text = NULL;
    size_t len = 0;
    int rc = 1;
    geb_gen_end end = GEB_GEN_LIMIT;
    if (!cs) return geb_err_set(err, "out of memory"), 1;
    if (chat_init(cs, o, err) || user_text(o, &text, &len, err)) goto done;
    catch_sigint(1);
    if (chat_turn(cs, text, len, &end, err)) goto done;
    if (end != GEB_GEN_CLOSED && isatty(STDOUT_FILENO)) geb_out_write("\n", 1);
    if (end == GEB_GEN_CONTEXT) fprintf(stderr, "geb: the context is full; the reply stopped\n");
    if (geb_st_check_unchanged(geb_model_checkpoint(cs->s.model), err)) goto done;
    rc = end == GEB_GEN_INTERRUPT ? 130 : 0;
done:
    free(text);
    chat_free(cs);
    free(cs);
    return rc;
}

/* ---- interactive ---------------------------------------------------------- */

/* Reads one line into *buf (without its newline); 1 on a line, 0 at end of
 * input, -1 when a read was interrupted by Ctrl-C. */
static int read_line(char **buf, size_t *cap, size_t *len) {
    /* A Ctrl-C that came before the read started would otherwise be lost
     * (the flag is set, but nothing interrupts the read that follows). */
    if (geb_interrupted) return -1;
    errno = 0;
    ssize_t n = getline(buf, cap, stdin);
    if (n < 0) {
        clearerr(stdin);
        return errno == EINTR ? -1 : 0;
    }
    if (n > 0 && (*buf)[n - 1] == '\n') (*buf)[--n] = 0;
    *len = (size_t)n;
    return 1;
}

/* One message: a line, or the lines between two lines of """.  Returns 1,
 * 0 at end of input, -1 on Ctrl-C. */
typedef struct line_buf {
    char *p;
    size_t cap;
} line_buf;

static int read_message(int tty, line_buf *lb, char **msg, size_t *mlen, geb_err *err) {
    char *line;
    size_t len;
    *mlen = 0;
    if (tty) fputs(">>> ", stderr);
    int r = read_line(&lb->p, &lb->cap, &len);
    line = lb->p;
    if (r <= 0 || strcmp(line, "\"\"\"") != 0) {
        if (r > 0 && !(*msg = strndup(line, len))) return geb_err_set(err, "out of memory"), 0;
        *mlen = len;
        return r;
    }
    char *acc = NULL;
    size_t n = 0;
    for (;;) {
        if (tty) fputs("... ", stderr);
        if ((r = read_line(&lb->p, &lb->cap, &len)) <= 0 || strcmp((line = lb->p), "\"\"\"") == 0) break;
        char *b = n + len + 2 <= MAX_TURN_TEXT ? realloc(acc, n + len + 2) : NULL;
        if (!b) break;
        acc = b;
        if (n) acc[n++] = '\n';
        memcpy(acc + n, line, len);
        n += len;
        acc[n] = 0;
    }
    if (r < 0) free(acc), acc = NULL;
    *msg = acc ? acc : strdup("");
    *mlen = acc ? n : 0;
    return r < 0 ? -1 : 1;
}

static void chat_help(void) {
    fputs("  /bye     leave\n"
          "  /clear   forget the conversation (the system prompt stays)\n"
          "  /help    this list\n"
          "  \"\"\"      on a line of its own: start and end a message of several lines\n"
          "  Ctrl-C   stop the reply (at an empty prompt: leave); Ctrl-D: leave\n", stderr);
}

int geb_cmd_chat(const geb_opts *o, geb_err *err) {
    chat_state *cs = calloc(1, sizeof *cs);
    if (!cs) return geb_err_set(err, "out of memory"), 1;
    int rc = 1, tty = isatty(STDIN_FILENO);
    line_buf lb = {0};
    if (chat_init(cs, o, err)) goto done;
    catch_sigint(0);
    if (tty) fprintf(stderr, "geb chat: %s, template %s; /help for help\n", cs->s.dir,
                     geb_chat_name(cs->ch.tmpl));
    for (;;) {
        char *msg = NULL;
        size_t len;
        int r = read_message(tty, &lb, &msg, &len, err);
        if (r < 0 || r == 0) {       /* Ctrl-C at the prompt, or Ctrl-D / end of input */
            free(msg);
            if (tty) fputc('\n', stderr);
            rc = err->msg[0] ? 1 : 0;
            break;
        }
        if (strcmp(msg, "/bye") == 0) { free(msg); rc = 0; break; }
        if (strcmp(msg, "/help") == 0 || strcmp(msg, "/?") == 0) { free(msg); chat_help(); continue; }
        if (strcmp(msg, "/clear") == 0) {
            convo_clear(&cs->cv, 1);
            free(msg);
            if (tty) fputs("geb: the conversation is forgotten\n", stderr);
            continue;
        }
        if (len == 0 || (msg[0] == '/' && len < 16 && !strchr(msg, ' '))) {
            if (len) fprintf(stderr, "geb: unknown command %s (/help)\n", msg);
            free(msg);
            continue;
        }
        geb_gen_end end;
        int t = chat_turn(cs, msg, len, &end, err);
        geb_interrupted = 0; /* a Ctrl-C during the reply ended only the reply */
        free(msg);
        if (t) goto done;
        if (geb_st_check_unchanged(geb_model_checkpoint(cs->s.model), err)) goto done;
        if (end == GEB_GEN_CLOSED) { rc = 0; break; }
        geb_out_write("\n", 1);
        if (end == GEB_GEN_CONTEXT) fprintf(stderr, "geb: the context is full; the reply stopped\n");
    }
done:
    free(lb.p);
    chat_free(cs);
    free(cs);
    return rc;
}
