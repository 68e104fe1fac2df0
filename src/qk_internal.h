/* qk_internal.h - what the per-ISA kernel files of qk.h export to qk.c.
 * A table wraps the per-type array so a weak reference to it can be tested
 * for presence (a file compiled without its ISA flags defines nothing).  In
 * an overlay table (a variant), a NULL matvec keeps the base table's matvec
 * and vec_x for that type, a NULL matmul its matmul and mat_x. */
#ifndef GEB_QK_INTERNAL_H
#define GEB_QK_INTERNAL_H

#include "kernels.h"

typedef struct geb_qk_table {
    geb_type_kernels k[GEB_TYPE_COUNT];
} geb_qk_table;

/* Little-endian loads of the fp16 scale of a block (blocks are unaligned). */
static inline uint16_t geb_qk_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

#endif
