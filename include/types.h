/* types.h - the element types weights can be held in, and their traits.
 *
 *   const geb_type_traits *t = geb_type_traits_of(GEB_TYPE_Q8_0);
 *   size_t row = geb_type_row_bytes(GEB_TYPE_Q8_0, cols);     // bytes of one row
 *   t->from_f32(row_buf, src, cols);                           // quantize a row
 *   t->to_f32(dst, row_buf, cols);                             // and back
 *
 * A type is one row of a traits table (as ggml's type traits): its name, how
 * many elements a block holds and how many bytes that block takes, and the
 * row conversions to and from FP32.  The kernels that multiply a row of a
 * type by an activation vector live per instruction set in kernels.h.
 *
 * The block formats are ggml's, bit for bit, so figures and files compare
 * with llama.cpp's:
 *   Q8_0: 32 weights, fp16 scale d = absmax / 127, q = round(x / d).
 *   Q4_0: 32 weights, d = m / -8 where m is the element of largest
 *         magnitude (sign kept), q = min(15, (int)(x / d + 8.5)); element j
 *         in the low nibble of byte j, element j + 16 in the high nibble.
 */
#ifndef GEB_TYPES_H
#define GEB_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum geb_type {
    GEB_TYPE_F32,
    GEB_TYPE_F16,
    GEB_TYPE_BF16,
    GEB_TYPE_Q8_0,
    GEB_TYPE_Q4_0,
    GEB_TYPE_COUNT
} geb_type;

#define GEB_QK 32 /* elements per Q8_0 / Q4_0 block */

typedef struct geb_block_q8_0 {
    uint16_t d;          /* fp16 scale */
    int8_t qs[GEB_QK];   /* x = d * q */
} geb_block_q8_0;        /* 34 bytes */

typedef struct geb_block_q4_0 {
    uint16_t d;              /* fp16 scale */
    uint8_t qs[GEB_QK / 2];  /* x_j = d * ((qs[j] & 15) - 8), x_{j+16} = d * ((qs[j] >> 4) - 8) */
} geb_block_q4_0;            /* 18 bytes */

typedef struct geb_type_traits {
    const char *name;    /* "f32", "f16", "bf16", "q8_0", "q4_0": the -w spelling */
    int block;           /* elements per block (1 for the float types) */
    size_t block_bytes;  /* bytes per block */
    /* n elements (a multiple of block) to and from FP32; src/dst need not be
     * aligned.  from_f32 rounds to nearest even for F16/BF16. */
    void (*to_f32)(float *dst, const void *src, int64_t n);
    void (*from_f32)(void *dst, const float *src, int64_t n);
} geb_type_traits;

const geb_type_traits *geb_type_traits_of(geb_type t);

/* Parses a -w name ("f32", "bf16", "q8_0"...); -1 if unknown. */
int geb_type_from_name(const char *name, geb_type *out);

/* Bytes of a row of n elements; 0 if n is not a multiple of the block. */
size_t geb_type_row_bytes(geb_type t, int64_t n);

/* 1 if any of the n values at p (F32, F16 or BF16, aligned to the element
 * size) is a NaN or an infinity, judged on the bits (all exponent bits set),
 * so a check of weights used in place costs one read; -1 for other types. */
int geb_type_any_nonfinite(geb_type t, const void *p, int64_t n);

/* Half-precision helpers shared by the conversions and the kernels. */
float geb_f16_to_f32(uint16_t h);
uint16_t geb_f32_to_f16(float f);
static inline float geb_bf16_to_f32(uint16_t b) {
    union { uint32_t u; float f; } v = {(uint32_t)b << 16};
    return v.f;
}
uint16_t geb_f32_to_bf16(float f); /* nearest even; NaN stays NaN */

#endif
