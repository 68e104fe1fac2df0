/* json_dump.c - prints, for each file argument, one line: "REJECT" if
 * geb_json_parse rejects it, else the document re-serialized by fuzz_json's
 * emitter (compact JSON).  Used by json_differential.py to compare the
 * reader with Python's json module over a corpus. */
#include "fuzz_json.c"

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, n = 0, got;
        uint8_t *buf = malloc(cap);
        while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
            if ((n += got) == cap) buf = realloc(buf, cap *= 2);
        fclose(f);
        REQUIRE(buf != NULL);
        geb_err err;
        geb_json *root = geb_json_parse((const char *)buf, n, &err);
        if (!root) {
            puts("REJECT");
        } else {
            out_buf o = {NULL, 0, 0};
            emit(&o, root, 0);
            fwrite(o.p, 1, o.n, stdout);
            putchar('\n');
            free(o.p);
            geb_json_free(root);
        }
        free(buf);
    }
    return 0;
}
