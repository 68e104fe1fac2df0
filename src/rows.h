/* rows.h - the two row loops every ISA file's kernels share: a matvec over
 * a pass kernel of a few rows, and a matmul over a grid of register tiles.
 * The ISA files (kernels_*.c, qk_*.c) supply only the tiles; these loops
 * are written once.  Both are static inline so each ISA file compiles them
 * with its own flags and the tile calls become direct calls.
 *
 * Why matvec walks lanes.  A pass computes MV rows at once so that each
 * activation vector is loaded once for MV rows.  If those were MV
 * neighbouring rows, every pass would read MV short streams (a Q4_0 row of
 * GEB-1.3B is 1,152 bytes, 18 cache lines) that end and restart at the next
 * pass, and the hardware prefetcher never gets ahead of them: one AVX2 core
 * read Q4_0 weights from DRAM at 3.0 GB/s that way and at 7.5 GB/s with
 * lanes (tools/kbench.c mv -w q4_0, -n 4 against the default chunk,
 * 2026-12-02; the kernel was then compute-bound at 8 GB/s).  So the n rows are cut
 * into MV lanes of q = ceil(n / MV) consecutive rows and pass r computes row
 * r of every lane: MV sequential streams, each as long as the chunk.  One
 * row at a time (a single stream per thread) was tried on Zen 4 against
 * four lanes, alternating token by token through the threaded matvec
 * (2026-12-08): 0.93-0.95x (f32) and 0.93-0.99x (bf16) of the lanes' GB/s. */
#ifndef GEB_ROWS_H
#define GEB_ROWS_H

#include <stddef.h>
#include <stdint.h>

#define GEB_ROWS_MAX 8   /* most rows of a pass or tile */
#define GEB_TOKENS_MAX 8 /* most tokens of a tile */

/* A register tile: y[j*ldy + i] = (row w[i]) . (activation x[j]) for i < mr,
 * j < nr.  The tile's own size is fixed; pointers past mr and nr repeat
 * valid ones, are computed on and not stored.  k is the row width in the
 * kernel's unit (columns, or blocks for the block types). */
typedef void (*geb_tile_fn)(float *y, size_t ldy, const uint8_t *const *w, const void *const *x,
                            int k, int mr, int nr);

/* y[i] = W[i] . x for the n rows of w (ldw bytes apart), mv rows a pass in
 * lanes (see above); mv <= GEB_ROWS_MAX. */
static inline void geb_rows_matvec(geb_tile_fn pass, int mv, float *y, const uint8_t *w,
                                   size_t ldw, const void *x, int n, int k) {
    int q = (n + mv - 1) / mv;
    for (int r = 0; r < q; r++) {
        const uint8_t *wp[GEB_ROWS_MAX];
        float t[GEB_ROWS_MAX];
        for (int i = 0; i < mv; i++) {
            int row = i * q + r;
            wp[i] = w + (size_t)(row < n ? row : n - 1) * ldw;
        }
        pass(t, 0, wp, &x, k, mv, 1);
        for (int i = 0; i < mv && i * q + r < n; i++) y[i * q + r] = t[i];
    }
}

/* y[b*ldy + i] = W[i] . X[b] for b < B, i < n: row tiles of rm outer,
 * tokens inner, so the rm rows of a tile are read from memory once and
 * reused from L1 for every token.  tiles[nr] is the tile for nr tokens
 * (1 <= nr <= rn); rm <= GEB_ROWS_MAX, rn <= GEB_TOKENS_MAX. */
static inline void geb_rows_matmul(const geb_tile_fn *tiles, int rm, int rn, float *y,
                                   size_t ldy, const uint8_t *w, size_t ldw, const void *x,
                                   size_t ldx, int B, int n, int k) {
    for (int r = 0; r < n; r += rm) {
        int mr = n - r < rm ? n - r : rm;
        const uint8_t *wp[GEB_ROWS_MAX];
        for (int i = 0; i < rm; i++) wp[i] = w + (size_t)(r + (i < mr ? i : mr - 1)) * ldw;
        for (int b = 0; b < B; b += rn) {
            int nr = B - b < rn ? B - b : rn;
            const void *xp[GEB_TOKENS_MAX];
            for (int j = 0; j < nr; j++) xp[j] = (const uint8_t *)x + (size_t)(b + j) * ldx;
            tiles[nr](y + (size_t)b * ldy + r, ldy, wp, xp, k, mr, nr);
        }
    }
}

#endif
