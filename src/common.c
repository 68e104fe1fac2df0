/* common.c - error reporting and small OS helpers. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int geb_err_set(geb_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* The message must stay one line whatever the caller formatted in. */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return -1;
}

int geb_read_file(const char *path, uint8_t **data, size_t *len, size_t max,
                  geb_err *err) {
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO with no writer would block forever; the
     * flag does not change reads of a regular file, and anything else is
     * refused before it is read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return geb_err_set(err, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return geb_err_set(err, "%s is not a regular file", path);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return geb_err_set(err, "cannot open %s: %s", path, strerror(errno));
    }
    if ((uint64_t)st.st_size > max) {
        fclose(f);
        return geb_err_set(err, "%s is too large (%lld bytes, limit %zu)", path,
                           (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return geb_err_set(err, "out of memory reading %s", path);
    }
    /* A short read means the file changed or the disk failed: an error. */
    if (fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return geb_err_set(err, "short read on %s", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

double geb_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Counts distinct (physical id, core id) pairs in /proc/cpuinfo; falls back
 * to the online CPU count where that file is missing or unusual. */
int geb_physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return (int)online;
    char line[256];
    int phys = -1, seen = 0;
    int pairs[1024][2];
    while (fgets(line, sizeof line, f)) {
        int v;
        if (sscanf(line, "physical id : %d", &v) == 1) phys = v;
        else if (sscanf(line, "core id : %d", &v) == 1) {
            int dup = 0;
            for (int i = 0; i < seen; i++)
                if (pairs[i][0] == phys && pairs[i][1] == v) dup = 1;
            if (!dup && seen < 1024) {
                pairs[seen][0] = phys;
                pairs[seen][1] = v;
                seen++;
            }
        }
    }
    fclose(f);
    if (seen < 1 || seen > online) return (int)online;
    return seen;
}

int geb_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int geb_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return -1;
    *out = a + b;
    return 0;
}

#define HUGE_ALIGN ((size_t)2 << 20)

void *geb_alloc_big(size_t bytes) {
    if (bytes == 0) bytes = 1;
    /* Buffers of 2 MB and more start on a 2 MB boundary (map one huge page
     * more, unmap the slack): a huge page only backs an aligned 2 MB of the
     * mapping, so an unaligned start leaves the head and tail in 4 KB pages. */
    size_t extra = bytes >= HUGE_ALIGN ? HUGE_ALIGN : 0;
    if (bytes > SIZE_MAX - extra) return NULL;
    uint8_t *m = mmap(NULL, bytes + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    uint8_t *p = m;
    if (extra) {
        long ps = sysconf(_SC_PAGESIZE);
        size_t page = ps > 0 ? (size_t)ps : 4096, end = (bytes + page - 1) / page * page;
        p = (uint8_t *)(((uintptr_t)m + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
        if (p > m) munmap(m, (size_t)(p - m));
        if (m + bytes + extra > p + end) munmap(p + end, (size_t)(m + bytes + extra - (p + end)));
    }
#ifdef MADV_HUGEPAGE
    /* A hint: without THP support this fails harmlessly. */
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

void geb_free_big(void *p, size_t bytes) {
    if (p) munmap(p, bytes ? bytes : 1);
}

int geb_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* One policy for every subcommand: more threads than four per CPU only
 * thrash (and a typo like -t 512 should not start 512 threads). */
int geb_threads_pick(int requested, int *capped) {
    *capped = 0;
    if (requested <= 0) return geb_physical_cores();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int cap = online > 0 && online * 4 < 512 ? (int)online * 4 : 512;
    if (requested > cap) {
        *capped = 1;
        return cap;
    }
    return requested;
}
