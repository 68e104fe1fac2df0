/* fuzz_safetensors.c - fuzz target for one safetensors image in memory
 * (geb_st_open_buffer in src/safetensors.c).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    geb_st *st = NULL;
    geb_err err;
    err.msg[0] = 0;
    if (geb_st_open_buffer(&st, data, size, &err) != 0) {
        REQUIRE(st == NULL && strncmp(err.msg, "<buffer>", 8) == 0);
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
    return 0;
}
