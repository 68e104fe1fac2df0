/* kbench.c - times the row kernels of one weight type on one thread, and the
 * threaded F32 GEMM against the FMA peak of the same cores.
 *
 *   make
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -pthread tools/kbench.c \
 *       build/kernels*.o build/qk*.o build/types.o build/common.o build/pool.o \
 *       build/matmul.o -lm -o kbench
 *   ./kbench mv [-k avx2] [-w q4_0] [-c 2048] [-s MB] [-n ROWS] [-p]
 *   ./kbench mm [-k avx2] [-t 2] [-b 512]
 *
 * mv: a [rows, c] matrix of size -s MB (default 1024: past every cache),
 * each row a copy of one quantized random row, multiplied in calls of
 * -n rows (default: about 1 MB of rows, the chunk matmul.c hands a thread).
 * -n set to the kernel's pass height (4 on avx2) gives the row order of
 * neighbouring rows; larger calls let the kernel walk lanes (src/rows.h).
 * -p: rows packed in the table's groups (kernels.h), where it packs the type.
 * Prints GB/s of weights read, in DRAM and in cache (48 rows repeated).
 *
 * mm: the GEB-1.3B layer's F32 products for -b tokens through geb_mm_matmul
 * on -t threads, in GFLOP/s and as a fraction of the FMA peak measured on
 * the same pool (a register-only FMA loop, 8 lanes x 2 flops with AVX2,
 * 16 with AVX-512 for the avx512 table).
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

static void run_mv(const geb_kernels *k, geb_type t, int cols, long mb, long per_call, int packed) {
    const geb_type_kernels *tk = &k->typed[t];
    size_t ldw = geb_type_row_bytes(t, cols);
    if (!tk->matvec || ldw == 0) die("no matvec for this type, or -c not a multiple of its block");
    if (packed && !tk->packed) die("this table does not pack this type");
    long rows = mb * 1024 * 1024 / (long)ldw / GEB_PACK_ROWS * GEB_PACK_ROWS;
    if (per_call <= 0) per_call = (1024 * 1024 / (long)ldw) & ~7L;
    if (packed && per_call % GEB_PACK_ROWS) die("-n must be a multiple of 8 with -p");
    float *row = malloc(cols * sizeof *row);
    uint8_t *one = malloc(ldw);
    size_t bytes = (size_t)rows * ldw;
    uint8_t *w = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    geb_type xt = tk->vec_x;
    size_t ldx = geb_type_row_bytes(xt, cols);
    uint8_t *x = malloc(ldx);
    float *y = malloc(rows * sizeof *y);
    if (!row || !one || w == MAP_FAILED || !x || !y) die("out of memory");
    madvise(w, bytes, MADV_HUGEPAGE);
    for (int i = 0; i < cols; i++) row[i] = frand();
    geb_type_traits_of(t)->from_f32(one, row, cols);
    geb_type_traits_of(xt)->from_f32(x, row, cols);
    for (long r = 0; r < rows; r++) memcpy(w + (size_t)r * ldw, one, ldw);
    if (packed) {
        uint8_t *g = malloc(ldw * GEB_PACK_ROWS);
        if (!g) die("out of memory");
        for (long r = 0; r < rows; r += GEB_PACK_ROWS) {
            tk->packed->pack(g, w + (size_t)r * ldw, ldw, cols);
            memcpy(w + (size_t)r * ldw, g, ldw * GEB_PACK_ROWS);
        }
        free(g);
    }
    mv_rate(tk, packed, y, w, ldw, x, rows, cols, per_call, 1); /* warm-up: page faults */
    double dram = mv_rate(tk, packed, y, w, ldw, x, rows, cols, per_call, 3);
    long small = 48 < rows ? 48 : rows;
    double cache = mv_rate(tk, packed, y, w, ldw, x, small, cols, per_call < small ? per_call : small, 20000);
    printf("mv %s %s%s cols %d, %ld rows a call: %.2f GB/s from DRAM (%.0f MB), %.2f GB/s from cache\n",
           k->name, geb_type_traits_of(t)->name, packed ? " packed" : "", cols, per_call, dram,
           bytes / 1e6, cache);
    munmap(w, bytes);
    free(row), free(one), free(x), free(y);
}

/* ---- mm ----------------------------------------------------------------- */

#if defined(__x86_64__)
/* 12 independent FMA chains in registers (more than latency x throughput
 * on current cores), spelled out so no compiler keeps them in memory. */
__attribute__((target("avx2,fma"))) static void fma_task(void *ctx, int ith, int nth) {
    long iters = *(const long *)ctx;
    (void)ith, (void)nth;
    __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2);
    __m256 a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5);
    __m256 a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8);
    __m256 a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long it = 0; it < iters; it++) {
        a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c), a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c), a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    if (_mm256_cvtss_f32(s) == 12345.0f) puts(""); /* keeps the loop */
}

/* The same with AVX-512 vectors: the peak of the avx512 table's cores. */
__attribute__((target("avx512f"))) static void fma512_task(void *ctx, int ith, int nth) {
    long iters = *(const long *)ctx;
    (void)ith, (void)nth;
    __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-3f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2);
    __m512 a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5);
    __m512 a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8);
    __m512 a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long it = 0; it < iters; it++) {
        a0 = _mm512_fmadd_ps(a0, m, c), a1 = _mm512_fmadd_ps(a1, m, c);
        a2 = _mm512_fmadd_ps(a2, m, c), a3 = _mm512_fmadd_ps(a3, m, c);
        a4 = _mm512_fmadd_ps(a4, m, c), a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c), a7 = _mm512_fmadd_ps(a7, m, c);
        a8 = _mm512_fmadd_ps(a8, m, c), a9 = _mm512_fmadd_ps(a9, m, c);
        a10 = _mm512_fmadd_ps(a10, m, c), a11 = _mm512_fmadd_ps(a11, m, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    if (_mm512_reduce_add_ps(s) == 12345.0f) puts(""); /* keeps the loop */
}

/* GFLOP/s of the pool running 12 independent FMA chains per thread, in the
 * vectors of the table being timed (16 lanes for avx512, else 8). */
static double fma_peak(geb_pool *pool, const char *table) {
    long iters = 50 * 1000 * 1000;
    int lanes = strcmp(table, "avx512") == 0 ? 16 : 8;
    double t0 = now();
    geb_pool_run(pool, lanes == 16 ? fma512_task : fma_task, &iters);
    return (double)iters * 12 * lanes * 2 * geb_pool_size(pool) / (now() - t0) / 1e9;
}
#else
static double fma_peak(geb_pool *pool, const char *table) {
    (void)pool, (void)table;
    return 0;
}
#endif

static float *rand_floats(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p) die("out of memory");
    for (size_t i = 0; i < n; i++) p[i] = frand() * 0.05f;
    return p;
}

static void run_mm(const geb_kernels *k, int threads, int B) {
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
        m[i] = (geb_mat){(const uint8_t *)rand_floats((size_t)rows[i] * cols[i]), GEB_TYPE_F32,
                         (size_t)cols[i] * sizeof(float), rows[i], cols[i], 0};
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
    double peak = fma_peak(pool, k->name);
    printf("mm %s f32, %d threads, %d tokens: %.1f GFLOP/s", k->name, threads, B, best);
    if (peak > 0) printf(" = %.0f%% of the measured FMA peak %.1f GFLOP/s", 100 * best / peak, peak);
    printf("\n");
    geb_mm_free(mm);
    geb_pool_free(pool);
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "mv") && strcmp(argv[1], "mm")))
        die("usage: kbench mv|mm [-k KERNELS] [-w TYPE] [-c COLS] [-s MB] [-n ROWS] [-p] [-t N] [-b N]");
    const char *kname = NULL, *wname = "q4_0";
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
    if (geb_type_from_name(wname, &t) != 0) die("unknown weight type");
    if (!strcmp(argv[1], "mv")) run_mv(k, t, cols, mb, per_call, packed);
    else run_mm(k, threads, B > 0 && B <= 4096 ? B : 512);
    return 0;
}
