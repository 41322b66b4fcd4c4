// The backward pass's kernels (the gradient behind the Hessian on the GPU, backward.c) and Hutchinson's probe
// and per-block dot products on the device (hessian.c), appended to
// kernels.h's source. Each follows the CPU engine's backward (Sources/Engine/Kernels, ModelBackward.swift);
// column sums (bias, LayerNorm and position gradients) and the embedding's scatter go in a fixed order, so a
// gradient is the same bits on every run (finite-difference Hessian-vector products subtract two of them).
#ifndef GPT2LAB_CUDA_KERNELS_BACKWARD_H
#define GPT2LAB_CUDA_KERNELS_BACKWARD_H

#define GL_CUDA_BACKWARD_SOURCE \
"extern \"C\" __global__ void zero(float *p, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n) p[i] = 0.0f;\n" \
"}\n" \
"/* out = a*x + b*y: the perturbed weights theta +- eps*v, and (g+ - g-)/(2 eps). */\n" \
"extern \"C\" __global__ void axpby(float *out, float a, const float *x, float b, const float *y, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n) out[i] = a * x[i] + b * y[i];\n" \
"}\n" \
"/* A (rows, vb) logits chunk (vocabulary columns v0..v0+vb) into d(loss)/d(logits) in place, from the\n" \
"   rows' log-sum-exp (mx + log(sum)): (softmax - onehot(target)) * scale, as the CPU's crossEntropyBackward. */\n" \
"extern \"C\" __global__ void lse_backward(float *logits, long long rows, int vb, int v0, const int *targets,\n" \
"                                        const float *mx, const double *sum, float scale) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= rows * vb) return;\n" \
"    long long r = i / vb; int k = (int)(i % vb);\n" \
"    float lse = (float)((double)mx[r] + log(sum[r]));\n" \
"    float d = expf(logits[i] - lse) * scale;\n" \
"    if (targets[r] == v0 + k) d -= scale;\n" \
"    logits[i] = d;\n" \
"}\n" \
"/* One warp per row: dinp += (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd, dnorm = dout * w. */\n" \
"extern \"C\" __global__ void layernorm_backward(float *dinp, const float *dout, const float *inp, const float *w,\n" \
"                                              const float *mean, const float *rstd, long long n, int c) {\n" \
"    long long row = (long long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;\n" \
"    int lane = threadIdx.x % WARP;\n" \
"    if (row >= n) return;\n" \
"    const float *x = inp + row * c, *g = dout + row * c;\n" \
"    float m = mean[row], r = rstd[row], a = 0.0f, b = 0.0f;\n" \
"    for (int k = lane; k < c; k += WARP) { float dn = g[k] * w[k]; a += dn; b += dn * (x[k] - m) * r; }\n" \
"    a = warp_sum(a) / (float)c; b = warp_sum(b) / (float)c;\n" \
"    float *d = dinp + row * c;\n" \
"    for (int k = lane; k < c; k += WARP) { float nk = (x[k] - m) * r; d[k] += (g[k] * w[k] - a - nk * b) * r; }\n" \
"}\n" \
"/* Column sums in two deterministic stages: part (groups, c) holds each group of `per` rows' sums (rows in\n" \
"   order), colsum_add adds the groups in order into dst. layernorm_part: part_w (groups, c) the sums of\n" \
"   dout * norm, part_b (groups, c) those of dout. */\n" \
"extern \"C\" __global__ void colsum_part(float *part, const float *x, long long n, long long c, int per) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    long long groups = (n + per - 1) / per;\n" \
"    if (i >= groups * c) return;\n" \
"    long long g = i / c, k = i % c, r1 = (g + 1) * per < n ? (g + 1) * per : n;\n" \
"    float s = 0.0f;\n" \
"    for (long long r = g * per; r < r1; r++) s += x[r * c + k];\n" \
"    part[i] = s;\n" \
"}\n" \
"extern \"C\" __global__ void layernorm_part(float *part_w, float *part_b, const float *dout, const float *inp,\n" \
"                                          const float *mean, const float *rstd, long long n, int c, int per) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    long long groups = (n + per - 1) / per;\n" \
"    if (i >= groups * c) return;\n" \
"    long long g = i / c, r1 = (g + 1) * per < n ? (g + 1) * per : n;\n" \
"    int k = (int)(i % c);\n" \
"    float sw = 0.0f, sb = 0.0f;\n" \
"    for (long long r = g * per; r < r1; r++) {\n" \
"        float d = dout[r * c + k];\n" \
"        sw += d * (inp[r * c + k] - mean[r]) * rstd[r];\n" \
"        sb += d;\n" \
"    }\n" \
"    part_w[i] = sw; part_b[i] = sb;\n" \
"}\n" \
"extern \"C\" __global__ void colsum_add(float *dst, const float *part, int groups, long long c) {\n" \
"    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (k >= c) return;\n" \
"    float s = 0.0f;\n" \
"    for (int g = 0; g < groups; g++) s += part[g * c + k];\n" \
"    dst[k] += s;\n" \
"}\n" \
"/* dinp = dout * gelu'(inp) (dinp may be dout), with u = sqrt(2/pi)(x + 0.044715x^3):\n" \
"   gelu'(x) = (1 + tanh u)/2 + x(1 - tanh^2 u) sqrt(2/pi)(1 + 3 * 0.044715x^2)/2. */\n" \
"extern \"C\" __global__ void gelu_backward(float *dinp, const float *inp, const float *dout, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    float x = inp[i], s = 0.7978845608028654f;\n" \
"    float th = tanhf(s * (x + 0.044715f * x * x * x));\n" \
"    dinp[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * s * (1.0f + 3.0f * 0.044715f * x * x));\n" \
"}\n" \
"/* Rows of (rows, t): d(probabilities) in datt into d(scores) in place, P the probabilities:\n" \
"   dS = P * (dP - sum_k P dP) * scale over columns 0..i of row i (its position), zeros after. One warp a row. */\n" \
"extern \"C\" __global__ void softmax_causal_backward(float *datt, const float *att, long long rows, int t, float scale) {\n" \
"    long long row = (long long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;\n" \
"    int lane = threadIdx.x % WARP;\n" \
"    if (row >= rows) return;\n" \
"    float *d = datt + row * t;\n" \
"    const float *p = att + row * t;\n" \
"    int valid = (int)(row % t) + 1;\n" \
"    float s = 0.0f;\n" \
"    for (int k = lane; k < valid; k += WARP) s += p[k] * d[k];\n" \
"    s = warp_sum(s);\n" \
"    for (int k = lane; k < t; k += WARP) d[k] = k < valid ? p[k] * (d[k] - s) * scale : 0.0f;\n" \
"}\n" \
"/* Heads between (nw*t rows of ld floats, head h at columns h*hs) and (nw, nh, t, hs): dir 0 gathers\n" \
"   src rows into dst per (window, head), dir 1 scatters back. */\n" \
"extern \"C\" __global__ void permute_heads(float *dst, const float *src, long long nw, int t, int nh, int hs, int ld, int dir) {\n" \
"    long long n = nw * nh * t * hs;\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    int d = (int)(i % hs); long long r = i / hs; int p = (int)(r % t); r /= t; int h = (int)(r % nh); long long w = r / nh;\n" \
"    long long o = (w * t + p) * ld + (long long)h * hs + d;\n" \
"    if (dir == 0) dst[i] = src[o]; else dst[o] = src[i];\n" \
"}\n" \
"/* The embedding's gradient, deterministic: positions sorted by token id (order), one segment per distinct\n" \
"   id (seg_start, segments + 1 entries; seg_id); thread (segment, k) sums its rows in order into dwte. */\n" \
"extern \"C\" __global__ void wte_backward(float *dwte, const float *dres, const int *order, const int *seg_start,\n" \
"                                        const int *seg_id, int segments, int c) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= (long long)segments * c) return;\n" \
"    int s = (int)(i / c), k = (int)(i % c);\n" \
"    float acc = 0.0f;\n" \
"    for (int j = seg_start[s]; j < seg_start[s + 1]; j++) acc += dres[(long long)order[j] * c + k];\n" \
"    dwte[(long long)seg_id[s] * c + k] += acc;\n" \
"}\n" \
"/* Hutchinson's probe on the device, the same values as the CPU's rademacher(): element i of a block whose\n" \
"   first draw is draw0 takes bit i % 64 of SplitMix64's draw draw0 + i / 64 from state s (the draw-th output is\n" \
"   mix(s + (draw + 1) * golden)): bit 0 gives +1, bit 1 gives -1. */\n" \
"extern \"C\" __global__ void rademacher_fill(float *v, long long n, unsigned long long state, long long draw0) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    unsigned long long z = state + (unsigned long long)(draw0 + i / 64 + 1) * 0x9E3779B97F4A7C15ULL;\n" \
"    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;\n" \
"    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;\n" \
"    z = z ^ (z >> 31);\n" \
"    v[i] = ((z >> (i % 64)) & 1ULL) ? -1.0f : 1.0f;\n" \
"}\n" \
"/* part[g] = sum of x[i] * y[i] (in double) over tile g of 4096 elements, one block of 256 threads a tile, each\n" \
"   thread's 16 products summed in order, then the threads in a fixed tree: the same bits every run. */\n" \
"extern \"C\" __global__ void dot_part(double *part, const float *x, const float *y, long long n) {\n" \
"    __shared__ double sd[32];\n" \
"    long long base = (long long)blockIdx.x * 4096;\n" \
"    double s = 0.0;\n" \
"    for (int j = 0; j < 16; j++) {\n" \
"        long long i = base + (long long)j * 256 + threadIdx.x;\n" \
"        if (i < n) s += (double)x[i] * (double)y[i];\n" \
"    }\n" \
"    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);\n" \
"    if (threadIdx.x % WARP == 0) sd[threadIdx.x / WARP] = s;\n" \
"    __syncthreads();\n" \
"    if (threadIdx.x == 0) {\n" \
"        double t = 0.0;\n" \
"        for (int w = 0; w < (int)(blockDim.x / WARP); w++) t += sd[w];\n" \
"        part[blockIdx.x] = t;\n" \
"    }\n" \
"}\n"

#endif
