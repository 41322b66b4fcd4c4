// The scoring forward's own kernels, as CUDA C source NVRTC compiles at run time for the device
// present (module.c). Each follows the CPU engine's arithmetic (Sources/Engine/Kernels, CKernels/vec.c):
// LayerNorm with float sums and eps 1e-5, GELU's tanh form written in the same order, the causal
// softmax as exp(x - max) times 1/sum, bf16 rounding to nearest even (NaN kept quiet). No headers:
// NVRTC provides the math functions and warp intrinsics built in.
#ifndef GPT2LAB_CUDA_KERNELS_H
#define GPT2LAB_CUDA_KERNELS_H

#define GL_CUDA_KERNEL_SOURCE \
"#define WARP 32\n" \
"__device__ __forceinline__ float warp_sum(float v) {\n" \
"    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);\n" \
"    return v;\n" \
"}\n" \
"__device__ __forceinline__ float warp_max(float v) {\n" \
"    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));\n" \
"    return v;\n" \
"}\n" \
"__device__ __forceinline__ float widen_bf16(unsigned short h) { return __uint_as_float(((unsigned)h) << 16); }\n" \
"__device__ __forceinline__ unsigned short round_bf16(float f) {\n" \
"    unsigned u = __float_as_uint(f);\n" \
"    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x0040u);\n" \
"    u += 0x7fffu + ((u >> 16) & 1u);\n" \
"    return (unsigned short)(u >> 16);\n" \
"}\n" \
"extern \"C\" __global__ void embed(float *out, const int *ids, const float *wte, const float *wpe,\n" \
"                                  long long n, int t, int c, int v) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n * c) return;\n" \
"    long long r = i / c; int k = (int)(i % c);\n" \
"    int id = ids[r];\n" \
"    float e = (id >= 0 && id < v) ? wte[(long long)id * c + k] : __int_as_float(0x7fc00000);\n" \
"    out[i] = e + wpe[(long long)(r % t) * c + k];\n" \
"}\n" \
"extern \"C\" __global__ void embed_bf16(float *out, const int *ids, const unsigned short *wte, const float *wpe,\n" \
"                                       long long n, int t, int c, int v) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n * c) return;\n" \
"    long long r = i / c; int k = (int)(i % c);\n" \
"    int id = ids[r];\n" \
"    float e = (id >= 0 && id < v) ? widen_bf16(wte[(long long)id * c + k]) : __int_as_float(0x7fc00000);\n" \
"    out[i] = e + wpe[(long long)(r % t) * c + k];\n" \
"}\n" \
"/* One warp per row: mean, variance of (x - mean), rstd = 1/sqrt(var + eps), each lane's share of the row. */\n" \
"__device__ __forceinline__ void ln_stats(const float *x, int c, int lane, float *m, float *r) {\n" \
"    float s = 0.0f;\n" \
"    for (int k = lane; k < c; k += WARP) s += x[k];\n" \
"    *m = warp_sum(s) / (float)c;\n" \
"    float v = 0.0f;\n" \
"    for (int k = lane; k < c; k += WARP) { float d = x[k] - *m; v += d * d; }\n" \
"    *r = 1.0f / sqrtf(warp_sum(v) / (float)c + 1e-5f);\n" \
"}\n" \
"extern \"C\" __global__ void bias_rows(float *out, const float *bias, long long n, int oc) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n * oc) out[i] = bias[i % oc];\n" \
"}\n" \
"/* out = a + b (out may be a). */\n" \
"extern \"C\" __global__ void residual(float *out, const float *a, const float *b, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n) out[i] = a[i] + b[i];\n" \
"}\n" \
"/* x += p + bias (rows of c; bias may be null): a projection's bias added with the residual, the same sums in\n" \
"   the same order as bias_rows, the product (beta 1) and residual. */\n" \
"extern \"C\" __global__ void residual_bias(float *x, const float *p, const float *bias, long long n, int c) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n) x[i] = x[i] + (bias ? p[i] + bias[i % c] : p[i]);\n" \
"}\n" \
"__device__ __forceinline__ float gelu_of(float x) {\n" \
"    float th = tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x));\n" \
"    return 0.5f * x * (1.0f + th);\n" \
"}\n" \
"/* out = gelu(inp) (out may be inp). */\n" \
"extern \"C\" __global__ void gelu(float *out, const float *inp, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n) out[i] = gelu_of(inp[i]);\n" \
"}\n" \
"/* The TF32 split: hi = x rounded to TF32's 10-bit mantissa (to nearest, ties away), lo = x - hi, exact by\n" \
"   Sterbenz's lemma; hi is a TF32 value, so the tensor cores take it as is. Non-finite x, and a rounding that\n" \
"   would overflow, keep hi = x (or x truncated) and lo = 0. */\n" \
"__device__ __forceinline__ float tf32_hi(float x) {\n" \
"    unsigned u = __float_as_uint(x);\n" \
"    if ((u & 0x7f800000u) == 0x7f800000u) return x;\n" \
"    unsigned r = (u + 0x1000u) & 0xffffe000u;\n" \
"    if ((r & 0x7f800000u) == 0x7f800000u) r = u & 0xffffe000u;\n" \
"    return __uint_as_float(r);\n" \
"}\n" \
"__device__ __forceinline__ float tf32_lo(float x, float hi) {\n" \
"    return ((__float_as_uint(x) & 0x7f800000u) == 0x7f800000u) ? 0.0f : x - hi;\n" \
"}\n" \
"/* Element (r, j) of a product's (rows, k) input written as the product takes it: mode 0 f32 as is, 1 the\n" \
"   split math's stacked row [hi | hi | lo] (rows of 3k, as split3's pattern 0), 2 rounded to bf16. */\n" \
"__device__ __forceinline__ void put_operand(void *dst, long long r, int k, int j, float v, int mode) {\n" \
"    if (mode == 2) { ((unsigned short *)dst)[r * k + j] = round_bf16(v); return; }\n" \
"    if (mode == 0) { ((float *)dst)[r * k + j] = v; return; }\n" \
"    float h = tf32_hi(v), *d = (float *)dst + r * 3 * k + j;\n" \
"    d[0] = h; d[k] = h; d[2 * k] = tf32_lo(v, h);\n" \
"}\n" \
"/* One warp a row: (x - m) * r * w + b written as put_operand's mode; mean and rstd (n each) keep the row's\n" \
"   statistics for the backward pass when not null. */\n" \
"__device__ __forceinline__ void ln_rows(void *out, const float *inp, const float *w, const float *b, long long n,\n" \
"                                        int c, int mode, float *mean, float *rstd) {\n" \
"    long long row = (long long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;\n" \
"    int lane = threadIdx.x % WARP;\n" \
"    if (row >= n) return;\n" \
"    const float *x = inp + row * c;\n" \
"    float m, r;\n" \
"    ln_stats(x, c, lane, &m, &r);\n" \
"    if (mean && lane == 0) { mean[row] = m; rstd[row] = r; }\n" \
"    for (int k = lane; k < c; k += WARP) put_operand(out, row, c, k, (x[k] - m) * r * w[k] + b[k], mode);\n" \
"}\n" \
"/* out = LayerNorm(inp) in f32, keeping mean and rstd when not null. */\n" \
"extern \"C\" __global__ void layernorm(float *out, const float *inp, const float *w, const float *b, long long n, int c,\n" \
"                                      float *mean, float *rstd) {\n" \
"    ln_rows(out, inp, w, b, n, c, 0, mean, rstd);\n" \
"}\n" \
"/* LayerNorm written straight into the next product's input (put_operand's mode). */\n" \
"extern \"C\" __global__ void layernorm_operand(void *out, const float *inp, const float *w, const float *b, long long n,\n" \
"                                              int c, int mode) {\n" \
"    ln_rows(out, inp, w, b, n, c, mode, 0, 0);\n" \
"}\n" \
"/* gelu(inp + bias) (rows of f; bias may be null) written straight into the next product's input (put_operand's\n" \
"   mode; out may be inp in mode 0). */\n" \
"extern \"C\" __global__ void gelu_operand(void *out, const float *inp, const float *bias, long long n, int f, int mode) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    float x = bias ? inp[i] + bias[i % f] : inp[i];\n" \
"    put_operand(out, i / f, f, (int)(i % f), gelu_of(x), mode);\n" \
"}\n" \
"/* The split math's operands: the three TF32 products stacked along k, so that one product sums them with\n" \
"   one write of its output. Row r of x (rows, k) becomes row r of dst (rows, 3k): [hi | hi | lo] (pattern 0:\n" \
"   a product's activations) or [hi | lo | hi] (pattern 1: its weights); their dot product is\n" \
"   hi.hi + hi.lo + lo.hi. */\n" \
"extern \"C\" __global__ void split3(float *dst, const float *x, long long rows, int k, int pattern) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= rows * k) return;\n" \
"    long long r = i / k; int j = (int)(i % k);\n" \
"    float v = x[i], h = tf32_hi(v), l = tf32_lo(v, h);\n" \
"    float *d = dst + r * 3 * k + j;\n" \
"    d[0] = h; d[k] = pattern ? l : h; d[2 * k] = pattern ? h : l;\n" \
"}\n" \
"/* qkv (nw*t, 3C) + bias (3C; null when qkv holds it) -> q, k, v per (window, head), one after the other in dst.\n" \
"   mode 0: f32, each (nw, nh, t, hs); 2: the same in bf16 (dst holds unsigned shorts); 1 (the split math): q as\n" \
"   (nw, nh, t, 3hs) rows [hi|hi|lo], k as (nw, nh, t, 3hs) rows [hi|lo|hi], v as (nw, nh, 3t, hs): rows hi, then lo,\n" \
"   then hi. */\n" \
"extern \"C\" __global__ void permute_qkv(void *dst, const float *qkv, long long nw, int t, int nh, int hs, int mode,\n" \
"                                        const float *bias) {\n" \
"    long long n = nw * nh * t * hs;\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    int d = (int)(i % hs); long long r = i / hs; int p = (int)(r % t); long long bh = r / t; int h = (int)(bh % nh);\n" \
"    long long w = bh / nh, c = (long long)nh * hs;\n" \
"    long long col = (long long)h * hs + d;\n" \
"    const float *src = qkv + (w * t + p) * 3 * c + col;\n" \
"    float in[3];\n" \
"    for (int j = 0; j < 3; j++) in[j] = bias ? src[j * c] + bias[j * c + col] : src[j * c];\n" \
"    if (mode == 1) {\n" \
"        float *q = (float *)dst, *k = q + 3 * n, *v = q + 6 * n;\n" \
"        float qv = in[0], kv = in[1], vv = in[2];\n" \
"        float qh = tf32_hi(qv), ql = tf32_lo(qv, qh), kh = tf32_hi(kv), kl = tf32_lo(kv, kh), vh = tf32_hi(vv), vl = tf32_lo(vv, vh);\n" \
"        long long row = (bh * t + p) * 3 * hs + d;\n" \
"        q[row] = qh; q[row + hs] = qh; q[row + 2 * hs] = ql;\n" \
"        k[row] = kh; k[row + hs] = kl; k[row + 2 * hs] = kh;\n" \
"        long long vr = (bh * 3 * t + p) * hs + d;\n" \
"        v[vr] = vh; v[vr + (long long)t * hs] = vl; v[vr + 2LL * t * hs] = vh;\n" \
"        return;\n" \
"    }\n" \
"    for (int j = 0; j < 3; j++) {\n" \
"        float v = in[j];\n" \
"        if (mode == 2) ((unsigned short *)dst)[j * n + i] = round_bf16(v);\n" \
"        else ((float *)dst)[j * n + i] = v;\n" \
"    }\n" \
"}\n" \
"/* y (nw, nh, t, hs) -> out (nw*t, C), heads side by side. */\n" \
"extern \"C\" __global__ void unpermute(float *out, const float *y, long long nw, int t, int nh, int hs) {\n" \
"    long long n = nw * nh * t * hs;\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    int d = (int)(i % hs); long long r = i / hs; int p = (int)(r % t); r /= t; int h = (int)(r % nh); long long w = r / nh;\n" \
"    out[(w * t + p) * nh * hs + (long long)h * hs + d] = y[i];\n" \
"}\n" \
"/* Rows of (rows, t) scores, row r at position r % t of its window: softmax over columns 0..i, zeros after.\n" \
"   mode 0: in place; 1 (the split math): into out as rows of 3t, [hi | hi | lo]; 2: bf16 into out. */\n" \
"extern \"C\" __global__ void softmax_causal(float *att, long long rows, int t, int mode, void *out) {\n" \
"    long long row = (long long)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;\n" \
"    int lane = threadIdx.x % WARP;\n" \
"    if (row >= rows) return;\n" \
"    float *p = att + row * t;\n" \
"    int valid = (int)(row % t) + 1;\n" \
"    float m = -__int_as_float(0x7f800000);\n" \
"    for (int k = lane; k < valid; k += WARP) m = fmaxf(m, p[k]);\n" \
"    m = warp_max(m);\n" \
"    float s = 0.0f;\n" \
"    for (int k = lane; k < valid; k += WARP) s += expf(p[k] - m);\n" \
"    float inv = 1.0f / warp_sum(s);\n" \
"    float *o3 = (float *)out + row * 3 * t;\n" \
"    unsigned short *o16 = (unsigned short *)out + row * t;\n" \
"    for (int k = lane; k < t; k += WARP) {\n" \
"        float e = k < valid ? expf(p[k] - m) * inv : 0.0f;\n" \
"        if (mode == 0) p[k] = e;\n" \
"        else if (mode == 2) o16[k] = round_bf16(e);\n" \
"        else { float h = tf32_hi(e); o3[k] = h; o3[t + k] = h; o3[2 * t + k] = e - h; }\n" \
"    }\n" \
"}\n" \
"extern \"C\" __global__ void to_bf16(unsigned short *out, const float *inp, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n) out[i] = round_bf16(inp[i]);\n" \
"}\n" \
"extern \"C\" __global__ void lse_init(float *mx, double *sum, float *picked, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i < n) { mx[i] = -__int_as_float(0x7f800000); sum[i] = 0.0; picked[i] = __int_as_float(0x7fc00000); }\n" \
"}\n" \
"/* One block per row of a (rows, vb) logits chunk (columns v0..v0+vb of the vocabulary): the chunk's max\n" \
"   and sum of exp(l - max) merged into the row's running pair; the target's logit picked when in the chunk. */\n" \
"extern \"C\" __global__ void lse_chunk(const float *logits, long long rows, int vb, int v0, const int *targets,\n" \
"                                      float *mx, double *sum, float *picked) {\n" \
"    __shared__ float red[32];\n" \
"    long long row = blockIdx.x;\n" \
"    if (row >= rows) return;\n" \
"    const float *l = logits + row * vb;\n" \
"    int lane = threadIdx.x % WARP, wid = threadIdx.x / WARP, nw = blockDim.x / WARP;\n" \
"    float m = -__int_as_float(0x7f800000);\n" \
"    for (int k = threadIdx.x; k < vb; k += blockDim.x) m = fmaxf(m, l[k]);\n" \
"    m = warp_max(m);\n" \
"    if (lane == 0) red[wid] = m;\n" \
"    __syncthreads();\n" \
"    if (wid == 0) { float x = lane < nw ? red[lane] : -__int_as_float(0x7f800000); x = warp_max(x); if (lane == 0) red[0] = x; }\n" \
"    __syncthreads();\n" \
"    float cm = red[0];\n" \
"    __syncthreads();\n" \
"    float s = 0.0f;\n" \
"    for (int k = threadIdx.x; k < vb; k += blockDim.x) s += expf(l[k] - cm);\n" \
"    s = warp_sum(s);\n" \
"    if (lane == 0) red[wid] = s;\n" \
"    __syncthreads();\n" \
"    if (threadIdx.x == 0) {\n" \
"        float cs = 0.0f;\n" \
"        for (int w = 0; w < nw; w++) cs += red[w];\n" \
"        float old = mx[row];\n" \
"        float nm = fmaxf(old, cm);\n" \
"        double acc = sum[row];\n" \
"        acc = (old == nm ? acc : acc * exp((double)old - (double)nm)) + (double)cs * exp((double)cm - (double)nm);\n" \
"        mx[row] = nm; sum[row] = acc;\n" \
"        int tg = targets[row] - v0;\n" \
"        if (tg >= 0 && tg < vb) picked[row] = l[tg];\n" \
"    }\n" \
"}\n" \
"extern \"C\" __global__ void nll_finish(float *nll, const float *mx, const double *sum, const float *picked,\n" \
"                                       const int *targets, long long n, int v) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    int tg = targets[i];\n" \
"    nll[i] = (tg >= 0 && tg < v) ? (float)((double)mx[i] + log(sum[i]) - (double)picked[i]) : __int_as_float(0x7fc00000);\n" \
"}\n" \
"/* compare's two heads at once: per row, the running max, its first index, sum of exp(l - max) (and for A,\n" \
"   sum of exp(a - max)*(a - b)) and the target's logit of each model, merged chunk by chunk as lse_chunk does\n" \
"   (KL(A||B) = Sab/Sa - lseA + lseB; Divergence.swift on the CPU). pair_init starts each row. */\n" \
"extern \"C\" __global__ void pair_init(float *ma, float *mb, double *sums, int *idx, float *picked, long long n) {\n" \
"    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n" \
"    if (i >= n) return;\n" \
"    ma[i] = -__int_as_float(0x7f800000); mb[i] = ma[i];\n" \
"    sums[3 * i] = 0.0; sums[3 * i + 1] = 0.0; sums[3 * i + 2] = 0.0;\n" \
"    idx[2 * i] = 0; idx[2 * i + 1] = 0;\n" \
"    picked[2 * i] = __int_as_float(0x7fc00000); picked[2 * i + 1] = picked[2 * i];\n" \
"}\n" \
"__device__ void block_argmax(float *v, int *k, float *sv, int *sk) {\n" \
"    int lane = threadIdx.x % WARP, wid = threadIdx.x / WARP, nw = blockDim.x / WARP;\n" \
"    for (int o = 16; o > 0; o >>= 1) {\n" \
"        float ov = __shfl_xor_sync(0xffffffffu, *v, o); int ok = __shfl_xor_sync(0xffffffffu, *k, o);\n" \
"        if (ov > *v || (ov == *v && ok < *k)) { *v = ov; *k = ok; }\n" \
"    }\n" \
"    if (lane == 0) { sv[wid] = *v; sk[wid] = *k; }\n" \
"    __syncthreads();\n" \
"    if (threadIdx.x == 0) {\n" \
"        for (int w = 1; w < nw; w++) if (sv[w] > sv[0] || (sv[w] == sv[0] && sk[w] < sk[0])) { sv[0] = sv[w]; sk[0] = sk[w]; }\n" \
"    }\n" \
"    __syncthreads();\n" \
"    *v = sv[0]; *k = sk[0];\n" \
"    __syncthreads();\n" \
"}\n" \
"__device__ double block_sum(double x, double *sd) {\n" \
"    int lane = threadIdx.x % WARP, wid = threadIdx.x / WARP, nw = blockDim.x / WARP;\n" \
"    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);\n" \
"    if (lane == 0) sd[wid] = x;\n" \
"    __syncthreads();\n" \
"    double s = 0.0;\n" \
"    for (int w = 0; w < nw; w++) s += sd[w];\n" \
"    __syncthreads();\n" \
"    return s;\n" \
"}\n" \
"/* One block per row of the (rows, vb) chunks la, lb (vocabulary columns v0..v0+vb). */\n" \
"extern \"C\" __global__ void pair_chunk(const float *la, const float *lb, long long rows, int vb, int v0, const int *targets,\n" \
"                                      float *ma, float *mb, double *sums, int *idx, float *picked) {\n" \
"    __shared__ float sv[32]; __shared__ int sk[32]; __shared__ double sd[32];\n" \
"    long long row = blockIdx.x;\n" \
"    if (row >= rows) return;\n" \
"    const float *a = la + row * vb, *b = lb + row * vb;\n" \
"    float va = -__int_as_float(0x7f800000), vbm = va; int ka = 0, kb = 0;\n" \
"    for (int k = threadIdx.x; k < vb; k += blockDim.x) {\n" \
"        if (a[k] > va) { va = a[k]; ka = k; }\n" \
"        if (b[k] > vbm) { vbm = b[k]; kb = k; }\n" \
"    }\n" \
"    block_argmax(&va, &ka, sv, sk);\n" \
"    block_argmax(&vbm, &kb, sv, sk);\n" \
"    float fa = 0.0f, fb = 0.0f, fab = 0.0f;\n" \
"    for (int k = threadIdx.x; k < vb; k += blockDim.x) {\n" \
"        float ea = expf(a[k] - va);\n" \
"        fa += ea; fb += expf(b[k] - vbm); fab += ea * (a[k] - b[k]);\n" \
"    }\n" \
"    double ca = block_sum((double)fa, sd), cb = block_sum((double)fb, sd), cab = block_sum((double)fab, sd);\n" \
"    if (threadIdx.x == 0) {\n" \
"        float oa = ma[row], ob = mb[row], na = fmaxf(oa, va), nb = fmaxf(ob, vbm);\n" \
"        double *s = sums + 3 * row;\n" \
"        double ra = oa == na ? 1.0 : exp((double)oa - (double)na), qa = exp((double)va - (double)na);\n" \
"        double rb = ob == nb ? 1.0 : exp((double)ob - (double)nb), qb = exp((double)vbm - (double)nb);\n" \
"        s[0] = s[0] * ra + ca * qa; s[2] = s[2] * ra + cab * qa; s[1] = s[1] * rb + cb * qb;\n" \
"        if (va > oa) idx[2 * row] = v0 + ka;\n" \
"        if (vbm > ob) idx[2 * row + 1] = v0 + kb;\n" \
"        ma[row] = na; mb[row] = nb;\n" \
"        int tg = targets[row] - v0;\n" \
"        if (tg >= 0 && tg < vb) { picked[2 * row] = a[tg]; picked[2 * row + 1] = b[tg]; }\n" \
"    }\n" \
"}\n"

#endif
