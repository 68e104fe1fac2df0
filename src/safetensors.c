/* safetensors.c - mmap-based reader for single-file and sharded safetensors
 * checkpoints (see safetensors.h).
 *
 * Each file ("shard") is mapped read-only and its header is validated in full
 * before any tensor is exposed: header length against the file, every dtype,
 * shape and data_offsets entry, byte sizes against shapes (overflow-checked),
 * no duplicate names, no overlapping data.  Tensor names point into the
 * parsed header JSON, which lives as long as the geb_st.
 *
 * Sharded checkpoints: model.safetensors.index.json is authoritative.  Only
 * the tensors its weight_map names are exposed; a shard's other tensors are
 * validated with the rest of its header but then ignored.  Shards are
 * numbered in file-name order.
 *
 * Unlike the reference implementation, gaps between tensors' data are
 * allowed (they are harmless); overlaps are not.
 *
 * geb_st_at() order: by shard, then by position in the file, so that walking
 * the tensors in order reads each file front to back.
 *
 * PyTorch checkpoints (*.bin, *.pt, *.pth: torch.save zip archives) are read
 * by pytorch.c into the same geb_tensor entries; a shard of either format
 * goes through the same index and lookup code.  Their tensors may share
 * bytes (views, shared modules), so the overlap check is for safetensors
 * only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MADV_WILLNEED, MADV_DONTNEED */
#endif
#include "safetensors.h"

#include "guard.h"
#include "json.h"
#include "pytorch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER ((uint64_t)100 << 20) /* far above any real header */
#define ST_MAX_INDEX ((size_t)100 << 20)
#define ST_INDEX_NAME "model.safetensors.index.json"
#define PT_INDEX_NAME "pytorch_model.bin.index.json"

typedef enum st_format { ST_SAFETENSORS, ST_PYTORCH } st_format;

typedef struct st_shard {
    char *label;           /* path (or "<buffer>") used in error messages */
    const uint8_t *base;   /* the whole file image */
    size_t size;           /* its length in bytes */
    int mapped;            /* 1: base is our mmap, unmapped at close */
    st_format format;      /* from the file name */
    geb_json *header;      /* safetensors: parsed header; owns the tensor names */
    geb_pt *pt;            /* pytorch: the parsed archive; owns the tensor names */
    geb_tensor *tensors;   /* this shard's tensors, sorted by name */
    size_t count;
    struct timespec mtime; /* of the file when it was mapped (geb_st_check_unchanged) */
    dev_t dev;
    ino_t ino;
} st_shard;

struct geb_st {
    st_shard *shards;
    size_t nshards;
    geb_tensor *tensors;   /* exposed tensors, by shard then file position */
    size_t count;
    uint32_t *slots;       /* open-addressing hash: tensor index + 1, 0 = empty */
    size_t nslots;         /* power of two, >= 2 * count */
    size_t file_bytes;
    char *index_path;      /* the *.index.json read, or NULL */
};

/* Every dtype the safetensors format defines, with its element size. */
static const struct {
    const char *name;
    geb_dtype dtype;
    size_t size;
} st_dtypes[] = {
    {"F32", GEB_DTYPE_F32, 4},       {"F16", GEB_DTYPE_F16, 2},
    {"BF16", GEB_DTYPE_BF16, 2},     {"F64", GEB_DTYPE_OTHER, 8},
    {"I64", GEB_DTYPE_OTHER, 8},     {"I32", GEB_DTYPE_OTHER, 4},
    {"I16", GEB_DTYPE_OTHER, 2},     {"I8", GEB_DTYPE_OTHER, 1},
    {"U8", GEB_DTYPE_OTHER, 1},      {"U16", GEB_DTYPE_OTHER, 2},
    {"U32", GEB_DTYPE_OTHER, 4},     {"U64", GEB_DTYPE_OTHER, 8},
    {"BOOL", GEB_DTYPE_OTHER, 1},    {"F8_E4M3", GEB_DTYPE_OTHER, 1},
    {"F8_E5M2", GEB_DTYPE_OTHER, 1},
};

/* ---- small helpers ---------------------------------------------------- */

/* Joins dir and name with one '/' into a malloc'd string (NULL on OOM). */
static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

static uint64_t read_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* 1 if the JSON value is a string without embedded NUL bytes. */
static int is_plain_string(const geb_json *v) {
    return v && v->type == GEB_JSON_STRING && strlen(v->str) == v->len;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const geb_tensor *)a)->name, ((const geb_tensor *)b)->name);
}

/* Orders by shard, then data address, then size (empty tensors first). */
static int cmp_by_position(const void *a, const void *b) {
    const geb_tensor *x = a, *y = b;
    if (x->shard != y->shard) return x->shard < y->shard ? -1 : 1;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

/* ---- one header ------------------------------------------------------- */

/* Fills t->dtype, dtype_name and *elsize from the header's dtype string. */
static int parse_dtype(const st_shard *sh, const char *name, const geb_json *v,
                       geb_tensor *t, size_t *elsize, geb_err *err) {
    if (!is_plain_string(v))
        return geb_err_set(err, "%s: tensor '%s' has no \"dtype\" string", sh->label, name);
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (strcmp(v->str, st_dtypes[i].name) == 0) {
            t->dtype = st_dtypes[i].dtype;
            t->dtype_name = st_dtypes[i].name;
            *elsize = st_dtypes[i].size;
            return 0;
        }
    }
    return geb_err_set(err, "%s: unknown dtype %.40s for tensor '%s'", sh->label, v->str, name);
}

/* Fills t->ndim, shape and numel (overflow-checked) from the shape array. */
static int parse_shape(const st_shard *sh, const char *name, const geb_json *v,
                       geb_tensor *t, geb_err *err) {
    if (!v || v->type != GEB_JSON_ARRAY)
        return geb_err_set(err, "%s: tensor '%s' has no \"shape\" array", sh->label, name);
    if (v->count > GEB_ST_MAX_DIMS)
        return geb_err_set(err, "%s: tensor '%s' has %zu dims (at most %d supported)",
                           sh->label, name, v->count, GEB_ST_MAX_DIMS);
    size_t numel = 1;
    for (size_t i = 0; i < v->count; i++) {
        const geb_json *d = &v->items[i];
        if (d->type != GEB_JSON_NUMBER || !d->is_int || d->integer < 0)
            return geb_err_set(err, "%s: tensor '%s' shape[%zu] is not a non-negative integer",
                               sh->label, name, i);
        if ((uint64_t)d->integer > SIZE_MAX ||
            geb_mul_size(numel, (size_t)d->integer, &numel) != 0)
            return geb_err_set(err, "%s: tensor '%s' shape overflows the element count",
                               sh->label, name);
        t->shape[i] = d->integer;
    }
    t->ndim = (int)v->count;
    t->numel = numel;
    return 0;
}

/* Sets t->data and nbytes from data_offsets, checked against the data area
 * (data_size bytes at data) and against numel * elsize. */
static int parse_offsets(const st_shard *sh, const char *name, const geb_json *v,
                         const uint8_t *data, size_t data_size, size_t elsize,
                         geb_tensor *t, geb_err *err) {
    if (!v || v->type != GEB_JSON_ARRAY || v->count != 2)
        return geb_err_set(err, "%s: tensor '%s' has no \"data_offsets\" [begin, end] pair",
                           sh->label, name);
    for (int i = 0; i < 2; i++)
        if (v->items[i].type != GEB_JSON_NUMBER || !v->items[i].is_int || v->items[i].integer < 0)
            return geb_err_set(err, "%s: tensor '%s' data_offsets are not non-negative integers",
                               sh->label, name);
    int64_t b = v->items[0].integer, e = v->items[1].integer;
    if (b > e)
        return geb_err_set(err, "%s: tensor '%s' data_offsets [%lld, %lld] begin after end",
                           sh->label, name, (long long)b, (long long)e);
    if ((uint64_t)e > data_size)
        return geb_err_set(err, "%s: tensor '%s' data_offsets [%lld, %lld] past the end of the data (%zu bytes)",
                           sh->label, name, (long long)b, (long long)e, data_size);
    size_t nbytes = (size_t)(e - b), want;
    if (geb_mul_size(t->numel, elsize, &want) != 0)
        return geb_err_set(err, "%s: tensor '%s' shape overflows the byte size", sh->label, name);
    if (want != nbytes)
        return geb_err_set(err, "%s: tensor '%s' data_offsets hold %zu bytes but shape and dtype %s need %zu",
                           sh->label, name, nbytes, t->dtype_name, want);
    t->data = data + b;
    t->nbytes = nbytes;
    return 0;
}

/* Checks that "__metadata__" is an object of strings. */
static int check_metadata(const st_shard *sh, const geb_json *v, geb_err *err) {
    if (v->type != GEB_JSON_OBJECT)
        return geb_err_set(err, "%s: __metadata__ is not an object", sh->label);
    for (size_t i = 0; i < v->count; i++)
        if (v->items[i].type != GEB_JSON_STRING)
            return geb_err_set(err, "%s: __metadata__ value '%s' is not a string",
                               sh->label, v->keys[i]);
    return 0;
}

/* Sorts sh->tensors by name and rejects a repeated name. */
static int check_names(st_shard *sh, geb_err *err) {
    geb_tensor *t = sh->tensors;
    qsort(t, sh->count, sizeof *t, cmp_by_name);
    for (size_t i = 1; i < sh->count; i++)
        if (strcmp(t[i - 1].name, t[i].name) == 0)
            return geb_err_set(err, "%s: tensor '%s' appears twice", sh->label, t[i].name);
    return 0;
}

/* Rejects repeated names and overlapping data; sorts sh->tensors by name. */
static int check_layout(st_shard *sh, geb_err *err) {
    geb_tensor *t = sh->tensors;
    qsort(t, sh->count, sizeof *t, cmp_by_position);
    for (size_t i = 1; i < sh->count; i++)
        if (t[i - 1].data + t[i - 1].nbytes > t[i].data)
            return geb_err_set(err, "%s: tensors '%s' and '%s' overlap", sh->label,
                               t[i - 1].name, t[i].name);
    qsort(t, sh->count, sizeof *t, cmp_by_name);
    for (size_t i = 1; i < sh->count; i++)
        if (strcmp(t[i - 1].name, t[i].name) == 0)
            return geb_err_set(err, "%s: tensor '%s' appears twice in the header",
                               sh->label, t[i].name);
    return 0;
}

/* Parses and validates the header of the image sh->base[0..size) and fills
 * sh->header, sh->tensors and sh->count.  `index` is the shard number. */
static int parse_header(st_shard *sh, int index, geb_err *err) {
    if (sh->size < 8)
        return geb_err_set(err, "%s: file is %zu bytes, too short for a safetensors header",
                           sh->label, sh->size);
    uint64_t hlen = read_u64le(sh->base);
    if (hlen > sh->size - 8)
        return geb_err_set(err, "%s: header length %llu is larger than the file (%zu bytes)",
                           sh->label, (unsigned long long)hlen, sh->size);
    if (hlen > ST_MAX_HEADER)
        return geb_err_set(err, "%s: header length %llu exceeds the %llu-byte limit", sh->label,
                           (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    geb_err jerr;
    sh->header = geb_json_parse((const char *)sh->base + 8, (size_t)hlen, &jerr);
    if (!sh->header) return geb_err_set(err, "%s: header: %s", sh->label, jerr.msg);
    const geb_json *h = sh->header;
    if (h->type != GEB_JSON_OBJECT)
        return geb_err_set(err, "%s: header is not a JSON object", sh->label);
    const uint8_t *data = sh->base + 8 + hlen;
    size_t data_size = sh->size - 8 - (size_t)hlen;
    sh->tensors = calloc(h->count ? h->count : 1, sizeof *sh->tensors);
    if (!sh->tensors) return geb_err_set(err, "%s: out of memory", sh->label);
    for (size_t i = 0; i < h->count; i++) {
        const char *name = h->keys[i];
        const geb_json *v = &h->items[i];
        if (strcmp(name, "__metadata__") == 0) {
            if (check_metadata(sh, v, err) != 0) return -1;
            continue;
        }
        if (v->type != GEB_JSON_OBJECT)
            return geb_err_set(err, "%s: tensor '%s' entry is not an object", sh->label, name);
        geb_tensor *t = &sh->tensors[sh->count];
        size_t elsize = 0;
        t->name = name;
        t->shard = index;
        t->mapped = sh->mapped;
        if (parse_dtype(sh, name, geb_json_get(v, "dtype"), t, &elsize, err) != 0 ||
            parse_shape(sh, name, geb_json_get(v, "shape"), t, err) != 0 ||
            parse_offsets(sh, name, geb_json_get(v, "data_offsets"), data, data_size, elsize, t,
                          err) != 0)
            return -1;
        sh->count++;
    }
    return check_layout(sh, err);
}

/* Parses the torch.save archive sh->base[0..size) into sh->pt and copies
 * its tensors into sh->tensors (names stay in sh->pt). */
static int parse_pytorch(st_shard *sh, int index, geb_err *err) {
    if (geb_pt_open(&sh->pt, sh->base, sh->size, sh->label, err) != 0) return -1;
    size_t n = geb_pt_count(sh->pt);
    sh->tensors = calloc(n ? n : 1, sizeof *sh->tensors);
    if (!sh->tensors) return geb_err_set(err, "%s: out of memory", sh->label);
    memcpy(sh->tensors, geb_pt_tensors(sh->pt), n * sizeof *sh->tensors);
    for (size_t i = 0; i < n; i++) {
        sh->tensors[i].shard = index;
        sh->tensors[i].mapped = sh->mapped;
    }
    sh->count = n;
    return check_names(sh, err);
}

/* ---- files ------------------------------------------------------------ */

/* The format of a checkpoint file, from its name: torch.save's usual
 * extensions are PyTorch, anything else is read as safetensors. */
static st_format format_of(const char *path) {
    return ends_with(path, ".bin") || ends_with(path, ".pt") || ends_with(path, ".pth")
               ? ST_PYTORCH
               : ST_SAFETENSORS;
}

/* Appends an empty shard labelled `label` (taken over) to st. */
static st_shard *add_shard(geb_st *st, char *label, geb_err *err) {
    st_shard *s = realloc(st->shards, (st->nshards + 1) * sizeof *s);
    if (!s) {
        free(label);
        geb_err_set(err, "out of memory");
        return NULL;
    }
    st->shards = s;
    s = &st->shards[st->nshards++];
    memset(s, 0, sizeof *s);
    s->label = label;
    return s;
}

/* Maps the regular file at path (taken over as the label) as a new shard and
 * parses its header. */
static int open_shard(geb_st *st, char *path, geb_err *err) {
    st_shard *sh = add_shard(st, path, err);
    if (!sh) return -1;
    sh->format = format_of(path);
    /* O_NONBLOCK: a FIFO planted in a model folder must not hang us. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return geb_err_set(err, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return geb_err_set(err, "%s is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return geb_err_set(err, "%s is too large to map", path);
    }
    sh->size = (size_t)sb.st_size;
    sh->mtime = sb.st_mtim, sh->dev = sb.st_dev, sh->ino = sb.st_ino;
    if (sh->size >= 8) { /* mmap rejects length 0; parse_header reports short files */
        void *m = mmap(NULL, sh->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return geb_err_set(err, "cannot map %s: %s", path, strerror(e));
        }
#ifdef MADV_HUGEPAGE
        /* Pages that fault in from disk then come as 2 MB folios, mapped by
         * one TLB entry each (a file already cached in small folios stays
         * so).  BF16 in place, cold cache, Xeon, alternating: tg64 1 thread
         * 6.77 -> 6.90-7.03 tok/s, 87-89% -> 92-93% of the read bandwidth;
         * a cache of small folios gave 70%.  A hint only. */
        (void)madvise(m, sh->size, MADV_HUGEPAGE);
#endif
        sh->base = m;
        sh->mapped = 1;
        geb_guard_add(m, sh->size, sh->label); /* SIGBUS here: one line, exit 1 */
    }
    close(fd);
    st->file_bytes += sh->size;
    int index = (int)(st->nshards - 1);
    return sh->format == ST_PYTORCH ? parse_pytorch(sh, index, err) : parse_header(sh, index, err);
}

/* ---- lookup table ----------------------------------------------------- */

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Builds st->slots over st->tensors; fails on a repeated name. */
static int build_index(geb_st *st, geb_err *err) {
    if (st->count > UINT32_MAX / 4) return geb_err_set(err, "too many tensors (%zu)", st->count);
    size_t n = 8;
    while (n < 2 * st->count) n *= 2;
    st->slots = calloc(n, sizeof *st->slots);
    if (!st->slots) return geb_err_set(err, "out of memory");
    st->nslots = n;
    for (size_t i = 0; i < st->count; i++) {
        const char *name = st->tensors[i].name;
        size_t j = (size_t)hash_name(name) & (n - 1);
        while (st->slots[j]) {
            if (strcmp(st->tensors[st->slots[j] - 1].name, name) == 0)
                return geb_err_set(err, "tensor '%s' is listed more than once", name);
            j = (j + 1) & (n - 1);
        }
        st->slots[j] = (uint32_t)(i + 1);
    }
    return 0;
}

/* Exposes every tensor of shard 0 (single-file checkpoints). */
static int expose_single(geb_st *st, geb_err *err) {
    st_shard *sh = &st->shards[0];
    st->tensors = sh->tensors;
    st->count = sh->count;
    sh->tensors = NULL;
    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_by_position);
    return build_index(st, err);
}

/* ---- sharded checkpoints ---------------------------------------------- */

/* A shard file named in the weight_map, with one tensor mapped to it (for
 * messages).  Sorting these by file gives the shard numbering. */
typedef struct shard_ref {
    const char *file;
    const char *tensor;
} shard_ref;

static int cmp_ref(const void *a, const void *b) {
    return strcmp(((const shard_ref *)a)->file, ((const shard_ref *)b)->file);
}

/* 1 if the value is a plain file name: not empty, no '/', no "..". */
static int plain_file_name(const geb_json *v) {
    return is_plain_string(v) && v->len > 0 && !strchr(v->str, '/') && !strstr(v->str, "..");
}

/* Checks every weight_map value and returns the distinct shard files sorted
 * by name (malloc'd, *n set), or NULL. */
static shard_ref *list_shards(const geb_json *map, const char *index_path, size_t *n,
                              geb_err *err) {
    shard_ref *refs = malloc(map->count * sizeof *refs);
    if (!refs) {
        geb_err_set(err, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < map->count; i++) {
        const geb_json *f = &map->items[i];
        if (!plain_file_name(f)) {
            geb_err_set(err, "%s: tensor '%s' maps to '%.200s', which is not a plain file name",
                        index_path, map->keys[i],
                        f->type == GEB_JSON_STRING ? f->str : "(not a string)");
            free(refs);
            return NULL;
        }
        refs[i].file = f->str;
        refs[i].tensor = map->keys[i];
    }
    qsort(refs, map->count, sizeof *refs, cmp_ref);
    size_t k = 0;
    for (size_t i = 0; i < map->count; i++)
        if (k == 0 || strcmp(refs[k - 1].file, refs[i].file) != 0) refs[k++] = refs[i];
    *n = k;
    return refs;
}

/* Opens dir/ref->file as the next shard; a missing file is reported with the
 * index and a tensor mapped to it. */
static int open_named_shard(geb_st *st, const char *dir, const shard_ref *ref,
                            const char *index_path, geb_err *err) {
    char *path = path_join(dir, ref->file);
    if (!path) return geb_err_set(err, "out of memory");
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        free(path);
        return geb_err_set(err, "%s: shard '%s' (holding tensor '%s') is missing", index_path,
                           ref->file, ref->tensor);
    }
    return open_shard(st, path, err);
}

/* Opens every shard named by the index's weight_map (each once, numbered in
 * file-name order) and exposes exactly the tensors it maps, each from the
 * shard it names. */
static int open_index(geb_st *st, const char *dir, const char *index_path, geb_err *err) {
    uint8_t *text;
    size_t len, nfiles = 0;
    if (!(st->index_path = strdup(index_path))) return geb_err_set(err, "out of memory");
    if (geb_read_file(index_path, &text, &len, ST_MAX_INDEX, err) != 0) return -1;
    geb_err jerr;
    geb_json *root = geb_json_parse((const char *)text, len, &jerr);
    free(text);
    if (!root) return geb_err_set(err, "%s: %s", index_path, jerr.msg);
    int rc = -1;
    shard_ref *files = NULL;
    const geb_json *map = geb_json_get(root, "weight_map");
    if (!map || map->type != GEB_JSON_OBJECT) {
        geb_err_set(err, "%s: no \"weight_map\" object", index_path);
        goto out;
    }
    if (map->count == 0) {
        geb_err_set(err, "%s: weight_map is empty", index_path);
        goto out;
    }
    files = list_shards(map, index_path, &nfiles, err);
    if (!files) goto out;
    for (size_t i = 0; i < nfiles; i++)
        if (open_named_shard(st, dir, &files[i], index_path, err) != 0) goto out;
    st->tensors = calloc(map->count, sizeof *st->tensors);
    if (!st->tensors) {
        geb_err_set(err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < map->count; i++) {
        shard_ref want = {map->items[i].str, map->keys[i]};
        const shard_ref *f = bsearch(&want, files, nfiles, sizeof want, cmp_ref);
        const st_shard *sh = &st->shards[f - files]; /* f found: files lists every value */
        geb_tensor key = {.name = want.tensor};
        const geb_tensor *t = bsearch(&key, sh->tensors, sh->count, sizeof key, cmp_by_name);
        if (!t) {
            geb_err_set(err, "%s: tensor '%s' is not in shard %s", index_path, want.tensor,
                        want.file);
            goto out;
        }
        st->tensors[st->count++] = *t; /* its name lives in the shard's header */
    }
    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_by_position);
    geb_err ierr;
    rc = build_index(st, &ierr);
    if (rc != 0) geb_err_set(err, "%s: %s", index_path, ierr.msg);
out:
    free(files);
    geb_json_free(root);
    return rc;
}

/* ---- public ----------------------------------------------------------- */

/* Counts the files in dir whose names end with suffix (and are longer);
 * *found gets the path of the first (malloc'd), or stays NULL. */
static int count_suffix(const char *dir, const char *suffix, char **found, geb_err *err) {
    DIR *d = opendir(dir);
    if (!d) return geb_err_set(err, "cannot read directory %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) > strlen(suffix) && ends_with(e->d_name, suffix) && n++ == 0)
            *found = path_join(dir, e->d_name);
    closedir(d);
    if (n > 0 && !*found) return geb_err_set(err, "out of memory");
    return n;
}

/* The first of index, single that exists in dir, else the only file ending
 * in suffix.  Returns a malloc'd path (*is_index set), NULL with *none = 1
 * if there is no such file at all, or NULL with err set. */
static char *pick_format(const char *dir, const char *index, const char *single,
                         const char *suffix, int *is_index, int *none, geb_err *err) {
    struct stat sb;
    const char *fixed[2] = {index, single};
    *none = 0;
    for (int i = 0; i < 2; i++) {
        char *p = path_join(dir, fixed[i]);
        if (!p) {
            geb_err_set(err, "out of memory");
            return NULL;
        }
        if (stat(p, &sb) == 0) {
            *is_index = i == 0;
            return p;
        }
        free(p);
    }
    char *found = NULL;
    int n = count_suffix(dir, suffix, &found, err);
    if (n == 1) return found;
    free(found);
    if (n == 0) *none = 1;
    else if (n > 1) geb_err_set(err, "%s holds %d %s files but no %s", dir, n, suffix, index);
    return NULL;
}

/* Chooses what to open in directory dir: safetensors first (the index,
 * model.safetensors, or the only *.safetensors file), as transformers does;
 * only if there is none, PyTorch (pytorch_model.bin.index.json,
 * pytorch_model.bin, or the only *.bin file).  Returns a malloc'd path,
 * *is_index set. */
static char *pick_in_dir(const char *dir, int *is_index, geb_err *err) {
    int none;
    char *p = pick_format(dir, ST_INDEX_NAME, "model.safetensors", ".safetensors", is_index,
                          &none, err);
    if (p || !none) return p;
    p = pick_format(dir, PT_INDEX_NAME, "pytorch_model.bin", ".bin", is_index, &none, err);
    if (p || !none) return p;
    geb_err_set(err, "no .safetensors file in %s (nor a PyTorch pytorch_model.bin)", dir);
    return NULL;
}

int geb_st_open(geb_st **out, const char *path, geb_err *err) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return geb_err_set(err, "cannot open %s: %s", path, strerror(errno));
    geb_st *st = calloc(1, sizeof *st);
    if (!st) return geb_err_set(err, "out of memory");
    int rc;
    if (S_ISDIR(sb.st_mode)) {
        int is_index = 0;
        char *p = pick_in_dir(path, &is_index, err);
        if (!p) rc = -1;
        else if (is_index) {
            rc = open_index(st, path, p, err);
            free(p);
        } else {
            rc = open_shard(st, p, err);
            if (rc == 0) rc = expose_single(st, err);
        }
    } else if (ends_with(path, ".index.json")) {
        /* A path to the index itself: shards live beside it. */
        char *dir = strdup(path);
        if (!dir) rc = geb_err_set(err, "out of memory");
        else {
            char *slash = strrchr(dir, '/');
            if (!slash) strcpy(dir, ".");
            else if (slash == dir) dir[1] = 0;
            else *slash = 0;
            rc = open_index(st, dir, path, err);
            free(dir);
        }
    } else {
        char *p = strdup(path);
        rc = p ? open_shard(st, p, err) : geb_err_set(err, "out of memory");
        if (rc == 0) rc = expose_single(st, err);
    }
    if (rc != 0) {
        geb_st_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

int geb_st_open_buffer(geb_st **out, const uint8_t *buf, size_t len, geb_err *err) {
    *out = NULL;
    geb_st *st = calloc(1, sizeof *st);
    char *label = strdup("<buffer>");
    if (!st || !label) {
        free(st);
        free(label);
        return geb_err_set(err, "out of memory");
    }
    st_shard *sh = add_shard(st, label, err);
    if (!sh) {
        free(st);
        return -1;
    }
    sh->base = buf;
    sh->size = buf ? len : 0;
    st->file_bytes = sh->size;
    if (parse_header(sh, 0, err) != 0 || expose_single(st, err) != 0) {
        geb_st_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

const geb_tensor *geb_st_find(const geb_st *st, const char *name) {
    if (!st || !name || !st->nslots) return NULL;
    size_t mask = st->nslots - 1;
    for (size_t j = (size_t)hash_name(name) & mask; st->slots[j]; j = (j + 1) & mask) {
        const geb_tensor *t = &st->tensors[st->slots[j] - 1];
        if (strcmp(t->name, name) == 0) return t;
    }
    return NULL;
}

size_t geb_st_count(const geb_st *st) { return st ? st->count : 0; }

const geb_tensor *geb_st_at(const geb_st *st, size_t i) {
    return st && i < st->count ? &st->tensors[i] : NULL;
}

size_t geb_st_file_bytes(const geb_st *st) { return st ? st->file_bytes : 0; }

const char *geb_st_format(const geb_st *st) {
    if (!st || !st->nshards) return "?";
    for (size_t i = 1; i < st->nshards; i++)
        if (st->shards[i].format != st->shards[0].format) return "mixed";
    return st->shards[0].format == ST_PYTORCH ? "pytorch" : "safetensors";
}

size_t geb_st_n_files(const geb_st *st) { return st ? st->nshards : 0; }

const char *geb_st_file_name(const geb_st *st, size_t i) {
    return st && i < st->nshards ? st->shards[i].label : NULL;
}

const char *geb_st_index_path(const geb_st *st) { return st ? st->index_path : NULL; }

/* madvise over the pages covering the tensor's bytes; failures are ignored
 * because advice is only a hint.  Only for mapped files: the pages of a
 * caller's buffer may hold other data, which MADV_DONTNEED would zero. */
static void advise(const geb_tensor *t, int advice) {
    if (!t || !t->mapped || !t->data || !t->nbytes) return;
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return;
    uintptr_t b = (uintptr_t)t->data & ~((uintptr_t)ps - 1);
    uintptr_t e = (uintptr_t)t->data + t->nbytes;
    (void)madvise((void *)b, e - b, advice);
}

void geb_st_advise_willneed(const geb_tensor *t) { advise(t, MADV_WILLNEED); }

/* On a read-only private file mapping, MADV_DONTNEED only unmaps the pages:
 * RSS drops and the page cache keeps them for the next run. */
void geb_st_advise_dontneed(const geb_tensor *t) { advise(t, MADV_DONTNEED); }

void geb_st_close(geb_st *st) {
    if (!st) return;
    for (size_t i = 0; i < st->nshards; i++) {
        st_shard *sh = &st->shards[i];
        if (sh->mapped) geb_guard_remove(sh->base), munmap((void *)sh->base, sh->size);
        geb_json_free(sh->header);
        geb_pt_close(sh->pt);
        free(sh->tensors);
        free(sh->label);
    }
    free(st->shards);
    free(st->tensors);
    free(st->slots);
    free(st->index_path);
    free(st);
}

/* ---- conversion ------------------------------------------------------- */

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 to binary32, exact for every input (NaN payloads kept). */
static float half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = h >> 10 & 0x1F, man = h & 0x3FF;
    if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | man << 13);
    if (exp != 0) return f32_from_bits(sign | (exp + 112) << 23 | man << 13);
    /* zero or subnormal: man * 2^-24, exact in float */
    float v = (float)man * 0x1p-24f;
    return sign ? -v : v;
}

void geb_convert_to_f32(float *dst, const void *src, geb_dtype dtype, size_t n) {
    const uint8_t *s = src;
    switch (dtype) {
    case GEB_DTYPE_F32:
        for (size_t i = 0; i < n; i++, s += 4)
            dst[i] = f32_from_bits((uint32_t)s[0] | (uint32_t)s[1] << 8 |
                                   (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
        break;
    case GEB_DTYPE_F16:
        for (size_t i = 0; i < n; i++, s += 2) dst[i] = half_to_f32((uint16_t)(s[0] | s[1] << 8));
        break;
    case GEB_DTYPE_BF16:
        for (size_t i = 0; i < n; i++, s += 2)
            dst[i] = f32_from_bits(((uint32_t)s[0] | (uint32_t)s[1] << 8) << 16);
        break;
    default:
        /* Not a float type geb computes with: defined output, never garbage. */
        memset(dst, 0, n * sizeof *dst);
        break;
    }
}

/* A file rewritten in place (same size, so no SIGBUS) changes what a mapping
 * reads without a word: comparing its size and modification time with those
 * of the moment it was mapped is how a run notices that it used weights that
 * changed under it. */
int geb_st_check_unchanged(const geb_st *st, geb_err *err) {
    for (size_t i = 0; st && i < st->nshards; i++) {
        const st_shard *sh = &st->shards[i];
        struct stat sb;
        if (!sh->mapped) continue;
        if (stat(sh->label, &sb) != 0 || sb.st_dev != sh->dev || sb.st_ino != sh->ino ||
            (size_t)sb.st_size != sh->size || sb.st_mtim.tv_sec != sh->mtime.tv_sec ||
            sb.st_mtim.tv_nsec != sh->mtime.tv_nsec)
            return geb_err_set(err, "model file %s changed or was truncated while in use: the "
                                    "output may be wrong", sh->label);
    }
    return 0;
}
