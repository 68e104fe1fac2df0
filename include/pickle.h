/* pickle.h - a Python pickle interpreter that executes nothing, for the
 * data.pkl of PyTorch checkpoints.
 *
 *   geb_pickle *pk;
 *   if (geb_pickle_load(&pk, buf, len, "model.bin", &err) != 0) fail(err.msg);
 *   const geb_pk *root = geb_pickle_root(pk);     (a GEB_PK_DICT for a state dict)
 *   geb_pickle_free(pk);
 *
 * It understands the opcodes torch.save writes for a state dict (protocol 2,
 * plus FRAME, SHORT_BINUNICODE, BINUNICODE8, STACK_GLOBAL and MEMOIZE of
 * protocol 4) and builds a tree of values.  Nothing is called: a global is
 * resolved only if it is on a short list (collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2 and _rebuild_parameter, the torch storage
 * classes); any other (os.system, builtins.eval, ...) is refused with a line
 * that names it.  REDUCE and NEWOBJ of a listed global become a GEB_PK_CALL
 * node for the caller to interpret, except OrderedDict(), which becomes an
 * empty dict.  BINPERSID becomes a GEB_PK_PERSID node.
 *
 * Limits keep a hostile pickle from exhausting memory or the stack: stack
 * items, memo entries, items per container, values in all, and nesting
 * depth (a container's depth is fixed when it is built; a list or dict that
 * is later appended to through the memo may end up deeper, or even contain
 * itself, so a consumer must bound its own walks).  Dict items are kept in
 * the order they were set and a repeated key is not merged: the consumer
 * decides what a repeat means.
 */
#ifndef GEB_PICKLE_H
#define GEB_PICKLE_H

#include "common.h"

#define GEB_PK_MAX_STACK (1u << 20)   /* items on the stack */
#define GEB_PK_MAX_MEMO (1u << 20)    /* memo slots (highest index + 1) */
#define GEB_PK_MAX_ITEMS (1u << 20)   /* items of one tuple/list, pairs of one dict */
#define GEB_PK_MAX_VALUES (1u << 22)  /* values built in all */
#define GEB_PK_MAX_DEPTH 64           /* nesting of containers and marks */

typedef enum geb_pk_type {
    GEB_PK_NONE,
    GEB_PK_BOOL,    /* .i is 0 or 1 */
    GEB_PK_INT,     /* .i */
    GEB_PK_FLOAT,   /* .f */
    GEB_PK_STR,     /* .str: UTF-8 as written, NUL-terminated copy */
    GEB_PK_BYTES,   /* .str: raw bytes (NUL-terminated copy) */
    GEB_PK_TUPLE,   /* .seq */
    GEB_PK_LIST,    /* .seq */
    GEB_PK_DICT,    /* .seq: items[2k] is a key, items[2k+1] its value; n = 2 * pairs */
    GEB_PK_GLOBAL,  /* .global: one of the listed globals */
    GEB_PK_CALL,    /* .call: fn (a GEB_PK_GLOBAL) applied to args (a tuple) */
    GEB_PK_PERSID,  /* .persid: the persistent id (a tuple, for torch) */
} geb_pk_type;

/* The globals a pickle may name. */
typedef enum geb_pk_global {
    GEB_PK_G_ORDERED_DICT,      /* collections.OrderedDict */
    GEB_PK_G_REBUILD_TENSOR_V2, /* torch._utils._rebuild_tensor_v2 */
    GEB_PK_G_REBUILD_PARAMETER, /* torch._utils._rebuild_parameter */
    GEB_PK_G_STORAGE,           /* torch.<X>Storage; .name says which */
} geb_pk_global;

typedef struct geb_pk geb_pk;
struct geb_pk {
    geb_pk_type type;
    int depth;                  /* 1 for a scalar; 1 + deepest item for a container */
    union {
        int64_t i;
        double f;
        struct { const char *s; size_t len; } str;
        struct { geb_pk **items; size_t n, cap; } seq;
        struct { geb_pk_global id; const char *module, *name; } global;
        struct { geb_pk *fn, *args; } call;
        geb_pk *persid;
    } u;
};

typedef struct geb_pickle geb_pickle;

/* Interprets buf[0..len) up to its STOP opcode; label names it in messages.
 * The values are copies: buf may be freed afterwards. */
int geb_pickle_load(geb_pickle **out, const uint8_t *buf, size_t len, const char *label,
                    geb_err *err);

/* The value STOP returned; it lives as long as the geb_pickle. */
const geb_pk *geb_pickle_root(const geb_pickle *pk);

void geb_pickle_free(geb_pickle *pk);

#endif
