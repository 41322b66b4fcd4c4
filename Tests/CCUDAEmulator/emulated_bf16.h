// bf16 for the emulator's kernels, as Sources/CCUDA/kernels.h's widen_bf16 and round_bf16: widening is exact,
// rounding is to nearest even with NaN kept quiet.
#ifndef GPT2LAB_EMULATED_BF16_H
#define GPT2LAB_EMULATED_BF16_H
#include <stdint.h>
#include <string.h>

static inline float widen(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t round_bf16(float f) {
    uint32_t u; memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
#endif
