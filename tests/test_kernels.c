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
#include "matmul.h"
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
    size_t ld = (size_t)cols * sizeof(float);
    const uint8_t *w0 = (const uint8_t *)(w + (size_t)r0 * cols);
    float *ybuf = malloc((n + 2) * sizeof *ybuf), *yref = malloc((n + 1) * sizeof *yref);
    for (int i = 0; i < n + 2; i++) ybuf[i] = CANARY;
    k->matvec_f32(ybuf + 1, w0, ld, x, n, cols);
    geb_kernels_get("scalar")->matvec_f32(yref, w0, ld, x, n, cols);
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

/* One GEMM tile of table k: mr rows, nb tokens, cols split in two k blocks
 * (first = 1 then 0, so accumulation is tested); xt has ldx lanes with junk
 * past nb that must not reach the rows' first nb partial sums. */
static void check_tile_one(const geb_kernels *k, int mr, int nb, int cols) {
    int ldx = (k->tile_b + 15) / 16 * 16, ldp = k->tile_b, k1 = cols / 2;
    float *w = rand_vec((size_t)mr * cols), *x = rand_vec((size_t)nb * cols);
    float *xt = malloc((size_t)ldx * cols * sizeof *xt), part[GEB_TILE_MAX_ROWS * GEB_TILE_MAX_B];
    for (int kk = 0; kk < cols; kk++)
        for (int b = 0; b < ldx; b++) xt[(size_t)kk * ldx + b] = b < nb ? x[(size_t)b * cols + kk] : 1e30f;
    const float *wp[GEB_TILE_MAX_ROWS], *wp2[GEB_TILE_MAX_ROWS];
    for (int i = 0; i < k->tile_rows; i++) {
        wp[i] = w + (size_t)(i < mr ? i : mr - 1) * cols;
        wp2[i] = wp[i] + k1;
    }
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) part[i] = CANARY;
    if (k1 > 0) k->tile_f32(part, ldp, mr, wp, xt, (size_t)ldx, k1, 1, nb);
    k->tile_f32(part, ldp, mr, wp2, xt + (size_t)k1 * ldx, (size_t)ldx, cols - k1, k1 == 0, nb);
    int bad = 0;
    for (int i = 0; i < mr; i++)
        for (int b = 0; b < nb; b++) {
            double mag, want = ref_dot(w + (size_t)i * cols, x + (size_t)b * cols, cols, &mag);
            if (fabs(part[i * ldp + b] - want) > tol(cols, mag)) bad++;
        }
    int stray = part[mr * ldp] != CANARY && mr < k->tile_rows;
    CHECK_MSG(bad == 0 && !stray, "%s tile mr=%d nb=%d cols=%d: %d wrong, %d stray", k->name, mr, nb,
              cols, bad, stray);
    free(w), free(x), free(xt);
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
    CHECK(k->tile_rows >= 1 && k->tile_rows <= GEB_TILE_MAX_ROWS && k->tile_b >= 1 &&
          k->tile_b <= GEB_TILE_MAX_B && 48 % k->tile_rows == 0);
    static const int TC[] = {1, 2, 3, 17, 64, 129, 300};
    for (int mr = 1; mr <= k->tile_rows; mr++)
        for (int nb = 1; nb <= k->tile_b; nb += nb < 3 ? 1 : 7)
            for (int ci = 0; ci < 7; ci++) check_tile_one(k, mr, nb, TC[ci]);
}

/* Threaded fused products through geb_mm with table k on a pool of nth
 * threads: n matrices of the given row counts share x.  B = 1 is the
 * matrix-vector path, B > 1 the GEMM path. */
static void check_threaded(const geb_kernels *k, geb_pool *pool, const int *rows, int n, int cols,
                           int B) {
    geb_mat mats[8];
    geb_prod prods[8];
    float *ws[8];
    float *x = rand_vec((size_t)B * cols);
    for (int i = 0; i < n; i++) {
        ws[i] = rand_vec((size_t)rows[i] * cols);
        size_t len = (size_t)B * rows[i] + 1;
        mats[i] = (geb_mat){(const uint8_t *)ws[i], GEB_TYPE_F32, (size_t)cols * sizeof(float), rows[i], cols, 0};
        prods[i] = (geb_prod){&mats[i], malloc(len * sizeof(float))};
        for (size_t j = 0; j < len; j++) prods[i].y[j] = CANARY;
    }
    geb_mm *mm = geb_mm_new(k, cols, 130, NULL);
    CHECK(mm != NULL);
    if (B == 1) geb_mm_matvec(mm, pool, prods, n, x);
    else geb_mm_matmul(mm, pool, prods, n, x, B);
    geb_mm_free(mm);
    int bad = 0, stray = 0;
    for (int i = 0; i < n; i++) {
        for (int b = 0; b < B; b++)
            for (int r = 0; r < rows[i]; r++) {
                double mag, want = ref_dot(ws[i] + (size_t)r * cols, x + (size_t)b * cols, cols, &mag);
                if (fabs(prods[i].y[(size_t)b * rows[i] + r] - want) > tol(cols, mag)) bad++;
            }
        if (prods[i].y[(size_t)B * rows[i]] != CANARY) stray++;
        free(ws[i]);
        free(prods[i].y);
    }
    CHECK_MSG(bad == 0 && stray == 0, "%s %s nth=%d n=%d rows0=%d cols=%d B=%d: %d wrong, %d stray",
              k->name, B == 1 ? "matvec" : "matmul", pool ? geb_pool_size(pool) : 0, n, rows[0], cols,
              B, bad, stray);
    free(x);
}

/* The threaded checks of one table over pools of 1, 2, 3 and 8 threads;
 * sizes cross the 48-row jobs, the tile widths, the column blocks and the
 * 64-token groups of the GEMM. */
static void check_table_threaded(const geb_kernels *k) {
    static const int NTH[] = {1, 2, 3, 8};
    static const int SETS[][4] = {{1, 0}, {3, 0}, {37, 5, 130, 0}, {2, 1, 1, 0}, {200, 0}, {49, 97, 0}};
    static const int SETN[] = {1, 1, 3, 3, 1, 2};
    static const int TC[] = {1, 7, 64, 300, 2049};
    static const int TB[] = {1, 2, 3, 7, 13, 17, 33, 64, 65, 130};
    for (int p = 0; p < 4; p++) {
        geb_pool *pool = geb_pool_create(NTH[p], NULL);
        CHECK(pool != NULL);
        if (!pool) continue;
        for (int s = 0; s < 6; s++)
            for (int c = 0; c < 5; c++)
                for (int b = 0; b < 10; b++) {
                    if ((TC[c] == 2049 || TB[b] >= 64) && (s != 2 || c < 2)) continue; /* keep it quick */
                    check_threaded(k, pool, SETS[s], SETN[s], TC[c], TB[b]);
                }
        geb_pool_free(pool);
    }
    /* No pool at all runs inline. */
    static const int one[] = {5};
    check_threaded(k, NULL, one, 1, 33, 1);
    check_threaded(k, NULL, one, 1, 33, 4);
}

/* Typed weights through geb_mm_matmul: below 16 tokens the type's own
 * matmul, from 16 up the type's own GEMM tile where the table has one, else
 * the widened F32 GEMM where it has to_f32.  The
 * reference is the double product of the weights as stored (to_f32 of the
 * traits) and the activations rounded through the type's mat_x, which both
 * paths must reproduce up to float summation order. */
static void check_typed_one(const geb_kernels *k, geb_pool *pool, geb_type t, int rows, int cols,
                            int B) {
    const geb_type_traits *tr = geb_type_traits_of(t);
    /* The activations as the product sees them (matmul.h). */
    geb_type xt = geb_mm_x_type(k, t, B, 0);
    const geb_type_traits *xr = geb_type_traits_of(xt);
    size_t ldw = geb_type_row_bytes(t, cols), ldq = geb_type_row_bytes(xt, cols);
    float *wsrc = rand_vec((size_t)rows * cols), *x = rand_vec((size_t)B * cols);
    float *wf = malloc((size_t)rows * cols * sizeof *wf), *xf = malloc((size_t)B * cols * sizeof *xf);
    uint8_t *w = malloc(ldw * rows), *q = malloc(ldq);
    float *y = malloc(((size_t)B * rows + 1) * sizeof *y);
    for (int r = 0; r < rows; r++) {
        tr->from_f32(w + r * ldw, wsrc + (size_t)r * cols, cols);
        tr->to_f32(wf + (size_t)r * cols, w + r * ldw, cols);
    }
    for (int b = 0; b < B; b++) {
        xr->from_f32(q, x + (size_t)b * cols, cols);
        xr->to_f32(xf + (size_t)b * cols, q, cols);
    }
    y[(size_t)B * rows] = CANARY;
    geb_mat m = {w, t, ldw, rows, cols, 0};
    geb_prod p = {&m, y};
    geb_mm *mm = geb_mm_new(k, cols, 130, NULL);
    CHECK(mm != NULL);
    geb_mm_matmul(mm, pool, &p, 1, x, B);
    geb_mm_free(mm);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int r = 0; r < rows; r++) {
            double mag, want = ref_dot(wf + (size_t)r * cols, xf + (size_t)b * cols, cols, &mag);
            if (fabs(y[(size_t)b * rows + r] - want) > tol(cols, mag)) bad++;
        }
    CHECK_MSG(bad == 0 && y[(size_t)B * rows] == CANARY, "%s %s matmul rows=%d cols=%d B=%d: %d wrong",
              k->name, tr->name, rows, cols, B, bad);
    free(wsrc), free(x), free(wf), free(xf), free(w), free(q), free(y);
}

static void check_typed(const geb_kernels *k) {
    static const int B[] = {2, 15, 16, 17, 64, 130};
    static const int C[] = {32, 288, 2080};
    geb_pool *pool = geb_pool_create(2, NULL);
    CHECK(pool != NULL);
    for (int t = GEB_TYPE_F32 + 1; pool && t < GEB_TYPE_COUNT; t++) {
        if (!k->typed[t].matvec) continue;
        for (int bi = 0; bi < 6; bi++)
            for (int ci = 0; ci < 3; ci++) check_typed_one(k, pool, (geb_type)t, 97, C[ci], B[bi]);
    }
    geb_pool_free(pool);
}

/* Packed rows (kernels.h): a call of two products over the same quantized
 * weights, one held as stored and one packed (in either order, so both
 * matmul.c routes meet a packed matrix: its own GEMM, and the F32 GEMM's
 * widening when the first product is not packed), against the float64
 * dot of the dequantized weights and activations; B == 1 is the matvec.
 * to_f32 of a packed group must equal the traits' widening bit for bit. */
static void check_packed_one(const geb_kernels *k, geb_pool *pool, geb_type t, int rows, int cols,
                             int B, int packed_first) {
    const geb_type_kernels *tk = &k->typed[t];
    const geb_type_traits *tr = geb_type_traits_of(t), *xr = geb_type_traits_of(tk->mat_x);
    size_t ldw = geb_type_row_bytes(t, cols), ldq = geb_type_row_bytes(tk->mat_x, cols);
    float *wsrc = rand_vec((size_t)rows * cols), *x = rand_vec((size_t)B * cols);
    float *wf = malloc((size_t)rows * cols * sizeof *wf), *xf = malloc((size_t)B * cols * sizeof *xf);
    float *wide = malloc((size_t)GEB_PACK_ROWS * cols * sizeof *wide);
    uint8_t *w = malloc(ldw * rows), *wp = malloc(ldw * rows), *q = malloc(ldq);
    float *y[2] = {malloc(((size_t)B * rows + 1) * sizeof(float)), malloc(((size_t)B * rows + 1) * sizeof(float))};
    for (int r = 0; r < rows; r++) {
        tr->from_f32(w + r * ldw, wsrc + (size_t)r * cols, cols);
        tr->to_f32(wf + (size_t)r * cols, w + r * ldw, cols);
    }
    for (int g = 0; g < rows; g += GEB_PACK_ROWS) tk->packed->pack(wp + g * ldw, w + g * ldw, ldw, cols);
    for (int b = 0; b < B; b++) {
        xr->from_f32(q, x + (size_t)b * cols, cols);
        xr->to_f32(xf + (size_t)b * cols, q, cols);
    }
    int wide_bad = 0;
    for (int g = 0; g < rows; g += GEB_PACK_ROWS) {
        int k0 = cols > 64 ? 32 : 0, kn = cols - k0;
        tk->packed->to_f32(wide, (size_t)kn, wp + g * ldw, ldw, k0, kn);
        for (int i = 0; i < GEB_PACK_ROWS; i++)
            wide_bad += memcmp(wide + (size_t)i * kn, wf + (size_t)(g + i) * cols + k0, kn * sizeof(float)) != 0;
    }
    CHECK_MSG(wide_bad == 0, "%s %s packed to_f32 cols=%d: %d rows differ", k->name, tr->name, cols, wide_bad);
    geb_mat plain = {w, t, ldw, rows, cols, 0}, packed = {wp, t, ldw, rows, cols, 1};
    geb_prod p[2] = {{packed_first ? &packed : &plain, y[0]}, {packed_first ? &plain : &packed, y[1]}};
    y[0][(size_t)B * rows] = y[1][(size_t)B * rows] = CANARY;
    geb_mm *mm = geb_mm_new(k, cols, 130, NULL);
    CHECK(mm != NULL);
    if (B == 1) geb_mm_matvec(mm, pool, p, 2, x);
    else geb_mm_matmul(mm, pool, p, 2, x, B);
    geb_mm_free(mm);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int r = 0; r < rows; r++) {
            double mag, want = ref_dot(wf + (size_t)r * cols, xf + (size_t)b * cols, cols, &mag);
            for (int i = 0; i < 2; i++) bad += fabs(y[i][(size_t)b * rows + r] - want) > tol(cols, mag);
        }
    CHECK_MSG(bad == 0 && y[0][(size_t)B * rows] == CANARY && y[1][(size_t)B * rows] == CANARY,
              "%s %s packed rows=%d cols=%d B=%d first=%d: %d wrong", k->name, tr->name, rows, cols, B,
              packed_first, bad);
    free(wsrc), free(x), free(wf), free(xf), free(wide), free(w), free(wp), free(q), free(y[0]), free(y[1]);
}

static void check_packed(const geb_kernels *k) {
    static const int B[] = {1, 2, 5, 16, 17, 130};
    static const int C[] = {32, 288, 2080, 8224}; /* 8224: 257 blocks, past a GEMM pass */
    for (int nth = 1; nth <= 2; nth++) {
        geb_pool *pool = geb_pool_create(nth, NULL);
        CHECK(pool != NULL);
        for (int t = GEB_TYPE_F32 + 1; pool && t < GEB_TYPE_COUNT; t++) {
            if (!k->typed[t].packed) continue;
            for (int bi = 0; bi < 6; bi++)
                for (int ci = 0; ci < 4; ci++) {
                    if (C[ci] > 2080 && B[bi] > 17) continue; /* keeps the run short */
                    check_packed_one(k, pool, (geb_type)t, ci & 1 ? 8 : 200, C[ci], B[bi], bi & 1);
                    check_packed_one(k, pool, (geb_type)t, 96, C[ci], B[bi], !(bi & 1));
                }
            /* A matvec row longer than one pass of the token's sums (1,024 blocks). */
            check_packed_one(k, pool, (geb_type)t, 16, 32800, 1, 1);
        }
        geb_pool_free(pool);
    }
}

/* Dispatch: scalar always exists, unknown names are NULL, GEB_KERNEL forces
 * a table, and GEB_TEST_EXPECT_KERNEL (set by the NEON runner) must be the
 * best table, so a run under emulation really tests that table. */
/* att_scores and att_accum of table k for nh heads over nu positions of
 * head dimension D, keys and values ldk = D + 3 elements apart (a cache
 * row is wider than a head), against doubles; canaries past the last
 * output.  The rows as F32 (att_scores, att_accum) and stored as F16 and
 * as BF16 (att_scores_h, att_accum_h), each against the values the kernel
 * reads: the 16-bit rows widened back. */
static void check_att_one(const geb_kernels *k, int nh, int nu, int D) {
    static const char *KIND[] = {"f32", "f16", "bf16"};
    int lds = nu + 2;
    size_t ldk = (size_t)D + 3;
    float *q = rand_vec((size_t)nh * D), *kv = rand_vec(ldk * nu), *s = malloc(sizeof *s * nh * lds);
    float *w = malloc(sizeof *w * ldk * nu), *o = malloc(sizeof *o * (nh * D + 1));
    float *o0 = rand_vec((size_t)nh * D + 1);
    uint8_t *h = malloc(2 * ldk * nu);
    o0[nh * D] = CANARY;
    for (int kind = 0; kind < 3; kind++) {
        const geb_type_traits *tr = geb_type_traits_of(kind == 2 ? GEB_TYPE_BF16 : GEB_TYPE_F16);
        for (int u = 0; u < nu; u++) {
            if (kind == 0) {
                memcpy(w + ldk * u, kv + ldk * u, sizeof *w * D);
                continue;
            }
            tr->from_f32(h + 2 * ldk * u, kv + ldk * u, D);
            tr->to_f32(w + ldk * u, h + 2 * ldk * u, D);
        }
        for (int i = 0; i < nh * lds; i++) s[i] = CANARY;
        if (kind == 0) k->att_scores(s, lds, q, nh, kv, ldk, nu, D, 0.125f);
        else k->att_scores_h(s, lds, q, nh, h, 2 * ldk, kind == 2, nu, D, 0.125f);
        int bad = 0, canary = 0;
        for (int i = 0; i < nh; i++)
            for (int u = 0; u < lds; u++) {
                if (u >= nu) {
                    canary += s[i * lds + u] != CANARY;
                    continue;
                }
                double mag, want = 0.125 * ref_dot(q + (size_t)i * D, w + ldk * u, D, &mag);
                bad += !(fabs(s[i * lds + u] - want) <= tol(D, 0.125 * mag));
            }
        CHECK_MSG(bad == 0 && canary == 0, "%s att_scores %s nh=%d nu=%d D=%d: %d wrong, %d canaries",
                  k->name, KIND[kind], nh, nu, D, bad, canary);
        /* Probabilities in [0, 1) as the softmax gives them. */
        for (int i = 0; i < nh * lds; i++) s[i] = 0.5f * (frand() + 1.0f);
        memcpy(o, o0, sizeof *o * (nh * D + 1));
        if (kind == 0) k->att_accum(o, s, lds, nh, kv, ldk, nu, D);
        else k->att_accum_h(o, s, lds, nh, h, 2 * ldk, kind == 2, nu, D);
        bad = 0;
        for (int i = 0; i < nh; i++)
            for (int d = 0; d < D; d++) {
                double want = o0[i * D + d], mag = fabs(want);
                for (int u = 0; u < nu; u++) {
                    double t = (double)s[i * lds + u] * w[ldk * u + d];
                    want += t, mag += fabs(t);
                }
                bad += !(fabs(o[i * D + d] - want) <= tol(nu, mag));
            }
        CHECK_MSG(bad == 0 && o[nh * D] == CANARY, "%s att_accum %s nh=%d nu=%d D=%d: %d wrong", k->name,
                  KIND[kind], nh, nu, D, bad);
    }
    free(q), free(kv), free(s), free(w), free(o), free(o0), free(h);
}

/* att_exp of table k against the double-precision exponential: every
 * value within 2 ulp (at e^-87 and below, the clamp's e^-87 is accepted:
 * nothing beside the maximum's e^0 = 1), the sum within n float roundings,
 * the canary past n untouched.  Arguments from -90 to 12, the maximum m
 * among them as the softmax has it. */
static void check_att_exp_one(const geb_kernels *k, int n) {
    float *s = malloc(sizeof *s * (n + 1)), *x = malloc(sizeof *x * n);
    float m = -1e30f;
    for (int u = 0; u < n; u++) {
        x[u] = s[u] = u % 7 == 3 ? -90.0f * (float)u / n : 12.0f * frand();
        m = s[u] > m ? s[u] : m;
    }
    s[n] = CANARY;
    float got = k->att_exp(s, n, m);
    int bad = 0;
    double want = 0;
    for (int u = 0; u < n; u++) {
        float d = x[u] - m; /* the difference the kernel takes, in float */
        double e = exp((double)d), ulp = ldexp(1.0, ilogb(e) - 23);
        want += e;
        if (d <= -87.0f && s[u] >= 0 && s[u] <= 1.7e-38f) continue;
        bad += !(fabs(s[u] - e) <= 2 * ulp);
    }
    CHECK_MSG(bad == 0 && s[n] == CANARY && fabs(got - want) <= tol(n, want),
              "%s att_exp n=%d: %d wrong, sum %.9g want %.9g", k->name, n, bad, got, want);
    free(s), free(x);
}

static void check_att(const geb_kernels *k) {
    static const int NE[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 64, 100, 4096};
    for (size_t i = 0; i < sizeof NE / sizeof *NE; i++) check_att_exp_one(k, NE[i]);
    static const int DS[] = {1, 3, 4, 8, 15, 16, 17, 32, 64, 100, 127, 128, 129, 130, 257};
    static const int NH[] = {1, 2, 4, 7};
    static const int NU[] = {1, 2, 5, 64};
    for (size_t a = 0; a < sizeof DS / sizeof *DS; a++)
        for (size_t b = 0; b < sizeof NH / sizeof *NH; b++)
            for (size_t c = 0; c < sizeof NU / sizeof *NU; c++) check_att_one(k, NH[b], NU[c], DS[a]);
}

static void check_dispatch(void) {
    CHECK(geb_kernels_get("scalar") != NULL);
    CHECK(geb_kernels_get("nonsense") == NULL);
    CHECK(geb_kernels_get(NULL) == NULL);
    geb_err err = {{0}};
    const geb_kernels *best = geb_kernels_best(&err);
    CHECK(best != NULL && geb_kernels_get(best->name) == best);
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
    CHECK(geb_kernels_best(&err) == geb_kernels_get("scalar"));
    /* A bad GEB_KERNEL is refused with a message, not ignored. */
    setenv("GEB_KERNEL", "no-such-isa", 1);
    err.msg[0] = 0;
    CHECK(geb_kernels_best(&err) == NULL && strstr(err.msg, "no-such-isa") != NULL);
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
        /* Both ways of streaming rows (kernels.h) where the table has
         * them: the results must not depend on the software prefetches. */
        int both = strcmp(k->name, "avx512") == 0, own = geb_prefetch_rows;
        for (int pf = both ? 0 : own; pf <= (both ? 1 : own); pf++) {
            geb_prefetch_rows = pf;
            printf("kernels: testing %s, software prefetch %s\n", k->name, pf ? "on" : "off");
            check_table(k);
            check_table_threaded(k);
            check_typed(k);
            check_packed(k);
        }
        geb_prefetch_rows = own;
        check_att(k);
        tested++;
    }
    CHECK(tested >= 1);

    return TEST_DONE("kernels");
}
