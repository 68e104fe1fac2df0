/* kernels.c - picks a kernel table at run time (CPUID + OS support) and
 * completes it with the row kernels of the other weight types. */
#include "kernels.h"

#include "qk.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* The named ISA table as compiled, if this CPU runs it, else NULL. */
static const geb_kernels *isa_table(const char *name) {
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

int geb_prefetch_rows = 1;

#if defined(__x86_64__)
/* 1 on AMD (and Hygon) CPUs.  Their hardware prefetchers kept the decode
 * streams fed better alone: Zen 4, 1 thread, tools/kbench.c mv from DRAM,
 * alternating builds: BF16 15-17 GB/s with rows 1 KB ahead against 20-25
 * without; F32 14-18 against 18-26; GEB-1.3B tg64 2 threads bf16 9.9-10.9
 * -> 12.8-17.5 tok/s, f32 5.8-6.3 -> 7.1-7.5. */
static int cpu_is_amd(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    char v[13];
    memcpy(v, &b, 4), memcpy(v + 4, &d, 4), memcpy(v + 8, &c, 4), v[12] = 0;
    return strcmp(v, "AuthenticAMD") == 0 || strcmp(v, "HygonGenuine") == 0;
}
#endif

/* GEB_PREFETCH as 0 or 1; -1 if unset or empty, -2 if anything else. */
static int prefetch_env(void) {
    const char *env = getenv("GEB_PREFETCH");
    if (!env || !*env) return -1;
    return strcmp(env, "0") == 0 ? 0 : strcmp(env, "1") == 0 ? 1 : -2;
}

static void choose_prefetch(void) {
    int env = prefetch_env();
    if (env >= 0) {
        geb_prefetch_rows = env;
        return;
    }
#if defined(__x86_64__)
    geb_prefetch_rows = !cpu_is_amd();
#endif
}

const char *geb_kernels_prefetch_name(void) {
    geb_kernels_get("scalar"); /* fills the tables, and so the choice */
    return geb_prefetch_rows ? "on" : "off";
}

static const char *const all_names[] = {"scalar", "avx2", "avx512", "neon", NULL};
#define N_TABLES 4

/* Completed copies of the ISA tables: the F32 entry of typed[] from the
 * table's own row kernel, the others from qk.c.  Filled once. */
static geb_kernels filled[N_TABLES];
static int filled_ok[N_TABLES];
static pthread_once_t fill_once = PTHREAD_ONCE_INIT;

static void fill_tables(void) {
    choose_prefetch();
    for (int i = 0; i < N_TABLES; i++) {
        const geb_kernels *k = isa_table(all_names[i]);
        if (!k) continue;
        filled[i] = *k;
        memset(filled[i].typed, 0, sizeof filled[i].typed);
        filled[i].typed[GEB_TYPE_F32] =
            (geb_type_kernels){GEB_TYPE_F32, GEB_TYPE_F32, k->matvec_f32, NULL, NULL, NULL, NULL, NULL};
        geb_qk_fill(k->name, filled[i].typed); /* F16/BF16/Q8_0/Q4_0 (qk.c) */
        filled_ok[i] = 1;
    }
}

const geb_kernels *geb_kernels_get(const char *name) {
    pthread_once(&fill_once, fill_tables);
    for (int i = 0; name && i < N_TABLES; i++)
        if (filled_ok[i] && strcmp(all_names[i], name) == 0) return &filled[i];
    return NULL;
}

const char *const *geb_kernels_names(void) { return all_names; }

int geb_kernels_isa_ok(const char *name) { return name && isa_table(name) != NULL; }

/* GEB_KERNEL if set (it must name a table this CPU runs), else the first
 * supported of the list; a GEB_PREFETCH other than 0 or 1 is refused. */
const geb_kernels *geb_kernels_best(geb_err *err) {
    if (prefetch_env() == -2) {
        geb_err_set(err, "GEB_PREFETCH=%s: must be 0 (leave it to the hardware) or 1", getenv("GEB_PREFETCH"));
        return NULL;
    }
    const char *env = getenv("GEB_KERNEL");
    if (env && *env) {
        const geb_kernels *k = geb_kernels_get(env);
        if (!k) {
            int known = 0;
            for (int i = 0; all_names[i]; i++) known |= strcmp(all_names[i], env) == 0;
            geb_err_set(err, "GEB_KERNEL=%s: %s", env,
                        known ? "this CPU or build does not support that kernel table"
                              : "unknown kernel table (scalar, avx2, avx512, neon)");
            return NULL;
        }
        return k;
    }
    static const char *const order[] = {"avx512", "avx2", "neon", "scalar"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const geb_kernels *k = geb_kernels_get(order[i]);
        if (k) return k;
    }
    return NULL; /* unreachable: scalar is always there */
}

