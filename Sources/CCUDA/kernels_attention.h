// The fused attention kernel for bf16 models (attention.c chooses it per context after checking it against the
// products path on the device), as CUDA C source appended to kernels.h's. Tensor-core products through inline
// PTX (mma.sync m16n8k16, sm_80 and later; the fragment layouts are PTX ISA's "Matrix Fragments for
// mma.m16n8k16 with floating point type"), so no CUDA header is needed.
#ifndef GPT2LAB_CUDA_KERNELS_ATTENTION_H
#define GPT2LAB_CUDA_KERNELS_ATTENTION_H

#define GL_CUDA_ATTENTION_SOURCE \
"#define ATT_TILE 64\n" \
"#define ATT_LD 72\n" \
"__device__ __forceinline__ unsigned pack_bf16(unsigned short lo, unsigned short hi) { return (unsigned)lo | ((unsigned)hi << 16); }\n" \
"/* d += a·b on tensor cores (mma.m16n8k16, bf16 in, f32 sums): a 16×16 row-major fragment, b a 16×8 column one. */\n" \
"__device__ __forceinline__ void mma_bf16(float *d, const unsigned *a, unsigned b0, unsigned b1) {\n" \
"#if __CUDA_ARCH__ >= 800\n" \
"    asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\\n\"\n" \
"                 : \"+f\"(d[0]), \"+f\"(d[1]), \"+f\"(d[2]), \"+f\"(d[3])\n" \
"                 : \"r\"(a[0]), \"r\"(a[1]), \"r\"(a[2]), \"r\"(a[3]), \"r\"(b0), \"r\"(b1));\n" \
"#else\n" \
"    asm volatile(\"trap;\");   /* no bf16 mma before sm_80: attention.c never launches it there; fail loudly if it does */\n" \
"#endif\n" \
"}\n" \
"/* Causal attention of a bf16 model on tensor cores (sm_80+), flash style. q, k, v as permute_qkv's mode 2 leaves\n" \
"   them: bf16 rows of 64 per (window, head), k at n and v at 2n. A block of 4 warps takes 64 query rows of one\n" \
"   (window, head) and walks the key tiles of 64 up to its diagonal, each tile staged in shared memory. A warp keeps\n" \
"   its 16 rows' scores, running max m and sum l, and its output O in mma fragments: a lane holds rows g and g + 8\n" \
"   (g = lane / 4) and columns 2·(lane % 4) + {0, 1} of each 8-wide tile. Per tile: s = q·kᵀ·scale (keys after the\n" \
"   row masked), m' = max(m, max s), P = exp(s − m') rounded to bf16 (the scores' registers are P·v's left\n" \
"   operand as they stand), l = l·e^(m − m') + ΣP, O = O·e^(m − m') + P·v. Then y = O / l into out (rows, nh·64)\n" \
"   in f32, as unpermute leaves the products' result. */\n" \
"extern \"C\" __global__ void __launch_bounds__(128) attention_bf16(float *out, const unsigned short *qkvp, long long nw,\n" \
"                                                                 int t, int nh, float scale) {\n" \
"    __shared__ unsigned long long kbuf[ATT_TILE * ATT_LD / 4], vbuf[ATT_TILE * ATT_LD / 4];\n" \
"    unsigned short *ks = (unsigned short *)kbuf, *vs = (unsigned short *)vbuf;\n" \
"    const float NEG = __int_as_float(0xff800000);\n" \
"    int qblocks = (t + ATT_TILE - 1) / ATT_TILE;\n" \
"    long long bh = blockIdx.x / qblocks, n = nw * nh * (long long)t * 64;\n" \
"    int q0 = (int)(blockIdx.x % qblocks) * ATT_TILE;\n" \
"    int lane = threadIdx.x % WARP, g = lane >> 2, tig = lane & 3;\n" \
"    int r0 = q0 + (int)(threadIdx.x / WARP) * 16 + g, r1 = r0 + 8;\n" \
"    const unsigned short *q = qkvp + bh * t * 64, *k = q + n, *v = q + 2 * n;\n" \
"    unsigned qa[4][4];\n" \
"    for (int kk = 0; kk < 4; kk++) {\n" \
"        int c = kk * 16 + tig * 2;\n" \
"        qa[kk][0] = r0 < t ? *(const unsigned *)(q + (long long)r0 * 64 + c) : 0u;\n" \
"        qa[kk][1] = r1 < t ? *(const unsigned *)(q + (long long)r1 * 64 + c) : 0u;\n" \
"        qa[kk][2] = r0 < t ? *(const unsigned *)(q + (long long)r0 * 64 + c + 8) : 0u;\n" \
"        qa[kk][3] = r1 < t ? *(const unsigned *)(q + (long long)r1 * 64 + c + 8) : 0u;\n" \
"    }\n" \
"    float o[8][4], m0 = NEG, m1 = NEG, l0 = 0.0f, l1 = 0.0f;\n" \
"    for (int j = 0; j < 8; j++) for (int e = 0; e < 4; e++) o[j][e] = 0.0f;\n" \
"    int kend = q0 + ATT_TILE < t ? q0 + ATT_TILE : t;\n" \
"    for (int k0 = 0; k0 < kend; k0 += ATT_TILE) {\n" \
"        __syncthreads();\n" \
"        for (int i = threadIdx.x; i < ATT_TILE * 16; i += blockDim.x) {  /* 64 rows x 16 pieces of 4 bf16 */\n" \
"            int row = i >> 4, ch = (i & 15) * 4;\n" \
"            unsigned long long kv = 0ull, vv = 0ull;\n" \
"            if (k0 + row < t) {\n" \
"                kv = *(const unsigned long long *)(k + (long long)(k0 + row) * 64 + ch);\n" \
"                vv = *(const unsigned long long *)(v + (long long)(k0 + row) * 64 + ch);\n" \
"            }\n" \
"            *(unsigned long long *)(ks + row * ATT_LD + ch) = kv;\n" \
"            *(unsigned long long *)(vs + row * ATT_LD + ch) = vv;\n" \
"        }\n" \
"        __syncthreads();\n" \
"        float s[8][4], x0 = NEG, x1 = NEG;\n" \
"        for (int j = 0; j < 8; j++) {\n" \
"            s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;\n" \
"            const unsigned short *kr = ks + (j * 8 + g) * ATT_LD + tig * 2;\n" \
"            for (int kk = 0; kk < 4; kk++)\n" \
"                mma_bf16(s[j], qa[kk], *(const unsigned *)(kr + kk * 16), *(const unsigned *)(kr + kk * 16 + 8));\n" \
"            for (int e = 0; e < 4; e++) {\n" \
"                int key = k0 + j * 8 + tig * 2 + (e & 1), row = e < 2 ? r0 : r1;\n" \
"                float x = key <= row ? s[j][e] * scale : NEG;\n" \
"                s[j][e] = x;\n" \
"                if (e < 2) x0 = fmaxf(x0, x); else x1 = fmaxf(x1, x);\n" \
"            }\n" \
"        }\n" \
"        for (int d = 1; d < 4; d <<= 1) {\n" \
"            x0 = fmaxf(x0, __shfl_xor_sync(0xffffffffu, x0, d));\n" \
"            x1 = fmaxf(x1, __shfl_xor_sync(0xffffffffu, x1, d));\n" \
"        }\n" \
"        float n0 = fmaxf(m0, x0), n1 = fmaxf(m1, x1), a0 = expf(m0 - n0), a1 = expf(m1 - n1), p0 = 0.0f, p1 = 0.0f;\n" \
"        unsigned pa[4][4];\n" \
"        for (int j = 0; j < 8; j++) {\n" \
"            unsigned short h0 = round_bf16(expf(s[j][0] - n0)), h1 = round_bf16(expf(s[j][1] - n0));\n" \
"            unsigned short h2 = round_bf16(expf(s[j][2] - n1)), h3 = round_bf16(expf(s[j][3] - n1));\n" \
"            p0 += widen_bf16(h0) + widen_bf16(h1);\n" \
"            p1 += widen_bf16(h2) + widen_bf16(h3);\n" \
"            pa[j >> 1][(j & 1) * 2] = pack_bf16(h0, h1);\n" \
"            pa[j >> 1][(j & 1) * 2 + 1] = pack_bf16(h2, h3);\n" \
"        }\n" \
"        for (int d = 1; d < 4; d <<= 1) {\n" \
"            p0 += __shfl_xor_sync(0xffffffffu, p0, d);\n" \
"            p1 += __shfl_xor_sync(0xffffffffu, p1, d);\n" \
"        }\n" \
"        l0 = l0 * a0 + p0; l1 = l1 * a1 + p1; m0 = n0; m1 = n1;\n" \
"        for (int j = 0; j < 8; j++) {\n" \
"            o[j][0] *= a0; o[j][1] *= a0; o[j][2] *= a1; o[j][3] *= a1;\n" \
"            for (int kk = 0; kk < 4; kk++) {\n" \
"                const unsigned short *vr = vs + (kk * 16 + tig * 2) * ATT_LD + j * 8 + g;\n" \
"                mma_bf16(o[j], pa[kk], pack_bf16(vr[0], vr[ATT_LD]), pack_bf16(vr[8 * ATT_LD], vr[9 * ATT_LD]));\n" \
"            }\n" \
"        }\n" \
"    }\n" \
"    long long w = bh / nh, C = (long long)nh * 64;\n" \
"    int h = (int)(bh % nh);\n" \
"    float i0 = 1.0f / l0, i1 = 1.0f / l1;\n" \
"    for (int j = 0; j < 8; j++) {\n" \
"        long long d = h * 64 + j * 8 + tig * 2;\n" \
"        if (r0 < t) { float *p = out + (w * t + r0) * C + d; p[0] = o[j][0] * i0; p[1] = o[j][1] * i0; }\n" \
"        if (r1 < t) { float *p = out + (w * t + r1) * C + d; p[0] = o[j][2] * i1; p[1] = o[j][3] * i1; }\n" \
"    }\n" \
"}\n"

#endif
