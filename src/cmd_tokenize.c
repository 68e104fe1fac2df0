/* cmd_tokenize.c - `geb tokenize`: the bare SentencePiece ids of a text. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int geb_cmd_tokenize(const geb_opts *o, geb_err *err) {
    char dir[GEB_PATH_MAX], tpath[GEB_PATH_MAX + 64];
    geb_tok *tok = NULL;
    if (geb_modeldir_resolve(o->model, dir, sizeof dir, err) ||
        geb_modeldir_tokenizer(dir, tpath, sizeof tpath, err) || geb_tok_load(&tok, tpath, err))
        return 1;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 1;
    if (o->prompt) {
        len = strlen(o->prompt);
        if (!(text = strdup(o->prompt))) { geb_err_set(err, "out of memory"); goto done; }
        if (o->escape) len = geb_unescape(text, len);
    } else if (geb_read_input(o->file ? o->file : "-", &text, &len, err)) goto done;
    if (geb_tok_encode(tok, text, len, &ids, &n, err)) goto done;
    for (size_t i = 0; i < n; i++) {
        int w = o->pieces ? geb_out_printf("%s%s", i ? " " : "", geb_tok_piece(tok, ids[i]))
                          : geb_out_printf("%s%d", i ? " " : "", ids[i]);
        if (w) break; /* closed or failing stdout: main reports a failure */
    }
    geb_out_printf("\n");
    rc = 0;
done:
    free(ids);
    free(text);
    geb_tok_free(tok);
    return rc;
}
