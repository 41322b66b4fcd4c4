// Causal self-attention of a batch of windows on the GPU. q, k, v are first laid out as (window, head,
// t, hs) (the permute kernel, which also rounds to bf16 or splits for TF32 as the math needs), so each
// product is one strided batch over windows × heads: scores = q·kᵀ·scale (f32), the causal softmax,
// y = P·v; windows go in chunks that bound the (t, t) scores' memory; y returns to (rows, C).
// bf16 models run both products on bf16 operands (P rounded to bf16) with f32 sums; f32 models in the
// context's math, as the linear layers.
#include "cuda_api.h"
#include <math.h>

int gl_cuda_attention(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, char *err) {
    int C = m->c, NH = m->heads, hs = C / NH;
    int mode = m->bf16 ? 2 : c->math == GL_CUDA_MATH_SPLIT ? 1 : 0;
    int dt = m->bf16 ? CUDA_R_16BF : CUDA_R_32F;
    size_t es = m->bf16 ? 2 : 4;
    long long nwl = nw, per = (long long)nw * NH * t * hs;   // elements of each of q, k, v
    void *pa[] = {&c->s.qkvp, &c->s.qkvp_lo, &c->s.qkv, &nwl, &t, &NH, &hs, &mode};
    if (gl_cuda_launch(c->k_permute_qkv, "permute_qkv", per, GL_CUDA_THREADS, pa, err)) return 1;
    float scale = 1.0f / sqrtf((float)hs);
    long long tt = (long long)t * t, th = (long long)t * hs;
    for (int w0 = 0; w0 < nw; w0 += c->s.att_windows) {
        int cw = nw - w0 < c->s.att_windows ? nw - w0 : c->s.att_windows, batch = cw * NH;
        long long off = (long long)w0 * NH * th;
        gl_operand q = {c->s.qkvp + (CUdeviceptr)off * es, c->s.qkvp_lo + (CUdeviceptr)off * 4, hs, th};
        gl_operand k = {c->s.qkvp + (CUdeviceptr)(per + off) * es, c->s.qkvp_lo + (CUdeviceptr)(per + off) * 4, hs, th};
        gl_operand v = {c->s.qkvp + (CUdeviceptr)(2 * per + off) * es, c->s.qkvp_lo + (CUdeviceptr)(2 * per + off) * 4, hs, th};
        // scores (t, t) row-major per (window, head) = column-major scoresᵀ = kᵀ·q
        if (gl_cuda_gemm(c, dt, CUBLAS_OP_T, CUBLAS_OP_N, t, t, hs, scale, k, q, 0.0f, c->s.att, t, tt, batch,
                         "attention scores", err)) return 1;
        long long rows = (long long)batch * t;
        void *sa[] = {&c->s.att, &rows, &t, &mode, &c->s.att2, &c->s.att2};
        if (gl_cuda_launch(c->k_softmax_causal, "softmax_causal", rows * 32, GL_CUDA_THREADS, sa, err)) return 1;
        // y (t, hs) row-major per (window, head) = column-major yᵀ = vᵀ·Pᵀ; into proj, free until attproj
        gl_operand p = {m->bf16 ? c->s.att2 : c->s.att, c->s.att2, t, tt};
        if (gl_cuda_gemm(c, dt, CUBLAS_OP_N, CUBLAS_OP_N, hs, t, t, 1.0f, v, p, 0.0f, c->s.proj + (CUdeviceptr)off * 4,
                         hs, th, batch, "attention values", err)) return 1;
    }
    void *ua[] = {&c->s.atty, &c->s.proj, &nwl, &t, &NH, &hs};
    return gl_cuda_launch(c->k_unpermute, "unpermute", per, GL_CUDA_THREADS, ua, err);
}
