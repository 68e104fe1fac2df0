/* fuzz_zip.c - fuzz target for zip archives and the PyTorch checkpoints in
 * them (geb_zip_open in src/zip.c, then geb_pt_open in src/pytorch.c, which
 * runs the pickle interpreter of src/pickle.c on data.pkl).
 *
 * Two input forms, so that mutations of the entries are not wasted on stale
 * offsets:
 *   raw:        the archive itself (anything not starting with 'S');
 *   structured: 'S', then entries, each a NUL-terminated name, a method
 *               byte, a 16-bit little-endian length and that many bytes (cut
 *               at the end of the input); the harness writes the zip.
 * Either way the readers see a heap buffer of exactly the archive's size.
 *
 * An accepted archive must keep the reader's promises: every entry's bytes
 * lie inside the buffer, entries are sorted by name without repeats, names
 * have no NUL bytes, entries do not overlap, geb_zip_find finds each.  An
 * accepted checkpoint: every tensor's bytes lie inside the buffer,
 * nbytes == numel * element size, and every float tensor converts (ASan
 * checks each byte read).  A broken promise aborts.
 */
#include "pytorch.h"
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                        \
    do {                                                                  \
        if (!(c)) {                                                       \
            fprintf(stderr, "fuzz_zip: invariant failed: %s\n", #c);      \
            abort();                                                      \
        }                                                                 \
    } while (0)

typedef struct out {
    uint8_t *b;
    size_t n, cap;
} out;

static void put(out *o, const void *p, size_t n) {
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 256;
        o->b = realloc(o->b, o->cap);
        REQUIRE(o->b != NULL);
    }
    if (n) memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_le(out *o, uint64_t v, int n) {
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(o, &c, 1);
    }
}

/* Writes the zip of a structured input (see the top of the file). */
static uint8_t *structured(const uint8_t *in, size_t size, size_t *len) {
    out z = {0}, cd = {0};
    size_t p = 1, n = 0;
    while (p < size && n < 64) {
        const uint8_t *nul = memchr(in + p, 0, size - p);
        size_t nl = nul ? (size_t)(nul - (in + p)) : size - p;
        const uint8_t *name = in + p;
        p += nl + (nul ? 1 : 0);
        int method = p < size ? in[p++] : 0;
        size_t dl = p + 1 < size ? (size_t)(in[p] | in[p + 1] << 8) : 0;
        p += p + 1 < size ? 2 : size - p;
        if (dl > size - p) dl = size - p;
        size_t off = z.n;
        put_le(&z, 0x04034b50, 4);
        put_le(&z, 20, 2);
        put_le(&z, 0, 2);
        put_le(&z, (uint64_t)method, 2);
        put_le(&z, 0, 8);
        put_le(&z, dl, 4);
        put_le(&z, dl, 4);
        put_le(&z, nl, 2);
        put_le(&z, 0, 2);
        put(&z, name, nl);
        put(&z, in + p, dl);
        put_le(&cd, 0x02014b50, 4);
        put_le(&cd, 20, 2);
        put_le(&cd, 20, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, (uint64_t)method, 2);
        put_le(&cd, 0, 8);
        put_le(&cd, dl, 4);
        put_le(&cd, dl, 4);
        put_le(&cd, nl, 2);
        put_le(&cd, 0, 8);
        put_le(&cd, 0, 4);
        put_le(&cd, off, 4);
        put(&cd, name, nl);
        p += dl;
        n++;
    }
    size_t cd_off = z.n;
    put(&z, cd.b, cd.n);
    put_le(&z, 0x06054b50, 4);
    put_le(&z, 0, 4);
    put_le(&z, n, 2);
    put_le(&z, n, 2);
    put_le(&z, cd.n, 4);
    put_le(&z, cd_off, 4);
    put_le(&z, 0, 2);
    free(cd.b);
    *len = z.n;
    return z.b;
}

static int inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t size) {
    return p >= buf && n <= size && (size_t)(p - buf) <= size - n;
}

static int cmp_data(const void *a, const void *b) {
    const geb_zip_entry *x = *(const geb_zip_entry *const *)a, *y = *(const geb_zip_entry *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static void check_zip(const geb_zip *z, const uint8_t *buf, size_t size) {
    size_t n = geb_zip_count(z);
    const geb_zip_entry **by_data = malloc((n ? n : 1) * sizeof *by_data);
    REQUIRE(by_data != NULL);
    for (size_t i = 0; i < n; i++) {
        const geb_zip_entry *e = geb_zip_at(z, i);
        REQUIRE(e && e->name && e->name[0]);
        REQUIRE(inside(e->data, e->size, buf, size));
        REQUIRE(geb_zip_find(z, e->name) == e);
        if (i) REQUIRE(strcmp(geb_zip_at(z, i - 1)->name, e->name) < 0);
        by_data[i] = e;
    }
    REQUIRE(geb_zip_at(z, n) == NULL);
    qsort(by_data, n, sizeof *by_data, cmp_data);
    for (size_t i = 1; i < n; i++)
        REQUIRE(by_data[i - 1]->data + by_data[i - 1]->size <= by_data[i]->data);
    free(by_data);
}

static void check_pt(geb_pt *pt, const uint8_t *buf, size_t size) {
    for (size_t i = 0; i < geb_pt_count(pt); i++) {
        const geb_tensor *t = &geb_pt_tensors(pt)[i];
        REQUIRE(t->name && t->dtype_name && t->ndim >= 0 && t->ndim <= GEB_ST_MAX_DIMS);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            REQUIRE(t->shape[d] >= 0);
            numel *= (size_t)t->shape[d]; /* cannot overflow: the reader checked */
        }
        REQUIRE(numel == t->numel);
        REQUIRE(t->nbytes == 0 || inside(t->data, t->nbytes, buf, size));
        if (t->dtype == GEB_DTYPE_OTHER) continue;
        REQUIRE(t->nbytes == t->numel * (t->dtype == GEB_DTYPE_F32 ? 4 : 2));
        float *f = malloc(t->numel ? t->numel * sizeof *f : 1);
        REQUIRE(f != NULL);
        geb_convert_to_f32(f, t->data, t->dtype, t->numel);
        free(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t in_size) {
    size_t size = in_size;
    uint8_t *owned = in_size && in[0] == 'S' ? structured(in, in_size, &size) : NULL;
    const uint8_t *buf = owned ? owned : in;
    geb_err err;
    err.msg[0] = 0;
    geb_zip *z = NULL;
    if (geb_zip_open(&z, buf, size, "<fuzz>", &err) == 0) {
        check_zip(z, buf, size);
        geb_zip_close(z);
    } else {
        REQUIRE(z == NULL && err.msg[0] && !strchr(err.msg, '\n'));
    }
    geb_pt *pt = NULL;
    err.msg[0] = 0;
    if (geb_pt_open(&pt, buf, size, "<fuzz>", &err) == 0) {
        check_pt(pt, buf, size);
        geb_pt_close(pt);
    } else {
        REQUIRE(pt == NULL && err.msg[0] && !strchr(err.msg, '\n'));
    }
    free(owned);
    return 0;
}
