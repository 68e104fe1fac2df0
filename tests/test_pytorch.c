/* test_pytorch.c - the PyTorch checkpoint reader (src/zip.c, src/pickle.c,
 * src/pytorch.c behind geb_st_open).
 *
 *  - Parity: every fixture written by torch.save (tools/gen_pt_fixtures.py)
 *    gives exactly the tensors of its safetensors twin: same names, shapes,
 *    dtypes, bytes, and bit-identical floats after conversion.  Views and a
 *    shared FFN point into one storage; the forced-ZIP64 repack reads alike.
 *  - Folder rules: safetensors wins over pytorch_model.bin; the only *.bin;
 *    a path to a .bin or to pytorch_model.bin.index.json.
 *  - Hostile input, each refused with -1 and one line that says what is
 *    wrong: globals that run code, the legacy format, truncated or damaged
 *    zips, overlapping or out-of-range entries, compressed entries, short
 *    storages, huge sizes/strides/offsets, strided views, deep or huge
 *    pickles, a shard missing from the index.  Archives and pickles for these
 *    are built here, by a small zip and pickle writer, from a valid base that
 *    is checked to open first, so that each refusal is caused by the one
 *    defect introduced.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pickle.h"
#include "pytorch.h"
#include "safetensors.h"
#include "test.h"
#include "zip.h"

/* ---- growable byte buffer ---------------------------------------------- */

typedef struct bytes {
    uint8_t *b;
    size_t n, cap;
} bytes;

static void put(bytes *o, const void *p, size_t n) {
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = realloc(o->b, o->cap);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void put8(bytes *o, int v) {
    uint8_t c = (uint8_t)v;
    put(o, &c, 1);
}
static void put_le(bytes *o, uint64_t v, int n) {
    for (int i = 0; i < n; i++) put8(o, (int)(v >> (8 * i) & 0xFF));
}

/* ---- a pickle writer, torch.save's shape ------------------------------- */

static void pk_str(bytes *o, const char *s) {
    put8(o, 'X');
    put_le(o, strlen(s), 4);
    put(o, s, strlen(s));
}
static void pk_int(bytes *o, int64_t v) {
    if (v >= 0 && v < 256) {
        put8(o, 'K');
        put8(o, (int)v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put8(o, 'J');
        put_le(o, (uint64_t)v, 4);
    } else {
        put8(o, 0x8a);
        put8(o, 8);
        put_le(o, (uint64_t)v, 8);
    }
}
static void pk_global(bytes *o, const char *mod, const char *name) {
    put8(o, 'c');
    put(o, mod, strlen(mod));
    put8(o, '\n');
    put(o, name, strlen(name));
    put8(o, '\n');
}

/* One tensor as torch writes it. */
typedef struct tspec {
    const char *name, *cls, *key;
    int64_t numel, offset;
    int nd;
    int64_t size[4], stride[4];
} tspec;

static void pk_tensor(bytes *o, const tspec *t) {
    pk_str(o, t->name);
    pk_global(o, "torch._utils", "_rebuild_tensor_v2");
    put8(o, '(');
    put8(o, '(');
    pk_str(o, "storage");
    pk_global(o, "torch", t->cls);
    pk_str(o, t->key);
    pk_str(o, "cpu");
    pk_int(o, t->numel);
    put8(o, 't');
    put8(o, 'Q');
    pk_int(o, t->offset);
    put8(o, '(');
    for (int d = 0; d < t->nd; d++) pk_int(o, t->size[d]);
    put8(o, 't');
    put8(o, '(');
    for (int d = 0; d < t->nd; d++) pk_int(o, t->stride[d]);
    put8(o, 't');
    put8(o, 0x89);
    pk_global(o, "collections", "OrderedDict");
    put8(o, ')');
    put8(o, 'R');
    put8(o, 't');
    put8(o, 'R');
}

/* An OrderedDict of n tensors. */
static bytes pk_state(const tspec *t, int n) {
    bytes o = {0};
    put8(&o, 0x80);
    put8(&o, 2);
    pk_global(&o, "collections", "OrderedDict");
    put8(&o, ')');
    put8(&o, 'R');
    put8(&o, '(');
    for (int i = 0; i < n; i++) pk_tensor(&o, &t[i]);
    put8(&o, 'u');
    put8(&o, '.');
    return o;
}

/* ---- a zip writer (stored unless told) --------------------------------- */

typedef struct zent {
    const char *name;
    const uint8_t *data;
    size_t n;
    int method;
} zent;

/* Local headers + data, central directory, end record(s); zip64 puts every
 * size and offset in ZIP64 fields. */
static bytes zip_build(const zent *e, int n, int zip64) {
    bytes o = {0}, cd = {0};
    for (int i = 0; i < n; i++) {
        size_t off = o.n, nl = strlen(e[i].name);
        uint32_t sz = zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].n;
        put_le(&o, 0x04034b50, 4);
        put_le(&o, 20, 2);
        put_le(&o, 0, 2);
        put_le(&o, (uint64_t)e[i].method, 2);
        put_le(&o, 0, 4);
        put_le(&o, 0, 4); /* crc, not checked */
        put_le(&o, sz, 4);
        put_le(&o, sz, 4);
        put_le(&o, nl, 2);
        put_le(&o, zip64 ? 20 : 0, 2);
        put(&o, e[i].name, nl);
        if (zip64) {
            put_le(&o, 1, 2);
            put_le(&o, 16, 2);
            put_le(&o, e[i].n, 8);
            put_le(&o, e[i].n, 8);
        }
        put(&o, e[i].data, e[i].n);
        put_le(&cd, 0x02014b50, 4);
        put_le(&cd, 20, 2);
        put_le(&cd, 20, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, (uint64_t)e[i].method, 2);
        put_le(&cd, 0, 4);
        put_le(&cd, 0, 4);
        put_le(&cd, sz, 4);
        put_le(&cd, sz, 4);
        put_le(&cd, nl, 2);
        put_le(&cd, zip64 ? 28 : 0, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, 0, 4);
        put_le(&cd, zip64 ? 0xFFFFFFFFu : off, 4);
        put(&cd, e[i].name, nl);
        if (zip64) {
            put_le(&cd, 1, 2);
            put_le(&cd, 24, 2);
            put_le(&cd, e[i].n, 8);
            put_le(&cd, e[i].n, 8);
            put_le(&cd, off, 8);
        }
    }
    size_t cd_off = o.n;
    put(&o, cd.b, cd.n);
    if (zip64) {
        size_t e64 = o.n;
        put_le(&o, 0x06064b50, 4);
        put_le(&o, 44, 8);
        put_le(&o, 45, 2);
        put_le(&o, 45, 2);
        put_le(&o, 0, 4);
        put_le(&o, 0, 4);
        put_le(&o, (uint64_t)n, 8);
        put_le(&o, (uint64_t)n, 8);
        put_le(&o, cd.n, 8);
        put_le(&o, cd_off, 8);
        put_le(&o, 0x07064b50, 4);
        put_le(&o, 0, 4);
        put_le(&o, e64, 8);
        put_le(&o, 1, 4);
    }
    put_le(&o, 0x06054b50, 4);
    put_le(&o, 0, 4);
    put_le(&o, zip64 ? 0xFFFF : (uint64_t)n, 2);
    put_le(&o, zip64 ? 0xFFFF : (uint64_t)n, 2);
    put_le(&o, zip64 ? 0xFFFFFFFFu : cd.n, 4);
    put_le(&o, zip64 ? 0xFFFFFFFFu : cd_off, 4);
    put_le(&o, 0, 2);
    free(cd.b);
    return o;
}

/* ---- the base archive and its defects ---------------------------------- */

static const float base_vals[6] = {1.0f, -2.0f, 0.5f, 3.25f, -0.125f, 7.0f};

/* A checkpoint "arc/" with one F32 storage of 6 floats; tensors t[0..n). */
static bytes archive(const tspec *t, int n, int zip64) {
    bytes pkl = pk_state(t, n);
    zent e[3] = {
        {"arc/data.pkl", pkl.b, pkl.n, 0},
        {"arc/data/0", (const uint8_t *)base_vals, sizeof base_vals, 0},
        {"arc/version", (const uint8_t *)"3\n", 2, 0},
    };
    bytes z = zip_build(e, 3, zip64);
    free(pkl.b);
    return z;
}

static const tspec good_w = {"w", "FloatStorage", "0", 6, 0, 2, {2, 3}, {3, 1}};

/* Opens a copy of buf[0..n) of exactly n bytes (so ASan sees overreads);
 * returns the rc and leaves the message in err. */
static int open_exact(const uint8_t *buf, size_t n, geb_err *err) {
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, buf, n);
    geb_pt *pt = (geb_pt *)1;
    err->msg[0] = 0;
    int rc = geb_pt_open(&pt, c, n, "<test>", err);
    if (rc == 0) geb_pt_close(pt);
    else CHECK(pt == NULL);
    free(c);
    return rc;
}

/* rc -1, one line, and the message contains want. */
static void expect_refusal(const char *what, const uint8_t *buf, size_t n, const char *want) {
    geb_err err;
    int rc = open_exact(buf, n, &err);
    CHECK_MSG(rc == -1 && err.msg[0] && !strchr(err.msg, '\n') && strstr(err.msg, want),
              "%s: rc %d, message '%s' (want '%s')", what, rc, err.msg, want);
}

static void expect_tspec_refusal(const char *what, tspec t, const char *want) {
    bytes z = archive(&t, 1, 0);
    expect_refusal(what, z.b, z.n, want);
    free(z.b);
}

/* The base opens and reads back the floats, classic and ZIP64. */
static void check_base(void) {
    for (int zip64 = 0; zip64 < 2; zip64++) {
        tspec t[2] = {good_w, {"tail", "FloatStorage", "0", 6, 4, 1, {2}, {1}}};
        bytes z = archive(t, 2, zip64);
        geb_pt *pt;
        geb_err err;
        CHECK_MSG(geb_pt_open(&pt, z.b, z.n, "<base>", &err) == 0, "zip64=%d: %s", zip64, err.msg);
        if (!pt) { free(z.b); continue; }
        CHECK(geb_pt_count(pt) == 2);
        const geb_tensor *w = &geb_pt_tensors(pt)[0], *tail = &geb_pt_tensors(pt)[1];
        CHECK(strcmp(w->name, "w") == 0 && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3);
        CHECK(w->dtype == GEB_DTYPE_F32 && w->numel == 6 && w->nbytes == 24);
        float f[6];
        geb_convert_to_f32(f, w->data, w->dtype, 6);
        CHECK(memcmp(f, base_vals, sizeof f) == 0);
        geb_convert_to_f32(f, tail->data, tail->dtype, 2);
        CHECK(f[0] == -0.125f && f[1] == 7.0f && tail->data == w->data + 16); /* shares w's bytes */
        geb_pt_close(pt);
        free(z.b);
    }
}

static void check_zip_damage(void) {
    bytes z = archive(&good_w, 1, 0);
    /* Truncated anywhere: the end record is gone or points outside. */
    size_t cuts[] = {0, 1, 21, 22, 100, z.n / 2, z.n - 23, z.n - 22, z.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        expect_refusal("truncated", z.b, cuts[i], "<test>");
    for (size_t k = 1; k < z.n; k += 7) { /* and every 7th length, for the sanitizers */
        geb_err err;
        CHECK(open_exact(z.b, k, &err) == -1 && err.msg[0]);
    }
    uint8_t *b = malloc(z.n);
    size_t eocd = z.n - 22;
    struct { size_t at; uint32_t v; int w; size_t at2; uint32_t v2; const char *want; } edits[] = {
        {eocd + 16, 1, 4, 0, 0, "central directory"},             /* CD offset wrong */
        {eocd + 16, 0xFFFFFFF0u, 4, 0, 0, "outside the file"},    /* CD offset past the end */
        {eocd + 12, 0xFFFFFF, 4, 0, 0, "outside the file"},       /* CD size too large */
        {eocd + 12, 46, 4, 0, 0, "claims 3 entries in 46 bytes"}, /* CD size too small */
        {eocd + 8, 2, 2, eocd + 10, 2, "does not match its 2 entries"}, /* one entry short */
        {eocd + 8, 2, 2, eocd + 10, 3, "multi-disk"},             /* this-disk count differs */
        {eocd + 8, 60, 2, eocd + 10, 60, "claims 60"},            /* entries that cannot fit */
        {eocd + 20, 5, 2, 0, 0, "no end of central directory"},   /* comment past the end */
        {eocd + 4, 1, 2, 0, 0, "multi-disk"},                     /* disk number */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(b, z.b, z.n);
        for (int k = 0; k < edits[i].w; k++) b[edits[i].at + k] = (uint8_t)(edits[i].v >> (8 * k));
        if (edits[i].at2) {
            b[edits[i].at2] = (uint8_t)edits[i].v2;
            b[edits[i].at2 + 1] = (uint8_t)(edits[i].v2 >> 8);
        }
        expect_refusal("end record edit", b, z.n, edits[i].want);
    }
    /* A central record's local-header offset moved by one byte. */
    size_t cd = (size_t)b[eocd + 16] | (size_t)b[eocd + 17] << 8 | (size_t)b[eocd + 18] << 16;
    memcpy(b, z.b, z.n);
    b[cd + 42] += 1;
    expect_refusal("local offset", b, z.n, "local header");
    /* A central record's size grown past the data (into the directory). */
    memcpy(b, z.b, z.n);
    b[cd + 20] = b[cd + 24] = b[18] = b[22] = 0xF0; /* central and local (entry 0 is at 0) */
    b[cd + 21] = b[cd + 25] = b[19] = b[23] = 0xFF;
    expect_refusal("entry size", b, z.n, "runs into the central directory");
    free(b);
    free(z.b);
}

/* Entry B's local header and data lie inside entry A's data. */
static void check_overlap(void) {
    bytes inner = {0};
    put_le(&inner, 0x04034b50, 4);
    put_le(&inner, 20, 2);
    put_le(&inner, 0, 2);
    put_le(&inner, 0, 2);
    put_le(&inner, 0, 8);
    put_le(&inner, 4, 4);
    put_le(&inner, 4, 4);
    put_le(&inner, 5, 2);
    put_le(&inner, 0, 2);
    put(&inner, "a/b/c", 5);
    put(&inner, "DATA", 4);
    zent e[1] = {{"a/outer", inner.b, inner.n, 0}};
    bytes z = zip_build(e, 1, 0);
    /* Add a second central record for "a/b/c" at offset 30 + 7 (inside). */
    bytes o = {0};
    size_t eocd = z.n - 22;
    size_t cd = (size_t)z.b[eocd + 16] | (size_t)z.b[eocd + 17] << 8;
    put(&o, z.b, eocd);
    size_t extra_at = o.n;
    put_le(&o, 0x02014b50, 4);
    put_le(&o, 20, 2);
    put_le(&o, 20, 2);
    put_le(&o, 0, 4);
    put_le(&o, 0, 8);
    put_le(&o, 4, 4);
    put_le(&o, 4, 4);
    put_le(&o, 5, 2);
    put_le(&o, 0, 8);
    put_le(&o, 0, 4);
    put_le(&o, 37, 4);
    put(&o, "a/b/c", 5);
    size_t cd_len = o.n - cd;
    (void)extra_at;
    put_le(&o, 0x06054b50, 4);
    put_le(&o, 0, 4);
    put_le(&o, 2, 2);
    put_le(&o, 2, 2);
    put_le(&o, cd_len, 4);
    put_le(&o, cd, 4);
    put_le(&o, 0, 2);
    geb_zip *zz = NULL;
    geb_err err = {{0}};
    uint8_t *c = malloc(o.n);
    memcpy(c, o.b, o.n);
    int rc = geb_zip_open(&zz, c, o.n, "<ovl>", &err);
    CHECK_MSG(rc == -1 && strstr(err.msg, "overlap"), "overlap: rc %d '%s'", rc, err.msg);
    if (rc == 0) geb_zip_close(zz);
    /* The same archive without the nested record opens: the refusal above is the overlap. */
    CHECK(geb_zip_open(&zz, z.b, z.n, "<one>", &err) == 0 && geb_zip_count(zz) == 1);
    geb_zip_close(zz);
    free(c);
    free(o.b);
    free(z.b);
    free(inner.b);
}

static void check_entries(void) {
    bytes pkl = pk_state(&good_w, 1);
    const uint8_t *vals = (const uint8_t *)base_vals;
    /* Compressed data entry, named. */
    zent e[3] = {{"arc/data.pkl", pkl.b, pkl.n, 0}, {"arc/data/0", vals, 24, 8}, {"arc/version", (const uint8_t *)"3\n", 2, 0}};
    bytes z = zip_build(e, 3, 0);
    expect_refusal("deflated", z.b, z.n, "'arc/data/0' is compressed");
    free(z.b);
    /* Storage entry missing. */
    e[1].method = 0;
    e[1].name = "arc/data/1";
    z = zip_build(e, 3, 0);
    expect_refusal("no storage", z.b, z.n, "arc/data/0 of tensor 'w' is missing");
    free(z.b);
    /* Storage shorter than the persistent id says. */
    e[1].name = "arc/data/0";
    e[1].n = 20;
    z = zip_build(e, 3, 0);
    expect_refusal("short storage", z.b, z.n, "holds 20 bytes, not 6 elements");
    free(z.b);
    /* Big-endian byteorder. */
    e[1].n = 24;
    zent eb[4] = {e[0], e[1], e[2], {"arc/byteorder", (const uint8_t *)"big", 3, 0}};
    z = zip_build(eb, 4, 0);
    expect_refusal("byteorder", z.b, z.n, "little-endian");
    free(z.b);
    eb[3].data = (const uint8_t *)"little";
    eb[3].n = 6;
    z = zip_build(eb, 4, 0);
    geb_err err;
    CHECK_MSG(open_exact(z.b, z.n, &err) == 0, "byteorder little: %s", err.msg);
    free(z.b);
    /* No pickle; two pickles; the same name twice. */
    zent np[2] = {e[1], e[2]};
    z = zip_build(np, 2, 0);
    expect_refusal("no pickle", z.b, z.n, "data.pkl");
    free(z.b);
    zent two[3] = {e[0], e[1], {"other/data.pkl", pkl.b, pkl.n, 0}};
    z = zip_build(two, 3, 0);
    expect_refusal("two pickles", z.b, z.n, "two pickles");
    free(z.b);
    zent dup[3] = {e[0], e[1], e[1]};
    z = zip_build(dup, 3, 0);
    expect_refusal("duplicate entry", z.b, z.n, "appears twice");
    free(z.b);
    free(pkl.b);
}

static void check_tensor_specs(void) {
    tspec t = good_w;
    t.offset = 1;
    expect_tspec_refusal("offset past storage", t, "runs past its storage");
    t = good_w;
    t.offset = (int64_t)1 << 62;
    expect_tspec_refusal("huge offset", t, "runs past its storage");
    t = good_w;
    t.size[0] = (int64_t)1 << 62;
    t.size[1] = 8;
    expect_tspec_refusal("huge size", t, "overflows");
    t = good_w;
    t.size[0] = (int64_t)1 << 40;
    t.stride[0] = 1;
    t.size[1] = 1;
    expect_tspec_refusal("size past storage", t, "runs past its storage");
    t = good_w;
    t.stride[0] = (int64_t)1 << 62;
    expect_tspec_refusal("huge stride", t, "not contiguous");
    t = good_w;
    t.stride[0] = 1;
    t.stride[1] = 2;
    expect_tspec_refusal("transposed view", t, "'w' is not contiguous");
    t = good_w;
    t.stride[1] = -1;
    expect_tspec_refusal("negative stride", t, "non-negative");
    t = good_w;
    t.numel = (int64_t)1 << 62;
    expect_tspec_refusal("storage numel overflow", t, "not 4611686018427387904 elements");
    t = good_w;
    t.cls = "QInt8Storage";
    expect_tspec_refusal("quantized", t, "torch.QInt8Storage");
    t = good_w;
    t.cls = "UntypedStorage";
    expect_tspec_refusal("unlisted class", t, "refusing global torch.UntypedStorage");
    t = good_w;
    t.nd = 0; /* a scalar: one element at offset 0 is fine */
    bytes z = archive(&t, 1, 0);
    geb_err err;
    CHECK_MSG(open_exact(z.b, z.n, &err) == 0, "scalar: %s", err.msg);
    free(z.b);
    t = good_w;
    t.size[1] = 1; /* size-1 dims may have any stride */
    t.stride[1] = 999;
    t.stride[0] = 1;
    t.size[0] = 6;
    z = archive(&t, 1, 0);
    CHECK_MSG(open_exact(z.b, z.n, &err) == 0, "size-1 stride: %s", err.msg);
    free(z.b);
    tspec two[2] = {good_w, good_w};
    z = archive(two, 2, 0);
    geb_pt *pt;
    CHECK(geb_pt_open(&pt, z.b, z.n, "<dup>", &err) == 0); /* the pickle is fine... */
    geb_pt_close(pt);
    /* ...but geb_st refuses a repeated name (see check_files). */
    free(z.b);
}

/* Pickles fed straight to the interpreter. */
static void expect_pickle_refusal(const char *what, const bytes *p, const char *want) {
    geb_pickle *pk = (geb_pickle *)1;
    geb_err err = {{0}};
    uint8_t *c = malloc(p->n ? p->n : 1);
    memcpy(c, p->b, p->n);
    int rc = geb_pickle_load(&pk, c, p->n, "<pkl>", &err);
    CHECK_MSG(rc == -1 && pk == NULL && !strchr(err.msg, '\n') && strstr(err.msg, want),
              "%s: rc %d '%s' (want '%s')", what, rc, err.msg, want);
    if (rc == 0) geb_pickle_free(pk);
    free(c);
}

static void check_pickles(void) {
    bytes p = {0};
    /* A torch-style pickle works; globals outside the list are refused by name. */
    const char *evil[][2] = {{"os", "system"}, {"posix", "system"}, {"builtins", "eval"},
                             {"__builtin__", "exec"}, {"torch", "load"}, {"collections", "deque"}};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        p.n = 0;
        put8(&p, 0x80);
        put8(&p, 2);
        pk_global(&p, evil[i][0], evil[i][1]);
        pk_str(&p, "echo hi");
        put8(&p, 0x85);
        put8(&p, 'R');
        put8(&p, '.');
        char want[64];
        snprintf(want, sizeof want, "refusing global %s.%s", evil[i][0], evil[i][1]);
        expect_pickle_refusal(want, &p, want);
    }
    /* STACK_GLOBAL (protocol 4) is checked the same way. */
    p.n = 0;
    put8(&p, 0x80);
    put8(&p, 4);
    put8(&p, 0x8c);
    put8(&p, 8);
    put(&p, "builtins", 8);
    put8(&p, 0x8c);
    put8(&p, 4);
    put(&p, "eval", 4);
    put8(&p, 0x93);
    put8(&p, '.');
    expect_pickle_refusal("stack global", &p, "builtins.eval");
    /* Deep nesting: MARKs, and tuples of tuples. */
    p.n = 0;
    for (int i = 0; i < 100000; i++) put8(&p, '(');
    expect_pickle_refusal("deep marks", &p, "MARKs nested deeper");
    p.n = 0;
    put8(&p, ')');
    for (int i = 0; i < 100000; i++) put8(&p, 0x85);
    put8(&p, '.');
    expect_pickle_refusal("deep tuples", &p, "nested deeper");
    p.n = 0; /* each new list gets the previous one appended, through the memo */
    put8(&p, ']');
    put8(&p, 'r');
    put_le(&p, 0, 4);
    for (uint32_t i = 1; i < 1000; i++) {
        put8(&p, ']');
        put8(&p, 'j');
        put_le(&p, i - 1, 4);
        put8(&p, 'a');
        put8(&p, 'r');
        put_le(&p, i, 4);
    }
    put8(&p, '.');
    expect_pickle_refusal("deep lists", &p, "nested deeper");
    /* Huge containers and stacks. */
    p.n = 0;
    put8(&p, ']');
    for (int b = 0; b < 1100; b++) {
        put8(&p, '(');
        for (int i = 0; i < 1000; i++) put8(&p, 'N');
        put8(&p, 'e');
    }
    put8(&p, '.');
    expect_pickle_refusal("huge list", &p, "more than 1048576 items");
    p.n = 0;
    for (int i = 0; i < (1 << 20) + 10; i++) put8(&p, 'N');
    expect_pickle_refusal("huge stack", &p, "stack deeper");
    p.n = 0;
    put8(&p, 'N');
    put8(&p, 'r');
    put_le(&p, 0xFFFFFFFFu, 4);
    expect_pickle_refusal("memo index", &p, "memo index 4294967295 too large");
    p.n = 0;
    put8(&p, 'h');
    put8(&p, 3);
    expect_pickle_refusal("memo get", &p, "never stored");
    p.n = 0;
    put8(&p, 'X');
    put_le(&p, 1000, 4);
    put(&p, "abc", 3);
    expect_pickle_refusal("truncated string", &p, "truncated");
    p.n = 0;
    put8(&p, 'N');
    expect_pickle_refusal("no stop", &p, "without STOP");
    p.n = 0;
    put8(&p, 'I'); /* protocol 0 INT: not written by torch.save */
    expect_pickle_refusal("text opcode", &p, "opcode 0x49");
    p.n = 0;
    put8(&p, 0x8a);
    put8(&p, 9);
    put_le(&p, 0, 8);
    put8(&p, 1);
    put8(&p, '.');
    expect_pickle_refusal("long1 2^64", &p, "wider than 64 bits");
    p.n = 0;
    put8(&p, 't');
    expect_pickle_refusal("tuple without mark", &p, "no MARK");
    p.n = 0;
    put8(&p, 'N');
    put8(&p, 'a');
    expect_pickle_refusal("append to none", &p, "underflow");
    /* Empty containers, even with nothing on the stack before them. */
    const char *empties[] = {"(t.", "}.", "].", ").", "(N1N.", "\x80\x02(]\x85."};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        geb_pickle *pk;
        geb_err err = {{0}};
        CHECK_MSG(geb_pickle_load(&pk, (const uint8_t *)empties[i], strlen(empties[i]), "<e>", &err) == 0,
                  "%s", err.msg);
        geb_pickle_free(pk);
    }
    /* Values of each kind come out as written. */
    p.n = 0;
    put8(&p, 0x80);
    put8(&p, 4);
    put8(&p, 0x95);
    put_le(&p, 40, 8);
    put8(&p, '(');
    pk_int(&p, -5);
    pk_int(&p, 70000);
    pk_int(&p, (int64_t)1 << 40);
    put8(&p, 0x8a); /* LONG1 -1 in one byte */
    put8(&p, 1);
    put8(&p, 0xFF);
    put8(&p, 'G'); /* BINFLOAT 1.5, big-endian */
    put(&p, "\x3f\xf8\0\0\0\0\0\0", 8);
    put8(&p, 0x88);
    put8(&p, 'N');
    put8(&p, 0x8c);
    put8(&p, 2);
    put(&p, "hi", 2);
    put8(&p, 0x94); /* MEMOIZE at 0 */
    put8(&p, 'h');
    put8(&p, 0);
    put8(&p, 'l'); /* LIST: not torch's; refused */
    put8(&p, '.');
    expect_pickle_refusal("LIST opcode", &p, "opcode 0x6c");
    p.b[p.n - 2] = 't';
    geb_pickle *pk;
    geb_err err;
    CHECK_MSG(geb_pickle_load(&pk, p.b, p.n, "<vals>", &err) == 0, "%s", err.msg);
    if (pk) {
        const geb_pk *r = geb_pickle_root(pk);
        CHECK(r->type == GEB_PK_TUPLE && r->u.seq.n == 9);
        if (r->type == GEB_PK_TUPLE && r->u.seq.n == 9) {
            geb_pk **it = r->u.seq.items;
            CHECK(it[0]->u.i == -5 && it[1]->u.i == 70000 && it[2]->u.i == (int64_t)1 << 40);
            CHECK(it[3]->u.i == -1 && it[4]->type == GEB_PK_FLOAT && it[4]->u.f == 1.5);
            CHECK(it[5]->type == GEB_PK_BOOL && it[5]->u.i == 1 && it[6]->type == GEB_PK_NONE);
            CHECK(it[7]->type == GEB_PK_STR && strcmp(it[7]->u.str.s, "hi") == 0 && it[8] == it[7]);
        }
        geb_pickle_free(pk);
    }
    free(p.b);
}

/* ---- fixtures against their safetensors twins -------------------------- */

/* Same names, shapes, dtypes, bytes; floats bit-identical after conversion.
 * The PyTorch side may carry extra non-float buffers. */
static void check_twin(const char *pt_path, const char *st_path, size_t files) {
    geb_st *a = NULL, *b = NULL;
    geb_err err;
    CHECK_MSG(geb_st_open(&a, pt_path, &err) == 0, "%s", err.msg);
    CHECK_MSG(geb_st_open(&b, st_path, &err) == 0, "%s", err.msg);
    if (!a || !b) {
        geb_st_close(a);
        geb_st_close(b);
        return;
    }
    CHECK(strcmp(geb_st_format(a), "pytorch") == 0 && strcmp(geb_st_format(b), "safetensors") == 0);
    CHECK_MSG(geb_st_n_files(a) == files, "%s: %zu files", pt_path, geb_st_n_files(a));
    for (size_t i = 0; i < geb_st_n_files(a); i++) {
        const char *f = geb_st_file_name(a, i);
        CHECK(f && strlen(f) > 4 && strcmp(f + strlen(f) - 4, ".bin") == 0);
    }
    CHECK(geb_st_file_name(a, files) == NULL);
    size_t same = 0;
    for (size_t i = 0; i < geb_st_count(b); i++) {
        const geb_tensor *y = geb_st_at(b, i), *x = geb_st_find(a, y->name);
        CHECK_MSG(x != NULL, "%s: no tensor %s", pt_path, y->name);
        if (!x) continue;
        int ok = x->dtype == y->dtype && strcmp(x->dtype_name, y->dtype_name) == 0 &&
                 x->ndim == y->ndim && x->numel == y->numel && x->nbytes == y->nbytes &&
                 memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim) == 0 &&
                 (x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
        if (ok && y->dtype != GEB_DTYPE_OTHER && y->numel) {
            float *fx = malloc(sizeof(float) * x->numel), *fy = malloc(sizeof(float) * y->numel);
            geb_convert_to_f32(fx, x->data, x->dtype, x->numel);
            geb_convert_to_f32(fy, y->data, y->dtype, y->numel);
            ok = memcmp(fx, fy, sizeof(float) * x->numel) == 0;
            free(fx);
            free(fy);
        }
        CHECK_MSG(ok, "%s: tensor %s differs from its twin", pt_path, y->name);
        same += ok;
    }
    for (size_t i = 0; i < geb_st_count(a); i++) {
        const geb_tensor *x = geb_st_at(a, i);
        CHECK_MSG(geb_st_find(b, x->name) || x->dtype == GEB_DTYPE_OTHER,
                  "%s: float tensor %s has no twin", pt_path, x->name);
    }
    CHECK(same == geb_st_count(b) && same > 0);
    geb_st_close(a);
    geb_st_close(b);
}

static const geb_tensor *find(const geb_st *st, const char *fmt, int layer) {
    char name[200];
    snprintf(name, sizeof name, fmt, layer);
    return geb_st_find(st, name);
}

/* pt-views: query and key_value of every layer are consecutive rows of one
 * storage; pt-shared-ffn and pt-mobillama: every layer's FFN is the same bytes. */
static void check_sharing(void) {
    geb_st *st;
    geb_err err;
    const char *q = "transformer.encoder.layers.%d.self_attention.query.weight";
    const char *kv = "transformer.encoder.layers.%d.self_attention.key_value.weight";
    if (geb_st_open(&st, "tests/data/models/pt-views", &err) == 0) {
        const geb_tensor *q0 = find(st, q, 0), *kv0 = find(st, kv, 0), *q1 = find(st, q, 1);
        CHECK(q0 && kv0 && q1 && kv0->data == q0->data + q0->nbytes && q1->data == kv0->data + kv0->nbytes);
        const geb_tensor *pos = geb_st_find(st, "transformer.position_ids");
        CHECK(pos && pos->dtype == GEB_DTYPE_OTHER && strcmp(pos->dtype_name, "I64") == 0 && pos->numel == 7);
        geb_st_close(st);
    } else {
        CHECK_MSG(0, "%s", err.msg);
    }
    const char *up = "transformer.encoder.layers.%d.mlp.dense_h_to_4h.weight";
    if (geb_st_open(&st, "tests/data/models/pt-shared-ffn", &err) == 0) {
        CHECK(find(st, up, 0) && find(st, up, 1) && find(st, up, 2));
        CHECK(find(st, up, 0)->data == find(st, up, 1)->data && find(st, up, 1)->data == find(st, up, 2)->data);
        geb_st_close(st);
    } else {
        CHECK_MSG(0, "%s", err.msg);
    }
    /* pt-mobillama: MobiLlama's one LlamaMLP, every layer's keys one storage */
    const char *roles[] = {"gate_proj", "up_proj", "down_proj"};
    if (geb_st_open(&st, "tests/data/models/pt-mobillama", &err) == 0) {
        for (int r = 0; r < 3; r++) {
            char fmt[80];
            snprintf(fmt, sizeof fmt, "model.layers.%%d.mlp.%s.weight", roles[r]);
            const geb_tensor *t0 = find(st, fmt, 0), *t1 = find(st, fmt, 1), *t2 = find(st, fmt, 2);
            CHECK_MSG(t0 && t1 && t2 && t0->data == t1->data && t1->data == t2->data, "pt-mobillama %s", roles[r]);
        }
        geb_st_close(st);
    } else {
        CHECK_MSG(0, "%s", err.msg);
    }
}

/* ---- folders and files ------------------------------------------------- */

static char tmpdir[64];

static void write_file(const char *name, const void *p, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static void copy_file(const char *from, const char *name) {
    uint8_t *b;
    size_t n;
    geb_err err;
    if (geb_read_file(from, &b, &n, (size_t)1 << 30, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    write_file(name, b, n);
    free(b);
}

static void clear_dir(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[400];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            remove(path);
        }
    if (d) closedir(d);
}

/* Opens tmpdir (or tmpdir/name) and returns the format or the error. */
static const char *open_fmt(const char *name, char *msg) {
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", tmpdir, name ? "/" : "", name ? name : "");
    geb_st *st;
    geb_err err;
    if (geb_st_open(&st, path, &err) != 0) {
        snprintf(msg, GEB_ERR_MAX, "%s", err.msg);
        CHECK(!strchr(err.msg, '\n'));
        return NULL;
    }
    static char fmt[32];
    snprintf(fmt, sizeof fmt, "%s", geb_st_format(st));
    geb_st_close(st);
    return fmt;
}

static void check_files(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/geb_pt_test.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0);
        return;
    }
    char msg[GEB_ERR_MAX] = "";
    const char *f;
    const char *bin = "tests/data/pt/small.bin", *st = "tests/data/pt/small.safetensors";
    /* Both formats: safetensors wins; then pytorch_model.bin; then the only *.bin. */
    copy_file(bin, "pytorch_model.bin");
    copy_file(st, "model.safetensors");
    f = open_fmt(NULL, msg);
    CHECK_MSG(f && strcmp(f, "safetensors") == 0, "both: %s", f ? f : msg);
    clear_dir();
    copy_file(bin, "pytorch_model.bin");
    f = open_fmt(NULL, msg);
    CHECK_MSG(f && strcmp(f, "pytorch") == 0, "bin: %s", f ? f : msg);
    f = open_fmt("pytorch_model.bin", msg);
    CHECK_MSG(f && strcmp(f, "pytorch") == 0, "path to bin: %s", f ? f : msg);
    clear_dir();
    copy_file(bin, "weights.bin");
    f = open_fmt(NULL, msg);
    CHECK_MSG(f && strcmp(f, "pytorch") == 0, "only *.bin: %s", f ? f : msg);
    copy_file(bin, "other.bin");
    CHECK(open_fmt(NULL, msg) == NULL && strstr(msg, "2 .bin files"));
    clear_dir();
    CHECK(open_fmt(NULL, msg) == NULL && strstr(msg, "no .safetensors file"));
    /* A shard missing from the index; a tensor the shard lacks. */
    copy_file(bin, "pytorch_model-00001-of-00002.bin");
    const char *idx = "{\"weight_map\": {\"f32\": \"pytorch_model-00001-of-00002.bin\", "
                      "\"x\": \"pytorch_model-00002-of-00002.bin\"}}";
    write_file("pytorch_model.bin.index.json", idx, strlen(idx));
    CHECK(open_fmt(NULL, msg) == NULL && strstr(msg, "shard 'pytorch_model-00002-of-00002.bin'") &&
          strstr(msg, "missing"));
    idx = "{\"weight_map\": {\"f32\": \"pytorch_model-00001-of-00002.bin\", "
          "\"nope\": \"pytorch_model-00001-of-00002.bin\"}}";
    write_file("pytorch_model.bin.index.json", idx, strlen(idx));
    CHECK(open_fmt(NULL, msg) == NULL && strstr(msg, "tensor 'nope' is not in shard"));
    idx = "{\"weight_map\": {\"f32\": \"pytorch_model-00001-of-00002.bin\", "
          "\"row\": \"pytorch_model-00001-of-00002.bin\"}}";
    write_file("pytorch_model.bin.index.json", idx, strlen(idx));
    f = open_fmt("pytorch_model.bin.index.json", msg);
    CHECK_MSG(f && strcmp(f, "pytorch") == 0, "path to index: %s", f ? f : msg);
    clear_dir();
    /* A repeated state dict key, through geb_st. */
    tspec two[2] = {good_w, good_w};
    bytes z = archive(two, 2, 0);
    write_file("pytorch_model.bin", z.b, z.n);
    free(z.b);
    CHECK(open_fmt(NULL, msg) == NULL && strstr(msg, "'w' appears twice"));
    clear_dir();
    /* The committed hostile files. */
    struct { const char *file, *want; } bad[] = {
        {"tests/data/pt/evil_system.bin", "refusing global posix.system"},
        {"tests/data/pt/evil_eval.bin", "eval"},
        {"tests/data/pt/deflated.bin", "is compressed"},
        {"tests/data/pt/legacy.bin", "re-save it with torch.save"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        geb_st *s = (geb_st *)1;
        geb_err err = {{0}};
        int rc = geb_st_open(&s, bad[i].file, &err);
        CHECK_MSG(rc == -1 && s == NULL && !strchr(err.msg, '\n') && strstr(err.msg, bad[i].want),
                  "%s: rc %d '%s'", bad[i].file, rc, err.msg);
    }
    rmdir(tmpdir);
}

int main(void) {
    check_base();
    check_zip_damage();
    check_overlap();
    check_entries();
    check_tensor_specs();
    check_pickles();
    const struct { const char *pt, *st; size_t files; } twins[] = {
        {"tests/data/models/pt-f32-gqa3", "tests/data/models/geb-f32-gqa3", 1},
        {"tests/data/models/pt-bf16-mqa", "tests/data/models/geb-bf16-mqa", 1},
        {"tests/data/models/pt-f16-mha", "tests/data/models/geb-f16-mha", 1},
        {"tests/data/models/pt-bf16-sharded", "tests/data/models/chatglm-bf16-sharded", 3},
        {"tests/data/models/pt-views", "tests/data/models/geb-f16-mha", 1},
        {"tests/data/models/pt-shared-ffn", "tests/data/models/geb-shared-ffn", 1},
        {"tests/data/models/pt-llama-sharded", "tests/data/models/llama-bf16-mqa-tied-sharded", 2},
        {"tests/data/models/pt-mobillama", "tests/data/models/mobillama-bf16-ffn-copies", 1},
        {"tests/data/pt/zip64.bin", "tests/data/pt/zip64.safetensors", 1},
        {"tests/data/pt/small.bin", "tests/data/pt/small.safetensors", 1},
        {"tests/data/pt/module_p2.bin", "tests/data/pt/module.safetensors", 1},
        {"tests/data/pt/module_p4.bin", "tests/data/pt/module.safetensors", 1},
    };
    for (size_t i = 0; i < sizeof twins / sizeof twins[0]; i++)
        check_twin(twins[i].pt, twins[i].st, twins[i].files);
    check_sharing();
    check_files();
    return TEST_DONE("pytorch");
}
