/* json.h - a small, strict JSON reader for config.json, safetensors headers
 * and model.safetensors.index.json.
 *
 *   geb_json *root = geb_json_parse(text, len, &err);
 *   const geb_json *v = geb_json_get(root, "hidden_size");
 *   if (v && v->type == GEB_JSON_NUMBER && v->is_int) use(v->integer);
 *   geb_json_free(root);
 *
 * The whole tree is owned by the root; geb_json_free(root) releases it.
 * Input is untrusted: nesting depth is limited, strings are validated and
 * \u escapes (including surrogate pairs) are decoded to UTF-8.
 */
#ifndef GEB_JSON_H
#define GEB_JSON_H

#include "common.h"

typedef enum geb_json_type {
    GEB_JSON_NULL,
    GEB_JSON_BOOL,
    GEB_JSON_NUMBER,
    GEB_JSON_STRING,
    GEB_JSON_ARRAY,
    GEB_JSON_OBJECT,
} geb_json_type;

typedef struct geb_json geb_json;
struct geb_json {
    geb_json_type type;
    int boolean;      /* BOOL: 0 or 1 */
    double number;    /* NUMBER: value as a double */
    int is_int;       /* NUMBER: 1 if written without fraction/exponent and fits int64 */
    int64_t integer;  /* NUMBER: exact value when is_int */
    char *str;        /* STRING: decoded UTF-8, NUL-terminated */
    size_t len;       /* STRING: byte length (the string may contain NUL) */
    geb_json *items;  /* ARRAY/OBJECT: count children, in document order */
    char **keys;      /* OBJECT: keys[i] names items[i] (NUL-terminated) */
    size_t count;     /* ARRAY/OBJECT: number of children */
};

/* Parses exactly one JSON value (surrounding whitespace allowed).  Returns
 * NULL with a message on any syntax error, trailing garbage or nesting deeper
 * than 64 levels. */
geb_json *geb_json_parse(const char *text, size_t len, geb_err *err);

void geb_json_free(geb_json *root);

/* The member named key of an object (the last one if repeated), or NULL if
 * obj is NULL, is not an object, or lacks the key. */
const geb_json *geb_json_get(const geb_json *obj, const char *key);

#endif
