/* qk.h - the row kernels of the non-FP32 weight types (F16, BF16, Q8_0,
 * Q4_0), one table per instruction set and variant, in the geb_type_kernels
 * form of kernels.h.  The FP32 entry of a table is the engine's own; these
 * functions never touch it.
 *
 *   geb_type_kernels tab[GEB_TYPE_COUNT];
 *   tab[GEB_TYPE_F32] = ...;                     // the engine's FP32 kernels
 *   if (geb_qk_fill(isa->name, tab) != 0) ...;   // "scalar", "avx2", "avx512", "neon"
 *
 * geb_qk_fill picks the best variant of that instruction set this CPU runs
 * (AVX-512 with VNNI and/or BF16 and AMX tiles, NEON with the dot-product extension);
 * geb_qk_fill_variant asks for one by name, so tests can run each. */
#ifndef GEB_QK_H
#define GEB_QK_H

#include "kernels.h"

/* Fills tab[t] for every t != GEB_TYPE_F32 with the best variant of `isa`
 * (a geb_kernels name) supported here.  0, or -1 (tab untouched) if the
 * instruction set is unknown, not compiled in or not supported by this CPU. */
int geb_qk_fill(const char *isa, geb_type_kernels tab[GEB_TYPE_COUNT]);

/* The same for one variant by name (see geb_qk_variants); -1 if unsupported. */
int geb_qk_fill_variant(const char *variant, geb_type_kernels tab[GEB_TYPE_COUNT]);

/* The variant geb_qk_fill chooses for `isa`, or NULL. */
const char *geb_qk_best(const char *isa);

/* Every variant name, supported here or not, NULL-terminated:
 * "scalar", "avx2", "avx512", "avx512+vnni", "avx512+bf16",
 * "avx512+vnni+bf16", "avx512+bf16+amx", "avx512+vnni+bf16+amx", "neon",
 * "neon+dotprod". */
const char *const *geb_qk_variants(void);

#endif
