/* fuzz_pickle.c - fuzz target for the pickle interpreter (geb_pickle_load in
 * src/pickle.c): the input is the pickle.
 *
 * A refused pickle must leave one line in the error and no value.  An
 * accepted one must have a root, and every value reachable from it must be
 * well formed: a known type, a container's item count within its capacity
 * and the item limit, strings NUL-terminated at their length, calls of a
 * listed global with a tuple of arguments.  The walk is bounded in depth
 * and in values visited, since a memo reference can make a list contain
 * itself.  A broken promise aborts.
 */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                          \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_pickle: invariant failed: %s\n", #c);     \
            abort();                                                        \
        }                                                                   \
    } while (0)

static size_t visits;

static void walk(const geb_pk *v, int depth) {
    REQUIRE(v != NULL);
    if (depth > GEB_PK_MAX_DEPTH + 8 || ++visits > 100000) return;
    REQUIRE(v->depth >= 1 && v->depth <= GEB_PK_MAX_DEPTH);
    switch (v->type) {
    case GEB_PK_NONE:
    case GEB_PK_INT:
    case GEB_PK_FLOAT:
        break;
    case GEB_PK_BOOL:
        REQUIRE(v->u.i == 0 || v->u.i == 1);
        break;
    case GEB_PK_STR:
    case GEB_PK_BYTES:
        REQUIRE(v->u.str.s && v->u.str.s[v->u.str.len] == 0);
        break;
    case GEB_PK_TUPLE:
    case GEB_PK_LIST:
    case GEB_PK_DICT:
        REQUIRE(v->u.seq.n <= v->u.seq.cap || (v->u.seq.n == 0 && v->u.seq.cap == 0));
        REQUIRE(v->u.seq.n <= 2 * (size_t)GEB_PK_MAX_ITEMS);
        if (v->type == GEB_PK_DICT) REQUIRE(v->u.seq.n % 2 == 0);
        for (size_t i = 0; i < v->u.seq.n; i++) walk(v->u.seq.items[i], depth + 1);
        break;
    case GEB_PK_GLOBAL:
        REQUIRE(v->u.global.module && v->u.global.name);
        break;
    case GEB_PK_CALL:
        REQUIRE(v->u.call.fn && v->u.call.fn->type == GEB_PK_GLOBAL);
        REQUIRE(v->u.call.args && v->u.call.args->type == GEB_PK_TUPLE);
        walk(v->u.call.args, depth + 1);
        break;
    case GEB_PK_PERSID:
        walk(v->u.persid, depth + 1);
        break;
    default:
        REQUIRE(!"unknown value type");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    geb_pickle *pk = NULL;
    geb_err err;
    err.msg[0] = 0;
    if (geb_pickle_load(&pk, data, size, "<fuzz>", &err) != 0) {
        REQUIRE(pk == NULL && err.msg[0] && !strchr(err.msg, '\n'));
        return 0;
    }
    REQUIRE(geb_pickle_root(pk) != NULL);
    visits = 0;
    walk(geb_pickle_root(pk), 0);
    geb_pickle_free(pk);
    return 0;
}
