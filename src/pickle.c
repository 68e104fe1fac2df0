/* pickle.c - a pickle interpreter that builds values and calls nothing (see
 * pickle.h).
 *
 * The machine is Python's: a stack of values, a mark stack (MARK opens a
 * group that TUPLE, SETITEMS, APPENDS... consume) and a memo (BINPUT stores
 * the top of the stack at an index, BINGET pushes it again, so one value can
 * be referenced from many places: that is how torch.save shares a storage or
 * a tensor).  Values are allocated in blocks owned by the geb_pickle and
 * freed together.  Every read is checked against the end of the input, and
 * every opcode builds at most one value, so work is linear in the input.
 */
#include "pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_VALUES 256

struct geb_pickle {
    geb_pk **blocks;        /* blocks of BLOCK_VALUES values */
    size_t nblocks, nvalues;
    geb_pk *root;
};

/* The interpreter's state while it runs. */
typedef struct pk_vm {
    geb_pickle *pk;
    const uint8_t *buf;
    size_t len, pos;        /* pos: next byte to read */
    size_t op_pos;          /* where the current opcode started (messages) */
    const char *label;
    geb_err *err;
    geb_pk **stack;
    size_t sp, stack_cap;
    size_t marks[GEB_PK_MAX_DEPTH];
    size_t nmarks;
    geb_pk **memo;
    size_t memo_cap;
    size_t memo_len;        /* slots in use: where MEMOIZE stores next */
} pk_vm;

/* The globals a pickle may name (everything else is refused by name). */
static const struct {
    const char *module, *name;
    geb_pk_global id;
} allowed[] = {
    {"collections", "OrderedDict", GEB_PK_G_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", GEB_PK_G_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_parameter", GEB_PK_G_REBUILD_PARAMETER},
    {"torch", "FloatStorage", GEB_PK_G_STORAGE},    {"torch", "HalfStorage", GEB_PK_G_STORAGE},
    {"torch", "BFloat16Storage", GEB_PK_G_STORAGE}, {"torch", "DoubleStorage", GEB_PK_G_STORAGE},
    {"torch", "LongStorage", GEB_PK_G_STORAGE},     {"torch", "IntStorage", GEB_PK_G_STORAGE},
    {"torch", "ShortStorage", GEB_PK_G_STORAGE},    {"torch", "CharStorage", GEB_PK_G_STORAGE},
    {"torch", "ByteStorage", GEB_PK_G_STORAGE},     {"torch", "BoolStorage", GEB_PK_G_STORAGE},
    {"torch", "ComplexFloatStorage", GEB_PK_G_STORAGE},
    {"torch", "ComplexDoubleStorage", GEB_PK_G_STORAGE},
    {"torch", "QInt8Storage", GEB_PK_G_STORAGE},    {"torch", "QUInt8Storage", GEB_PK_G_STORAGE},
    {"torch", "QInt32Storage", GEB_PK_G_STORAGE},   {"torch", "QUInt4x2Storage", GEB_PK_G_STORAGE},
    {"torch", "QUInt2x4Storage", GEB_PK_G_STORAGE},
};

/* Formats a message about the current opcode and returns -1. */
#define FAIL(vm, ...) fail_at(vm, __VA_ARGS__)
__attribute__((format(printf, 2, 3))) static int fail_at(pk_vm *vm, const char *fmt, ...) {
    char msg[GEB_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    geb_err_set(vm->err, "%s: pickle offset %zu: %s", vm->label, vm->op_pos, msg);
    return -1;
}

/* ---- values ----------------------------------------------------------- */

/* A new zeroed value of type t, counted against GEB_PK_MAX_VALUES. */
static geb_pk *new_value(pk_vm *vm, geb_pk_type t) {
    geb_pickle *pk = vm->pk;
    if (pk->nvalues >= GEB_PK_MAX_VALUES) {
        FAIL(vm, "more than %u values", GEB_PK_MAX_VALUES);
        return NULL;
    }
    if (pk->nvalues % BLOCK_VALUES == 0) {
        geb_pk **b = realloc(pk->blocks, (pk->nblocks + 1) * sizeof *b);
        if (!b) goto oom;
        pk->blocks = b;
        if (!(b[pk->nblocks] = calloc(BLOCK_VALUES, sizeof **b))) goto oom;
        pk->nblocks++;
    }
    geb_pk *v = &pk->blocks[pk->nvalues / BLOCK_VALUES][pk->nvalues % BLOCK_VALUES];
    pk->nvalues++;
    v->type = t;
    v->depth = 1;
    return v;
oom:
    FAIL(vm, "out of memory");
    return NULL;
}

/* Raises v's depth to hold an item of depth d; fails past the limit. */
static int deepen(pk_vm *vm, geb_pk *v, int d) {
    if (d >= GEB_PK_MAX_DEPTH) return FAIL(vm, "values nested deeper than %d", GEB_PK_MAX_DEPTH);
    if (d + 1 > v->depth) v->depth = d + 1;
    return 0;
}

/* Appends n items to container c (list, dict or a tuple being built). */
static int seq_append(pk_vm *vm, geb_pk *c, geb_pk **items, size_t n) {
    if (n == 0) return 0;
    size_t limit = c->type == GEB_PK_DICT ? 2 * (size_t)GEB_PK_MAX_ITEMS : GEB_PK_MAX_ITEMS;
    if (n > limit - c->u.seq.n) return FAIL(vm, "a container holds more than %u items", GEB_PK_MAX_ITEMS);
    if (c->u.seq.n + n > c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? c->u.seq.cap : 4;
        while (cap < c->u.seq.n + n) cap *= 2;
        geb_pk **it = realloc(c->u.seq.items, cap * sizeof *it);
        if (!it) return FAIL(vm, "out of memory");
        c->u.seq.items = it;
        c->u.seq.cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        if (deepen(vm, c, items[i]->depth) != 0) return -1;
        c->u.seq.items[c->u.seq.n++] = items[i];
    }
    return 0;
}

/* ---- stack, marks, memo ----------------------------------------------- */

static int push(pk_vm *vm, geb_pk *v) {
    if (!v) return -1;
    if (vm->sp == vm->stack_cap) {
        if (vm->sp >= GEB_PK_MAX_STACK) return FAIL(vm, "stack deeper than %u items", GEB_PK_MAX_STACK);
        size_t cap = vm->stack_cap ? vm->stack_cap * 2 : 64;
        geb_pk **s = realloc(vm->stack, cap * sizeof *s);
        if (!s) return FAIL(vm, "out of memory");
        vm->stack = s;
        vm->stack_cap = cap;
    }
    vm->stack[vm->sp++] = v;
    return 0;
}

/* The lowest stack slot the current opcode may touch (above the last mark). */
static size_t floor_sp(const pk_vm *vm) { return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0; }

static geb_pk *pop(pk_vm *vm) {
    if (vm->sp <= floor_sp(vm)) {
        FAIL(vm, "stack underflow");
        return NULL;
    }
    return vm->stack[--vm->sp];
}

static geb_pk *top(pk_vm *vm) {
    if (vm->sp <= floor_sp(vm)) {
        FAIL(vm, "stack underflow");
        return NULL;
    }
    return vm->stack[vm->sp - 1];
}

/* Removes the last mark; *base is where its items start on the stack. */
static int pop_mark(pk_vm *vm, size_t *base) {
    if (!vm->nmarks) return FAIL(vm, "no MARK before this opcode");
    *base = vm->marks[--vm->nmarks];
    return 0;
}

static int memo_put(pk_vm *vm, uint64_t idx) {
    geb_pk *v = top(vm);
    if (!v) return -1;
    if (idx >= GEB_PK_MAX_MEMO) return FAIL(vm, "memo index %llu too large", (unsigned long long)idx);
    if (idx >= vm->memo_cap) {
        size_t cap = vm->memo_cap ? vm->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        geb_pk **m = realloc(vm->memo, cap * sizeof *m);
        if (!m) return FAIL(vm, "out of memory");
        memset(m + vm->memo_cap, 0, (cap - vm->memo_cap) * sizeof *m);
        vm->memo = m;
        vm->memo_cap = cap;
    }
    if (!vm->memo[idx]) vm->memo_len++;
    vm->memo[idx] = v;
    return 0;
}

static int memo_get(pk_vm *vm, uint64_t idx) {
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return FAIL(vm, "memo index %llu was never stored", (unsigned long long)idx);
    return push(vm, vm->memo[idx]);
}

/* ---- reading ---------------------------------------------------------- */

/* Points *p at the next n bytes of input. */
static int take(pk_vm *vm, uint64_t n, const uint8_t **p) {
    if (n > vm->len - vm->pos) return FAIL(vm, "truncated (needs %llu more bytes)", (unsigned long long)n);
    *p = vm->buf + vm->pos;
    vm->pos += (size_t)n;
    return 0;
}

/* Reads an n-byte little-endian unsigned integer (n <= 8). */
static int take_le(pk_vm *vm, int n, uint64_t *v) {
    const uint8_t *p = NULL;
    if (take(vm, (uint64_t)n, &p) != 0) return -1;
    *v = 0;
    for (int i = n - 1; i >= 0; i--) *v = *v << 8 | p[i];
    return 0;
}

/* Pushes a string or bytes value of n bytes read from the input. */
static int push_str(pk_vm *vm, geb_pk_type t, uint64_t n) {
    const uint8_t *p = NULL;
    if (take(vm, n, &p) != 0) return -1;
    geb_pk *v = new_value(vm, t);
    if (!v) return -1;
    char *s = malloc((size_t)n + 1);
    if (!s) return FAIL(vm, "out of memory");
    memcpy(s, p, (size_t)n);
    s[n] = 0;
    v->u.str.s = s;
    v->u.str.len = (size_t)n;
    return push(vm, v);
}

static int push_int(pk_vm *vm, geb_pk_type t, int64_t i) {
    geb_pk *v = new_value(vm, t);
    if (!v) return -1;
    v->u.i = i;
    return push(vm, v);
}

/* LONG1: n bytes of two's complement, little-endian; must fit in int64. */
static int op_long1(pk_vm *vm) {
    uint64_t n, u = 0;
    const uint8_t *p = NULL;
    if (take_le(vm, 1, &n) != 0 || take(vm, n, &p) != 0) return -1;
    int neg = n && (p[n - 1] & 0x80);
    /* Bytes past the 8th must be pure sign extension. */
    for (uint64_t i = 8; i < n; i++)
        if (p[i] != (neg ? 0xFF : 0)) return FAIL(vm, "integer wider than 64 bits");
    for (uint64_t i = n < 8 ? n : 8; i-- > 0;) u = u << 8 | p[i];
    if (neg && n < 8) u |= ~(uint64_t)0 << (8 * n);
    if (n > 8 && ((u >> 63) != (uint64_t)neg)) return FAIL(vm, "integer wider than 64 bits");
    int64_t i;
    memcpy(&i, &u, sizeof i);
    return push_int(vm, GEB_PK_INT, i);
}

static int op_binfloat(pk_vm *vm) {
    const uint8_t *p = NULL;
    if (take(vm, 8, &p) != 0) return -1;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | p[i]; /* big-endian */
    geb_pk *v = new_value(vm, GEB_PK_FLOAT);
    if (!v) return -1;
    memcpy(&v->u.f, &u, sizeof v->u.f);
    return push(vm, v);
}

/* ---- globals and calls ------------------------------------------------ */

/* Copies s[0..n) into out with unprintable bytes as '?' (for messages). */
static void printable(char *out, size_t cap, const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        out[k++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    out[k] = 0;
}

/* Pushes the listed global module.name, or refuses it by name. */
static int push_global(pk_vm *vm, const char *mod, size_t ml, const char *name, size_t nl) {
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strlen(allowed[i].module) == ml && memcmp(allowed[i].module, mod, ml) == 0 &&
            strlen(allowed[i].name) == nl && memcmp(allowed[i].name, name, nl) == 0) {
            geb_pk *v = new_value(vm, GEB_PK_GLOBAL);
            if (!v) return -1;
            v->u.global.id = allowed[i].id;
            v->u.global.module = allowed[i].module;
            v->u.global.name = allowed[i].name;
            return push(vm, v);
        }
    char a[100], b[100];
    printable(a, sizeof a, mod, ml);
    printable(b, sizeof b, name, nl);
    return FAIL(vm, "refusing global %s.%s: a checkpoint may only name tensor and storage "
                    "classes (geb runs no code from a pickle)", a, b);
}

/* GLOBAL: "module\nname\n" in the input. */
static int op_global(pk_vm *vm) {
    const char *part[2];
    size_t plen[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *s = vm->buf + vm->pos;
        const uint8_t *nl = memchr(s, '\n', vm->len - vm->pos);
        if (!nl) return FAIL(vm, "truncated GLOBAL");
        part[k] = (const char *)s;
        plen[k] = (size_t)(nl - s);
        vm->pos += plen[k] + 1;
    }
    return push_global(vm, part[0], plen[0], part[1], plen[1]);
}

static int op_stack_global(pk_vm *vm) {
    geb_pk *name = pop(vm), *mod = name ? pop(vm) : NULL;
    if (!mod) return -1;
    if (name->type != GEB_PK_STR || mod->type != GEB_PK_STR)
        return FAIL(vm, "STACK_GLOBAL of non-strings");
    return push_global(vm, mod->u.str.s, mod->u.str.len, name->u.str.s, name->u.str.len);
}

/* REDUCE / NEWOBJ: fn(*args).  OrderedDict() is an empty dict; the other
 * listed globals become a call node for the caller to interpret. */
static int op_call(pk_vm *vm) {
    geb_pk *args = pop(vm), *fn = args ? pop(vm) : NULL;
    if (!fn) return -1;
    if (fn->type != GEB_PK_GLOBAL) return FAIL(vm, "call of a value that is not a listed global");
    if (args->type != GEB_PK_TUPLE) return FAIL(vm, "call arguments are not a tuple");
    if (fn->u.global.id == GEB_PK_G_ORDERED_DICT) {
        if (args->u.seq.n != 0) return FAIL(vm, "OrderedDict called with arguments");
        return push(vm, new_value(vm, GEB_PK_DICT));
    }
    if (fn->u.global.id == GEB_PK_G_STORAGE)
        return FAIL(vm, "torch.%s called: storages must come through persistent ids", fn->u.global.name);
    geb_pk *v = new_value(vm, GEB_PK_CALL);
    if (!v) return -1;
    v->u.call.fn = fn;
    v->u.call.args = args;
    if (deepen(vm, v, args->depth) != 0) return -1;
    return push(vm, v);
}

/* BUILD: obj.__setstate__(state).  For a dict (an OrderedDict's attributes
 * such as a state dict's _metadata) or a call node the state is dropped:
 * it never holds tensors. */
static int op_build(pk_vm *vm) {
    geb_pk *state = pop(vm), *obj = state ? top(vm) : NULL;
    if (!obj) return -1;
    if (obj->type != GEB_PK_DICT && obj->type != GEB_PK_CALL)
        return FAIL(vm, "BUILD on a value that is not an object");
    return 0;
}

/* ---- containers ------------------------------------------------------- */

/* Replaces the top n items by a tuple of them (n > stack items: underflow). */
static int make_tuple(pk_vm *vm, size_t base) {
    size_t n = vm->sp - base;
    geb_pk *t = new_value(vm, GEB_PK_TUPLE);
    if (!t || seq_append(vm, t, vm->stack + base, n) != 0) return -1;
    vm->sp = base;
    return push(vm, t);
}

static int op_tuple_n(pk_vm *vm, size_t n) {
    if (vm->sp - floor_sp(vm) < n) return FAIL(vm, "stack underflow");
    return make_tuple(vm, vm->sp - n);
}

/* SETITEMS / APPENDS: the items above the mark go into the container below. */
static int op_extend(pk_vm *vm, geb_pk_type want) {
    size_t base = 0;
    if (pop_mark(vm, &base) != 0) return -1;
    if (base <= floor_sp(vm)) return FAIL(vm, "no container below the MARK");
    geb_pk *c = vm->stack[base - 1];
    size_t n = vm->sp - base;
    if (c->type != want) return FAIL(vm, "%s into a value that is not a %s",
                                     want == GEB_PK_DICT ? "SETITEMS" : "APPENDS",
                                     want == GEB_PK_DICT ? "dict" : "list");
    if (want == GEB_PK_DICT && n % 2) return FAIL(vm, "SETITEMS with an odd number of items");
    if (seq_append(vm, c, vm->stack + base, n) != 0) return -1;
    vm->sp = base;
    return 0;
}

/* SETITEM (n = 2) / APPEND (n = 1) on the container below the top n items. */
static int op_add(pk_vm *vm, geb_pk_type want, size_t n) {
    if (vm->sp - floor_sp(vm) < n + 1) return FAIL(vm, "stack underflow");
    geb_pk *c = vm->stack[vm->sp - n - 1];
    if (c->type != want) return FAIL(vm, "%s into a value that is not a %s",
                                     n == 2 ? "SETITEM" : "APPEND", n == 2 ? "dict" : "list");
    if (seq_append(vm, c, vm->stack + vm->sp - n, n) != 0) return -1;
    vm->sp -= n;
    return 0;
}

static int op_mark(pk_vm *vm) {
    if (vm->nmarks >= GEB_PK_MAX_DEPTH) return FAIL(vm, "MARKs nested deeper than %d", GEB_PK_MAX_DEPTH);
    vm->marks[vm->nmarks++] = vm->sp;
    return 0;
}

static int op_persid(pk_vm *vm) {
    geb_pk *pid = pop(vm);
    if (!pid) return -1;
    geb_pk *v = new_value(vm, GEB_PK_PERSID);
    if (!v) return -1;
    v->u.persid = pid;
    if (deepen(vm, v, pid->depth) != 0) return -1;
    return push(vm, v);
}

/* ---- the loop --------------------------------------------------------- */

/* Runs one opcode; returns 1 after STOP, 0 to go on, -1 on error. */
static int step(pk_vm *vm) {
    uint64_t n = 0;
    size_t base = 0;
    vm->op_pos = vm->pos;
    if (vm->pos >= vm->len) return FAIL(vm, "ends without STOP");
    uint8_t op = vm->buf[vm->pos++];
    switch (op) {
    case 0x80: /* PROTO */
        if (take_le(vm, 1, &n) != 0) return -1;
        return n <= 5 ? 0 : FAIL(vm, "pickle protocol %u is not supported", (unsigned)n);
    case 0x95: /* FRAME: a length hint only */
        return take_le(vm, 8, &n);
    case '}': return push(vm, new_value(vm, GEB_PK_DICT));
    case ']': return push(vm, new_value(vm, GEB_PK_LIST));
    case ')': return push(vm, new_value(vm, GEB_PK_TUPLE));
    case '(': return op_mark(vm);
    case 'X': return take_le(vm, 4, &n) ? -1 : push_str(vm, GEB_PK_STR, n);          /* BINUNICODE */
    case 0x8c: return take_le(vm, 1, &n) ? -1 : push_str(vm, GEB_PK_STR, n);         /* SHORT_BINUNICODE */
    case 0x8d: return take_le(vm, 8, &n) ? -1 : push_str(vm, GEB_PK_STR, n);         /* BINUNICODE8 */
    case 'B': return take_le(vm, 4, &n) ? -1 : push_str(vm, GEB_PK_BYTES, n);        /* BINBYTES */
    case 'C': return take_le(vm, 1, &n) ? -1 : push_str(vm, GEB_PK_BYTES, n);        /* SHORT_BINBYTES */
    case 'J': /* BININT: signed 32-bit */
        if (take_le(vm, 4, &n) != 0) return -1;
        return push_int(vm, GEB_PK_INT, (int64_t)(int32_t)(uint32_t)n);
    case 'K': return take_le(vm, 1, &n) ? -1 : push_int(vm, GEB_PK_INT, (int64_t)n); /* BININT1 */
    case 'M': return take_le(vm, 2, &n) ? -1 : push_int(vm, GEB_PK_INT, (int64_t)n); /* BININT2 */
    case 0x8a: return op_long1(vm);
    case 'G': return op_binfloat(vm);
    case 0x88: return push_int(vm, GEB_PK_BOOL, 1); /* NEWTRUE */
    case 0x89: return push_int(vm, GEB_PK_BOOL, 0); /* NEWFALSE */
    case 'N': return push(vm, new_value(vm, GEB_PK_NONE));
    case 't': return pop_mark(vm, &base) ? -1 : make_tuple(vm, base);
    case 0x85: return op_tuple_n(vm, 1);
    case 0x86: return op_tuple_n(vm, 2);
    case 0x87: return op_tuple_n(vm, 3);
    case 'c': return op_global(vm);
    case 0x93: return op_stack_global(vm);
    case 'R': /* REDUCE */
    case 0x81: return op_call(vm); /* NEWOBJ */
    case 'b': return op_build(vm);
    case 'Q': return op_persid(vm);
    case 'q': return take_le(vm, 1, &n) ? -1 : memo_put(vm, n); /* BINPUT */
    case 'r': return take_le(vm, 4, &n) ? -1 : memo_put(vm, n); /* LONG_BINPUT */
    case 0x94: return memo_put(vm, vm->memo_len); /* MEMOIZE */
    case 'h': return take_le(vm, 1, &n) ? -1 : memo_get(vm, n); /* BINGET */
    case 'j': return take_le(vm, 4, &n) ? -1 : memo_get(vm, n); /* LONG_BINGET */
    case 's': return op_add(vm, GEB_PK_DICT, 2);
    case 'u': return op_extend(vm, GEB_PK_DICT);
    case 'a': return op_add(vm, GEB_PK_LIST, 1);
    case 'e': return op_extend(vm, GEB_PK_LIST);
    case '0': return pop(vm) ? 0 : -1; /* POP */
    case '1': return pop_mark(vm, &base) ? -1 : (vm->sp = base, 0); /* POP_MARK */
    case '2': { /* DUP */
        geb_pk *v = top(vm);
        return v ? push(vm, v) : -1;
    }
    case '.': { /* STOP */
        geb_pk *v = pop(vm);
        if (!v) return -1;
        vm->pk->root = v;
        return 1;
    }
    default:
        return FAIL(vm, "opcode 0x%02x is not one torch.save writes", op);
    }
}

int geb_pickle_load(geb_pickle **out, const uint8_t *buf, size_t len, const char *label,
                    geb_err *err) {
    *out = NULL;
    geb_pickle *pk = calloc(1, sizeof *pk);
    if (!pk) return geb_err_set(err, "%s: out of memory", label);
    pk_vm vm = {.pk = pk, .buf = buf, .len = buf ? len : 0, .label = label, .err = err};
    /* Allocated up front so that stack + base is never arithmetic on NULL. */
    vm.stack = malloc(64 * sizeof *vm.stack);
    vm.stack_cap = 64;
    int rc = vm.stack ? 0 : geb_err_set(err, "%s: out of memory", label);
    while (rc == 0) rc = step(&vm);
    free(vm.stack);
    free(vm.memo);
    if (rc < 0) {
        geb_pickle_free(pk);
        return -1;
    }
    *out = pk;
    return 0;
}

const geb_pk *geb_pickle_root(const geb_pickle *pk) { return pk ? pk->root : NULL; }

void geb_pickle_free(geb_pickle *pk) {
    if (!pk) return;
    for (size_t i = 0; i < pk->nvalues; i++) {
        geb_pk *v = &pk->blocks[i / BLOCK_VALUES][i % BLOCK_VALUES];
        if (v->type == GEB_PK_STR || v->type == GEB_PK_BYTES) free((char *)v->u.str.s);
        else if (v->type == GEB_PK_TUPLE || v->type == GEB_PK_LIST || v->type == GEB_PK_DICT)
            free(v->u.seq.items);
    }
    for (size_t i = 0; i < pk->nblocks; i++) free(pk->blocks[i]);
    free(pk->blocks);
    free(pk);
}
