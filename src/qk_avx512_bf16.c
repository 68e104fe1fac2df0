/* qk_avx512_bf16.c - BF16 weights times BF16 activations with AVX512_BF16's
 * vdpbf16ps (32 products per instruction, twice the FP32 rate), for prompt
 * processing: the table's matmul takes its activations rounded to BF16
 * (mat_x = BF16, nearest even), while decoding keeps FP32 activations
 * (matvec and vec_x stay qk_avx512.c's).  An overlay on qk_avx512.c's
 * table; qk.c uses it only when CPUID has AVX512_BF16.  Note vdpbf16ps
 * treats BF16 subnormals as zero and rounds its sums to nearest even. */
#if defined(__x86_64__) && defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512F__)
#include <immintrin.h>

#include "qk_internal.h"
#include "rows.h"

#define RM 4 /* 4 rows x 6 tokens: 24 accumulators + 6 x + 1 w of 32 registers */
#define RN 6

/* The first n (up to 32) 16-bit lanes. */
static inline __mmask32 tail32(int n) {
    return n >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << n) - 1u);
}

/* 32 BF16 values; masked lanes read as +0 and are never touched in memory. */
static inline __m512bh load_bh(__mmask32 m, const uint8_t *p) {
    return (__m512bh)_mm512_maskz_loadu_epi16(m, p);
}

/* y[j*ldy + i] = w[i] . x[j] for i < mr, j < nr; pointers past them repeat
 * valid rows.  Column tails are masked loads, so any cols works. */
static inline __attribute__((always_inline)) void btile(float *y, size_t ldy,
                                                        const uint8_t *const *w,
                                                        const void *const *x, int cols,
                                                        const int rn, int mr, int nr) {
    __m512 acc[RM][RN];
#pragma GCC unroll 8
    for (int i = 0; i < RM; i++)
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < cols; k += 32) {
        __mmask32 m = tail32(cols - k);
        __m512bh xv[RN];
#pragma GCC unroll 8
        for (int j = 0; j < rn; j++) xv[j] = load_bh(m, (const uint8_t *)x[j] + 2 * (size_t)k);
#pragma GCC unroll 8
        for (int i = 0; i < RM; i++) {
            __m512bh wv = load_bh(m, w[i] + 2 * (size_t)k);
#pragma GCC unroll 8
            for (int j = 0; j < rn; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv, xv[j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) y[(size_t)j * ldy + i] = _mm512_reduce_add_ps(acc[i][j]);
}

#define BTILE_FN(name, rn)                                                                    \
    static void name(float *y, size_t ldy, const uint8_t *const *w, const void *const *x,     \
                     int cols, int mr, int nr) {                                              \
        btile(y, ldy, w, x, cols, rn, mr, nr);                                                \
    }
BTILE_FN(bt_1, 1)
BTILE_FN(bt_2, 2)
BTILE_FN(bt_3, 3)
BTILE_FN(bt_4, 4)
BTILE_FN(bt_5, 5)
BTILE_FN(bt_6, 6)

static const geb_tile_fn btiles[RN + 1] = {NULL, bt_1, bt_2, bt_3, bt_4, bt_5, bt_6};

static void mm_bf16_bf16(float *y, size_t ldy, const uint8_t *w, size_t ldw, const void *x,
                         size_t ldx, int B, int n, int cols) {
    geb_rows_matmul(btiles, RM, RN, y, ldy, w, ldw, x, ldx, B, n, cols);
}

const geb_qk_table geb_qk_avx512_bf16 = {{
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_BF16, NULL, mm_bf16_bf16, NULL, NULL},
}};
#else
typedef int geb_qk_avx512_bf16_empty; /* not an AVX512_BF16 build: nothing here */
#endif
