/* fuzz_config.c - fuzz target for the config reader (src/config.c).
 *
 * The input is config.json, optionally followed by a NUL byte and the text
 * of generation_config.json, and another NUL byte and tokenizer_config.json.
 * Besides "no crash, no leak, no sanitizer report", an accepted config must
 * satisfy the invariants the engine relies on; a violation aborts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                          \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "fuzz_config: invariant failed: %s\n", #c);     \
            abort();                                                        \
        }                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *parts[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    size_t start = 0;
    for (int k = 0; k < 3 && start <= size; k++) {
        const uint8_t *nul = k < 2 ? memchr(data + start, 0, size - start) : NULL;
        size_t end = nul ? (size_t)(nul - data) : size;
        parts[k] = (const char *)data + start;
        lens[k] = end - start;
        if (!nul) break;
        start = end + 1;
    }
    geb_config c;
    geb_err err;
    if (geb_config_parse(&c, parts[0], lens[0], parts[1], lens[1], parts[2], lens[2], &err) != 0) {
        REQUIRE(memchr(err.msg, 0, sizeof err.msg) != NULL && err.msg[0]);
        return 0;
    }
    REQUIRE(c.arch != NULL && c.n_arch >= 1);
    REQUIRE(c.n_layers >= 1 && c.dim >= 1 && c.ffn_dim >= 1 && c.vocab >= 1);
    REQUIRE(c.n_heads >= 1 && c.n_kv_heads >= 1 && c.n_heads % c.n_kv_heads == 0);
    REQUIRE(c.head_dim >= 1 && c.n_rot >= 2 && c.n_rot % 2 == 0 && c.n_rot <= c.head_dim);
    REQUIRE(c.seq_len >= 1 && c.norm_eps > 0 && c.rope_base > 0 && c.rope_scale >= 1);
    REQUIRE(c.n_eos >= 0 && c.n_eos <= GEB_MAX_EOS && c.n_notes <= GEB_MAX_NOTES);
    for (int i = 0; i < c.n_eos; i++) REQUIRE(c.eos_ids[i] >= 0 && c.eos_ids[i] < c.vocab);
    REQUIRE(c.bos_id >= -1 && c.bos_id < c.vocab);
    return 0;
}
