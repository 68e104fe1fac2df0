/* qk_avx512_bf16.c - BF16 weights times BF16 activations with AVX512_BF16's
 * vdpbf16ps (32 products per instruction, twice the FP32 rate), for prompt
 * processing: the table's matmul takes its activations rounded to BF16
 * (mat_x = BF16, nearest even), while decoding keeps FP32 activations
 * (matvec and vec_x stay qk_avx512.c's).  An overlay on qk_avx512.c's
 * table; qk.c uses it only when CPUID has AVX512_BF16.  Note vdpbf16ps
 * treats BF16 subnormals as zero and rounds its sums to nearest even. */
#if defined(__x86_64__) && defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512F__)
#include <immintrin.h>
#include <string.h>

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

/* ---- the GEMM: BF16 rows in place, BF16 pairs of 64 tokens in lanes ----- */
/* The shape of kernels_avx512.c's F32 tile (6 rows x 4 vectors of 16
 * tokens, 24 accumulators, the weight broadcast), but each step is a pair of
 * columns: the 32-bit broadcast of W[i][2s..2s+1], as stored, against 16
 * tokens' pairs, so one vdpbf16ps does the work of two FMAs and the weights
 * need no widening. */
#define GTR 6
#define GTB 64
#define GKC 128 /* a block's panel slice: 64 steps x 64 tokens x 4 bytes = 16 KB, half of L1 */

/* v[j] lane i <- v[i] lane j: 16 x 16 32-bit words (four rounds of
 * interleaves, from words to 128-bit quarters). */
static inline void transpose16(__m512i v[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        v[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        v[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        v[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        v[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(v[i], v[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_i32x4(v[i], v[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_i32x4(v[i + 8], v[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(v[i + 8], v[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        v[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        v[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        v[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* A panel step s is 64 tokens' BF16 pairs (x[2s], x[2s+1]) as 32-bit
 * words.  Converted 16 tokens x 16 steps at a time: each token's 32
 * columns become 16 words in one vcvtne2ps2bf16 (nearest even, as
 * geb_f32_to_bf16, but F32 subnormals become zero, which vdpbf16ps would
 * make of them anyway), then a 16 x 16 transpose puts the tokens in
 * lanes.  The scalar loop took 4% of a BF16 pp512.  Columns past cols and
 * tokens past nb are zero. */
static void bf16_panel(uint8_t *panel, const float *x, size_t ldx, int nb, int s0, int s1, int cols) {
    uint32_t *dst = (uint32_t *)(void *)panel;
    for (int sb = s0; sb < s1; sb += 16) {
        int c = 2 * sb, left = cols - c;
        __mmask16 lo = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (left > 0 ? left : 0)) - 1u);
        __mmask16 hi = left >= 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << (left > 16 ? left - 16 : 0)) - 1u);
        int ns = s1 - sb < 16 ? s1 - sb : 16;
        for (int b0 = 0; b0 < GTB; b0 += 16) {
            __m512i v[16];
            for (int i = 0; i < 16; i++) {
                if (b0 + i >= nb) {
                    v[i] = _mm512_setzero_si512();
                    continue;
                }
                const float *xb = x + (size_t)(b0 + i) * ldx + c;
                v[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, xb + 16), _mm512_maskz_loadu_ps(lo, xb));
            }
            transpose16(v);
            for (int j = 0; j < ns; j++) _mm512_storeu_si512(dst + (size_t)(sb + j) * GTB + b0, v[j]);
        }
    }
}

/* The 32-bit pair of row w at step s; the last step of an odd kn reads
 * only its first half (the second is past the row). */
static inline __m512bh pair_bcast(const uint8_t *w, int s, int half) {
    uint32_t v;
    if (half) {
        uint16_t h;
        memcpy(&h, w + 4 * (size_t)s, 2);
        v = h;
    } else {
        memcpy(&v, w + 4 * (size_t)s, 4);
    }
    return (__m512bh)_mm512_set1_epi32((int)v);
}

static inline __attribute__((always_inline)) void gtile(float *part, int ldp, int mr,
                                                        const uint8_t *const *w, const uint8_t *xp,
                                                        int kn, int first, const int nv) {
    __m512 acc[GTR][4];
#pragma GCC unroll 8
    for (int i = 0; i < GTR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            acc[i][j] = first || i >= mr ? _mm512_setzero_ps() : _mm512_loadu_ps(part + (size_t)i * ldp + 16 * j);
    int ns = (kn + 1) / 2;
    for (int s = 0; s < ns; s++) {
        const uint8_t *xs = xp + (size_t)s * 4 * GTB;
        int half = 2 * s + 1 == kn;
        __m512bh xv[4];
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++) xv[j] = (__m512bh)_mm512_loadu_si512(xs + 64 * j);
#pragma GCC unroll 8
        for (int i = 0; i < GTR; i++) {
            __m512bh wb = pair_bcast(w[i], s, half);
#pragma GCC unroll 4
            for (int j = 0; j < nv; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wb, xv[j]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < GTR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            if (i < mr) _mm512_storeu_ps(part + (size_t)i * ldp + 16 * j, acc[i][j]);
}

static void bf16_tile(float *part, int ldp, int mr, const uint8_t *const *w, const uint8_t *xp,
                      int kn, int first, int nb) {
    switch ((nb + 15) / 16) {
    case 1: gtile(part, ldp, mr, w, xp, kn, first, 1); break;
    case 2: gtile(part, ldp, mr, w, xp, kn, first, 2); break;
    case 3: gtile(part, ldp, mr, w, xp, kn, first, 3); break;
    default: gtile(part, ldp, mr, w, xp, kn, first, 4); break;
    }
}

static const geb_gemm_kernels bf16_gemm = {GEB_TYPE_BF16, 2, 4, GTR, GTB, GKC, 0, bf16_panel, NULL, bf16_tile};

const geb_qk_table geb_qk_avx512_bf16 = {{
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_BF16, NULL, mm_bf16_bf16, NULL, NULL, NULL, &bf16_gemm},
}};

/* ---- the GEMM on AMX tiles --------------------------------------------- */
#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
/* The same panels and part layout, but one tdpbf16ps multiplies a tile of
 * 16 rows x 32 columns of the weights (loaded in place: 64 bytes of each
 * row) by 16 steps x 16 tokens of the panel (its pairs are AMX's "VNNI"
 * B layout as stored), 8,192 products, against vdpbf16ps's 32.  On an
 * Emerald Rapids core, GEB-1.3B pp512 with -w bf16 (2 threads) went from
 * the 6-row vdpbf16ps tile's 59 tok/s to the figure in the README.
 * Tiles: tmm0-3 the sums of 16 rows x 16 tokens each (up to 64 tokens),
 * tmm4 the weights, tmm5-7 the panel.  A tile is only used for 16 rows
 * evenly spaced (matmul.c's full tiles) and whole 32-column chunks; row
 * tails and a column tail go to the vdpbf16ps tile above. */
#define ATR 16

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

/* Each thread that runs a tile loads the configuration once; nothing else
 * in geb touches the tile registers, so it stays loaded. */
static __thread int amx_loaded;

static void amx_load_config(void) {
    amx_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) c.colsb[t] = 64, c.rows[t] = 16;
    _tile_loadconfig(&c);
    amx_loaded = 1;
}

/* The vdpbf16ps tile over rows [i0, i0 + n) of w, n <= ATR, from column
 * k0 of the block on (k0 even). */
static void vnni_rows(float *part, int ldp, const uint8_t *const *w, int i0, int n, const uint8_t *xp,
                      int k0, int kn, int first, int nb) {
    for (int i = i0; i < i0 + n; i += GTR) {
        int mr = i0 + n - i < GTR ? i0 + n - i : GTR;
        const uint8_t *wi[GTR];
        for (int r = 0; r < GTR; r++) wi[r] = w[i + (r < mr ? r : mr - 1)] + 2 * (size_t)k0;
        bf16_tile(part + (size_t)i * ldp, ldp, mr, wi, xp + (size_t)(k0 / 2) * 4 * GTB, kn - k0, first, nb);
    }
}

/* 1 if w[0..ATR) are rows *ld bytes apart. */
static int even_rows(const uint8_t *const *w, size_t *ld) {
    *ld = (size_t)(w[1] - w[0]);
    for (int i = 2; i < ATR; i++)
        if (w[i] != w[0] + (size_t)i * *ld) return 0;
    return w[1] > w[0];
}

#define AMX_STEP(ct, bt, j)                                                          \
    do {                                                                             \
        _tile_loadd(bt, xs + 64 * (j), 4 * GTB);                                     \
        _tile_dpbf16ps(ct, 4, bt);                                                   \
    } while (0)

static void amx_tile(float *part, int ldp, int mr, const uint8_t *const *w, const uint8_t *xp,
                     int kn, int first, int nb) {
    size_t ld;
    int k32 = kn / 32 * 32, nv = (nb + 15) / 16;
    if (mr < ATR || k32 == 0 || !even_rows(w, &ld)) {
        vnni_rows(part, ldp, w, 0, mr, xp, 0, kn, first, nb);
        return;
    }
    if (!amx_loaded) amx_load_config();
    size_t ldc = (size_t)ldp * sizeof(float);
    if (first) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    } else {
        _tile_loadd(0, part, ldc);
        if (nv > 1) _tile_loadd(1, part + 16, ldc);
        if (nv > 2) _tile_loadd(2, part + 32, ldc);
        if (nv > 3) _tile_loadd(3, part + 48, ldc);
    }
    for (int k = 0; k < k32; k += 32) {
        const uint8_t *xs = xp + (size_t)(k / 2) * 4 * GTB;
        _tile_loadd(4, w[0] + 2 * (size_t)k, ld);
        AMX_STEP(0, 5, 0);
        if (nv > 1) AMX_STEP(1, 6, 1);
        if (nv > 2) AMX_STEP(2, 7, 2);
        if (nv > 3) AMX_STEP(3, 5, 3);
    }
    _tile_stored(0, part, ldc);
    if (nv > 1) _tile_stored(1, part + 16, ldc);
    if (nv > 2) _tile_stored(2, part + 32, ldc);
    if (nv > 3) _tile_stored(3, part + 48, ldc);
    if (k32 < kn) vnni_rows(part, ldp, w, 0, ATR, xp, k32, kn, 0, nb);
}

static const geb_gemm_kernels amx_gemm = {GEB_TYPE_BF16, 2, 4, ATR, GTB, 256, 0, bf16_panel, NULL, amx_tile};

/* An overlay on this file's table: only the BF16 GEMM changes. */
const geb_qk_table geb_qk_avx512_amx = {{
    [GEB_TYPE_BF16] = {GEB_TYPE_F32, GEB_TYPE_BF16, NULL, NULL, NULL, NULL, NULL, &amx_gemm},
}};
#endif
#else
typedef int geb_qk_avx512_bf16_empty; /* not an AVX512_BF16 build: nothing here */
#endif
