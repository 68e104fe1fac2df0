/* pytorch.c - a torch.save state dict as geb_tensor entries (see pytorch.h).
 *
 * The pickle's values are walked to a fixed depth only (dict -> tensor call
 * -> arguments -> persistent id), so a self-referencing or deep value cannot
 * make this recurse.  Tensor data is never copied: each tensor points into
 * its storage entry, at storage_offset elements.
 */
#include "pytorch.h"

#include "pickle.h"
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PT_MAX_KEY 64 /* storage keys are small decimal numbers */

struct geb_pt {
    geb_zip *zip;
    geb_pickle *pickle;    /* owns the tensor names */
    geb_tensor *tensors;
    size_t count;
    char top[256];         /* the archive's top folder */
    const char *label;
};

/* The storage classes torch.save names, with the element type they hold. */
static const struct {
    const char *cls;
    geb_dtype dtype;
    const char *dtype_name;  /* safetensors spelling, so both formats print alike */
    size_t size;
} pt_storages[] = {
    {"FloatStorage", GEB_DTYPE_F32, "F32", 4},    {"HalfStorage", GEB_DTYPE_F16, "F16", 2},
    {"BFloat16Storage", GEB_DTYPE_BF16, "BF16", 2}, {"DoubleStorage", GEB_DTYPE_OTHER, "F64", 8},
    {"LongStorage", GEB_DTYPE_OTHER, "I64", 8},   {"IntStorage", GEB_DTYPE_OTHER, "I32", 4},
    {"ShortStorage", GEB_DTYPE_OTHER, "I16", 2},  {"CharStorage", GEB_DTYPE_OTHER, "I8", 1},
    {"ByteStorage", GEB_DTYPE_OTHER, "U8", 1},    {"BoolStorage", GEB_DTYPE_OTHER, "BOOL", 1},
    {"ComplexFloatStorage", GEB_DTYPE_OTHER, "C64", 8},
    {"ComplexDoubleStorage", GEB_DTYPE_OTHER, "C128", 16},
};

static int is_int(const geb_pk *v) { return v && v->type == GEB_PK_INT; }

static int is_global(const geb_pk *v, geb_pk_global id) {
    return v && v->type == GEB_PK_GLOBAL && v->u.global.id == id;
}

/* 1 if v is a tuple of n items (n < 0: any length). */
static int is_tuple(const geb_pk *v, long n) {
    return v && v->type == GEB_PK_TUPLE && (n < 0 || v->u.seq.n == (size_t)n);
}

/* ---- the archive ------------------------------------------------------ */

/* Finds the one "<top>/data.pkl" entry and sets pt->top. */
static const geb_zip_entry *find_pickle(geb_pt *pt, geb_err *err) {
    const geb_zip_entry *found = NULL;
    for (size_t i = 0; i < geb_zip_count(pt->zip); i++) {
        const geb_zip_entry *e = geb_zip_at(pt->zip, i);
        const char *slash = strchr(e->name, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0) continue;
        if (found) {
            geb_err_set(err, "%s: two pickles (%s and %s) in one checkpoint", pt->label,
                        found->name, e->name);
            return NULL;
        }
        found = e;
    }
    if (!found) {
        geb_err_set(err, "%s: zip archive without a <folder>/data.pkl entry: not a torch.save checkpoint",
                    pt->label);
        return NULL;
    }
    size_t n = (size_t)(strchr(found->name, '/') - found->name);
    if (n + 1 > sizeof pt->top - 16) {
        geb_err_set(err, "%s: archive folder name is too long", pt->label);
        return NULL;
    }
    memcpy(pt->top, found->name, n);
    pt->top[n] = 0;
    return found;
}

/* The entry <top>/<rest>, or NULL. */
static const geb_zip_entry *find_entry(const geb_pt *pt, const char *rest) {
    char name[sizeof pt->top + PT_MAX_KEY + 16];
    snprintf(name, sizeof name, "%s/%s", pt->top, rest);
    return geb_zip_find(pt->zip, name);
}

/* Refuses a big-endian checkpoint (newer torch writes a byteorder entry). */
static int check_byteorder(const geb_pt *pt, geb_err *err) {
    const geb_zip_entry *e = find_entry(pt, "byteorder");
    if (!e) return 0; /* torch before 2.1 writes none: little-endian */
    if (e->size == 6 && memcmp(e->data, "little", 6) == 0) return 0;
    return geb_err_set(err, "%s: byteorder is '%.*s'; geb reads little-endian checkpoints only",
                       pt->label, (int)(e->size < 16 ? e->size : 16), (const char *)e->data);
}

/* ---- one tensor ------------------------------------------------------- */

/* Reads the persistent id ('storage', class, key, location, numel): sets the
 * tensor's dtype and *elsize, and finds the storage entry, whose size must
 * be numel elements. */
static int read_storage(const geb_pt *pt, const char *name, const geb_pk *pid, geb_tensor *t,
                        size_t *elsize, const geb_zip_entry **entry, geb_err *err) {
    if (!pid || pid->type != GEB_PK_PERSID || !is_tuple(pid->u.persid, 5))
        return geb_err_set(err, "%s: tensor '%s' has no storage persistent id", pt->label, name);
    geb_pk **f = pid->u.persid->u.seq.items;
    if (f[0]->type != GEB_PK_STR || strcmp(f[0]->u.str.s, "storage") != 0 ||
        !is_global(f[1], GEB_PK_G_STORAGE) || f[2]->type != GEB_PK_STR || !is_int(f[4]))
        return geb_err_set(err, "%s: tensor '%s' has a malformed storage persistent id", pt->label, name);
    const char *cls = f[1]->u.global.name;
    size_t k = 0, n = sizeof pt_storages / sizeof pt_storages[0];
    while (k < n && strcmp(pt_storages[k].cls, cls) != 0) k++;
    if (k == n)
        return geb_err_set(err, "%s: tensor '%s' is stored as torch.%s, which geb does not read",
                           pt->label, name, cls);
    const char *key = f[2]->u.str.s;
    if (f[2]->u.str.len == 0 || f[2]->u.str.len > PT_MAX_KEY || strlen(key) != f[2]->u.str.len ||
        strchr(key, '/'))
        return geb_err_set(err, "%s: tensor '%s' has a malformed storage key", pt->label, name);
    char rest[PT_MAX_KEY + 8];
    snprintf(rest, sizeof rest, "data/%s", key);
    const geb_zip_entry *e = find_entry(pt, rest);
    if (!e)
        return geb_err_set(err, "%s: storage %s/data/%s of tensor '%s' is missing", pt->label,
                           pt->top, key, name);
    size_t want;
    if (f[4]->u.i < 0 || (uint64_t)f[4]->u.i > SIZE_MAX ||
        geb_mul_size((size_t)f[4]->u.i, pt_storages[k].size, &want) != 0 || want != e->size)
        return geb_err_set(err, "%s: storage %s of tensor '%s' holds %zu bytes, not %lld elements of %zu bytes",
                           pt->label, key, name, e->size, (long long)f[4]->u.i, pt_storages[k].size);
    t->dtype = pt_storages[k].dtype;
    t->dtype_name = pt_storages[k].dtype_name;
    *elsize = pt_storages[k].size;
    *entry = e;
    return 0;
}

/* Fills shape and numel from the size tuple, and checks that the stride
 * tuple is the contiguous one (dims of size 1 may have any stride). */
static int read_layout(const geb_pt *pt, const char *name, const geb_pk *size,
                       const geb_pk *stride, geb_tensor *t, geb_err *err) {
    if (!is_tuple(size, -1) || !is_tuple(stride, (long)size->u.seq.n))
        return geb_err_set(err, "%s: tensor '%s' has malformed size/stride tuples", pt->label, name);
    size_t nd = size->u.seq.n;
    if (nd > GEB_ST_MAX_DIMS)
        return geb_err_set(err, "%s: tensor '%s' has %zu dims (at most %d supported)", pt->label,
                           name, nd, GEB_ST_MAX_DIMS);
    size_t numel = 1;
    for (size_t d = 0; d < nd; d++) {
        const geb_pk *s = size->u.seq.items[d], *st = stride->u.seq.items[d];
        if (!is_int(s) || s->u.i < 0 || !is_int(st) || st->u.i < 0)
            return geb_err_set(err, "%s: tensor '%s' size/stride %zu is not a non-negative integer",
                               pt->label, name, d);
        if ((uint64_t)s->u.i > SIZE_MAX || geb_mul_size(numel, (size_t)s->u.i, &numel) != 0)
            return geb_err_set(err, "%s: tensor '%s' size overflows the element count", pt->label, name);
        t->shape[d] = s->u.i;
    }
    t->ndim = (int)nd;
    t->numel = numel;
    if (numel == 0) return 0; /* no element is addressed: any stride is fine */
    uint64_t want = 1; /* product of the later sizes: cannot overflow, numel did not */
    for (size_t d = nd; d-- > 0;) {
        int64_t s = t->shape[d], st = stride->u.seq.items[d]->u.i;
        if (s != 1 && (uint64_t)st != want)
            return geb_err_set(err, "%s: tensor '%s' is not contiguous (dim %zu has stride %lld, "
                                    "%llu expected); save it after .contiguous()",
                               pt->label, name, d, (long long)st, (unsigned long long)want);
        want *= (uint64_t)s;
    }
    return 0;
}

/* Points t at its bytes: offset elements into the entry, numel of them. */
static int place(const geb_pt *pt, const char *name, const geb_pk *offset, size_t elsize,
                 const geb_zip_entry *e, geb_tensor *t, geb_err *err) {
    if (!is_int(offset) || offset->u.i < 0)
        return geb_err_set(err, "%s: tensor '%s' storage offset is not a non-negative integer",
                           pt->label, name);
    size_t begin, end, nbytes;
    if ((uint64_t)offset->u.i > SIZE_MAX || geb_mul_size((size_t)offset->u.i, elsize, &begin) ||
        geb_mul_size(t->numel, elsize, &nbytes) || geb_add_size(begin, nbytes, &end) ||
        end > e->size)
        return geb_err_set(err, "%s: tensor '%s' (%zu elements at offset %lld) runs past its storage (%zu bytes)",
                           pt->label, name, t->numel, (long long)offset->u.i, e->size);
    t->data = e->data + begin;
    t->nbytes = nbytes;
    return 0;
}

/* Reads one state dict value: _rebuild_tensor_v2(storage, offset, size,
 * stride, requires_grad, hooks[, metadata]), maybe wrapped in
 * _rebuild_parameter(tensor, requires_grad, hooks). */
static int read_tensor(const geb_pt *pt, const char *name, const geb_pk *v, geb_tensor *t,
                       geb_err *err) {
    if (v && v->type == GEB_PK_CALL && is_global(v->u.call.fn, GEB_PK_G_REBUILD_PARAMETER)) {
        const geb_pk *a = v->u.call.args;
        if (a->u.seq.n < 1)
            return geb_err_set(err, "%s: parameter '%s' has no tensor", pt->label, name);
        v = a->u.seq.items[0];
    }
    if (!v || v->type != GEB_PK_CALL || !is_global(v->u.call.fn, GEB_PK_G_REBUILD_TENSOR_V2))
        return geb_err_set(err, "%s: state dict entry '%s' is not a tensor", pt->label, name);
    const geb_pk *a = v->u.call.args;
    if (a->u.seq.n != 6 && a->u.seq.n != 7)
        return geb_err_set(err, "%s: tensor '%s' is rebuilt from %zu arguments, not 6 or 7",
                           pt->label, name, a->u.seq.n);
    geb_pk **arg = a->u.seq.items;
    if (a->u.seq.n == 7 && arg[6]->type != GEB_PK_NONE &&
        !(arg[6]->type == GEB_PK_DICT && arg[6]->u.seq.n == 0))
        return geb_err_set(err, "%s: tensor '%s' carries metadata geb does not understand",
                           pt->label, name);
    size_t elsize = 0;
    const geb_zip_entry *e = NULL;
    t->name = name;
    if (read_storage(pt, name, arg[0], t, &elsize, &e, err) != 0 ||
        read_layout(pt, name, arg[2], arg[3], t, err) != 0 ||
        place(pt, name, arg[1], elsize, e, t, err) != 0)
        return -1;
    return 0;
}

/* Turns the root dict into pt->tensors. */
static int read_state_dict(geb_pt *pt, const geb_pk *root, geb_err *err) {
    if (!root || root->type != GEB_PK_DICT)
        return geb_err_set(err, "%s: data.pkl does not hold a state dict (a dict of tensors)", pt->label);
    size_t n = root->u.seq.n / 2;
    pt->tensors = calloc(n ? n : 1, sizeof *pt->tensors);
    if (!pt->tensors) return geb_err_set(err, "%s: out of memory", pt->label);
    for (size_t i = 0; i < n; i++) {
        const geb_pk *k = root->u.seq.items[2 * i], *v = root->u.seq.items[2 * i + 1];
        if (k->type != GEB_PK_STR || strlen(k->u.str.s) != k->u.str.len || k->u.str.len == 0)
            return geb_err_set(err, "%s: state dict key %zu is not a tensor name", pt->label, i);
        if (read_tensor(pt, k->u.str.s, v, &pt->tensors[i], err) != 0) return -1;
        pt->count++;
    }
    return 0;
}

/* ---- public ----------------------------------------------------------- */

int geb_pt_open(geb_pt **out, const uint8_t *buf, size_t len, const char *label, geb_err *err) {
    *out = NULL;
    if (!buf) len = 0;
    /* The legacy format starts with a pickled magic number (PROTO 2). */
    if (len >= 2 && buf[0] == 0x80 && buf[1] <= 5)
        return geb_err_set(err, "%s: legacy PyTorch format (before 1.6, not a zip archive); re-save it "
                                "with torch.save(torch.load(path), path) in the default zip format, "
                                "or convert it to safetensors", label);
    geb_pt *pt = calloc(1, sizeof *pt);
    if (!pt) return geb_err_set(err, "%s: out of memory", label);
    pt->label = label;
    const geb_zip_entry *pkl;
    char plabel[GEB_ERR_MAX];
    if (geb_zip_open(&pt->zip, buf, len, label, err) != 0 || !(pkl = find_pickle(pt, err)) ||
        check_byteorder(pt, err) != 0)
        goto fail;
    snprintf(plabel, sizeof plabel, "%s: %s", label, pkl->name);
    if (geb_pickle_load(&pt->pickle, pkl->data, pkl->size, plabel, err) != 0 ||
        read_state_dict(pt, geb_pickle_root(pt->pickle), err) != 0)
        goto fail;
    *out = pt;
    return 0;
fail:
    geb_pt_close(pt);
    return -1;
}

size_t geb_pt_count(const geb_pt *pt) { return pt ? pt->count : 0; }

geb_tensor *geb_pt_tensors(geb_pt *pt) { return pt ? pt->tensors : NULL; }

void geb_pt_close(geb_pt *pt) {
    if (!pt) return;
    geb_zip_close(pt->zip);
    geb_pickle_free(pt->pickle);
    free(pt->tensors);
    free(pt);
}
