/* kbench.c - times geb_matvec and geb_matmul on GEB-1.3B-shaped weights and
 * compares them with geb_measure_bandwidth and with the FMA peak.
 *
 *   make    # builds the kernel objects in build/, each ISA file with its flags
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -pthread -mavx512f tools/kbench.c \
 *       build/pool.o build/kernels*.o build/common.o -lm -o kbench
 *   ./kbench [-t threads] [-l layers] [-b batch] [-k kernel] [-H] [-r reps]
 *
 * One "layer" is Wq [2048,2048] + Wkv [1024,2048] (fused, one dispatch),
 * Wdense [2048,2048], Wh4h [11264,2048], W4hh [2048,5632]: 45.1 M floats,
 * 180 MB.  The default 8 layers (1.44 GB) defeat every cache, so matvec
 * streams from DRAM as a real decode step does.  -H asks for transparent huge
 * pages on the weights (as geb_measure_bandwidth uses on its buffer).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels.h"
#include "pool.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>
#endif

#define H 2048
#define F 5632

typedef struct layer {
    float *wq, *wkv, *wd, *w1, *w2;
} layer;

/* Allocates n floats, 2 MB aligned, filled with small values, optionally
 * advised to use huge pages. */
static float *alloc_weights(size_t n, int huge) {
    size_t bytes = (n * sizeof(float) + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    float *p = aligned_alloc(2u << 20, bytes);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
#ifdef MADV_HUGEPAGE
    if (huge) madvise(p, bytes, MADV_HUGEPAGE);
    else madvise(p, bytes, MADV_NOHUGEPAGE);
#endif
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) * 1e-6f;
    return p;
}

/* Runs one decode-shaped pass: 4 dispatches per layer, like the model. */
static void decode_pass(geb_pool *pool, layer *L, int nl, float *x, float *x4, float *yq,
                        float *ykv, float *yd, float *y1, float *y2) {
    for (int l = 0; l < nl; l++) {
        geb_mat qkv[2] = {{L[l].wq, yq, H}, {L[l].wkv, ykv, 1024}};
        geb_matvec(pool, qkv, 2, x, H);
        geb_mat d = {L[l].wd, yd, H};
        geb_matvec(pool, &d, 1, x, H);
        geb_mat m1 = {L[l].w1, y1, 2 * F};
        geb_matvec(pool, &m1, 1, x, H);
        geb_mat m2 = {L[l].w2, y2, H};
        geb_matvec(pool, &m2, 1, x4, F);
    }
}

/* The same pass batched over B tokens. */
static void prompt_pass(geb_pool *pool, layer *L, int nl, int B, float *X, float *X4, float *Yq,
                        float *Ykv, float *Yd, float *Y1, float *Y2) {
    for (int l = 0; l < nl; l++) {
        geb_mat qkv[2] = {{L[l].wq, Yq, H}, {L[l].wkv, Ykv, 1024}};
        geb_matmul(pool, qkv, 2, X, B, H);
        geb_mat d = {L[l].wd, Yd, H};
        geb_matmul(pool, &d, 1, X, B, H);
        geb_mat m1 = {L[l].w1, Y1, 2 * F};
        geb_matmul(pool, &m1, 1, X, B, H);
        geb_mat m2 = {L[l].w2, Y2, H};
        geb_matmul(pool, &m2, 1, X4, B, F);
    }
}

#if defined(__x86_64__) && defined(__AVX512F__)
/* Pool task: 12 independent FMA chains on zmm registers for `iters` steps. */
static void fma_task(void *ctx, int ith, int nth) {
    (void)ith, (void)nth;
    long iters = *(long *)ctx;
    __m512 a[12], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
    float s = 0;
    for (int i = 0; i < 12; i++) s += _mm512_reduce_add_ps(a[i]);
    if (s == 12345.678f) puts("");
}

/* Measured FMA peak of the pool in GFLOP/s (2 flops x 16 lanes per FMA). */
static double fma_peak(geb_pool *pool) {
    long iters = 20 * 1000 * 1000;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = geb_now_ms();
        geb_pool_run(pool, fma_task, &iters);
        double ms = geb_now_ms() - t0;
        double g = (double)iters * 12 * 32 * geb_pool_size(pool) / (ms * 1e6);
        if (g > best) best = g;
    }
    return best;
}
#else
static double fma_peak(geb_pool *pool) {
    (void)pool;
    return 0;
}
#endif

int main(int argc, char **argv) {
    int nth = 2, nl = 8, B = 64, huge = 0, reps = 5;
    const char *kname = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "t:l:b:k:Hr:")) != -1) {
        if (opt == 't') nth = atoi(optarg);
        else if (opt == 'l') nl = atoi(optarg);
        else if (opt == 'b') B = atoi(optarg);
        else if (opt == 'k') kname = optarg;
        else if (opt == 'H') huge = 1;
        else if (opt == 'r') reps = atoi(optarg);
        else {
            fprintf(stderr, "usage: kbench [-t threads] [-l layers] [-b batch] [-k kernel] [-H] [-r reps]\n");
            return 2;
        }
    }
    if (kname) {
        const geb_kernels *k = geb_kernels_get(kname);
        if (!k) {
            fprintf(stderr, "kernel %s not supported\n", kname);
            return 2;
        }
        geb_kernels_use(k);
    }
    geb_pool *pool = geb_pool_create(nth, NULL);
    printf("kernel %s, %d threads, %d layers (%.2f GB), huge pages %s\n",
           geb_kernels_current()->name, nth, nl, nl * 45.09e6 * 4 / 1e9, huge ? "on" : "off");

    layer *L = calloc((size_t)nl, sizeof *L);
    for (int l = 0; l < nl; l++) {
        L[l].wq = alloc_weights((size_t)H * H, huge);
        L[l].wkv = alloc_weights((size_t)1024 * H, huge);
        L[l].wd = alloc_weights((size_t)H * H, huge);
        L[l].w1 = alloc_weights((size_t)2 * F * H, huge);
        L[l].w2 = alloc_weights((size_t)H * F, huge);
    }
    double params = (double)nl * ((double)H * H * 2 + 1024.0 * H + 2.0 * F * H + (double)H * F);
    int bmax = B > 1 ? B : 1;
    float *X = alloc_weights((size_t)bmax * F, 0), *X4 = alloc_weights((size_t)bmax * F, 0);
    float *Yq = malloc((size_t)bmax * H * 4), *Ykv = malloc((size_t)bmax * 1024 * 4);
    float *Yd = malloc((size_t)bmax * H * 4), *Y1 = malloc((size_t)bmax * 2 * F * 4);
    float *Y2 = malloc((size_t)bmax * H * 4);

    double bw = geb_measure_bandwidth(pool, (size_t)1 << 30);
    printf("geb_measure_bandwidth(1 GB): %.1f GB/s\n", bw);

    /* Decode: one warm-up pass, then the best and the median of reps. */
    decode_pass(pool, L, nl, X, X4, Yq, Ykv, Yd, Y1, Y2);
    double best = 1e30, sum = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = geb_now_ms();
        decode_pass(pool, L, nl, X, X4, Yq, Ykv, Yd, Y1, Y2);
        double ms = geb_now_ms() - t0;
        sum += ms;
        if (ms < best) best = ms;
    }
    double gbs = params * 4 / (best * 1e6), gbs_mean = params * 4 / (sum / reps * 1e6);
    printf("matvec: best %.1f ms = %.1f GB/s (%.0f%% of measured), mean %.1f GB/s, %.1f GFLOP/s;"
           " 1.3B decode at this rate: %.1f tok/s\n",
           best, gbs, 100 * gbs / bw, gbs_mean, 2 * params / (best * 1e6),
           gbs * 1e9 / (1.35e9 * 4));

    if (B > 1) {
        int nlm = nl < 2 ? nl : 2;  /* 2 layers are enough for a steady rate */
        double pm = params / nl * nlm;
        prompt_pass(pool, L, 1, B, X, X4, Yq, Ykv, Yd, Y1, Y2);
        double bestm = 1e30;
        for (int r = 0; r < (reps < 3 ? reps : 3); r++) {
            double t0 = geb_now_ms();
            prompt_pass(pool, L, nlm, B, X, X4, Yq, Ykv, Yd, Y1, Y2);
            double ms = geb_now_ms() - t0;
            if (ms < bestm) bestm = ms;
        }
        double gf = 2 * pm * B / (bestm * 1e6);
        double peak = fma_peak(pool);
        printf("matmul B=%d: %.1f GFLOP/s", B, gf);
        if (peak > 0) printf(" (%.0f%% of measured FMA peak %.0f GFLOP/s)", 100 * gf / peak, peak);
        printf("; 1.3B prompt at this rate: %.0f tok/s\n", gf * 1e9 / (2 * 1.35e9));
    }
    for (int l = 0; l < nl; l++) {
        free(L[l].wq), free(L[l].wkv), free(L[l].wd), free(L[l].w1), free(L[l].w2);
    }
    free(L), free(X), free(X4), free(Yq), free(Ykv), free(Yd), free(Y1), free(Y2);
    geb_pool_free(pool);
    return 0;
}
