/* common.h - error reporting and small OS helpers shared by every module.
 *
 * Library code never prints or exits: a function that can fail returns -1
 * (or NULL) and, when given a geb_err, writes one human-readable line into
 * it.  Only main() prints that line and chooses the exit status.
 */
#ifndef GEB_COMMON_H
#define GEB_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define GEB_ERR_MAX 512

typedef struct geb_err {
    char msg[GEB_ERR_MAX]; /* one line, no trailing newline */
} geb_err;

/* Formats a message into err (if err is not NULL) and returns -1, so that
 * callers can write `return geb_err_set(err, "...", ...);`. */
int geb_err_set(geb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads a whole file into a malloc'd buffer with a NUL byte appended (not
 * counted in *len).  Refuses files larger than max bytes, and anything but
 * a regular file (a FIFO or a device would block or never end). */
int geb_read_file(const char *path, uint8_t **data, size_t *len, size_t max,
                  geb_err *err);

/* 1 if path exists (of any kind). */
int geb_file_exists(const char *path);

/* Threads to use: requested (<= 0: the physical cores), capped at four per
 * online CPU; *capped is set to 1 when the cap applied. */
int geb_threads_pick(int requested, int *capped);

/* Monotonic wall clock in milliseconds. */
double geb_now_ms(void);

/* Number of physical cores (hyper-threads of one core count once); at least 1. */
int geb_physical_cores(void);

/* Page-aligned zeroed memory for large buffers (weights, KV cache): an
 * anonymous mapping with transparent huge pages requested, so that streaming
 * gigabytes of weights takes few page faults and few TLB misses.  Free with
 * geb_free_big and the same size.  Returns NULL on failure. */
void *geb_alloc_big(size_t bytes);
void geb_free_big(void *p, size_t bytes);

/* Overflow-checked size arithmetic: return 0 on success, -1 on overflow. */
int geb_mul_size(size_t a, size_t b, size_t *out);
int geb_add_size(size_t a, size_t b, size_t *out);

#endif
