/* kernels.c - picks a kernel table at run time (CPUID + OS support) and runs
 * the threaded products: row chunks handed out through an atomic counter so
 * that a thread slowed by another process does not hold the others back. */
#include "kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* The tables; weak so that a file compiled without its ISA flags (and hence
 * empty) leaves a NULL address instead of a link error. */
extern const geb_kernels geb_kernels_scalar;
extern const geb_kernels geb_kernels_avx2_table __attribute__((weak));
extern const geb_kernels geb_kernels_avx512_table __attribute__((weak));
extern const geb_kernels geb_kernels_neon_table __attribute__((weak));

#if defined(__x86_64__)
/* XCR0: which register states the OS saves on a context switch. */
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* 1 if the CPU and the OS support what kernels_avx2.c is compiled for
 * (-mavx2 -mfma -mf16c): AVX, AVX2, FMA, F16C and saved YMM state. */
static int cpu_has_avx2(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx || !fma || !f16c) return 0;
    if ((read_xcr0() & 0x6) != 0x6) return 0; /* XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1; /* AVX2 */
}

/* 1 if the CPU and OS support what kernels_avx512.c is compiled for
 * (-mavx512f/bw/dq/vl): those four features and saved opmask/ZMM state. */
static int cpu_has_avx512(void) {
    unsigned a, b, c, d;
    if (!cpu_has_avx2()) return 0;
    if ((read_xcr0() & 0xe6) != 0xe6) return 0; /* XMM, YMM, k0-7, ZMM0-31 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    return f && dq && bw && vl;
}
#endif

/* The named table if it was compiled in and this CPU runs it, else NULL. */
const geb_kernels *geb_kernels_get(const char *name) {
    if (!name) return NULL;
    if (strcmp(name, "scalar") == 0) return &geb_kernels_scalar;
#if defined(__x86_64__)
    if (strcmp(name, "avx2") == 0 && &geb_kernels_avx2_table && cpu_has_avx2())
        return &geb_kernels_avx2_table;
    if (strcmp(name, "avx512") == 0 && &geb_kernels_avx512_table && cpu_has_avx512())
        return &geb_kernels_avx512_table;
#endif
#if defined(__aarch64__)
    /* Advanced SIMD is mandatory on AArch64. */
    if (strcmp(name, "neon") == 0 && &geb_kernels_neon_table) return &geb_kernels_neon_table;
#endif
    return NULL;
}

/* GEB_KERNEL if set and supported, else the first supported of the list. */
const geb_kernels *geb_kernels_best(void) {
    const char *env = getenv("GEB_KERNEL");
    const geb_kernels *k = env && *env ? geb_kernels_get(env) : NULL;
    if (k) return k;
    static const char *const order[] = {"avx512", "avx2", "neon"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if ((k = geb_kernels_get(order[i]))) return k;
    return &geb_kernels_scalar;
}

static _Atomic(const geb_kernels *) current_table;

/* Selects the table used by geb_matvec/geb_matmul; NULL means "best". */
void geb_kernels_use(const geb_kernels *k) { atomic_store(&current_table, k); }

/* The table in use, choosing the best one on first call. */
const geb_kernels *geb_kernels_current(void) {
    const geb_kernels *k = atomic_load(&current_table);
    if (!k) {
        k = geb_kernels_best();
        atomic_store(&current_table, k);
    }
    return k;
}

/* ---- threaded products ------------------------------------------------- */

/* A fused product: the rows of all n matrices form one row space cut into
 * jobs of `chunk` rows (never crossing a matrix) times `tb` tokens. */
typedef struct prod_job {
    const geb_kernels *k;
    const geb_mat *mats;
    int n;
    const float *x;  /* [cols] or [B, cols] */
    int B, cols;
    int chunk;       /* rows per job */
    int tb;          /* tokens per job (matmul) */
    int ntb;         /* token blocks */
    int njobs;
    _Atomic int next; /* next job to hand out */
    float *xt;        /* transposed X [cols, ldx] for matmul_t, or NULL */
    int ldx;
} prod_job;

/* Maps global row-chunk index c to matrix *mi and its rows [*r0, *r1). */
static void locate_chunk(const prod_job *j, int c, int *mi, int *r0, int *r1) {
    for (int i = 0; i < j->n; i++) {
        int nc = (j->mats[i].rows + j->chunk - 1) / j->chunk;
        if (c < nc) {
            *mi = i;
            *r0 = c * j->chunk;
            *r1 = *r0 + j->chunk < j->mats[i].rows ? *r0 + j->chunk : j->mats[i].rows;
            return;
        }
        c -= nc;
    }
    *mi = -1; /* unreachable: njobs counts exactly these chunks */
}

/* Counts the row chunks of all matrices. */
static int count_chunks(const geb_mat *mats, int n, int chunk) {
    int total = 0;
    for (int i = 0; i < n; i++)
        if (mats[i].rows > 0) total += (mats[i].rows + chunk - 1) / chunk;
    return total;
}

/* Hands out the next row chunk: its matrix and rows [*r0, *r1), or NULL
 * when every chunk has been taken. */
static const geb_mat *take_chunk(prod_job *j, int *r0, int *r1) {
    int c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    if (c >= j->njobs) return NULL;
    int mi;
    locate_chunk(j, c, &mi, r0, r1);
    return &j->mats[mi];
}

/* Pool task: take row chunks until none are left; y = W x for each. */
static void matvec_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    (void)ith, (void)nth;
    const geb_mat *m;
    int r0, r1;
    while ((m = take_chunk(j, &r0, &r1)))
        j->k->matvec(m->y + r0, m->w, j->x, r0, r1, j->cols);
}

/* Rows per matvec chunk: about 1 MB of weights, a multiple of 4 rows, and
 * small enough that every thread gets 8 chunks of each product to balance
 * load.  Larger chunks mean longer sequential streams and fewer hand-offs
 * through the shared counter: 1 MB read 5-10% faster than 64 KB with two
 * threads on the development machine (tools/kbench.c), no slower with one. */
static int matvec_chunk(const geb_mat *mats, int n, int cols, int nth) {
    long total = 0;
    for (int i = 0; i < n; i++) total += mats[i].rows > 0 ? mats[i].rows : 0;
    long rows = (1024L * 1024) / ((long)cols * 4);
    long cap = total / (8L * nth);
    if (rows > cap) rows = cap;
    rows &= ~3L;
    if (rows < 4) rows = 4;
    return (int)rows;
}

/* y_i = W_i x for all n matrices in one dispatch. */
void geb_matvec(geb_pool *pool, const geb_mat *mats, int n, const float *x, int cols) {
    if (n <= 0 || cols <= 0) return;
    prod_job j = {.k = geb_kernels_current(), .mats = mats, .n = n, .x = x, .B = 1,
                  .cols = cols, .tb = 1, .ntb = 1};
    j.chunk = matvec_chunk(mats, n, cols, geb_pool_size(pool));
    j.njobs = count_chunks(mats, n, j.chunk);
    atomic_init(&j.next, 0);
    if (j.njobs == 0) return;
    geb_pool_run(pool, matvec_task, &j);
}

/* Pool task: jobs are (row chunk, token block) pairs, token block fastest
 * so that a thread taking consecutive jobs keeps the same rows hot. */
static void matmul_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    (void)ith, (void)nth;
    for (;;) {
        int c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= j->njobs) break;
        int mi, r0, r1;
        locate_chunk(j, c / j->ntb, &mi, &r0, &r1);
        int b0 = (c % j->ntb) * j->tb;
        int nb = j->B - b0 < j->tb ? j->B - b0 : j->tb;
        const geb_mat *m = &j->mats[mi];
        j->k->matmul(m->y + (size_t)b0 * m->rows + r0, m->rows, m->w,
                     j->x + (size_t)b0 * j->cols, nb, r0, r1, j->cols);
    }
}

/* Pool task for the transposed path: jobs are row chunks; the kernel runs
 * all tokens of the chunk against the shared transposed X. */
static void matmul_t_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    (void)ith, (void)nth;
    const geb_mat *m;
    int r0, r1;
    while ((m = take_chunk(j, &r0, &r1)))
        j->k->matmul_t(m->y + r0, m->rows, m->w, j->xt, j->ldx, j->B, r0, r1, j->cols);
}

/* Pool task: thread ith writes xt[k*ldx + b] = x[b*cols + k] for its share of
 * k, 16 columns at a time: each token's 16 values are one contiguous read and
 * land in 16 rows of xt that stay in L1; lanes B..ldx-1 get 0. */
static void transpose_task(void *ctx, int ith, int nth) {
    prod_job *j = ctx;
    int per = (j->cols + nth - 1) / nth;
    int k0 = ith * per, k1 = k0 + per < j->cols ? k0 + per : j->cols;
    size_t ldx = (size_t)j->ldx;
    for (int kb = k0; kb < k1; kb += 16) {
        int kn = k1 - kb < 16 ? k1 - kb : 16;
        float *dst = j->xt + (size_t)kb * ldx;
        for (int b = 0; b < j->B; b++) {
            const float *src = j->x + (size_t)b * j->cols + kb;
            for (int i = 0; i < kn; i++) dst[(size_t)i * ldx + b] = src[i];
        }
        for (int i = 0; i < kn; i++)
            for (int b = j->B; b < j->ldx; b++) dst[(size_t)i * ldx + b] = 0.0f;
    }
}

/* The transposed copy of X for the matmul_t path: grown on demand (only
 * prompt processing uses it; the per-token matvec path never allocates), kept
 * for the life of the process. */
static float *xt_buf;
static size_t xt_cap; /* floats */

/* Returns a buffer of at least n floats, or NULL if it cannot be had. */
static float *xt_reserve(size_t n) {
    if (n <= xt_cap) return xt_buf;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) return NULL;
    free(xt_buf);
    xt_buf = p;
    xt_cap = bytes / sizeof(float);
    return p;
}

/* Y_i[b,:] = W_i X[b,:] for all n matrices in one dispatch (two when X is
 * first transposed for a kernel with matmul_t). */
void geb_matmul(geb_pool *pool, const geb_mat *mats, int n, const float *x, int B, int cols) {
    if (n <= 0 || cols <= 0 || B <= 0) return;
    prod_job j = {.k = geb_kernels_current(), .mats = mats, .n = n, .x = x, .B = B,
                  .cols = cols};
    /* Tokens in lanes pay off once a vector of tokens is mostly full. */
    if (j.k->matmul_t && B >= 12) {
        j.ldx = (B + 15) / 16 * 16;
        j.xt = xt_reserve((size_t)j.ldx * (size_t)cols);
    }
    if (j.xt) {
        geb_pool_run(pool, transpose_task, &j);
        /* 48 rows per job: a multiple of every row tile, ~40 jobs per matrix. */
        j.chunk = 48;
        j.njobs = count_chunks(mats, n, j.chunk);
        atomic_init(&j.next, 0);
        if (j.njobs > 0) geb_pool_run(pool, matmul_t_task, &j);
        return;
    }
    /* Up to 120 tokens per job (a multiple of every tile width) keeps a job's
     * slice of X near the core; 16 rows per job reads each weight once. */
    j.tb = B <= 120 ? B : 120;
    j.ntb = (B + j.tb - 1) / j.tb;
    j.chunk = 16;
    int nchunks = count_chunks(mats, n, j.chunk);
    if (nchunks == 0) return;
    j.njobs = nchunks * j.ntb;
    atomic_init(&j.next, 0);
    geb_pool_run(pool, matmul_task, &j);
}

/* ---- bandwidth ----------------------------------------------------------- */

typedef struct bw_job {
    const geb_kernels *k;
    float *buf;
    size_t n;          /* floats */
    int mode;          /* 0: fill (first touch), 1: one stream, 2: four streams */
    const float *ones; /* [BW_COLS] for mode 2 */
    float sums[64];
} bw_job;

#define BW_COLS 4096   /* row length when the slice is read as a matrix */

/* Pool task: thread ith fills or reads its contiguous slice of the buffer. */
static void bw_task(void *ctx, int ith, int nth) {
    bw_job *j = ctx;
    size_t per = j->n / (size_t)nth / BW_COLS * BW_COLS;
    float *p = j->buf + per * (size_t)ith;
    float s = 0.0f;
    if (j->mode == 0) {
        for (size_t i = 0; i < per; i++) p[i] = 1.0f / 1024.0f;
    } else if (j->mode == 1) {
        /* One sequential stream: dot(p, p) reads each cache line once. */
        const size_t piece = 1u << 20;
        for (size_t i = 0; i < per; i += piece) {
            size_t len = per - i < piece ? per - i : piece;
            s += j->k->dot(p + i, p + i, (int)len);
        }
    } else {
        /* The slice as a [rows, BW_COLS] matrix times a vector held in L1:
         * several rows stream at once, which some CPUs need to reach their
         * peak read rate from a single core. */
        float y[64];
        size_t rows = per / BW_COLS;
        for (size_t r = 0; r < rows; r += 64) {
            int nr = rows - r < 64 ? (int)(rows - r) : 64;
            j->k->matvec(y, p + r * BW_COLS, j->ones, 0, nr, BW_COLS);
            s += y[0];
        }
    }
    if (ith < 64) j->sums[ith] = s;
}

/* Read bandwidth in GB/s of the pool's threads, each reading its own slice of
 * a `bytes` buffer: the best of 3 passes of a one-stream sum and 3 passes of
 * a several-streams sum.  0 if the buffer cannot be allocated. */
double geb_measure_bandwidth(geb_pool *pool, size_t bytes) {
    const size_t align = 2u << 20;
    size_t nth = (size_t)geb_pool_size(pool);
    size_t min = nth * BW_COLS * sizeof(float);
    if (bytes < min) bytes = min;
    bytes = (bytes + align - 1) / align * align;
    float *buf = aligned_alloc(align, bytes);
    float *ones = malloc(BW_COLS * sizeof *ones);
    if (!buf || !ones) {
        free(buf);
        free(ones);
        return 0.0;
    }
#ifdef MADV_HUGEPAGE
    madvise(buf, bytes, MADV_HUGEPAGE); /* fewer TLB misses */
#endif
    for (int i = 0; i < BW_COLS; i++) ones[i] = 1.0f;
    bw_job j = {.k = geb_kernels_current(), .buf = buf, .n = bytes / sizeof(float), .ones = ones};
    geb_pool_run(pool, bw_task, &j);
    double read = (double)(j.n / nth / BW_COLS * BW_COLS * nth) * sizeof(float);
    double best = 0.0;
    for (int pass = 0; pass < 6; pass++) {
        j.mode = 1 + pass % 2;
        double t0 = geb_now_ms();
        geb_pool_run(pool, bw_task, &j);
        double ms = geb_now_ms() - t0;
        double gbs = ms > 0 ? read / (ms * 1e6) : 0.0;
        if (gbs > best) best = gbs;
    }
    free(buf);
    free(ones);
    return best;
}
