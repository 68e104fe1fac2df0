/* zip.c - the directory of a zip archive in memory, stored entries only (see
 * zip.h).
 *
 * Layout read here (PKWARE APPNOTE): the end-of-central-directory record
 * (EOCD, 22 bytes plus a comment) at the very end; for ZIP64 archives a
 * 20-byte locator just before it that points at a 56-byte ZIP64 EOCD record;
 * the central directory, one 46-byte record plus name, extra field and
 * comment per entry; and before it, per entry, a 30-byte local header, its
 * name and extra field, then the data.  torch.save sets flag bit 3 (sizes
 * in a data descriptor after the data, zeros in the local header), so sizes
 * and offsets come from the central directory; the local header is only
 * used to find where the data starts.
 */
#include "zip.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define EOCD_LEN 22
#define LOC64_LEN 20
#define EOCD64_LEN 56
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define U32_MAX_FIELD 0xFFFFFFFFu /* "see the ZIP64 field" */
#define U16_MAX_FIELD 0xFFFFu

struct geb_zip {
    geb_zip_entry *entries; /* sorted by name */
    size_t count;
    char *names;            /* every name, NUL-terminated, back to back */
};

/* An entry while the directory is read: where its local header is. */
typedef struct zip_raw {
    uint64_t local;   /* offset of the local header */
    uint64_t size;    /* stored size */
    uint64_t start;   /* offset of the data (after the local header) */
    size_t name_off;  /* into the names block */
    size_t name_len;
} zip_raw;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* The directory's place, from the EOCD (and ZIP64) records. */
typedef struct zip_dir {
    uint64_t entries, offset, size; /* central directory: count, start, bytes */
    uint64_t end;                   /* where the first end record starts */
} zip_dir;

/* Finds the EOCD: the last signature whose comment reaches the end exactly. */
static int find_eocd(const uint8_t *buf, size_t len, size_t *pos) {
    if (len < EOCD_LEN) return -1;
    size_t lo = len - EOCD_LEN > U16_MAX_FIELD ? len - EOCD_LEN - U16_MAX_FIELD : 0;
    for (size_t p = len - EOCD_LEN + 1; p-- > lo;)
        if (rd32(buf + p) == SIG_EOCD && p + EOCD_LEN + rd16(buf + p + 20) == len) {
            *pos = p;
            return 0;
        }
    return -1;
}

/* Reads the ZIP64 EOCD record that the locator just before pos points to. */
static int read_zip64_end(const uint8_t *buf, size_t pos, const char *label, zip_dir *d,
                          geb_err *err) {
    const uint8_t *loc = buf + pos - LOC64_LEN;
    uint64_t off = rd64(loc + 8);
    if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1)
        return geb_err_set(err, "%s: multi-disk zip archives are not supported", label);
    if (off > pos - LOC64_LEN || pos - LOC64_LEN - off < EOCD64_LEN || rd32(buf + off) != SIG_EOCD64)
        return geb_err_set(err, "%s: ZIP64 end record offset %llu is wrong", label,
                           (unsigned long long)off);
    const uint8_t *r = buf + off;
    if (rd32(r + 16) != 0 || rd32(r + 20) != 0 || rd64(r + 24) != rd64(r + 32))
        return geb_err_set(err, "%s: multi-disk zip archives are not supported", label);
    d->entries = rd64(r + 32);
    d->size = rd64(r + 40);
    d->offset = rd64(r + 48);
    d->end = off;
    return 0;
}

/* Locates the central directory and checks it lies before the end records. */
static int read_end(const uint8_t *buf, size_t len, const char *label, zip_dir *d, geb_err *err) {
    size_t pos;
    if (find_eocd(buf, len, &pos) != 0)
        return geb_err_set(err, "%s: not a zip archive, or truncated (no end of central directory record)",
                           label);
    const uint8_t *e = buf + pos;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0 || rd16(e + 8) != rd16(e + 10))
        return geb_err_set(err, "%s: multi-disk zip archives are not supported", label);
    d->entries = rd16(e + 10);
    d->size = rd32(e + 12);
    d->offset = rd32(e + 16);
    d->end = pos;
    int wants64 = d->entries == U16_MAX_FIELD || d->size == U32_MAX_FIELD || d->offset == U32_MAX_FIELD;
    if (pos >= LOC64_LEN && rd32(buf + pos - LOC64_LEN) == SIG_LOC64) {
        if (read_zip64_end(buf, pos, label, d, err) != 0) return -1;
    } else if (wants64) {
        return geb_err_set(err, "%s: end record asks for ZIP64 values but has no ZIP64 locator", label);
    }
    if (d->offset > d->end || d->size > d->end - d->offset)
        return geb_err_set(err, "%s: central directory (offset %llu, %llu bytes) is outside the file before its end record at %llu",
                           label, (unsigned long long)d->offset, (unsigned long long)d->size,
                           (unsigned long long)d->end);
    if (d->entries > d->size / CENTRAL_LEN)
        return geb_err_set(err, "%s: central directory claims %llu entries in %llu bytes", label,
                           (unsigned long long)d->entries, (unsigned long long)d->size);
    return 0;
}

/* Applies the ZIP64 extra field (id 1) of a central record: it holds, in this
 * order, the sizes and offset whose 32-bit fields are 0xFFFFFFFF. */
static int apply_zip64_extra(const uint8_t *x, size_t n, uint64_t *usize, uint64_t *csize,
                             uint64_t *local, int disk_max, const char *label, const char *name,
                             geb_err *err) {
    while (n >= 4) {
        uint16_t id = rd16(x), sz = rd16(x + 2);
        if (sz > n - 4) break;
        if (id == 1) {
            const uint8_t *p = x + 4;
            size_t left = sz;
            uint64_t *f[3] = {usize, csize, local};
            for (int i = 0; i < 3; i++) {
                if (*f[i] != U32_MAX_FIELD) continue;
                if (left < 8)
                    return geb_err_set(err, "%s: ZIP64 extra field of '%s' is too short", label, name);
                *f[i] = rd64(p);
                p += 8;
                left -= 8;
            }
            if (disk_max && (left < 4 || rd32(p) != 0))
                return geb_err_set(err, "%s: entry '%s' is on another disk", label, name);
            return 0;
        }
        x += 4 + (size_t)sz;
        n -= 4 + (size_t)sz;
    }
    if (*usize == U32_MAX_FIELD || *csize == U32_MAX_FIELD || *local == U32_MAX_FIELD || disk_max)
        return geb_err_set(err, "%s: entry '%s' needs a ZIP64 extra field it does not have", label, name);
    return 0;
}

/* Checks the local header of an entry and sets r->start (where data begins). */
static int read_local(const uint8_t *buf, const zip_dir *d, const char *names, zip_raw *r,
                      const char *label, geb_err *err) {
    const char *name = names + r->name_off;
    if (r->local > d->offset || d->offset - r->local < LOCAL_LEN || rd32(buf + r->local) != SIG_LOCAL)
        return geb_err_set(err, "%s: entry '%s' has no local header at offset %llu", label, name,
                           (unsigned long long)r->local);
    const uint8_t *h = buf + r->local;
    uint64_t start = r->local + LOCAL_LEN + rd16(h + 26) + rd16(h + 28);
    if (rd16(h + 26) != r->name_len || start > d->offset ||
        memcmp(h + LOCAL_LEN, name, r->name_len) != 0)
        return geb_err_set(err, "%s: local header of '%s' does not match the central directory",
                           label, name);
    if (rd16(h + 8) != 0)
        return geb_err_set(err, "%s: entry '%s' is compressed (method %u); geb reads only stored entries, as torch.save writes them",
                           label, name, rd16(h + 8));
    if (!(rd16(h + 6) & 8) && rd32(h + 18) != U32_MAX_FIELD && rd32(h + 18) != r->size)
        return geb_err_set(err, "%s: local header of '%s' gives size %u, the central directory %llu",
                           label, name, rd32(h + 18), (unsigned long long)r->size);
    if (r->size > d->offset - start)
        return geb_err_set(err, "%s: entry '%s' (%llu bytes at offset %llu) runs into the central directory",
                           label, name, (unsigned long long)r->size, (unsigned long long)start);
    r->start = start;
    return 0;
}

/* Parses central record number i at *p (advanced past it) into r; its name
 * is appended to names at *names_len. */
static int read_central(const uint8_t *buf, const zip_dir *d, uint64_t *p, char *names,
                        size_t *names_len, zip_raw *r, const char *label, geb_err *err) {
    uint64_t cd_end = d->offset + d->size;
    if (cd_end - *p < CENTRAL_LEN || rd32(buf + *p) != SIG_CENTRAL)
        return geb_err_set(err, "%s: central directory entry %llu is damaged", label,
                           (unsigned long long)(*p - d->offset));
    const uint8_t *c = buf + *p;
    size_t nl = rd16(c + 28), xl = rd16(c + 30), cl = rd16(c + 32);
    if (cd_end - *p - CENTRAL_LEN < nl + xl + cl)
        return geb_err_set(err, "%s: central directory entry runs past the directory", label);
    const char *raw = (const char *)c + CENTRAL_LEN;
    if (memchr(raw, 0, nl) || nl == 0)
        return geb_err_set(err, "%s: an entry name is empty or holds a NUL byte", label);
    char *name = names + *names_len;
    memcpy(name, raw, nl);
    name[nl] = 0;
    r->name_off = *names_len;
    r->name_len = nl;
    *names_len += nl + 1;
    uint16_t flags = rd16(c + 8), method = rd16(c + 10);
    if (flags & 1) return geb_err_set(err, "%s: entry '%s' is encrypted", label, name);
    if (method != 0)
        return geb_err_set(err, "%s: entry '%s' is compressed (method %u); geb reads only stored entries, as torch.save writes them",
                           label, name, method);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24), local = rd32(c + 42);
    if (apply_zip64_extra(c + CENTRAL_LEN + nl, xl, &usize, &csize, &local,
                          rd16(c + 34) == U16_MAX_FIELD, label, name, err) != 0)
        return -1;
    if (rd16(c + 34) != 0 && rd16(c + 34) != U16_MAX_FIELD)
        return geb_err_set(err, "%s: entry '%s' is on another disk", label, name);
    if (csize != usize)
        return geb_err_set(err, "%s: stored entry '%s' has different sizes (%llu and %llu)", label,
                           name, (unsigned long long)csize, (unsigned long long)usize);
    r->size = usize;
    r->local = local;
    *p += CENTRAL_LEN + nl + xl + cl;
    return 0;
}

static int cmp_local(const void *a, const void *b) {
    const zip_raw *x = a, *y = b;
    return x->local < y->local ? -1 : x->local > y->local;
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const geb_zip_entry *)a)->name, ((const geb_zip_entry *)b)->name);
}

/* Rejects entries whose local header + data ranges overlap. */
static int check_overlap(zip_raw *raw, size_t n, const char *names, const char *label,
                         geb_err *err) {
    qsort(raw, n, sizeof *raw, cmp_local);
    for (size_t i = 1; i < n; i++)
        if (raw[i - 1].start + raw[i - 1].size > raw[i].local)
            return geb_err_set(err, "%s: entries '%s' and '%s' overlap", label,
                               names + raw[i - 1].name_off, names + raw[i].name_off);
    return 0;
}

/* Reads every central record and local header into z (entries by name). */
static int read_entries(geb_zip *z, const uint8_t *buf, const zip_dir *d, const char *label,
                        geb_err *err) {
    size_t n = (size_t)d->entries, names_len = 0;
    zip_raw *raw = calloc(n ? n : 1, sizeof *raw);
    z->names = malloc((size_t)d->size + 1); /* names are part of the directory: it bounds them */
    z->entries = calloc(n ? n : 1, sizeof *z->entries);
    int rc = -1;
    if (!raw || !z->names || !z->entries) {
        geb_err_set(err, "%s: out of memory", label);
        goto out;
    }
    uint64_t p = d->offset;
    for (size_t i = 0; i < n; i++)
        if (read_central(buf, d, &p, z->names, &names_len, &raw[i], label, err) != 0) goto out;
    if (p != d->offset + d->size) {
        geb_err_set(err, "%s: central directory size %llu does not match its %llu entries", label,
                    (unsigned long long)d->size, (unsigned long long)d->entries);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (read_local(buf, d, z->names, &raw[i], label, err) != 0) goto out;
    if (check_overlap(raw, n, z->names, label, err) != 0) goto out;
    for (size_t i = 0; i < n; i++) {
        z->entries[i].name = z->names + raw[i].name_off;
        z->entries[i].data = buf + raw[i].start;
        z->entries[i].size = (size_t)raw[i].size;
    }
    z->count = n;
    qsort(z->entries, n, sizeof *z->entries, cmp_entry_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(z->entries[i - 1].name, z->entries[i].name) == 0) {
            geb_err_set(err, "%s: entry '%s' appears twice", label, z->entries[i].name);
            goto out;
        }
    rc = 0;
out:
    free(raw);
    return rc;
}

int geb_zip_open(geb_zip **out, const uint8_t *buf, size_t len, const char *label,
                 geb_err *err) {
    *out = NULL;
    zip_dir d = {0, 0, 0, 0};
    if (!buf) len = 0;
    if (read_end(buf, len, label, &d, err) != 0) return -1;
    geb_zip *z = calloc(1, sizeof *z);
    if (!z) return geb_err_set(err, "%s: out of memory", label);
    if (read_entries(z, buf, &d, label, err) != 0) {
        geb_zip_close(z);
        return -1;
    }
    *out = z;
    return 0;
}

size_t geb_zip_count(const geb_zip *z) { return z ? z->count : 0; }

const geb_zip_entry *geb_zip_at(const geb_zip *z, size_t i) {
    return z && i < z->count ? &z->entries[i] : NULL;
}

const geb_zip_entry *geb_zip_find(const geb_zip *z, const char *name) {
    if (!z || !name || !z->count) return NULL;
    geb_zip_entry key = {.name = name};
    return bsearch(&key, z->entries, z->count, sizeof key, cmp_entry_name);
}

void geb_zip_close(geb_zip *z) {
    if (!z) return;
    free(z->entries);
    free(z->names);
    free(z);
}
