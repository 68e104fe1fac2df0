/* replay_main.c - runs a fuzz target's LLVMFuzzerTestOneInput on files, so
 * seed corpora and regression inputs replay without libFuzzer (any compiler,
 * typically under ASan/UBSan).
 *
 *   replay_json tests/fuzz/corpus/json tests/fuzz/regress/json some-file
 *
 * Directories are walked recursively in name order; names starting with '.'
 * are skipped.  Each input is handed over in a buffer of exactly its size so
 * that ASan catches a read one byte past the end.  Prints "replayed N
 * inputs" and exits 0, or 1 if a path cannot be read.  A crash in the target
 * ends the process, as it would under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional hook, as in libFuzzer: called once before the first input. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reads path into an exact-size heap buffer and runs the target on it. */
static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    /* Copy into a buffer of exactly n bytes (malloc(0) may return NULL). */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int skip_dot(const struct dirent *e) { return e->d_name[0] != '.'; }

/* Replays path (a file, or a directory walked recursively); counts inputs. */
static int walk(const char *path, size_t *count) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        if (run_file(path) != 0) return -1;
        ++*count;
        return 0;
    }
    struct dirent **list;
    int n = scandir(path, &list, skip_dot, alphasort);
    if (n < 0) {
        perror(path);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(list[i]->d_name) + 2;
        char *child = malloc(len);
        if (child) {
            snprintf(child, len, "%s/%s", path, list[i]->d_name);
            if (walk(child, count) != 0) rc = -1;
        } else {
            rc = -1;
        }
        free(child);
        free(list[i]);
    }
    free(list);
    return rc;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (walk(argv[i], &count) != 0) rc = 1;
    printf("replayed %zu inputs\n", count);
    return rc;
}
