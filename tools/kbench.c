/* kbench.c - times the row kernels of one weight type on one thread, and the
 * threaded F32 GEMM against the FMA peak of the same cores.
 *
 *   make
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -pthread tools/kbench.c \
 *       build/kernels*.o build/qk*.o build/types.o build/common.o build/pool.o \
 *       build/matmul.o -lm -o kbench
 *   ./kbench mv [-k avx2] [-w q4_0] [-c 2048] [-s MB] [-n ROWS] [-p]
 *   ./kbench mm [-k avx2] [-t 2] [-b 512] [-w f32|bf16]
 *   ./kbench tok [-k avx2] [-t 2] [-w bf16] [-n 40]
 *
 * mv: a [rows, c] matrix of size -s MB (default 1024: past every cache),
 * each row a copy of one quantized random row, multiplied in calls of
 * -n rows (default: about 1 MB of rows, the chunk matmul.c hands a thread).
 * -n set to the kernel's pass height (4 on avx2) gives the row order of
 * neighbouring rows; larger calls let the kernel walk lanes (src/rows.h).
 * -p: rows packed in the table's groups (kernels.h), where it packs the type.
 * Prints GB/s of weights read, in DRAM and in cache (64 rows repeated).
 *
 * mm: the GEB-1.3B layer's F32 products for -b tokens through geb_mm_matmul
 * on -t threads, in GFLOP/s and as a fraction of the FMA peak measured on
 * the same pool (a register-only FMA loop, 8 lanes x 2 flops with AVX2,
 * 16 with AVX-512 for the avx512 table).  -w bf16: BF16 weights through the
 * table's BF16 GEMM, against a vdpbf16ps loop's peak (16 lanes x 4 flops)
 * where CPUID has AVX512_BF16.
 *
 * tok: the matrix-vector products of one GEB-1.3B token (24 layers of QKV,
 * dense, h-to-4h, 4h-to-h; 2.4 GB in BF16) through geb_mm_matvec on -t
 * threads, -n tokens with the decode software prefetch on and -n with it
 * off, the two alternating token by token so both meet the same bandwidth
 * (a shared machine's drifts by a third within a minute).  Prints GB/s
 * min/median/max of each and the median of the per-pair ratios: the
 * measurement behind the default of GEB_PREFETCH on this CPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"
#include "matmul.h"
#include "pool.h"
#include "types.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *msg) {
    fprintf(stderr, "kbench: %s\n", msg);
    exit(2);
}

static float frand(void) { return (float)rand() / RAND_MAX - 0.5f; }

/* ---- mv ----------------------------------------------------------------- */

static double mv_rate(const geb_type_kernels *tk, int packed, float *y, const uint8_t *w, size_t ldw,
                      const void *x, long rows, int cols, long per_call, int reps) {
    double t0 = now();
    for (int r = 0; r < reps; r++)
        for (long r0 = 0; r0 < rows; r0 += per_call) {
            int n = (int)(rows - r0 < per_call ? rows - r0 : per_call);
            (packed ? tk->packed->matvec : tk->matvec)(y + r0, w + (size_t)r0 * ldw, ldw, x, n, cols);
        }
    return (double)rows * ldw * reps / (now() - t0) / 1e9;
}

/* Fills the [rows, cols] matrix w of type t with one row, quantized once
 * and copied to every row (the bytes streamed are what counts, not their
 * values), then regrouped in the table's packed layout if packed. */
static void fill_rows(const geb_type_kernels *tk, geb_type t, uint8_t *w, size_t ldw, long rows, int cols,
                      const float *row, int packed) {
    geb_type_traits_of(t)->from_f32(w, row, cols);
    for (long r = 1; r < rows; r++) memcpy(w + (size_t)r * ldw, w, ldw);
    if (!packed) return;
    uint8_t *g = malloc(ldw * GEB_PACK_ROWS);
    if (!g) die("out of memory");
    for (long r = 0; r < rows; r += GEB_PACK_ROWS) {
        tk->packed->pack(g, w + (size_t)r * ldw, ldw, cols);
        memcpy(w + (size_t)r * ldw, g, ldw * GEB_PACK_ROWS);
    }
    free(g);
}

static void run_mv(const geb_kernels *k, geb_type t, int cols, long mb, long per_call, int packed) {
    const geb_type_kernels *tk = &k->typed[t];
    size_t ldw = geb_type_row_bytes(t, cols);
    if (!tk->matvec || ldw == 0) die("no matvec for this type, or -c not a multiple of its block");
    if (packed && !tk->packed) die("this table does not pack this type");
    long rows = mb * 1024 * 1024 / (long)ldw / GEB_PACK_ROWS * GEB_PACK_ROWS;
    if (per_call <= 0) per_call = (1024 * 1024 / (long)ldw) & ~7L;
    if (packed && per_call % GEB_PACK_ROWS) die("-n must be a multiple of 8 with -p");
    float *row = malloc(cols * sizeof *row);
    size_t bytes = (size_t)rows * ldw;
    uint8_t *w = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    geb_type xt = tk->vec_x;
    size_t ldx = geb_type_row_bytes(xt, cols);
    uint8_t *x = malloc(ldx);
    float *y = malloc(rows * sizeof *y);
    if (!row || w == MAP_FAILED || !x || !y) die("out of memory");
    madvise(w, bytes, MADV_HUGEPAGE);
    for (int i = 0; i < cols; i++) row[i] = frand();
    geb_type_traits_of(xt)->from_f32(x, row, cols);
    fill_rows(tk, t, w, ldw, rows, cols, row, packed);
    mv_rate(tk, packed, y, w, ldw, x, rows, cols, per_call, 1); /* warm-up: page faults */
    double dram = mv_rate(tk, packed, y, w, ldw, x, rows, cols, per_call, 3);
    long small = 64 < rows ? 64 : rows; /* 8 groups: a pass of 4 lanes twice */
    double cache = mv_rate(tk, packed, y, w, ldw, x, small, cols, per_call < small ? per_call : small, 20000);
    printf("mv %s %s%s cols %d, %ld rows a call: %.2f GB/s from DRAM (%.0f MB), %.2f GB/s from cache\n",
           k->name, geb_type_traits_of(t)->name, packed ? " packed" : "", cols, per_call, dram,
           bytes / 1e6, cache);
    munmap(w, bytes);
    free(row), free(x), free(y);
}

/* ---- mm ----------------------------------------------------------------- */

#if defined(__x86_64__)
/* 12 independent FMA chains in registers (more than latency x throughput
 * on current cores), spelled out so no compiler keeps them in memory; one
 * instance per vector width (AVX2 for the other tables, AVX-512 for avx512). */
#define FMA_TASK(name, isa, V, set1, fma, add, first)                                   \
    __attribute__((target(isa))) static void name(void *ctx, int ith, int nth) {        \
        long iters = *(const long *)ctx;                                                  \
        (void)ith, (void)nth;                                                             \
        V m = set1(0.999f), c = set1(1e-3f);                                              \
        V a0 = set1(0), a1 = set1(1), a2 = set1(2), a3 = set1(3), a4 = set1(4), a5 = set1(5); \
        V a6 = set1(6), a7 = set1(7), a8 = set1(8), a9 = set1(9), a10 = set1(10), a11 = set1(11); \
        for (long it = 0; it < iters; it++) {                                             \
            a0 = fma(a0, m, c), a1 = fma(a1, m, c), a2 = fma(a2, m, c);                   \
            a3 = fma(a3, m, c), a4 = fma(a4, m, c), a5 = fma(a5, m, c);                   \
            a6 = fma(a6, m, c), a7 = fma(a7, m, c), a8 = fma(a8, m, c);                   \
            a9 = fma(a9, m, c), a10 = fma(a10, m, c), a11 = fma(a11, m, c);               \
        }                                                                                 \
        V s = add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7)));          \
        s = add(s, add(add(a8, a9), add(a10, a11)));                                      \
        if (first(s) == 12345.0f) puts(""); /* keeps the loop */                          \
    }
FMA_TASK(fma_task, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_cvtss_f32)
FMA_TASK(fma512_task, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_cvtss_f32)

/* The same with vdpbf16ps: 12 chains of 16 lanes, 2 products each. */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void dpbf16_task(void *ctx, int ith, int nth) {
    long iters = *(const long *)ctx;
    (void)ith, (void)nth;
    __m512bh m = (__m512bh)_mm512_set1_epi32(0x3f803f80), c = (__m512bh)_mm512_set1_epi32(0x3a833a83);
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++) {
        a[0] = _mm512_dpbf16_ps(a[0], m, c), a[1] = _mm512_dpbf16_ps(a[1], m, c);
        a[2] = _mm512_dpbf16_ps(a[2], m, c), a[3] = _mm512_dpbf16_ps(a[3], m, c);
        a[4] = _mm512_dpbf16_ps(a[4], m, c), a[5] = _mm512_dpbf16_ps(a[5], m, c);
        a[6] = _mm512_dpbf16_ps(a[6], m, c), a[7] = _mm512_dpbf16_ps(a[7], m, c);
        a[8] = _mm512_dpbf16_ps(a[8], m, c), a[9] = _mm512_dpbf16_ps(a[9], m, c);
        a[10] = _mm512_dpbf16_ps(a[10], m, c), a[11] = _mm512_dpbf16_ps(a[11], m, c);
    }
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    if (_mm512_reduce_add_ps(s) == 12345.0f) puts(""); /* keeps the loop */
}

/* GFLOP/s of the pool running 12 independent FMA chains per thread, in the
 * vectors of the table being timed (16 lanes for avx512, else 8); for BF16
 * weights vdpbf16ps chains where the CPU has them. */
static double fma_peak(geb_pool *pool, const char *table, geb_type t) {
    long iters = 50 * 1000 * 1000;
    int lanes = strcmp(table, "avx512") == 0 ? 16 : 8;
    double t0 = now();
    if (t == GEB_TYPE_BF16) {
        if (lanes != 16 || !__builtin_cpu_supports("avx512bf16")) return 0;
        geb_pool_run(pool, dpbf16_task, &iters);
        return (double)iters * 12 * 16 * 4 * geb_pool_size(pool) / (now() - t0) / 1e9;
    }
    geb_pool_run(pool, lanes == 16 ? fma512_task : fma_task, &iters);
    return (double)iters * 12 * lanes * 2 * geb_pool_size(pool) / (now() - t0) / 1e9;
}
#else
static double fma_peak(geb_pool *pool, const char *table, geb_type t) {
    (void)pool, (void)table, (void)t;
    return 0;
}
#endif

static float *rand_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) die("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = frand() * 0.05f;
    return p;
}

/* n random weights as type t (F32 or BF16). */
static uint8_t *rand_weights(size_t n, geb_type t) {
    float *f = rand_floats(n);
    if (t != GEB_TYPE_BF16) return (uint8_t *)f;
    uint16_t *h = malloc(n * sizeof *h);
    if (!h) die("out of memory");
    for (size_t i = 0; i < n; i++) h[i] = geb_f32_to_bf16(f[i]);
    free(f);
    return (uint8_t *)h;
}

static void run_mm(const geb_kernels *k, geb_type t, int threads, int B) {
    enum { H = 2048, F = 5632, KV = 1024 };
    geb_err err = {0};
    geb_pool *pool = geb_pool_create(threads, &err);
    geb_mm *mm = pool ? geb_mm_new(k, F, B, &err) : NULL;
    if (!mm) die(err.msg);
    int rows[4] = {H + KV, H, 2 * F, H}, cols[4] = {H, H, H, F};
    geb_mat m[4];
    float *y = malloc((size_t)B * 2 * F * sizeof *y), *X = rand_floats((size_t)B * F);
    double flops = 0;
    for (int i = 0; i < 4; i++) {
        m[i] = (geb_mat){rand_weights((size_t)rows[i] * cols[i], t), t,
                         geb_type_row_bytes(t, cols[i]), rows[i], cols[i], 0};
        flops += 2.0 * rows[i] * cols[i] * B;
    }
    double best = 0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now();
        for (int i = 0; i < 4; i++) {
            geb_prod p = {&m[i], y};
            geb_mm_matmul(mm, pool, &p, 1, X, B);
        }
        double gf = flops / (now() - t0) / 1e9;
        if (gf > best) best = gf;
    }
    double peak = fma_peak(pool, k->name, t);
    printf("mm %s %s, %d threads, %d tokens: %.1f GFLOP/s", k->name, geb_type_traits_of(t)->name, threads, B, best);
    if (peak > 0)
        printf(" = %.0f%% of the measured %s peak %.1f GFLOP/s", 100 * best / peak,
               t == GEB_TYPE_BF16 ? "vdpbf16ps" : "FMA", peak);
    printf("\n");
    geb_mm_free(mm);
    geb_pool_free(pool);
}

/* ---- tok ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A [rows, cols] matrix of type t filled by fill_rows, packed where the
 * table packs the type and the rows make whole groups, as geb's weights are. */
static geb_mat tok_matrix(const geb_kernels *k, geb_type t, int rows, int cols) {
    const geb_type_kernels *tk = &k->typed[t];
    int packed = tk->packed && tk->vec_x == tk->mat_x && rows % GEB_PACK_ROWS == 0;
    size_t ldw = geb_type_row_bytes(t, cols), bytes = ldw * (size_t)rows;
    float *f = rand_floats((size_t)cols);
    uint8_t *w = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED) die("out of memory");
#ifdef MADV_HUGEPAGE
    madvise(w, bytes, MADV_HUGEPAGE); /* as geb's weights get */
#endif
    fill_rows(tk, t, w, ldw, rows, cols, f, packed);
    free(f);
    return (geb_mat){w, t, ldw, rows, cols, packed};
}

static void run_tok(const geb_kernels *k, geb_type t, int threads, int n) {
    enum { H = 2048, F = 5632, KV = 1024, L = 24 };
    if (geb_type_row_bytes(t, H) == 0 || !geb_mm_supports(k, t)) die("this table has no matvec for this type");
    geb_err err = {0};
    geb_pool *pool = geb_pool_create(threads, &err);
    geb_mm *mm = pool ? geb_mm_new(k, F, 1, &err) : NULL;
    if (!mm) die(err.msg);
    int rows[4] = {H + KV, H, 2 * F, H}, cols[4] = {H, H, H, F};
    geb_mat m[L * 4];
    double bytes = 0;
    for (int i = 0; i < L * 4; i++) {
        m[i] = tok_matrix(k, t, rows[i % 4], cols[i % 4]);
        bytes += (double)m[i].ldw * m[i].rows;
    }
    float *y = malloc(2 * F * sizeof *y), *x = rand_floats(F);
    double *gbs[2], *ratio = malloc(n * sizeof *ratio);
    gbs[0] = malloc(n * sizeof(double)), gbs[1] = malloc(n * sizeof(double));
    if (!y || !ratio || !gbs[0] || !gbs[1]) die("out of memory");
    int saved = geb_prefetch_rows;
    for (int it = -1; it < n; it++) /* it -1: a warm-up pair */
        for (int pf = 1; pf >= 0; pf--) {
            geb_prefetch_rows = pf;
            double t0 = now();
            for (int i = 0; i < L * 4; i++) {
                geb_prod p = {&m[i], y};
                geb_mm_matvec(mm, pool, &p, 1, x);
            }
            if (it >= 0) gbs[pf][it] = bytes / (now() - t0) / 1e9;
        }
    geb_prefetch_rows = saved;
    for (int it = 0; it < n; it++) ratio[it] = gbs[0][it] / gbs[1][it];
    qsort(ratio, n, sizeof *ratio, cmp_double);
    printf("tok %s %s%s, %d threads, %.2f GB a token, %d tokens each:\n", k->name, geb_type_traits_of(t)->name,
           m[0].packed ? " packed" : "", threads, bytes / 1e9, n);
    for (int pf = 1; pf >= 0; pf--) {
        qsort(gbs[pf], n, sizeof(double), cmp_double);
        printf("  prefetch %-3s GB/s min %.1f median %.1f max %.1f\n", pf ? "on" : "off", gbs[pf][0],
               gbs[pf][n / 2], gbs[pf][n - 1]);
    }
    printf("  off / on per pair: median %.3f (quartiles %.3f, %.3f); the default here is %s\n", ratio[n / 2],
           ratio[n / 4], ratio[3 * n / 4], geb_kernels_prefetch_name());
    geb_mm_free(mm);
    geb_pool_free(pool);
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "mv") && strcmp(argv[1], "mm") && strcmp(argv[1], "tok")))
        die("usage: kbench mv|mm|tok [-k KERNELS] [-w TYPE] [-c COLS] [-s MB] [-n ROWS|TOKENS] [-p] [-t N] [-b N]");
    const char *kname = NULL, *wname = NULL;
    int cols = 2048, threads = 2, B = 512;
    long mb = 1024, per_call = 0;
    int packed = 0;
    for (int i = 2; i < argc; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(o, "-p")) {
            packed = 1, i--;
            continue;
        }
        if (!strcmp(o, "-k")) kname = v;
        else if (!strcmp(o, "-w")) wname = v;
        else if (!strcmp(o, "-c")) cols = atoi(v);
        else if (!strcmp(o, "-s")) mb = atol(v);
        else if (!strcmp(o, "-n")) per_call = atol(v);
        else if (!strcmp(o, "-t")) threads = atoi(v);
        else if (!strcmp(o, "-b")) B = atoi(v);
        else die("unknown option");
    }
    geb_err err = {0};
    const geb_kernels *k = kname ? geb_kernels_get(kname) : geb_kernels_best(&err);
    if (!k) die("kernel table not available here");
    geb_type t;
    int mv = !strcmp(argv[1], "mv"), tok = !strcmp(argv[1], "tok");
    if (geb_type_from_name(wname ? wname : mv ? "q4_0" : tok ? "bf16" : "f32", &t) != 0) die("unknown weight type");
    if (mv) run_mv(k, t, cols, mb, per_call, packed);
    else if (tok) {
        if (per_call < 0 || per_call > 100000) die("-n: tokens from 1 to 100000");
        run_tok(k, t, threads, per_call ? (int)per_call : 40);
    }
    else if (t != GEB_TYPE_F32 && t != GEB_TYPE_BF16) die("mm takes -w f32 or bf16");
    else run_mm(k, t, threads, B > 0 && B <= 4096 ? B : 512);
    return 0;
}
