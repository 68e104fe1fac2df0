/* test_types.c - the weight type traits and the per-type row kernels, in the
 * manner of ggml's test-quantize-fns:
 *   - traits table, names, row sizes;
 *   - F16/BF16 rounding against tools/ref_quant.py's expected bits (ties,
 *     subnormals, overflow, inf, NaN) and exhaustive 16-bit round trips;
 *   - Q8_0/Q4_0 quantizers bit-exact against ref_quant.py's blocks, and their
 *     dequantization;
 *   - every kernel of every variant this CPU runs (every type x awkward row
 *     counts, column counts, B = 1..13, 16, 17, 64) against the scalar table
 *     and against a double-precision product of the dequantized weights with
 *     the activations as the kernel receives them (quantized to Q8_0 or
 *     rounded to BF16 where the table says so).
 *
 * Tolerance of a kernel result: the weights and activations are compared in
 * the form the kernel reads (dequantized exactly, every product w*x of two
 * such values is then exact in double), so the only error is float
 * rounding in the kernel: for Q8_0/Q4_0 one rounding per block scale
 * product and one per block sum, for F16/BF16 one per product and per add.
 * For random data that is a small multiple of sqrt(n) * eps * sum|w*x|
 * whatever the summation order; 8 sqrt(n+1) eps sum|w*x| leaves room for
 * the worst orders while a lost, doubled or mis-scaled block (an error of
 * ~ sum|w*x| * 32/n, or larger) is still far outside it.  Two kernels may
 * each be off by that much, so they are compared with twice the bound. */
#include <float.h>
#include <stdlib.h>

#include "../src/qk_internal.h"
#include "kernels.h"
#include "qk.h"
#include "test.h"
#include "types.h"

#define CANARY 12345.0f
#define QDIR "tests/data/quant/"

static uint64_t rng_state = 0x243f6a8885a308d3ull;

/* Uniform float in [-1, 1) from a 64-bit LCG; deterministic across runs. */
static float frand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / (double)(1ull << 23) - 1.0);
}

/* Reads a whole fixture file; exits the test (with a failure) if absent. */
static void *read_fixture(const char *name, size_t *len) {
    FILE *f = fopen(name, "rb");
    if (!f) {
        fprintf(stderr, "types: cannot open %s (run from the repository root)\n", name);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---- traits ------------------------------------------------------------ */

static void check_traits(void) {
    static const char *names[] = {"f32", "f16", "bf16", "q8_0", "q4_0"};
    static const int block[] = {1, 1, 1, 32, 32};
    static const size_t bytes[] = {4, 2, 2, 34, 18};
    for (int t = 0; t < GEB_TYPE_COUNT; t++) {
        const geb_type_traits *tr = geb_type_traits_of((geb_type)t);
        CHECK(tr && strcmp(tr->name, names[t]) == 0);
        CHECK(tr && tr->block == block[t] && tr->block_bytes == bytes[t]);
        geb_type got = GEB_TYPE_COUNT;
        CHECK(geb_type_from_name(names[t], &got) == 0 && got == (geb_type)t);
    }
    geb_type dummy;
    CHECK(geb_type_from_name("q4_1", &dummy) == -1);
    CHECK(geb_type_from_name("F32", &dummy) == -1);
    CHECK(geb_type_from_name(NULL, &dummy) == -1);
    CHECK(geb_type_traits_of(GEB_TYPE_COUNT) == NULL);
    CHECK(geb_type_row_bytes(GEB_TYPE_F32, 3) == 12);
    CHECK(geb_type_row_bytes(GEB_TYPE_BF16, 7) == 14);
    CHECK(geb_type_row_bytes(GEB_TYPE_Q8_0, 2048) == 64 * 34);
    CHECK(geb_type_row_bytes(GEB_TYPE_Q4_0, 2048) == 64 * 18);
    CHECK(geb_type_row_bytes(GEB_TYPE_Q8_0, 33) == 0);
    CHECK(geb_type_row_bytes(GEB_TYPE_Q4_0, 0) == 0);
    CHECK(geb_type_row_bytes(GEB_TYPE_F16, -2) == 0);
    CHECK(geb_type_row_bytes(GEB_TYPE_F32, INT64_MAX) == 0); /* overflow refused */
}

/* ---- 16-bit floats ----------------------------------------------------- */

static int f16_is_nan(uint16_t h) { return (h & 0x7C00) == 0x7C00 && (h & 0x3FF); }
static int bf16_is_nan(uint16_t h) { return (h & 0x7F80) == 0x7F80 && (h & 0x7F); }

/* The conversions of every value of conv_in.f32 against the reference bits,
 * through the scalar helpers and through the row functions of the traits. */
static void check_half_fixtures(void) {
    size_t ni, n16, nb;
    float *in = read_fixture(QDIR "conv_in.f32", &ni);
    uint16_t *e16 = read_fixture(QDIR "conv_f16.u16", &n16);
    uint16_t *eb = read_fixture(QDIR "conv_bf16.u16", &nb);
    size_t n = ni / 4;
    CHECK(n > 100 && n16 == 2 * n && nb == 2 * n);
    uint16_t *row16 = malloc(2 * n + 1), *rowb = malloc(2 * n + 1);
    geb_type_traits_of(GEB_TYPE_F16)->from_f32(row16, in, (int64_t)n);
    geb_type_traits_of(GEB_TYPE_BF16)->from_f32(rowb, in, (int64_t)n);
    int bad16 = 0, badb = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = geb_f32_to_f16(in[i]), b = geb_f32_to_bf16(in[i]);
        if (isnan(in[i])) {
            bad16 += !f16_is_nan(h) || !f16_is_nan(row16[i]);
            badb += !bf16_is_nan(b) || !bf16_is_nan(rowb[i]);
            continue;
        }
        if (h != e16[i] || row16[i] != e16[i]) {
            bad16++;
            fprintf(stderr, "f16(%a) = %04x, reference %04x\n", (double)in[i], h, e16[i]);
        }
        if (b != eb[i] || rowb[i] != eb[i]) {
            badb++;
            fprintf(stderr, "bf16(%a) = %04x, reference %04x\n", (double)in[i], b, eb[i]);
        }
    }
    CHECK_MSG(bad16 == 0, "%d f16 conversions differ from ref_quant.py", bad16);
    CHECK_MSG(badb == 0, "%d bf16 conversions differ from ref_quant.py", badb);
    free(in), free(e16), free(eb), free(row16), free(rowb);
}

/* Every binary16 and bfloat16 value: widening is exact, so narrowing the
 * result must give the same bits back (NaN: a NaN); a few exact values. */
static void check_half_exhaustive(void) {
    int bad16 = 0, badb = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = geb_f16_to_f32((uint16_t)h), g = geb_bf16_to_f32((uint16_t)h);
        if (f16_is_nan((uint16_t)h)) bad16 += !isnan(f) || !f16_is_nan(geb_f32_to_f16(f));
        else bad16 += geb_f32_to_f16(f) != h;
        if (bf16_is_nan((uint16_t)h)) badb += !isnan(g) || !bf16_is_nan(geb_f32_to_bf16(g));
        else badb += geb_f32_to_bf16(g) != h;
    }
    CHECK_MSG(bad16 == 0, "%d f16 round trips fail", bad16);
    CHECK_MSG(badb == 0, "%d bf16 round trips fail", badb);
    CHECK(geb_f16_to_f32(0x0001) == 0x1p-24f);          /* smallest subnormal */
    CHECK(geb_f16_to_f32(0x03FF) == 1023 * 0x1p-24f);   /* largest subnormal */
    CHECK(geb_f16_to_f32(0x0400) == 0x1p-14f);          /* smallest normal */
    CHECK(geb_f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(isinf(geb_f16_to_f32(0x7C00)) && geb_f16_to_f32(0xFC00) < 0);
    CHECK(fbits(geb_f16_to_f32(0x8000)) == 0x80000000u); /* -0 */
    CHECK(geb_bf16_to_f32(0x3F80) == 1.0f);
}

/* ---- quantizers --------------------------------------------------------- */

/* from_f32 of the fixture blocks, also into an odd (unaligned) address, must
 * give ref_quant.py's bytes; to_f32 of those must give its floats. */
static void check_quant_type(geb_type t, const char *bin, const char *deq) {
    const geb_type_traits *tr = geb_type_traits_of(t);
    size_t ni, nq, nd;
    float *in = read_fixture(QDIR "quant_in.f32", &ni);
    uint8_t *want = read_fixture(bin, &nq);
    float *wantf = read_fixture(deq, &nd);
    int64_t n = (int64_t)(ni / 4);
    size_t bytes = geb_type_row_bytes(t, n);
    CHECK_MSG(n >= 32 * 30 && bytes == nq && nd == ni, "%s fixture sizes", tr->name);
    if (bytes != nq || nd != ni) return;
    uint8_t *got = malloc(bytes + 1);
    tr->from_f32(got + 1, in, n);
    int bad = 0;
    for (int64_t b = 0; b < n / 32; b++)
        if (memcmp(got + 1 + b * tr->block_bytes, want + b * tr->block_bytes, tr->block_bytes)) {
            if (bad++ < 4) fprintf(stderr, "%s block %d differs from ref_quant.py\n", tr->name, (int)b);
        }
    CHECK_MSG(bad == 0, "%s: %d of %d blocks differ", tr->name, bad, (int)(n / 32));
    float *back = malloc((size_t)n * sizeof *back);
    memcpy(got + 1, want, bytes);
    tr->to_f32(back, got + 1, n);
    int badf = 0;
    for (int64_t i = 0; i < n; i++) badf += fbits(back[i]) != fbits(wantf[i]);
    CHECK_MSG(badf == 0, "%s dequantization: %d values differ", tr->name, badf);
    free(in), free(want), free(wantf), free(got), free(back);
}

/* Q8_0 of an all-zero block is d = +0 with zero quants; Q4_0 of it is
 * d = 0 / -8 = -0 (fp16 0x8000, as ggml's formula gives) and every nibble 8
 * (0 + 8.5 truncated); both dequantize to zeros. */
static void check_quant_zero(void) {
    float z[32] = {0}, back[32];
    uint8_t q8[34], q4[18];
    geb_type_traits_of(GEB_TYPE_Q8_0)->from_f32(q8, z, 32);
    geb_type_traits_of(GEB_TYPE_Q4_0)->from_f32(q4, z, 32);
    int ok = q8[0] == 0 && q8[1] == 0 && q4[0] == 0 && q4[1] == 0x80;
    for (int j = 0; j < 32; j++) ok &= q8[2 + j] == 0;
    for (int j = 0; j < 16; j++) ok &= q4[2 + j] == 0x88;
    geb_type_traits_of(GEB_TYPE_Q4_0)->to_f32(back, q4, 32);
    for (int j = 0; j < 32; j++) ok &= back[j] == 0.0f;
    CHECK(ok);
}

/* ---- kernels ------------------------------------------------------------ */

/* One test problem: B activation rows and n weight rows of `cols`, stored in
 * the kernel's types with padded strides, plus their dequantized copies. */
typedef struct problem {
    geb_type wt, xt;
    int n, B, cols;
    size_t ldw, ldx;
    uint8_t *w, *x;       /* as the kernel reads them */
    float *wf, *xf;       /* dequantized: what the kernel multiplies */
} problem;

/* Random rows with a per-row scale in [1/8, 8), so blocks differ in d. */
static void rand_rows(float *v, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        float s = exp2f(3.0f * frand());
        for (int k = 0; k < cols; k++) v[(size_t)r * cols + k] = s * frand();
    }
}

/* Stores rows of floats as type t with stride ld and reads them back. */
static uint8_t *store_rows(geb_type t, const float *src, int rows, int cols, size_t ld, float *back) {
    const geb_type_traits *tr = geb_type_traits_of(t);
    uint8_t *buf = malloc(ld * rows + 1);
    memset(buf, 0xA5, ld * rows + 1); /* junk in the padding */
    for (int r = 0; r < rows; r++) {
        tr->from_f32(buf + ld * r, src + (size_t)r * cols, cols);
        tr->to_f32(back + (size_t)r * cols, buf + ld * r, cols);
    }
    return buf;
}

static void problem_init(problem *p, geb_type wt, geb_type xt, int n, int B, int cols, int pad) {
    p->wt = wt, p->xt = xt, p->n = n, p->B = B, p->cols = cols;
    p->ldw = geb_type_row_bytes(wt, cols) + (size_t)pad;
    p->ldx = geb_type_row_bytes(xt, cols) + (size_t)(pad ? 4 : 0);
    float *w = malloc((size_t)n * cols * sizeof *w), *x = malloc((size_t)B * cols * sizeof *x);
    rand_rows(w, n, cols);
    rand_rows(x, B, cols);
    p->wf = malloc((size_t)n * cols * sizeof *w);
    p->xf = malloc((size_t)B * cols * sizeof *x);
    p->w = store_rows(wt, w, n, cols, p->ldw, p->wf);
    p->x = store_rows(xt, x, B, cols, p->ldx, p->xf);
    free(w), free(x);
}

static void problem_free(problem *p) { free(p->w), free(p->x), free(p->wf), free(p->xf); }

/* The activations of p in type xt (the scalar table's), from the values the
 * kernel under test saw: exact when xt is wider, identical when equal. */
static uint8_t *acts_as(const problem *p, geb_type xt, size_t *ld) {
    if (xt == p->xt) {
        *ld = p->ldx;
        return p->x;
    }
    *ld = geb_type_row_bytes(xt, p->cols);
    uint8_t *buf = malloc(*ld * p->B + 1);
    for (int b = 0; b < p->B; b++)
        geb_type_traits_of(xt)->from_f32(buf + *ld * b, p->xf + (size_t)b * p->cols, p->cols);
    return buf;
}

static double ref_dot(const float *a, const float *b, int n, double *mag) {
    double s = 0, m = 0;
    for (int i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        m += fabs((double)a[i] * b[i]);
    }
    *mag = m;
    return s;
}

static double tol(int n, double mag) { return 8.0 * sqrt((double)n + 1) * FLT_EPSILON * mag + 1e-30; }

static int nchecks;

/* Runs matvec (vec, B = 1) or matmul of kernel k for weight type wt, the
 * scalar kernel on the same values, and compares both with the double
 * product.  y has a row stride ldy > n and canaries in the gaps and after the
 * end (matvec: everything after y[n-1]). */
static void check_kernel(const char *var, geb_type wt, const geb_type_kernels *k,
                         const geb_type_kernels *ref, int vec, int n, int B, int cols, int pad) {
    problem p;
    geb_type xt = vec ? k->vec_x : k->mat_x, rxt = vec ? ref->vec_x : ref->mat_x;
    problem_init(&p, wt, xt, n, B, cols, pad);
    size_t rldx;
    uint8_t *rx = acts_as(&p, rxt, &rldx);
    size_t ldy = (size_t)n + 3, ylen = (size_t)B * ldy + 1;
    float *y = malloc(ylen * sizeof *y), *yr = malloc(ylen * sizeof *yr);
    for (size_t i = 0; i < ylen; i++) y[i] = yr[i] = CANARY;
    if (vec) {
        k->matvec(y, p.w, p.ldw, p.x, n, cols);
        ref->matvec(yr, p.w, p.ldw, rx, n, cols);
    } else {
        k->matmul(y, ldy, p.w, p.ldw, p.x, p.ldx, B, n, cols);
        ref->matmul(yr, ldy, p.w, p.ldw, rx, rldx, B, n, cols);
    }
    int bad = 0, stray = 0;
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < n; i++) {
            double mag, want = ref_dot(p.wf + (size_t)i * cols, p.xf + (size_t)b * cols, cols, &mag);
            double got = y[(size_t)b * ldy + i], gr = yr[(size_t)b * ldy + i], t = tol(cols, mag);
            if (!(fabs(got - want) <= t && fabs(got - gr) <= 2 * t)) {
                if (bad++ < 3)
                    fprintf(stderr, "  %s %s row %d tok %d: %.9g, scalar %.9g, exact %.9g\n", var,
                            geb_type_traits_of(wt)->name, i, b, got, gr, want);
            }
        }
        if (vec) break;
        for (size_t g = (size_t)n; g < ldy; g++) stray += y[(size_t)b * ldy + g] != CANARY;
    }
    if (vec) for (size_t g = (size_t)n; g < ylen; g++) stray += y[g] != CANARY;
    else stray += y[ylen - 1] != CANARY;
    CHECK_MSG(bad == 0 && stray == 0, "%s %s %s n=%d B=%d cols=%d pad=%d: %d wrong, %d stray", var,
              geb_type_traits_of(wt)->name, vec ? "matvec" : "matmul", n, B, cols, pad, bad, stray);
    if (rx != p.x) free(rx);
    free(y), free(yr);
    problem_free(&p);
    nchecks++;
}

/* qk_x86.h as the AVX-512 files build it, on AVX2 with vpdpbusd emulated
 * (tests/qk_vnni_emu.c); weak so that builds without it (AArch64) link. */
extern const geb_qk_table geb_qk_test_vnni_emu __attribute__((weak));

static const int FCOLS[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 4099};
static const int QCOLS[] = {32, 64, 96, 160, 224, 256, 288, 1024, 2080, 4096};
static const int ROWS[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33};
static const int BS[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 64};
#define LEN(a) ((int)(sizeof a / sizeof a[0]))

/* A table's own widening of rows to FP32 equals the traits' bit for bit
 * (matmul.c feeds it to the F32 GEMM for the larger batches). */
static void check_widen(const char *var, geb_type wt, const geb_type_kernels *k, int cols) {
    size_t ld = geb_type_row_bytes(wt, cols);
    float *src = malloc((size_t)cols * sizeof *src), *want = malloc((size_t)cols * sizeof *want);
    float *got = malloc(((size_t)cols + 1) * sizeof *got);
    uint8_t *row = malloc(ld);
    rand_rows(src, 1, cols);
    geb_type_traits_of(wt)->from_f32(row, src, cols);
    geb_type_traits_of(wt)->to_f32(want, row, cols);
    got[cols] = CANARY;
    k->to_f32(got, row, cols);
    CHECK_MSG(memcmp(got, want, (size_t)cols * sizeof *got) == 0 && got[cols] == CANARY,
              "%s %s to_f32 cols=%d differs from the traits", var, geb_type_traits_of(wt)->name, cols);
    free(src), free(want), free(got), free(row);
    nchecks++;
}

/* A type's own GEMM (kernels.h's geb_gemm_kernels), where the variant has
 * one: the panel of nb tokens filled in two step ranges, twice over
 * different junk (every byte must be written, the same both times), the
 * rows recast per block where the type does that, then the tile over every
 * kc block of rows that end exactly at their last byte (a read past column
 * kn is caught by ASan), against the double product of the stored weights
 * and the activations rounded through x_type; part has canaries past mr
 * rows and past tile_b tokens.  contig: the rows lie one after another in
 * one buffer, as matmul.c passes a full tile of a matrix (a tile may take
 * another path for evenly spaced rows: the AMX one does). */
static void check_gemm_one(const char *var, geb_type wt, const geb_gemm_kernels *g, int cols, int mr, int nb,
                           int contig) {
    const geb_type_traits *xtr = geb_type_traits_of(g->x_type);
    int tr = g->tile_rows, tb = g->tile_b, steps = (cols + g->kblk - 1) / g->kblk, ldp = tb + 3;
    size_t rowb = geb_type_row_bytes(wt, cols), pbytes = (size_t)steps * g->step_bytes * tb;
    float *wf = malloc((size_t)tr * cols * sizeof *wf), *x = malloc((size_t)nb * cols * sizeof *x);
    float *xr = malloc((size_t)cols * sizeof *xr), *part = malloc((size_t)(tr + 1) * ldp * sizeof *part);
    uint8_t *rows[GEB_TILE_MAX_ROWS], *panel = malloc(pbytes), *panel2 = malloc(pbytes);
    uint8_t *xq = malloc(geb_type_row_bytes(g->x_type, cols)), *wt_form = malloc((size_t)tr * g->wrow_bytes + 1);
    uint8_t *block = contig ? malloc((size_t)tr * rowb) : NULL;
    rand_rows(wf, tr, cols);
    rand_rows(x, nb, cols);
    for (int i = 0; i < tr; i++) {
        rows[i] = contig ? block + (size_t)i * rowb : malloc(rowb);
        geb_type_traits_of(wt)->from_f32(rows[i], wf + (size_t)i * cols, cols);
        geb_type_traits_of(wt)->to_f32(wf + (size_t)i * cols, rows[i], cols);
    }
    memset(panel, 0xA5, pbytes);
    memset(panel2, 0x5A, pbytes);
    for (uint8_t *pp = panel; pp; pp = pp == panel ? panel2 : NULL) {
        g->panel(pp, x, (size_t)cols, nb, 0, steps / 2, cols);
        g->panel(pp, x, (size_t)cols, nb, steps / 2, steps, cols);
    }
    int unwritten = memcmp(panel, panel2, pbytes) != 0;
    for (size_t i = 0; i < (size_t)(tr + 1) * ldp; i++) part[i] = CANARY;
    for (int k0 = 0; k0 < cols; k0 += g->kc) {
        int kn = cols - k0 < g->kc ? cols - k0 : g->kc;
        const uint8_t *wp[GEB_TILE_MAX_ROWS];
        for (int i = 0; i < tr; i++) {
            const uint8_t *src = rows[i < mr ? i : mr - 1] + geb_type_row_bytes(wt, k0);
            if (g->wrow_bytes) {
                g->rows(wt_form + (size_t)i * g->wrow_bytes, src, rowb, 1, kn);
                wp[i] = wt_form + (size_t)i * g->wrow_bytes;
            } else {
                wp[i] = src;
            }
        }
        g->tile(part, ldp, mr, wp, panel + (size_t)(k0 / g->kblk) * g->step_bytes * tb, kn, k0 == 0, nb);
    }
    int bad = 0, stray = 0;
    for (int b = 0; b < nb; b++) {
        xtr->from_f32(xq, x + (size_t)b * cols, cols);
        xtr->to_f32(xr, xq, cols);
        for (int i = 0; i < mr; i++) {
            double mag, want = ref_dot(wf + (size_t)i * cols, xr, cols, &mag);
            bad += !(fabs(part[(size_t)i * ldp + b] - want) <= tol(cols, mag));
        }
    }
    for (int i = 0; i <= tr; i++)
        for (int b = 0; b < ldp; b++)
            stray += (i >= mr || b >= tb) && part[(size_t)i * ldp + b] != CANARY;
    CHECK_MSG(bad == 0 && stray == 0 && !unwritten, "%s %s gemm cols=%d mr=%d nb=%d%s: %d wrong, %d stray%s",
              var, geb_type_traits_of(wt)->name, cols, mr, nb, contig ? " contiguous" : "", bad, stray,
              unwritten ? ", panel bytes left unwritten" : "");
    for (int i = 0; i < tr && !contig; i++) free(rows[i]);
    free(block);
    free(wf), free(x), free(xr), free(part), free(panel), free(panel2), free(xq), free(wt_form);
    nchecks++;
}

static void check_gemm(const char *var, geb_type wt, const geb_gemm_kernels *g) {
    static const int cols[] = {1, 2, 3, 5, 17, 32, 33, 64, 65, 96, 257, 288, 511, 600, 1024};
    static const int nbs[] = {1, 2, 15, 16, 17, 31, 32, 33, 47, 63, 64};
    int q = geb_type_traits_of(wt)->block;
    CHECK(g->tile_rows >= 1 && g->tile_rows <= GEB_TILE_MAX_ROWS && 48 % g->tile_rows == 0 &&
          g->tile_b >= 1 && GEB_TILE_MAX_B % g->tile_b == 0 && g->kc % g->kblk == 0 && g->kc % q == 0 &&
          g->kblk <= 32 && g->step_bytes <= 4 * g->kblk && g->wrow_bytes <= GEB_GEMM_MAX_WROW &&
          g->panel && g->tile &&
          (g->wrow_bytes == 0) == (g->rows == NULL));
    for (int ci = 0; ci < LEN(cols); ci++) {
        if (cols[ci] % q) continue;
        for (int mr = 1; mr <= g->tile_rows; mr++)
            for (int ni = (mr + ci) % 2; ni < LEN(nbs) && nbs[ni] <= g->tile_b; ni += 1 + (cols[ci] > 300))
                check_gemm_one(var, wt, g, cols[ci], mr, nbs[ni], 0);
    }
    /* Full tiles of rows as a matrix holds them, every token count. */
    for (int ci = 0; ci < LEN(cols); ci++)
        for (int ni = 0; ni < LEN(nbs) && !(cols[ci] % q) && nbs[ni] <= g->tile_b; ni++)
            check_gemm_one(var, wt, g, cols[ci], g->tile_rows, nbs[ni], 1);
}

/* Every size combination for one weight type of one variant. */
static void check_type(const char *var, geb_type wt, const geb_type_kernels *k,
                       const geb_type_kernels *ref) {
    int q = geb_type_traits_of(wt)->block > 1;
    const int *cols = q ? QCOLS : FCOLS;
    int nc = q ? LEN(QCOLS) : LEN(FCOLS);
    CHECK(k->matvec && k->matmul);
    if (!k->matvec || !k->matmul) return;
    if (q) CHECK(k->vec_x == GEB_TYPE_Q8_0 && k->mat_x == GEB_TYPE_Q8_0);
    else CHECK(k->vec_x == GEB_TYPE_F32);
    if (k->to_f32)
        for (int ci = 0; ci < nc; ci++) check_widen(var, wt, k, cols[ci]);
    if (k->gemm) check_gemm(var, wt, k->gemm);
    for (int ri = 0; ri < LEN(ROWS); ri++)
        for (int ci = 0; ci < nc; ci++) check_kernel(var, wt, k, ref, 1, ROWS[ri], 1, cols[ci], ri & 1 ? 6 : 0);
    for (int bi = 0; bi < LEN(BS); bi++)
        for (int ri = 0; ri < LEN(ROWS); ri += (BS[bi] > 13 ? 2 : 1))
            for (int ci = bi & 1; ci < nc; ci += 2)
                check_kernel(var, wt, k, ref, 0, ROWS[ri], BS[bi], cols[ci], (ri + ci) & 1 ? 2 : 0);
}

/* Every variant compiled in and supported by this CPU; GEB_TEST_EXPECT_QK
 * (set by the NEON runner) names variants that must have been tested, in a
 * comma list, and the one geb_qk_fill must choose first. */
/* row_to_f32 of a variant, where it has one: bit for bit the traits'
 * to_f32 on rows of every length 1..70 (vector bodies and scalar tails),
 * with values from the conversion edge cases (NaN, infinities, subnormals,
 * signed zero) and a canary past the row. */
static void check_row_to_f32(const char *v, geb_type t, const geb_type_kernels *k) {
    if (!k->row_to_f32) return;
    const geb_type_traits *tr = geb_type_traits_of(t);
    uint16_t src[70];
    float want[71], got[71];
    for (int i = 0; i < 70; i++) src[i] = (uint16_t)(0x3c00u + 977u * (unsigned)i * (unsigned)i);
    src[3] = 0x7c00, src[4] = 0xfc00, src[5] = 0x0001, src[6] = 0x8000, src[7] = 0x7f80;
    int bad = 0;
    for (int n = 1; n <= 70; n++) {
        tr->to_f32(want, src, n);
        got[n] = 12345.0f;
        k->row_to_f32(got, (const uint8_t *)src, n);
        /* NaN payloads may differ (vcvtph2ps keeps them); any NaN stays NaN. */
        for (int i = 0; i < n; i++)
            bad += memcmp(&got[i], &want[i], sizeof(float)) != 0 && !(isnan(got[i]) && isnan(want[i]));
        bad += got[n] != 12345.0f;
    }
    CHECK_MSG(bad == 0, "%s %s row_to_f32: %d values wrong", v, tr->name, bad);
}

static void check_variants(void) {
    geb_type_kernels ref[GEB_TYPE_COUNT], tab[GEB_TYPE_COUNT];
    memset(ref, 0, sizeof ref);
    CHECK(geb_qk_fill_variant("scalar", ref) == 0);
    CHECK(geb_qk_fill("scalar", ref) == 0);
    CHECK(geb_qk_fill("nonsense", ref) == -1 && geb_qk_fill_variant("nonsense", ref) == -1);
    CHECK(geb_qk_fill(NULL, ref) == -1);
    char tested[256] = ",";
    for (const char *const *v = geb_qk_variants(); *v; v++) {
        memset(tab, 0, sizeof tab);
        tab[GEB_TYPE_F32].vec_x = GEB_TYPE_COUNT; /* must stay untouched */
        if (geb_qk_fill_variant(*v, tab) != 0) {
            printf("types: %s not supported here, skipped\n", *v);
            continue;
        }
        CHECK(tab[GEB_TYPE_F32].vec_x == GEB_TYPE_COUNT && tab[GEB_TYPE_F32].matvec == NULL);
        printf("types: testing %s\n", *v);
        int before = nchecks;
        for (int t = 0; t < GEB_TYPE_COUNT; t++)
            if (t != GEB_TYPE_F32) {
                check_type(*v, (geb_type)t, &tab[t], &ref[t]);
                check_row_to_f32(*v, (geb_type)t, &tab[t]);
            }
        printf("types: %s: %d kernel checks\n", *v, nchecks - before);
        strncat(tested, *v, sizeof tested - strlen(tested) - 2);
        strcat(tested, ",");
    }
    /* Not a variant of qk.c: avx512+vnni's Q8_0/Q4_0 code and avx512's tile
     * shapes on AVX2 vectors. */
    if (&geb_qk_test_vnni_emu && geb_kernels_get("avx2")) {
        printf("types: testing vnni-emulated (AVX-512 tiles and VNNI arithmetic on AVX2)\n");
        int before = nchecks;
        for (int t = 0; t < GEB_TYPE_COUNT; t++)
            if (t != GEB_TYPE_F32)
                check_type("vnni-emulated", (geb_type)t, &geb_qk_test_vnni_emu.k[t], &ref[t]);
        printf("types: vnni-emulated: %d kernel checks\n", nchecks - before);
    }
    const char *expect = getenv("GEB_TEST_EXPECT_QK");
    if (expect && *expect) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", expect);
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
            char key[80];
            snprintf(key, sizeof key, ",%s,", s);
            CHECK_MSG(strstr(tested, key) != NULL, "variant %s was not tested", s);
        }
        /* The first one named is what geb_qk_fill picks for its ISA. */
        snprintf(buf, sizeof buf, "%s", expect);
        char *first = strtok(buf, ","), isa[32];
        snprintf(isa, sizeof isa, "%.*s", (int)strcspn(first, "+"), first);
        const char *best = geb_qk_best(isa);
        CHECK_MSG(best && strcmp(best, first) == 0, "best %s variant %s, expected %s", isa,
                  best ? best : "(none)", first);
    }
}

/* geb_type_any_nonfinite against isfinite of the widened value: every
 * 16-bit pattern at every lane of a word and in the tail, buffers of 1..41
 * elements at an address that is 2 mod 8; F32 specials likewise. */
static void check_nonfinite(void) {
    static uint16_t buf[48];
    uint16_t *b = buf + 1;
    int bad = 0;
    for (int t = GEB_TYPE_F16; t <= GEB_TYPE_BF16; t++)
        for (uint32_t h = 0; h < 65536; h++) {
            float f = t == GEB_TYPE_BF16 ? geb_bf16_to_f32((uint16_t)h) : geb_f16_to_f32((uint16_t)h);
            int want = !isfinite(f);
            int n = 1 + (int)(h % 41), at = (int)(h * 7 % (uint32_t)n);
            for (int i = 0; i < n; i++) b[i] = 0x3C00; /* 1.0 in F16, 1.0078125 in BF16 */
            b[at] = (uint16_t)h;
            bad += geb_type_any_nonfinite((geb_type)t, b, n) != want;
        }
    static const uint32_t f32s[] = {0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F800001u, 0xFFFFFFFFu,
                                    0x7F7FFFFFu, 0x00800000u, 0x80000001u, 0x3F800000u, 0};
    static uint32_t wbuf[48];
    for (int v = 0; v < 10; v++)
        for (int n = 1; n <= 41; n++)
            for (int at = 0; at < n; at += 3) {
                uint32_t *w = (uint32_t *)(void *)((uint8_t *)wbuf + 4);
                for (int i = 0; i < n; i++) w[i] = 0x3F800000u;
                w[at] = f32s[v];
                bad += geb_type_any_nonfinite(GEB_TYPE_F32, w, n) != (v < 5);
            }
    CHECK_MSG(bad == 0, "any_nonfinite: %d wrong answers", bad);
    CHECK(geb_type_any_nonfinite(GEB_TYPE_Q8_0, buf, 32) == -1 && geb_type_any_nonfinite(GEB_TYPE_BF16, buf, 0) == 0);
}

int main(void) {
    check_traits();
    check_nonfinite();
    check_half_fixtures();
    check_half_exhaustive();
    check_quant_type(GEB_TYPE_Q8_0, QDIR "q8_0.bin", QDIR "q8_0_deq.f32");
    check_quant_type(GEB_TYPE_Q4_0, QDIR "q4_0.bin", QDIR "q4_0_deq.f32");
    check_quant_zero();
    geb_kernels_get("scalar"); /* the tables choose geb_prefetch_rows first */
#if defined(__x86_64__)
    for (int pf = 0; pf < 2; pf++) { /* the AVX-512 variants have both */
#else
    for (int pf = geb_prefetch_rows; pf < 2; pf++) {
#endif
        geb_prefetch_rows = pf; /* (kernels.h) results must not depend on it */
        check_variants();
    }
    return TEST_DONE("types");
}
