// The fused bf16 attention (Sources/CCUDA/kernels_attention.h's attention_bf16) as plain loops: per row, the key
// tiles of 64 up to its query block's diagonal, the online max and sum, P rounded to bf16 and summed rounded, the
// output divided by the sum at the end — the kernel's arithmetic with f32 sums in a plain order (the tensor cores'
// order of a sum is their own). gl_cuda_emulated_break_fused makes it drop the causal mask, so tests can see
// attention.c's check refuse a wrong kernel; gl_cuda_emulated_fault_fused makes it fault.
#include "CCUDAEmulator.h"
#include "cuda_api.h"
#include "emulated_bf16.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

static int broken, faulting;
void gl_cuda_emulated_break_fused(int on) { broken = on; }
void gl_cuda_emulated_fault_fused(int on) { faulting = on; }
/// Set by a faulting fused launch; the next cuCtxSynchronize (emulator.c) reports it, as a real device reports a
/// kernel's illegal address there.
int gl_cuda_emulated_pending_fault;


#define ARG(i, T) (*(T *)args[i])
#define PTR(i, T) ((T *)(uintptr_t)ARG(i, CUdeviceptr))

int gl_cuda_emulate_attention(const char *k, void **args) {
    if (strcmp(k, "attention_bf16")) return 1;
    if (faulting) { gl_cuda_emulated_pending_fault = 1; return 0; }
    float *out = PTR(0, float); const uint16_t *qkvp = PTR(1, uint16_t);
    long long nw = ARG(2, long long); int t = ARG(3, int), nh = ARG(4, int); float scale = ARG(5, float);
    long long n = nw * nh * (long long)t * 64, C = (long long)nh * 64;
    for (long long bh = 0; bh < nw * nh; bh++) {
        const uint16_t *q = qkvp + bh * t * 64, *kk = q + n, *v = q + 2 * n;
        long long w = bh / nh;
        int h = (int)(bh % nh);
        for (int r = 0; r < t; r++) {
            int kend = (r / 64) * 64 + 64 < t ? (r / 64) * 64 + 64 : t;
            float m = -INFINITY, l = 0.0f, o[64] = {0}, s[64];
            for (int k0 = 0; k0 < kend; k0 += 64) {
                float x = -INFINITY;
                for (int j = 0; j < 64; j++) {
                    int key = k0 + j;
                    float acc = 0.0f;
                    if (key < t) for (int d = 0; d < 64; d++) acc += widen(q[(long long)r * 64 + d]) * widen(kk[(long long)key * 64 + d]);
                    s[j] = key <= r || (broken && key < t) ? acc * scale : -INFINITY;
                    x = fmaxf(x, s[j]);
                }
                float nm = fmaxf(m, x), a = expf(m - nm), ps = 0.0f;
                for (int d = 0; d < 64; d++) o[d] *= a;
                for (int j = 0; j < 64; j++) {
                    float p = widen(round_bf16(expf(s[j] - nm)));
                    ps += p;
                    if (k0 + j < t && p != 0.0f) for (int d = 0; d < 64; d++) o[d] += p * widen(v[(long long)(k0 + j) * 64 + d]);
                }
                l = l * a + ps; m = nm;
            }
            for (int d = 0; d < 64; d++) out[(w * t + r) * C + h * 64 + d] = o[d] * (1.0f / l);
        }
    }
    return 0;
}
