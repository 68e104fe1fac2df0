/* qk.c - chooses the row kernels of the non-FP32 weight types (qk.h): a
 * variant is a base table of one instruction set plus overlays for CPU
 * extensions (AVX512_VNNI, AVX512_BF16, AMX tiles, the Armv8.2 dot product), each used
 * only when CPUID / HWCAP says the CPU runs it. */
#include "qk.h"

#include <string.h>

#include "qk_internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

/* Weak: a file compiled without its ISA flags defines nothing. */
extern const geb_qk_table geb_qk_scalar;
extern const geb_qk_table geb_qk_avx2 __attribute__((weak));
extern const geb_qk_table geb_qk_avx512 __attribute__((weak));
extern const geb_qk_table geb_qk_avx512_vnni __attribute__((weak));
extern const geb_qk_table geb_qk_avx512_bf16 __attribute__((weak));
extern const geb_qk_table geb_qk_avx512_amx __attribute__((weak));
extern const geb_qk_table geb_qk_neon __attribute__((weak));
extern const geb_qk_table geb_qk_neon_dot __attribute__((weak));

enum { EXT_VNNI = 1, EXT_BF16 = 2, EXT_DOTPROD = 4, EXT_AMX = 8 };

#if defined(__x86_64__)
#define ARCH_REQ_XCOMP_PERM 0x1023 /* arch_prctl: ask for an XSAVE feature */
#define XFEATURE_XTILEDATA 18      /* the AMX tile registers */

/* AMX tiles are usable when CPUID has AMX-TILE and AMX-BF16 and Linux
 * grants this process the tile state (off by default since 5.16: the
 * first tile instruction without it is a SIGILL).  The request is
 * idempotent, so it is made on every call; it is refused, and AMX left
 * alone, on kernels without it or where a signal stack is too small. */
static int amx_ok(unsigned edx) {
    if (!(edx >> 22 & 1) || !(edx >> 24 & 1)) return 0; /* AMX-BF16, AMX-TILE */
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x60000) != 0x60000) return 0; /* XTILECFG and XTILEDATA enabled by the OS */
    (void)hi;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}
#endif

/* CPU extensions beyond the base instruction sets that kernels.c checks. */
static unsigned cpu_extensions(void) {
    unsigned ext = 0;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (c >> 11 & 1) ext |= EXT_VNNI;                 /* AVX512_VNNI */
        if (amx_ok(d)) ext |= EXT_AMX;
        unsigned max_sub = a;
        if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1))
            ext |= EXT_BF16;                              /* AVX512_BF16 */
    }
#endif
#if defined(__aarch64__)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ext |= EXT_DOTPROD;
#endif
    return ext;
}

typedef struct variant {
    const char *name, *isa;   /* isa: the geb_kernels table it belongs to */
    unsigned needs;           /* EXT_* bits */
    const geb_qk_table *base;
    int nover;                /* overlays applied over base, in order */
    const geb_qk_table *over[3];
    /* Packed-row kernels of another table used where base and overlays
     * have none (the AVX2 Q4_0 groups on AVX-512: GEB-1.3B, 2 threads, on
     * a Zen 5 core tg64 53-57 tok/s packed against 37-48 for the AVX-512
     * VNNI rows, and pp512 136-157 against 134-138).  An overlay's own
     * packed kernels (the 512-bit VNNI matvec) come first. */
    const geb_qk_table *packed_from;
} variant;

/* Per instruction set from the plainest to the strongest variant (built on
 * each call: weak addresses are not constant expressions everywhere). */
#define NVARIANTS 10
static int variant_list(variant v[NVARIANTS]) {
    v[0] = (variant){"scalar", "scalar", 0, &geb_qk_scalar, 0, {NULL, NULL}, NULL};
    v[1] = (variant){"avx2", "avx2", 0, &geb_qk_avx2, 0, {NULL, NULL}, NULL};
    v[2] = (variant){"avx512", "avx512", 0, &geb_qk_avx512, 0, {NULL, NULL}, &geb_qk_avx2};
    v[3] = (variant){"avx512+vnni", "avx512", EXT_VNNI, &geb_qk_avx512, 1, {&geb_qk_avx512_vnni, NULL}, &geb_qk_avx2};
    v[4] = (variant){"avx512+bf16", "avx512", EXT_BF16, &geb_qk_avx512, 1, {&geb_qk_avx512_bf16, NULL}, &geb_qk_avx2};
    v[5] = (variant){"avx512+vnni+bf16", "avx512", EXT_VNNI | EXT_BF16, &geb_qk_avx512, 2,
                     {&geb_qk_avx512_vnni, &geb_qk_avx512_bf16}, &geb_qk_avx2};
    v[6] = (variant){"avx512+bf16+amx", "avx512", EXT_BF16 | EXT_AMX, &geb_qk_avx512, 2,
                     {&geb_qk_avx512_bf16, &geb_qk_avx512_amx}, &geb_qk_avx2};
    v[7] = (variant){"avx512+vnni+bf16+amx", "avx512", EXT_VNNI | EXT_BF16 | EXT_AMX, &geb_qk_avx512, 3,
                     {&geb_qk_avx512_vnni, &geb_qk_avx512_bf16, &geb_qk_avx512_amx}, &geb_qk_avx2};
    v[8] = (variant){"neon", "neon", 0, &geb_qk_neon, 0, {NULL, NULL}, NULL};
    v[9] = (variant){"neon+dotprod", "neon", EXT_DOTPROD, &geb_qk_neon, 1, {&geb_qk_neon_dot, NULL}, NULL};
    return NVARIANTS;
}

/* 1 if the variant is compiled in (base and every overlay it names) and
 * this CPU and OS run it. */
static int variant_ok(const variant *v) {
    if (!v->base) return 0;
    for (int i = 0; i < v->nover; i++)
        if (!v->over[i]) return 0;
    if (!geb_kernels_isa_ok(v->isa)) return 0;
    return (cpu_extensions() & v->needs) == v->needs;
}

static void fill(const variant *v, geb_type_kernels tab[GEB_TYPE_COUNT]) {
    for (int t = 0; t < GEB_TYPE_COUNT; t++) {
        if (t == GEB_TYPE_F32) continue;
        tab[t] = v->base->k[t];
        for (int i = 0; i < v->nover; i++) {
            const geb_type_kernels *o = &v->over[i]->k[t];
            if (o->matvec) tab[t].vec_x = o->vec_x, tab[t].matvec = o->matvec;
            if (o->matmul) tab[t].mat_x = o->mat_x, tab[t].matmul = o->matmul;
            if (o->gemm) tab[t].gemm = o->gemm;
            if (o->packed) tab[t].packed = o->packed;
        }
        /* Borrowed packed kernels take activations in the base's form. */
        const geb_type_kernels *pf = v->packed_from ? &v->packed_from->k[t] : NULL;
        if (!tab[t].packed && pf && pf->packed && pf->vec_x == tab[t].vec_x && pf->mat_x == tab[t].mat_x)
            tab[t].packed = pf->packed;
    }
}

const char *geb_qk_best(const char *isa) {
    variant v[NVARIANTS];
    int n = variant_list(v);
    const char *best = NULL;
    for (int i = 0; isa && i < n; i++)
        if (strcmp(v[i].isa, isa) == 0 && variant_ok(&v[i])) best = v[i].name;
    return best;
}

int geb_qk_fill_variant(const char *name, geb_type_kernels tab[GEB_TYPE_COUNT]) {
    variant v[NVARIANTS];
    int n = variant_list(v);
    for (int i = 0; name && i < n; i++)
        if (strcmp(v[i].name, name) == 0) {
            if (!variant_ok(&v[i])) return -1;
            fill(&v[i], tab);
            return 0;
        }
    return -1;
}

int geb_qk_fill(const char *isa, geb_type_kernels tab[GEB_TYPE_COUNT]) {
    const char *best = geb_qk_best(isa);
    return best ? geb_qk_fill_variant(best, tab) : -1;
}

const char *const *geb_qk_variants(void) {
    static const char *const names[] = {"scalar", "avx2", "avx512", "avx512+vnni", "avx512+bf16",
                                        "avx512+vnni+bf16", "avx512+bf16+amx", "avx512+vnni+bf16+amx",
                                        "neon", "neon+dotprod", NULL};
    return names;
}
