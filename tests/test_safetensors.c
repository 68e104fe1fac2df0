/* test_safetensors.c - the checkpoint reader on files built here in a temp
 * dir: good single-file and sharded checkpoints (values round-trip), and
 * every kind of corrupt file, each rejected with a specific message.
 *
 * Conversion constants are computed by hand from the IEEE 754 binary16 /
 * bfloat16 definitions (and agree with numpy's float16 / uint32-view). */
#include "safetensors.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

/* An image: u64 LE header length, header text, data bytes (malloc'd). */
static uint8_t *image(const char *hdr, const void *data, size_t n, size_t *len) {
    size_t h = strlen(hdr);
    *len = 8 + h + n;
    uint8_t *b = malloc(*len + 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, h);
    if (n) memcpy(b + 8 + h, data, n);
    return b;
}

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(b, 1, n, f) == n);
    fclose(f);
}

/* Writes a safetensors file dir/name (dir "" means tmpdir). */
static void write_st(const char *dir, const char *name, const char *hdr, const void *data,
                     size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", *dir ? dir : tmpdir, name);
    size_t len;
    uint8_t *b = image(hdr, data, n, &len);
    write_bytes(path, b, len);
    free(b);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_bytes(path, text, strlen(text));
}

/* Makes an empty subdirectory of tmpdir and returns its path (static buffer). */
static const char *subdir(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    CHECK(mkdir(path, 0700) == 0);
    return path;
}

/* Checks that an in-memory image is rejected with a message holding both
 * substrings (the second may be NULL). */
static void bad_buffer(const char *hdr, size_t data_len, const char *what, const char *what2) {
    uint8_t zeros[256] = {0};
    size_t len;
    uint8_t *b = image(hdr, zeros, data_len, &len);
    geb_st *st = (geb_st *)1;
    geb_err err = {{0}};
    CHECK_MSG(geb_st_open_buffer(&st, b, len, &err) == -1, "accepted: %s", hdr);
    CHECK(st == NULL);
    CHECK_MSG(strstr(err.msg, what) != NULL, "%s: message '%s' lacks '%s'", hdr, err.msg, what);
    if (what2)
        CHECK_MSG(strstr(err.msg, what2) != NULL, "%s: message '%s' lacks '%s'", hdr, err.msg, what2);
    free(b);
}

/* Checks that geb_st_open(path) fails with a message holding both substrings. */
static void bad_open(const char *path, const char *what, const char *what2) {
    geb_st *st = (geb_st *)1;
    geb_err err = {{0}};
    CHECK_MSG(geb_st_open(&st, path, &err) == -1, "accepted: %s", path);
    CHECK(st == NULL);
    CHECK_MSG(strstr(err.msg, what) != NULL, "%s: message '%s' lacks '%s'", path, err.msg, what);
    if (what2)
        CHECK_MSG(strstr(err.msg, what2) != NULL, "%s: message '%s' lacks '%s'", path, err.msg, what2);
}

/* ---- good single file ------------------------------------------------- */

/* Little-endian data of the good file: f32 [2] = {1.5, -2.25}; f16 [14] bit
 * patterns; bf16 [2,4] bit patterns; i8 [3]; an empty f32 [0,5]; a scalar. */
static const uint16_t f16_bits[14] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000,
                                      0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x8001, 0x3bff};
static const uint16_t bf16_bits[8] = {0x3f80, 0x4049, 0xc2f7, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8080};

static size_t good_data(uint8_t *d) {
    size_t k = 0;
    const uint8_t f32[8] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x10, 0xc0}; /* 1.5, -2.25 */
    memcpy(d, f32, 8);
    k = 8;
    for (int i = 0; i < 14; i++, k += 2) {
        d[k] = (uint8_t)f16_bits[i];
        d[k + 1] = (uint8_t)(f16_bits[i] >> 8);
    }
    for (int i = 0; i < 8; i++, k += 2) {
        d[k] = (uint8_t)bf16_bits[i];
        d[k + 1] = (uint8_t)(bf16_bits[i] >> 8);
    }
    d[k++] = 0xff; /* i8 -1, 0, 127 */
    d[k++] = 0x00;
    d[k++] = 0x7f;
    d[k++] = 0x00; /* scalar bf16 2.0 = 0x4000 */
    d[k++] = 0x40;
    return k; /* 8 + 28 + 16 + 3 + 2 = 57 */
}

/* The header lists tensors out of file order and with a __metadata__. */
static const char good_hdr[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"b.half\":{\"dtype\":\"F16\",\"shape\":[14],\"data_offsets\":[8,36]},"
    "\"a.float\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"c.bf16\":{\"dtype\":\"BF16\",\"shape\":[2,4],\"data_offsets\":[36,52]},"
    "\"d.int8\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[52,55]},"
    "\"e.empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[55,55]},"
    "\"f.scalar\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[55,57]}}   ";

static void check_good(const geb_st *st) {
    CHECK(geb_st_count(st) == 6);
    const char *order[6] = {"a.float", "b.half", "c.bf16", "d.int8", "e.empty", "f.scalar"};
    for (size_t i = 0; i < 6; i++) {
        const geb_tensor *t = geb_st_at(st, i);
        CHECK_MSG(t && strcmp(t->name, order[i]) == 0, "tensor %zu is %s", i, t ? t->name : "-");
        CHECK(t && geb_st_find(st, order[i]) == t);
    }
    CHECK(geb_st_at(st, 6) == NULL);
    CHECK(geb_st_find(st, "__metadata__") == NULL);
    CHECK(geb_st_find(st, "a.floa") == NULL);
    CHECK(geb_st_find(st, "a.float ") == NULL);

    float out[16];
    const geb_tensor *t = geb_st_find(st, "a.float");
    CHECK(t && t->dtype == GEB_DTYPE_F32 && t->numel == 2 && t->nbytes == 8 && t->ndim == 1);
    if (t) {
        geb_convert_to_f32(out, t->data, t->dtype, t->numel);
        CHECK(out[0] == 1.5f && out[1] == -2.25f);
    }
    t = geb_st_find(st, "b.half");
    CHECK(t && t->dtype == GEB_DTYPE_F16 && strcmp(t->dtype_name, "F16") == 0 && t->numel == 14);
    if (t) {
        geb_convert_to_f32(out, t->data, t->dtype, t->numel);
        CHECK(out[0] == 0.0f && !signbit(out[0]));
        CHECK(out[1] == 0.0f && signbit(out[1]));
        CHECK(out[2] == 5.9604644775390625e-08f); /* 2^-24, smallest subnormal */
        CHECK(out[3] == 6.097555160522461e-05f);  /* 1023 * 2^-24, largest subnormal */
        CHECK(out[4] == 6.103515625e-05f);        /* 2^-14, smallest normal */
        CHECK(out[5] == 1.0f && out[6] == -2.0f);
        CHECK(out[7] == 65504.0f);
        CHECK(isinf(out[8]) && out[8] > 0);
        CHECK(isinf(out[9]) && out[9] < 0);
        CHECK(isnan(out[10]));
        CHECK(out[11] == 0.333251953125f);
        CHECK(out[12] == -5.9604644775390625e-08f);
        CHECK(out[13] == 0.99951171875f);
    }
    t = geb_st_find(st, "c.bf16");
    CHECK(t && t->dtype == GEB_DTYPE_BF16 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 4);
    if (t) {
        geb_convert_to_f32(out, t->data, t->dtype, t->numel);
        CHECK(out[0] == 1.0f && out[1] == 3.140625f && out[2] == -123.5f);
        CHECK(isinf(out[3]) && out[3] > 0 && isinf(out[4]) && out[4] < 0);
        CHECK(isnan(out[5]));
        CHECK(out[6] == 9.183549615799121e-41f); /* 2^-133, a float subnormal */
        CHECK(out[7] == -1.1754943508222875e-38f);
    }
    t = geb_st_find(st, "d.int8");
    CHECK(t && t->dtype == GEB_DTYPE_OTHER && strcmp(t->dtype_name, "I8") == 0 && t->nbytes == 3);
    CHECK(t && t->data[0] == 0xff && t->data[2] == 0x7f);
    t = geb_st_find(st, "e.empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0 && t->ndim == 2 && t->shape[1] == 5);
    t = geb_st_find(st, "f.scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && t->nbytes == 2);
    if (t) {
        geb_convert_to_f32(out, t->data, t->dtype, 1);
        CHECK(out[0] == 2.0f);
        geb_st_advise_willneed(t);
        geb_st_advise_dontneed(t);
    }
}

static void test_good_single(void) {
    uint8_t d[64];
    size_t n = good_data(d), len;
    CHECK(n == 57);
    write_st("", "good.safetensors", good_hdr, d, n);

    /* A path to the file. */
    char path[256];
    snprintf(path, sizeof path, "%s/good.safetensors", tmpdir);
    geb_st *st = NULL;
    geb_err err = {{0}};
    CHECK_MSG(geb_st_open(&st, path, &err) == 0, "%s", err.msg);
    if (st) {
        check_good(st);
        CHECK(geb_st_file_bytes(st) == 8 + strlen(good_hdr) + 57);
        CHECK(geb_st_at(st, 0)->shard == 0 && geb_st_at(st, 0)->mapped == 1);
        /* Dropping the pages of a file mapping keeps the contents readable. */
        const geb_tensor *t = geb_st_find(st, "c.bf16");
        geb_st_advise_dontneed(t);
        float v = 0;
        geb_convert_to_f32(&v, t->data, t->dtype, 1);
        CHECK(v == 1.0f);
        geb_st_close(st);
    }

    /* A folder holding only that file (any name) and one with model.safetensors. */
    const char *dir = subdir("only");
    write_st(dir, "weights.safetensors", good_hdr, d, n);
    write_text(dir, "config.json", "{}");
    st = NULL;
    CHECK_MSG(geb_st_open(&st, dir, &err) == 0, "%s", err.msg);
    if (st) check_good(st);
    geb_st_close(st);
    write_st(dir, "model.safetensors", good_hdr, d, n); /* now two files: model.* wins */
    st = NULL;
    CHECK_MSG(geb_st_open(&st, dir, &err) == 0, "%s", err.msg);
    if (st) check_good(st);
    geb_st_close(st);

    /* The same image from memory. */
    uint8_t *b = image(good_hdr, d, n, &len);
    st = NULL;
    CHECK_MSG(geb_st_open_buffer(&st, b, len, &err) == 0, "%s", err.msg);
    if (st) {
        check_good(st);
        CHECK(geb_st_file_bytes(st) == len);
        CHECK(geb_st_at(st, 0)->mapped == 0);
    }
    geb_st_close(st);
    free(b);
    geb_st_close(NULL);
    CHECK(geb_st_find(NULL, "x") == NULL && geb_st_count(NULL) == 0);
}

/* Conversion must not assume aligned input (checkpoint data often is not). */
static void test_unaligned(void) {
    uint8_t raw[1 + 3 * 4];
    const uint8_t f32[12] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc1, 0x01, 0x00, 0x00, 0x00};
    memcpy(raw + 1, f32, 12);
    float out[3];
    geb_convert_to_f32(out, raw + 1, GEB_DTYPE_F32, 3);
    CHECK(out[0] == 1.0f && out[1] == -8.0f && out[2] == 1.401298464324817e-45f);
    const uint8_t h[6] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc}; /* 1, 2^-24, -inf */
    memcpy(raw + 1, h, 6);
    geb_convert_to_f32(out, raw + 1, GEB_DTYPE_F16, 3);
    CHECK(out[0] == 1.0f && out[1] == 5.9604644775390625e-08f && isinf(out[2]) && out[2] < 0);
    memcpy(raw + 1, h, 6);
    geb_convert_to_f32(out, raw + 1, GEB_DTYPE_BF16, 3);
    /* 0x3c00 -> 2^-7, 0x0001 -> 2^-133 (float subnormal), 0xfc00 -> -2^121 */
    CHECK(out[0] == 0.0078125f && out[1] == 9.183549615799121e-41f && out[2] == -0x1p121f);
    /* Every finite half round-trips through float to the same bits: the
     * float value v of h must give back h by the binary16 definition. */
    int bad = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        uint8_t le[2] = {(uint8_t)u, (uint8_t)(u >> 8)};
        geb_convert_to_f32(out, le, GEB_DTYPE_F16, 1);
        uint32_t e = u >> 10 & 31, m = u & 1023;
        double want = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, (int)e - 25);
        if (u & 0x8000) want = -want;
        if (e == 31 ? (m ? !isnan(out[0]) : !isinf(out[0])) : out[0] != (float)want) bad++;
    }
    CHECK_MSG(bad == 0, "%d half values wrong", bad);
}

/* Advice on a heap buffer must never change its contents. */
static void test_advise_buffer(void) {
    long ps = sysconf(_SC_PAGESIZE);
    const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1024],\"data_offsets\":[0,4096]}}";
    size_t h = strlen(hdr), len = 8 + h + 4096;
    uint8_t *b = aligned_alloc((size_t)ps, ((len + (size_t)ps - 1) / (size_t)ps) * (size_t)ps);
    size_t tmp;
    uint8_t *img = image(hdr, NULL, 0, &tmp);
    memcpy(b, img, 8 + h);
    free(img);
    for (size_t i = 0; i < 4096; i++) b[8 + h + i] = (uint8_t)(i * 7 + 1);
    geb_st *st = NULL;
    geb_err err = {{0}};
    CHECK_MSG(geb_st_open_buffer(&st, b, len, &err) == 0, "%s", err.msg);
    const geb_tensor *t = geb_st_find(st, "w");
    CHECK(t != NULL);
    geb_st_advise_dontneed(t);
    geb_st_advise_willneed(t);
    int same = 1;
    for (size_t i = 0; i < 4096; i++) same &= b[8 + h + i] == (uint8_t)(i * 7 + 1);
    CHECK(same);
    CHECK(b[0] == (uint8_t)h);
    geb_st_close(st);
    free(b);
}

/* Many tensors: every one is found through the hash table. */
static void test_many(void) {
    size_t n = 300, cap = n * 100 + 16, k = 0;
    char *hdr = malloc(cap);
    hdr[k++] = '{';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(hdr + k, cap - k,
                              "%s\"transformer.encoder.layers.%zu.w\":{\"dtype\":\"BF16\","
                              "\"shape\":[1],\"data_offsets\":[%zu,%zu]}",
                              i ? "," : "", i, 2 * i, 2 * i + 2);
    hdr[k++] = '}';
    hdr[k] = 0;
    uint8_t *d = malloc(2 * n);
    for (size_t i = 0; i < n; i++) {
        d[2 * i] = 0;
        d[2 * i + 1] = (uint8_t)(0x3f + (i & 1)); /* 0x3f00 = 0.5, 0x4000 = 2.0 */
    }
    size_t len;
    uint8_t *b = image(hdr, d, 2 * n, &len);
    geb_st *st = NULL;
    geb_err err = {{0}};
    CHECK_MSG(geb_st_open_buffer(&st, b, len, &err) == 0, "%s", err.msg);
    int found = 0;
    for (size_t i = 0; i < n && st; i++) {
        char name[64];
        snprintf(name, sizeof name, "transformer.encoder.layers.%zu.w", i);
        const geb_tensor *t = geb_st_find(st, name);
        float v = 0;
        if (t) geb_convert_to_f32(&v, t->data, t->dtype, 1);
        found += t && v == (i & 1 ? 2.0f : 0.5f) && geb_st_at(st, i) == t;
    }
    CHECK(found == (int)n);
    CHECK(geb_st_find(st, "transformer.encoder.layers.300.w") == NULL);
    geb_st_close(st);
    free(b);
    free(d);
    free(hdr);
}

/* ---- corrupt single files --------------------------------------------- */

#define T(dtype, shape, offs) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_corrupt(void) {
    /* Truncated files, through the file path. */
    char path[256];
    snprintf(path, sizeof path, "%s/short.safetensors", tmpdir);
    write_bytes(path, "\x02\0\0\0\0", 5);
    bad_open(path, "too short for a safetensors header", "short.safetensors");
    write_bytes(path, "", 0);
    bad_open(path, "file is 0 bytes", NULL);
    snprintf(path, sizeof path, "%s/long.safetensors", tmpdir);
    write_bytes(path, "\xe8\x03\0\0\0\0\0\0{\"a\":1}", 15);
    bad_open(path, "header length 1000 is larger than the file (15 bytes)", "long.safetensors");
    write_bytes(path, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    bad_open(path, "header length 18446744073709551615 is larger than the file", NULL);
    snprintf(path, sizeof path, "%s/missing.safetensors", tmpdir);
    bad_open(path, "cannot open", "missing.safetensors");

    bad_buffer("{\"a\": ", 0, "<buffer>: header: json:", NULL);
    bad_buffer("{\"a\":" T("F32", "[1]", "[0,4]") ",}", 4, "json: object key expected at byte", NULL);
    bad_buffer("[]", 0, "header is not a JSON object", NULL);
    bad_buffer("{\"x\":" T("F32", "[2]", "[0,8]") "}", 4,
               "tensor 'x' data_offsets [0, 8] past the end of the data (4 bytes)", NULL);
    bad_buffer("{\"x\":" T("F32", "[1]", "[0,4]") ",\"y\":" T("F32", "[1]", "[2,6]") "}", 8,
               "tensors 'x' and 'y' overlap", NULL);
    bad_buffer("{\"y\":" T("F32", "[0]", "[2,2]") ",\"x\":" T("F32", "[1]", "[0,4]") "}", 8,
               "tensors 'x' and 'y' overlap", NULL);
    bad_buffer("{\"x\":" T("F32", "[1]", "[4,0]") "}", 8, "tensor 'x' data_offsets [4, 0] begin after end", NULL);
    bad_buffer("{\"x\":" T("F32", "[3]", "[0,8]") "}", 8,
               "tensor 'x' data_offsets hold 8 bytes but shape and dtype F32 need 12", NULL);
    bad_buffer("{\"x\":" T("BF16", "[2,3]", "[0,8]") "}", 8, "hold 8 bytes but shape and dtype BF16 need 12", NULL);
    bad_buffer("{\"x\":" T("F32", "[-1]", "[0,4]") "}", 4, "tensor 'x' shape[0] is not a non-negative integer", NULL);
    bad_buffer("{\"x\":" T("F32", "[1,1.5]", "[0,4]") "}", 4, "tensor 'x' shape[1] is not a non-negative integer", NULL);
    bad_buffer("{\"x\":" T("F32", "[1e0]", "[0,4]") "}", 4, "shape[0] is not a non-negative integer", NULL);
    bad_buffer("{\"x\":" T("F32", "[\"1\"]", "[0,4]") "}", 4, "shape[0] is not a non-negative integer", NULL);
    bad_buffer("{\"x\":" T("F32", "[4294967296,4294967296,4294967296]", "[0,4]") "}", 4,
               "tensor 'x' shape overflows the element count", NULL);
    bad_buffer("{\"x\":" T("F32", "[4611686018427387904]", "[0,4]") "}", 4,
               "tensor 'x' shape overflows the byte size", NULL);
    bad_buffer("{\"x\":" T("F32", "[9223372036854775808]", "[0,4]") "}", 4, "shape[0] is not", NULL);
    bad_buffer("{\"x\":" T("F128", "[1]", "[0,4]") "}", 4, "unknown dtype F128 for tensor 'x'", NULL);
    bad_buffer("{\"x\":" T("f32", "[1]", "[0,4]") "}", 4, "unknown dtype f32 for tensor 'x'", NULL);
    bad_buffer("{\"x\":" T("F32\\u0000", "[1]", "[0,4]") "}", 4, "tensor 'x' has no \"dtype\" string", NULL);
    bad_buffer("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'x' has no \"dtype\"", NULL);
    bad_buffer("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'x' has no \"shape\"", NULL);
    bad_buffer("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'x' has no \"data_offsets\"", NULL);
    bad_buffer("{\"x\":" T("F32", "[1]", "[0,4,8]") "}", 8, "tensor 'x' has no \"data_offsets\"", NULL);
    bad_buffer("{\"x\":" T("F32", "[1]", "[-4,0]") "}", 8, "data_offsets are not non-negative integers", NULL);
    bad_buffer("{\"x\":" T("F32", "[1]", "[0,4.0]") "}", 8, "data_offsets are not non-negative integers", NULL);
    bad_buffer("{\"x\":" T("F32", "[1]", "[0,9223372036854775807]") "}", 8, "past the end of the data", NULL);
    bad_buffer("{\"x\":" T("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, "tensor 'x' has 9 dims", NULL);
    bad_buffer("{\"x\":[1]}", 4, "tensor 'x' entry is not an object", NULL);
    bad_buffer("{\"x\":" T("F32", "[1]", "[0,4]") ",\"x\":" T("F32", "[1]", "[4,8]") "}", 8,
               "tensor 'x' appears twice", NULL);
    bad_buffer("{\"__metadata__\":{\"a\":1}}", 0, "__metadata__ value 'a' is not a string", NULL);
    bad_buffer("{\"__metadata__\":[]}", 0, "__metadata__ is not an object", NULL);

    /* Eight dims and an all-metadata header are fine. */
    const char *hdr8 = "{\"__metadata__\":{},\"x\":" T("U8", "[1,1,1,1,1,1,1,2]", "[0,2]") "}";
    size_t len;
    uint8_t *b = image(hdr8, "ab", 2, &len);
    geb_st *st = NULL;
    geb_err err = {{0}};
    CHECK_MSG(geb_st_open_buffer(&st, b, len, &err) == 0, "%s", err.msg);
    const geb_tensor *t = geb_st_find(st, "x");
    CHECK(t && t->ndim == 8 && t->numel == 2 && t->shape[7] == 2);
    geb_st_close(st);
    free(b);
    b = image("{}", NULL, 0, &len);
    st = NULL;
    CHECK_MSG(geb_st_open_buffer(&st, b, len, &err) == 0, "%s", err.msg);
    CHECK(geb_st_count(st) == 0 && geb_st_find(st, "x") == NULL);
    geb_st_close(st);
    free(b);
    /* Every other dtype safetensors defines is listed as OTHER with its size. */
    static const struct { const char *name; int size; } other[] = {
        {"F64", 8}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1}, {"U8", 1},
        {"U16", 2}, {"U32", 4}, {"U64", 8}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char hdr[160];
        snprintf(hdr, sizeof hdr, "{\"t\":{\"dtype\":\"%s\",\"shape\":[3],\"data_offsets\":[0,%d]}}",
                 other[i].name, 3 * other[i].size);
        uint8_t zeros[24] = {0};
        b = image(hdr, zeros, 24, &len);
        st = NULL;
        CHECK_MSG(geb_st_open_buffer(&st, b, len, &err) == 0, "%s: %s", other[i].name, err.msg);
        t = geb_st_find(st, "t");
        CHECK(t && t->dtype == GEB_DTYPE_OTHER && strcmp(t->dtype_name, other[i].name) == 0);
        geb_st_close(st);
        free(b);
    }
}

/* ---- sharded ---------------------------------------------------------- */

static const char shard1_hdr[] = "{\"w.a\":" T("F32", "[2]", "[0,8]") ",\"w.b\":" T("BF16", "[1]", "[8,10]") "}";
static const char shard2_hdr[] = "{\"w.c\":" T("F16", "[2]", "[0,4]") ",\"unmapped\":" T("F32", "[1]", "[4,8]") "}";
static const uint8_t shard1_data[10] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0x80, 0xbf}; /* 1, 2, -1 */
static const uint8_t shard2_data[8] = {0x00, 0x38, 0x00, 0xb4, 0, 0, 0, 0}; /* 0.5, -0.25, 0 */

/* Makes a folder with the two shards and the given index text. */
static const char *sharded_dir(const char *name, const char *index) {
    const char *dir = subdir(name);
    write_st(dir, "model-00001-of-00002.safetensors", shard1_hdr, shard1_data, 10);
    write_st(dir, "model-00002-of-00002.safetensors", shard2_hdr, shard2_data, 8);
    if (index) write_text(dir, "model.safetensors.index.json", index);
    return dir;
}

#define IDX_HEAD "{\"metadata\":{\"total_size\":22},\"weight_map\":{"
#define S1 "\"model-00001-of-00002.safetensors\""
#define S2 "\"model-00002-of-00002.safetensors\""

static void test_sharded(void) {
    const char *dir = sharded_dir("sharded", IDX_HEAD "\"w.c\":" S2 ",\"w.a\":" S1 ",\"w.b\":" S1 "}}");
    geb_st *st = NULL;
    geb_err err = {{0}};
    CHECK_MSG(geb_st_open(&st, dir, &err) == 0, "%s", err.msg);
    if (st) {
        CHECK(geb_st_count(st) == 3);
        CHECK(geb_st_find(st, "unmapped") == NULL); /* not in the map: ignored */
        CHECK(geb_st_file_bytes(st) == 16 + strlen(shard1_hdr) + 10 + strlen(shard2_hdr) + 8);
        const char *order[3] = {"w.a", "w.b", "w.c"};
        for (size_t i = 0; i < 3; i++) {
            const geb_tensor *t = geb_st_at(st, i);
            CHECK_MSG(t && strcmp(t->name, order[i]) == 0 && geb_st_find(st, order[i]) == t,
                      "tensor %zu", i);
        }
        float v[2];
        const geb_tensor *t = geb_st_find(st, "w.a");
        CHECK(t && t->shard == 0);
        if (t) geb_convert_to_f32(v, t->data, t->dtype, 2);
        CHECK(t && v[0] == 1.0f && v[1] == 2.0f);
        t = geb_st_find(st, "w.b");
        if (t) geb_convert_to_f32(v, t->data, t->dtype, 1);
        CHECK(t && t->shard == 0 && v[0] == -1.0f);
        t = geb_st_find(st, "w.c");
        if (t) geb_convert_to_f32(v, t->data, t->dtype, 2);
        CHECK(t && t->shard == 1 && v[0] == 0.5f && v[1] == -0.25f);
        for (size_t i = 0; i < 3; i++) {
            geb_st_advise_willneed(geb_st_at(st, i));
            geb_st_advise_dontneed(geb_st_at(st, i));
        }
        geb_st_close(st);
    }
    /* The index file itself may be given. */
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    st = NULL;
    CHECK_MSG(geb_st_open(&st, path, &err) == 0, "%s", err.msg);
    CHECK(geb_st_count(st) == 3 && geb_st_find(st, "w.c") && geb_st_find(st, "w.c")->shard == 1);
    geb_st_close(st);

    dir = sharded_dir("noshard", IDX_HEAD "\"w.a\":" S1 ",\"w.z\":\"model-00003-of-00003.safetensors\"}}");
    bad_open(dir, "shard 'model-00003-of-00003.safetensors' (holding tensor 'w.z') is missing",
             "model.safetensors.index.json");
    dir = sharded_dir("notensor", IDX_HEAD "\"w.a\":" S1 ",\"w.c\":" S1 "}}");
    bad_open(dir, "tensor 'w.c' is not in shard model-00001-of-00002.safetensors", NULL);
    dir = sharded_dir("slash", IDX_HEAD "\"w.a\":\"../sharded/model-00001-of-00002.safetensors\"}}");
    bad_open(dir, "tensor 'w.a' maps to '../sharded/model-00001-of-00002.safetensors', which is not a plain file name", NULL);
    dir = sharded_dir("slash2", IDX_HEAD "\"w.a\":\"sub/x.safetensors\"}}");
    bad_open(dir, "which is not a plain file name", NULL);
    dir = sharded_dir("dotdot", IDX_HEAD "\"w.a\":\"..\"}}");
    bad_open(dir, "which is not a plain file name", NULL);
    dir = sharded_dir("empty", IDX_HEAD "\"w.a\":\"\"}}");
    bad_open(dir, "which is not a plain file name", NULL);
    dir = sharded_dir("notstr", IDX_HEAD "\"w.a\":1}}");
    bad_open(dir, "which is not a plain file name", NULL);
    dir = sharded_dir("twice", IDX_HEAD "\"w.a\":" S1 ",\"w.a\":" S1 "}}");
    bad_open(dir, "tensor 'w.a' is listed more than once", NULL);
    dir = sharded_dir("nomap", "{\"metadata\":{}}");
    bad_open(dir, "no \"weight_map\" object", NULL);
    dir = sharded_dir("emptymap", "{\"weight_map\":{}}");
    bad_open(dir, "weight_map is empty", NULL);
    dir = sharded_dir("badjson", "{\"weight_map\":{\"w.a\":" S1 ",}}");
    bad_open(dir, "model.safetensors.index.json: json: object key expected", NULL);
    dir = sharded_dir("noindex", NULL);
    bad_open(dir, "holds 2 .safetensors files but no model.safetensors.index.json", NULL);
    dir = subdir("nothing");
    bad_open(dir, "no .safetensors file in", NULL);

    /* A corrupt shard is reported with its own name. */
    dir = sharded_dir("badshard", IDX_HEAD "\"w.a\":" S1 ",\"w.c\":" S2 "}}");
    write_st(dir, "model-00002-of-00002.safetensors", shard2_hdr, shard2_data, 7);
    bad_open(dir, "model-00002-of-00002.safetensors: tensor 'unmapped' data_offsets [4, 8] past the end of the data (7 bytes)", NULL);
}

/* Removes tmpdir and everything in it. */
static void cleanup(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/geb_st_test.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_good_single();
    test_unaligned();
    test_advise_buffer();
    test_many();
    test_corrupt();
    test_sharded();
    cleanup();
    return TEST_DONE("safetensors");
}
