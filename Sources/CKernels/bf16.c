// bfloat16 conversions and the one product that reads bf16 weights directly (a matrix-vector
// product for short inputs: a generation step). bf16 is the top half of an IEEE f32, so a product
// of two bf16 values (8-bit significands) is exact in f32: an f32 FMA on bf16 operands computes
// what a bf16 dot-product instruction (VDPBF16PS, BFMMLA) computes, with f32 accumulation.
// Cloned per ISA level as vec.c is; the loops are plain integer and float code the compiler
// vectorises.
#include "CKernels.h"
#include <string.h>

#if defined(__x86_64__)
#define GL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GL_CLONES
#endif

static inline uint16_t round_bf16(float f) {
    uint32_t u; memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);  // NaN stays a (quiet) NaN
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even; overflow rounds to ±inf
    return (uint16_t)(u >> 16);
}
static inline float widen_bf16(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

GL_CLONES void gl_bf16_from_f32(uint16_t *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = round_bf16(inp[i]);
}

GL_CLONES void gl_f32_from_bf16(float *out, const uint16_t *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = widen_bf16(inp[i]);
}

GL_CLONES void gl_round_to_bf16(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = widen_bf16(round_bf16(inp[i]));
}

GL_CLONES void gl_add_bf16_f32(float *out, const uint16_t *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = widen_bf16(a[i]) + b[i];
}

// out[o] = bias[o] + Σ_k x[k]·w[o·c + k] for o in [o0, o1): x is already bf16-valued f32. 16 lanes
// of partial sums per output, summed pairwise in a fixed order (the same in every clone).
GL_CLONES void gl_gemv_bf16(float *out, const float *x, const uint16_t *w, const float *bias,
                            size_t c, size_t o0, size_t o1) {
    for (size_t o = o0; o < o1; o++) {
        const uint16_t *row = w + o * c;
        float acc[16] = {0};
        size_t k = 0;
        for (; k + 16 <= c; k += 16)
            for (int j = 0; j < 16; j++) acc[j] += x[k + j] * widen_bf16(row[k + j]);
        float tail = 0;
        for (; k < c; k++) tail += x[k] * widen_bf16(row[k]);
        for (int s = 8; s >= 1; s /= 2) for (int j = 0; j < s; j++) acc[j] += acc[j + s];
        out[o] = acc[0] + tail + (bias ? bias[o] : 0.0f);
    }
}
