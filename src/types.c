/* types.c - PLACEHOLDER until the qkernels branch lands: F32/F16/BF16 only. */
#include "types.h"

#include <string.h>

float geb_f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
    if (e == 0) {
        if (m == 0) u = s;
        else {
            e = 113;
            while (!(m & 1024)) m <<= 1, e--;
            u = s | e << 23 | (m & 1023) << 13;
        }
    } else if (e == 31) u = s | 0x7f800000u | m << 13;
    else u = s | (e + 112) << 23 | m << 13;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
uint16_t geb_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 64);
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1)) >> 16);
}
uint16_t geb_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t s = (u >> 16) & 0x8000, e = (u >> 23) & 255, m = u & 0x7fffff;
    if (e == 255) return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));
    int ee = (int)e - 127 + 15;
    if (ee >= 31) return (uint16_t)(s | 0x7c00);
    if (ee <= 0) {
        if (ee < -10) return (uint16_t)s;
        m |= 0x800000;
        int sh = 14 - ee;
        uint32_t h = m >> sh, rem = m & ((1u << sh) - 1), half = 1u << (sh - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(s | h);
    }
    uint32_t h = (uint32_t)ee << 10 | m >> 13, rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(s | h);
}
static void f16_from(void *d, const float *s, int64_t n) {
    uint16_t *p = d;
    for (int64_t i = 0; i < n; i++) p[i] = geb_f32_to_f16(s[i]);
}
static void f32_to(float *d, const void *s, int64_t n) { memcpy(d, s, (size_t)n * 4); }
static void f32_from(void *d, const float *s, int64_t n) { memcpy(d, s, (size_t)n * 4); }
static void f16_to(float *d, const void *s, int64_t n) {
    const uint8_t *p = s;
    for (int64_t i = 0; i < n; i++) d[i] = geb_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
}
static void bf16_to(float *d, const void *s, int64_t n) {
    const uint8_t *p = s;
    for (int64_t i = 0; i < n; i++) d[i] = geb_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
}
static void bf16_from(void *d, const float *s, int64_t n) {
    uint16_t *p = d;
    for (int64_t i = 0; i < n; i++) p[i] = geb_f32_to_bf16(s[i]);
}
static const geb_type_traits traits[GEB_TYPE_COUNT] = {
    [GEB_TYPE_F32] = {"f32", 1, 4, f32_to, f32_from},
    [GEB_TYPE_F16] = {"f16", 1, 2, f16_to, f16_from},
    [GEB_TYPE_BF16] = {"bf16", 1, 2, bf16_to, bf16_from},
    [GEB_TYPE_Q8_0] = {"q8_0", 32, 34, NULL, NULL},
    [GEB_TYPE_Q4_0] = {"q4_0", 32, 18, NULL, NULL},
};
const geb_type_traits *geb_type_traits_of(geb_type t) { return &traits[t]; }
int geb_type_from_name(const char *name, geb_type *out) {
    for (int i = 0; i < GEB_TYPE_COUNT; i++)
        if (strcmp(traits[i].name, name) == 0) return *out = (geb_type)i, 0;
    return -1;
}
size_t geb_type_row_bytes(geb_type t, int64_t n) {
    return n % traits[t].block ? 0 : (size_t)(n / traits[t].block) * traits[t].block_bytes;
}
