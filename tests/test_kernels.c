/* test_kernels.c - every kernel table this CPU supports against a naive
 * double-precision product and against the scalar table, on awkward sizes
 * (tails of every length, 1 row, 1 column, B = 1..13), and the threaded
 * entry points on pools of 1, 2, 3 and 8 with several matrices fused.
 *
 * Tolerance: a float dot product of n terms differs from the exact value by
 * a small multiple of sqrt(n) * eps * sum|w*x| for random data (whatever the
 * summation order), while a lost or doubled term errs by ~ sum|w*x| / n. */
#include <float.h>
#include <stdlib.h>

#include "kernels.h"
#include "pool.h"
#include "test.h"

#define CANARY 12345.0f

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform float in [-1, 1) from a 64-bit LCG; deterministic across runs. */
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 23) - 1.0);
}

/* malloc'd array of n random floats (at least one element). */
static float *rand_vec(size_t n) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = frand();
    return v;
}

/* Exact-ish dot product and its magnitude sum |a_i b_i|. */
static double ref_dot(const float *a, const float *b, int n, double *mag) {
    double s = 0, m = 0;
    for (int i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        m += fabs((double)a[i] * b[i]);
    }
    *mag = m;
    return s;
}

/* Allowed error of a float dot product of n terms of total magnitude mag. */
static double tol(int n, double mag) { return 8.0 * sqrt((double)n + 1) * FLT_EPSILON * mag + 1e-30; }

static const int COLS[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 257, 1000};
#define NCOLS ((int)(sizeof COLS / sizeof COLS[0]))

/* dot and axpy of table k on every column count. */
static void check_vector_ops(const geb_kernels *k) {
    for (int ci = 0; ci < NCOLS; ci++) {
        int n = COLS[ci];
        float *a = rand_vec(n), *b = rand_vec(n);
        double mag, want = ref_dot(a, b, n, &mag);
        float got = k->dot(a, b, n);
        CHECK_MSG(fabs(got - want) <= tol(n, mag), "%s dot n=%d: %.9g vs %.9g", k->name, n, got,
                  want);
        /* axpy: y += a*x elementwise, one rounding per element at most two. */
        float *y = malloc((n + 1) * sizeof *y);
        memcpy(y, b, n * sizeof *y);
        y[n] = CANARY;
        k->axpy(y, 0.75f, a, n);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            double w = (double)b[i] + 0.75 * (double)a[i];
            if (fabs(y[i] - w) > 4 * FLT_EPSILON * (fabs(b[i]) + fabs(a[i]))) bad++;
        }
        CHECK_MSG(bad == 0 && y[n] == CANARY, "%s axpy n=%d: %d wrong", k->name, n, bad);
        free(a), free(b), free(y);
    }
    CHECK(k->dot(NULL, NULL, 0) == 0.0f);
}

/* matvec of table k on the row range [r0, r1) of a rows x cols matrix; the
 * output has canaries on both sides; compared with doubles and with ref. */
static void check_matvec_one(const geb_kernels *k, int rows, int cols, int r0, int r1) {
    float *w = rand_vec((size_t)rows * cols), *x = rand_vec(cols);
    int n = r1 - r0;
    float *ybuf = malloc((n + 2) * sizeof *ybuf), *yref = malloc((n + 1) * sizeof *yref);
    for (int i = 0; i < n + 2; i++) ybuf[i] = CANARY;
    k->matvec(ybuf + 1, w, x, r0, r1, cols);
    geb_kernels_get("scalar")->matvec(yref, w, x, r0, r1, cols);
    int bad = 0;
    for (int r = r0; r < r1; r++) {
        double mag, want = ref_dot(w + (size_t)r * cols, x, cols, &mag);
        double t = tol(cols, mag);
        if (fabs(ybuf[1 + r - r0] - want) > t || fabs(ybuf[1 + r - r0] - yref[r - r0]) > 2 * t) bad++;
    }
    CHECK_MSG(bad == 0, "%s matvec rows=%d cols=%d [%d,%d): %d wrong", k->name, rows, cols, r0, r1,
              bad);
    CHECK_MSG(ybuf[0] == CANARY && ybuf[n + 1] == CANARY, "%s matvec wrote outside y", k->name);
    free(w), free(x), free(ybuf), free(yref);
}

/* matmul of table k on rows [r0, r1) and B tokens, output with a row stride
 * larger than needed (gaps must stay untouched). */
static void check_matmul_one(const geb_kernels *k, int rows, int cols, int B, int r0, int r1) {
    float *w = rand_vec((size_t)rows * cols), *x = rand_vec((size_t)B * cols);
    int n = r1 - r0, ldy = n + 3;
    size_t ylen = (size_t)B * ldy + 1;
    float *y = malloc(ylen * sizeof *y);
    for (size_t i = 0; i < ylen; i++) y[i] = CANARY;
    k->matmul(y, ldy, w, x, B, r0, r1, cols);
    int bad = 0, stray = 0;
    for (int b = 0; b < B; b++) {
        for (int r = r0; r < r1; r++) {
            double mag, want = ref_dot(w + (size_t)r * cols, x + (size_t)b * cols, cols, &mag);
            if (fabs(y[(size_t)b * ldy + (r - r0)] - want) > tol(cols, mag)) bad++;
        }
        for (int g = n; g < ldy; g++)
            if (y[(size_t)b * ldy + g] != CANARY) stray++;
    }
    if (y[ylen - 1] != CANARY) stray++;
    CHECK_MSG(bad == 0 && stray == 0, "%s matmul rows=%d cols=%d B=%d [%d,%d): %d wrong, %d stray",
              k->name, rows, cols, B, r0, r1, bad, stray);
    free(w), free(x), free(y);
}

/* matmul_t of table k: X given transposed with ldx = B rounded up to 16 and
 * junk (not zeros) in the padding lanes, which must not reach the output. */
static void check_matmul_t_one(const geb_kernels *k, int rows, int cols, int B, int r0, int r1) {
    int ldx = (B + 15) / 16 * 16, n = r1 - r0, ldy = n + 1;
    float *w = rand_vec((size_t)rows * cols), *x = rand_vec((size_t)B * cols);
    float *xt = malloc((size_t)ldx * cols * sizeof *xt);
    for (int kk = 0; kk < cols; kk++)
        for (int b = 0; b < ldx; b++)
            xt[(size_t)kk * ldx + b] = b < B ? x[(size_t)b * cols + kk] : 1e30f;
    size_t ylen = (size_t)B * ldy + 1;
    float *y = malloc(ylen * sizeof *y);
    for (size_t i = 0; i < ylen; i++) y[i] = CANARY;
    k->matmul_t(y, ldy, w, xt, ldx, B, r0, r1, cols);
    int bad = 0, stray = 0;
    for (int b = 0; b < B; b++) {
        for (int r = r0; r < r1; r++) {
            double mag, want = ref_dot(w + (size_t)r * cols, x + (size_t)b * cols, cols, &mag);
            if (fabs(y[(size_t)b * ldy + (r - r0)] - want) > tol(cols, mag)) bad++;
        }
        if (y[(size_t)b * ldy + n] != CANARY) stray++;
    }
    if (y[ylen - 1] != CANARY) stray++;
    CHECK_MSG(bad == 0 && stray == 0, "%s matmul_t rows=%d cols=%d B=%d [%d,%d): %d wrong, %d stray",
              k->name, rows, cols, B, r0, r1, bad, stray);
    free(w), free(x), free(xt), free(y);
}

/* All single-thread checks of one table. */
static void check_table(const geb_kernels *k) {
    check_vector_ops(k);
    static const int ROWS[] = {1, 2, 3, 4, 5, 7, 9, 17};
    for (int ri = 0; ri < 8; ri++)
        for (int ci = 0; ci < NCOLS; ci++) {
            int rows = ROWS[ri], cols = COLS[ci];
            check_matvec_one(k, rows, cols, 0, rows);
            if (rows > 2) check_matvec_one(k, rows, cols, 1, rows - 1);
        }
    static const int BS[] = {1, 2, 3, 5, 7, 8, 13};
    for (int bi = 0; bi < 7; bi++)
        for (int ri = 0; ri < 8; ri++)
            for (int ci = 0; ci < NCOLS; ci += 2) {
                int rows = ROWS[ri], cols = COLS[ci];
                check_matmul_one(k, rows, cols, BS[bi], 0, rows);
                if (rows > 3) check_matmul_one(k, rows, cols, BS[bi], 2, rows - 1);
            }
    if (!k->matmul_t) return;
    /* Sizes crossing the tile edges: 6-row tiles, 48-row blocks, 64-token
     * groups, 2048-column blocks. */
    static const int TBS[] = {1, 5, 16, 17, 33, 64, 70};
    static const int TROWS[] = {1, 5, 6, 7, 13, 48, 50};
    static const int TCOLS[] = {1, 3, 17, 64, 129};
    for (int bi = 0; bi < 7; bi++)
        for (int ri = 0; ri < 7; ri++)
            for (int ci = 0; ci < 5; ci++) {
                int rows = TROWS[ri];
                check_matmul_t_one(k, rows, TCOLS[ci], TBS[bi], 0, rows);
                if (rows > 3) check_matmul_t_one(k, rows, TCOLS[ci], TBS[bi], 1, rows - 2);
            }
    check_matmul_t_one(k, 9, 2049, 20, 0, 9);
    check_matmul_t_one(k, 55, 4200, 67, 3, 52);
}

/* Threaded fused products through geb_matvec/geb_matmul with table k on a
 * pool of nth threads: n matrices of the given row counts share x. */
static void check_threaded(const geb_kernels *k, geb_pool *pool, const int *rows, int n, int cols,
                           int B) {
    geb_mat mats[8];
    float *ws[8];
    float *x = rand_vec((size_t)B * cols);
    for (int i = 0; i < n; i++) {
        ws[i] = rand_vec((size_t)rows[i] * cols);
        size_t len = (size_t)B * rows[i] + 1;
        mats[i].w = ws[i];
        mats[i].rows = rows[i];
        mats[i].y = malloc(len * sizeof(float));
        for (size_t j = 0; j < len; j++) mats[i].y[j] = CANARY;
    }
    geb_kernels_use(k);
    if (B == 1) geb_matvec(pool, mats, n, x, cols);
    else geb_matmul(pool, mats, n, x, B, cols);
    geb_kernels_use(NULL);
    int bad = 0, stray = 0;
    for (int i = 0; i < n; i++) {
        for (int b = 0; b < B; b++)
            for (int r = 0; r < rows[i]; r++) {
                double mag, want = ref_dot(ws[i] + (size_t)r * cols, x + (size_t)b * cols, cols, &mag);
                if (fabs(mats[i].y[(size_t)b * rows[i] + r] - want) > tol(cols, mag)) bad++;
            }
        if (mats[i].y[(size_t)B * rows[i]] != CANARY) stray++;
        free(ws[i]);
        free(mats[i].y);
    }
    CHECK_MSG(bad == 0 && stray == 0, "%s %s nth=%d n=%d rows0=%d cols=%d B=%d: %d wrong, %d stray",
              k->name, B == 1 ? "geb_matvec" : "geb_matmul", geb_pool_size(pool), n, rows[0], cols,
              B, bad, stray);
    free(x);
}

/* The threaded checks of one table over pools of 1, 2, 3 and 8 threads. */
static void check_table_threaded(const geb_kernels *k) {
    static const int NTH[] = {1, 2, 3, 8};
    static const int SETS[][4] = {{1, 0}, {3, 0}, {37, 5, 130, 0}, {2, 1, 1, 0}, {200, 0}};
    static const int SETN[] = {1, 1, 3, 3, 1};
    static const int TC[] = {1, 7, 64, 300};
    static const int TB[] = {1, 3, 7, 13, 130};
    for (int p = 0; p < 4; p++) {
        geb_pool *pool = geb_pool_create(NTH[p], NULL);
        CHECK(pool != NULL);
        if (!pool) continue;
        for (int s = 0; s < 5; s++)
            for (int c = 0; c < 4; c++)
                for (int b = 0; b < 5; b++) {
                    if (TB[b] == 130 && (s != 2 || c != 1)) continue; /* keep it quick */
                    check_threaded(k, pool, SETS[s], SETN[s], TC[c], TB[b]);
                }
        geb_pool_free(pool);
    }
    /* No pool at all runs inline. */
    static const int one[] = {5};
    check_threaded(k, NULL, one, 1, 33, 1);
    check_threaded(k, NULL, one, 1, 33, 4);
}

/* Dispatch: scalar always exists, unknown names are NULL, GEB_KERNEL forces
 * a table, and GEB_TEST_EXPECT_KERNEL (set by the NEON runner) must be the
 * best table, so a run under emulation really tests that table. */
static void check_dispatch(void) {
    CHECK(geb_kernels_get("scalar") != NULL);
    CHECK(geb_kernels_get("nonsense") == NULL);
    CHECK(geb_kernels_get(NULL) == NULL);
    const geb_kernels *best = geb_kernels_best();
    CHECK(best != NULL && geb_kernels_get(best->name) == best);
    CHECK(geb_kernels_current() != NULL);
    const char *expect = getenv("GEB_TEST_EXPECT_KERNEL");
    if (expect && *expect)
        CHECK_MSG(strcmp(best->name, expect) == 0, "best table %s, expected %s", best->name, expect);
#if defined(__aarch64__)
    CHECK(geb_kernels_get("neon") != NULL);
    CHECK(geb_kernels_get("avx2") == NULL && geb_kernels_get("avx512") == NULL);
#else
    CHECK(geb_kernels_get("neon") == NULL);
#endif
    const char *old = getenv("GEB_KERNEL");
    char *saved = old ? strdup(old) : NULL;
    setenv("GEB_KERNEL", "scalar", 1);
    CHECK(geb_kernels_best() == geb_kernels_get("scalar"));
    setenv("GEB_KERNEL", "no-such-isa", 1);
    CHECK(geb_kernels_best() != NULL);
    if (saved) setenv("GEB_KERNEL", saved, 1);
    else unsetenv("GEB_KERNEL");
    free(saved);
}

int main(void) {
    check_dispatch();
    static const char *const names[] = {"scalar", "avx2", "avx512", "neon"};
    int tested = 0;
    for (int i = 0; i < 4; i++) {
        const geb_kernels *k = geb_kernels_get(names[i]);
        if (!k) {
            printf("kernels: %s not supported here, skipped\n", names[i]);
            continue;
        }
        CHECK(strcmp(k->name, names[i]) == 0);
        printf("kernels: testing %s\n", k->name);
        check_table(k);
        check_table_threaded(k);
        tested++;
    }
    CHECK(tested >= 1);

    geb_pool *pool = geb_pool_create(2, NULL);
    double bw = geb_measure_bandwidth(pool, 1u << 20);
    CHECK_MSG(bw > 0 && isfinite(bw), "bandwidth %g", bw);
    geb_pool_free(pool);
    return TEST_DONE("kernels");
}
