/* fuzz_st_index.c - fuzz target for sharded checkpoints: the input becomes
 * model.safetensors.index.json in a scratch folder that also holds small
 * shards, and geb_st_open opens the folder (src/safetensors.c).
 *
 * The folder (made once per process, removed at exit) holds:
 *   a.safetensors     x: F32 [2], y: BF16 [2,2]
 *   b.safetensors     z: F16 [3], __metadata__, extra: U8 [1] (never mapped)
 *   bad.safetensors   4 bytes, too short for a header
 *   sub/              a directory, not a shard
 * An accepted index exposes only tensors that exist (x, y, z, extra), each
 * found by geb_st_find and reading its own shard's bytes; else it aborts.
 */
#include "safetensors.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUIRE(c)                                                          \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_st_index: invariant failed: %s\n", #c);   \
            abort();                                                        \
        }                                                                   \
    } while (0)

static char dir[128];
static char index_path[192];

/* Writes n bytes to dir/name, aborting on failure (setup must work). */
static void put_file(const char *name, const void *data, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    REQUIRE(fwrite(data, 1, n, f) == n);
    REQUIRE(fclose(f) == 0);
}

/* Writes a safetensors file: u64 LE header length, header, data. */
static void put_shard(const char *name, const char *hdr, const void *data, size_t n) {
    size_t h = strlen(hdr);
    uint8_t buf[512];
    REQUIRE(8 + h + n <= sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, hdr, h);
    memcpy(buf + 8 + h, data, n);
    put_file(name, buf, 8 + h + n);
}

static void cleanup(void) {
    const char *names[] = {"a.safetensors", "b.safetensors", "bad.safetensors",
                           "model.safetensors.index.json"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

/* A scratch folder: $TMPDIR if set, else /dev/shm (a disk-backed /tmp makes
 * rewriting the index per input about 4x slower), else /tmp. */
static void setup(void) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strlen(tmp) >= 64) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/geb_fuzz_index.XXXXXX", tmp);
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", dir);
    atexit(cleanup);
    const uint8_t a[16] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0x80, 0x3f, 0, 0x40, 0x80, 0xbf, 0, 0};
    put_shard("a.safetensors",
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"y\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[8,16]}}",
              a, sizeof a);
    const uint8_t b[7] = {0x00, 0x3c, 0x01, 0x00, 0x00, 0x7c, 0x2a};
    put_shard("b.safetensors",
              "{\"__metadata__\":{\"format\":\"pt\"},"
              "\"z\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
              "\"extra\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[6,7]}}",
              b, sizeof b);
    put_file("bad.safetensors", "\x01\x02\x03\x04", 4);
    char sub[192];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    REQUIRE(mkdir(sub, 0700) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) setup();
    int fd = open(index_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(size == 0 || write(fd, data, size) == (ssize_t)size);
    REQUIRE(close(fd) == 0);

    geb_st *st = NULL;
    geb_err err;
    err.msg[0] = 0;
    if (geb_st_open(&st, dir, &err) != 0) {
        REQUIRE(st == NULL && err.msg[0] != 0);
        return 0;
    }
    size_t n = geb_st_count(st);
    REQUIRE(n >= 1 && n <= 4); /* only x, y, z, extra exist */
    for (size_t i = 0; i < n; i++) {
        const geb_tensor *t = geb_st_at(st, i);
        REQUIRE(t && geb_st_find(st, t->name) == t);
        REQUIRE(strcmp(t->name, "x") == 0 || strcmp(t->name, "y") == 0 ||
                strcmp(t->name, "z") == 0 || strcmp(t->name, "extra") == 0);
        REQUIRE(t->shard >= 0 && t->shard < 2);
        float out[4];
        REQUIRE(t->numel <= 4);
        geb_convert_to_f32(out, t->data, t->dtype, t->numel);
        /* Spot-check that each name reads its own shard's bytes. */
        if (strcmp(t->name, "x") == 0) REQUIRE(out[0] == 1.0f && out[1] == -2.0f);
        if (strcmp(t->name, "z") == 0) REQUIRE(out[0] == 1.0f && out[1] > 0 && out[1] < 1e-7f);
    }
    REQUIRE(geb_st_file_bytes(st) > 0);
    geb_st_close(st);
    return 0;
}
