/* fuzz_safetensors.c - fuzz target for one safetensors image in memory
 * (geb_st_open_buffer in src/safetensors.c).
 *
 * Two input forms, so that mutations of the header text are not wasted on a
 * stale length prefix:
 *   raw:        the image itself (anything not starting with '{');
 *   structured: header JSON, a NUL byte, then the data; the harness writes
 *               the 8-byte length prefix.
 * Either way the reader sees a heap buffer of exactly the image's size.
 *
 * An accepted image must satisfy the reader's promises: every tensor's bytes
 * lie inside the input, tensors do not overlap, nbytes == numel * element
 * size, geb_st_find returns each tensor, and every F32/F16/BF16 tensor
 * converts (ASan checks each byte read).  A broken promise aborts.
 */
#include "safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                            \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "fuzz_safetensors: invariant failed: %s\n", #c);  \
            abort();                                                          \
        }                                                                     \
    } while (0)

static size_t elsize(geb_dtype d) {
    return d == GEB_DTYPE_F32 ? 4 : 2;
}

/* Checks one tensor against the image [data, data+size) and converts it. */
static void check_tensor(const geb_st *st, const geb_tensor *t, const uint8_t *data, size_t size) {
    REQUIRE(t->name && t->dtype_name);
    REQUIRE(geb_st_find(st, t->name) == t);
    REQUIRE(t->ndim >= 0 && t->ndim <= GEB_ST_MAX_DIMS);
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        REQUIRE(t->shape[d] >= 0);
        numel *= (size_t)t->shape[d]; /* cannot overflow: the reader checked */
    }
    REQUIRE(numel == t->numel);
    REQUIRE(t->data >= data && t->nbytes <= size && (size_t)(t->data - data) <= size - t->nbytes);
    if (t->dtype == GEB_DTYPE_OTHER) return;
    REQUIRE(t->nbytes == t->numel * elsize(t->dtype));
    float *out = malloc(t->numel ? t->numel * sizeof *out : 1);
    REQUIRE(out != NULL);
    geb_convert_to_f32(out, t->data, t->dtype, t->numel);
    free(out);
}

/* Builds the image for a structured input (see the top of the file). */
static uint8_t *structured(const uint8_t *in, size_t size, size_t *len) {
    const uint8_t *nul = memchr(in, 0, size);
    size_t h = nul ? (size_t)(nul - in) : size;
    size_t rest = nul ? size - h - 1 : 0;
    *len = 8 + h + rest;
    uint8_t *img = malloc(*len);
    REQUIRE(img != NULL);
    for (int i = 0; i < 8; i++) img[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(img + 8, in, h);
    if (rest) memcpy(img + 8 + h, nul + 1, rest);
    return img;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t in_size) {
    size_t size = in_size;
    uint8_t *owned = in_size && in[0] == '{' ? structured(in, in_size, &size) : NULL;
    const uint8_t *data = owned ? owned : in;
    geb_st *st = NULL;
    geb_err err;
    err.msg[0] = 0;
    if (geb_st_open_buffer(&st, data, size, &err) != 0) {
        REQUIRE(st == NULL && strncmp(err.msg, "<buffer>", 8) == 0);
        free(owned);
        return 0;
    }
    REQUIRE(geb_st_file_bytes(st) == size);
    size_t n = geb_st_count(st);
    const geb_tensor *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const geb_tensor *t = geb_st_at(st, i);
        REQUIRE(t != NULL);
        check_tensor(st, t, data, size);
        /* In file order, so a later tensor starts at or after the previous end. */
        if (prev) REQUIRE(prev->data + prev->nbytes <= t->data);
        prev = t;
    }
    REQUIRE(geb_st_at(st, n) == NULL);
    geb_st_close(st);
    free(owned);
    return 0;
}
