// Causal self-attention of a batch of windows on the GPU. q, k, v are first laid out per (window, head)
// (the permute kernel, which also rounds to bf16, or stacks TF32 splits for the split math), so each
// product is one strided batch over windows × heads: scores = q·kᵀ·scale (f32 out), the causal softmax,
// y = P·v; windows go in chunks that bound the (t, t) scores' memory; y returns to (rows, C).
// bf16 models run both products on bf16 operands (P rounded to bf16) with f32 sums. f32 models run them
// in the context's math; with the split math q/k rows are [hi|hi|lo]/[hi|lo|hi] (3hs long), P's rows
// [hi|hi|lo] (3t long) and v's rows hi, lo, hi stacked (3t rows), so each product is one TF32 product.
#include "cuda_api.h"
#include <math.h>

int gl_cuda_attention(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, char *err) {
    int C = m->c, NH = m->heads, hs = C / NH;
    int split = !m->bf16 && c->math == GL_CUDA_MATH_SPLIT, mode = m->bf16 ? 2 : split ? 1 : 0, x = split ? 3 : 1;
    int dt = m->bf16 ? CUDA_R_16BF : CUDA_R_32F;
    size_t es = m->bf16 ? 2 : 4;
    long long nwl = nw, per = (long long)nw * NH * t * hs * x;   // elements of each of q, k, v
    void *pa[] = {&c->s.qkvp, &c->s.qkv, &nwl, &t, &NH, &hs, &mode};
    if (gl_cuda_launch(c->k_permute_qkv, "permute_qkv", (long long)nw * NH * t * hs, GL_CUDA_THREADS, pa, err)) return 1;
    float scale = 1.0f / sqrtf((float)hs);
    long long tt = (long long)t * t, th = (long long)t * hs * x;   // per (window, head): scores, q/k/v elements
    for (int w0 = 0; w0 < nw; w0 += c->s.att_windows) {
        int cw = nw - w0 < c->s.att_windows ? nw - w0 : c->s.att_windows, batch = cw * NH;
        long long off = (long long)w0 * NH * th;
        gl_operand q = {c->s.qkvp + (CUdeviceptr)off * es, hs * x, th};
        gl_operand k = {c->s.qkvp + (CUdeviceptr)(per + off) * es, hs * x, th};
        gl_operand v = {c->s.qkvp + (CUdeviceptr)(2 * per + off) * es, hs, th};
        // scores (t, t) row-major per (window, head) = column-major scoresᵀ = kᵀ·q
        if (gl_cuda_gemm(c, dt, CUBLAS_OP_T, CUBLAS_OP_N, t, t, hs * x, scale, k, q, 0.0f, c->s.att, t, tt, batch,
                         "attention scores", err)) return 1;
        long long rows = (long long)batch * t;
        void *sa[] = {&c->s.att, &rows, &t, &mode, &c->s.att2};
        if (gl_cuda_launch(c->k_softmax_causal, "softmax_causal", rows * 32, GL_CUDA_THREADS, sa, err)) return 1;
        // y (t, hs) row-major per (window, head) = column-major yᵀ = vᵀ·Pᵀ; into proj, free until attproj
        gl_operand p = {mode == 0 ? c->s.att : c->s.att2, t * x, tt * x};
        long long yo = (long long)w0 * NH * t * hs;
        if (gl_cuda_gemm(c, dt, CUBLAS_OP_N, CUBLAS_OP_N, hs, t, t * x, 1.0f, v, p, 0.0f, c->s.proj + (CUdeviceptr)yo * 4,
                         hs, (long long)t * hs, batch, "attention values", err)) return 1;
    }
    void *ua[] = {&c->s.atty, &c->s.proj, &nwl, &t, &NH, &hs};
    return gl_cuda_launch(c->k_unpermute, "unpermute", (long long)nw * NH * t * hs, GL_CUDA_THREADS, ua, err);
}
