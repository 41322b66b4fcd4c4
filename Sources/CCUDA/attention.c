// Causal self-attention of a batch of windows on the GPU. q, k, v are first laid out per (window, head)
// (the permute kernel, which also rounds to bf16, or stacks TF32 splits for the split math), so each
// product is one strided batch over windows × heads: scores = q·kᵀ·scale (f32 out), the causal softmax,
// y = P·v; windows go in chunks that bound the (t, t) scores' memory; y returns to (rows, C).
// bf16 models run both products on bf16 operands (P rounded to bf16) with f32 sums. f32 models run them
// in the context's math; with the split math q/k rows are [hi|hi|lo]/[hi|lo|hi] (3hs long), P's rows
// [hi|hi|lo] (3t long) and v's rows hi, lo, hi stacked (3t rows), so each product is one TF32 product.
#include "cuda_api.h"
#include <math.h>

int gl_cuda_attention(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, const gl_attention_bufs *b, char *err) {
    int C = m->c, NH = m->heads, hs = C / NH;
    int split = !m->bf16 && c->math == GL_CUDA_MATH_SPLIT, mode = m->bf16 ? 2 : split ? 1 : 0, x = split ? 3 : 1;
    int dt = m->bf16 ? CUDA_R_16BF : CUDA_R_32F;
    size_t es = m->bf16 ? 2 : 4;
    long long nwl = nw, per = (long long)nw * NH * t * hs * x;   // elements of each of q, k, v
    CUdeviceptr qkvp = b->qkvp, qkv = b->qkv;
    void *pa[] = {&qkvp, &qkv, &nwl, &t, &NH, &hs, &mode};
    if (gl_cuda_launch(c->k_permute_qkv, "permute_qkv", (long long)nw * NH * t * hs, GL_CUDA_THREADS, pa, err)) return 1;
    float scale = 1.0f / sqrtf((float)hs);
    long long tt = (long long)t * t, th = (long long)t * hs * x;   // per (window, head): scores, q/k/v elements
    for (int w0 = 0; w0 < nw; w0 += b->att_windows) {
        int cw = nw - w0 < b->att_windows ? nw - w0 : b->att_windows, batch = cw * NH;
        long long off = (long long)w0 * NH * th;
        gl_operand q = {qkvp + (CUdeviceptr)off * es, hs * x, th};
        gl_operand k = {qkvp + (CUdeviceptr)(per + off) * es, hs * x, th};
        gl_operand v = {qkvp + (CUdeviceptr)(2 * per + off) * es, hs, th};
        // scores (t, t) row-major per (window, head) = column-major scoresᵀ = kᵀ·q
        if (gl_cuda_gemm(c, dt, CUBLAS_OP_T, CUBLAS_OP_N, t, t, hs * x, scale, k, q, 0.0f, b->att, t, tt, batch,
                         "attention scores", err)) return 1;
        long long rows = (long long)batch * t;
        CUdeviceptr att = b->att, att2 = b->att2;
        void *sa[] = {&att, &rows, &t, &mode, &att2};
        if (gl_cuda_launch(c->k_softmax_causal, "softmax_causal", rows * 32, GL_CUDA_THREADS, sa, err)) return 1;
        // y (t, hs) row-major per (window, head) = column-major yᵀ = vᵀ·Pᵀ, into y
        gl_operand p = {mode == 0 ? b->att : b->att2, t * x, tt * x};
        long long yo = (long long)w0 * NH * t * hs;
        if (gl_cuda_gemm(c, dt, CUBLAS_OP_N, CUBLAS_OP_N, hs, t, t * x, 1.0f, v, p, 0.0f, b->y + (CUdeviceptr)yo * 4,
                         hs, (long long)t * hs, batch, "attention values", err)) return 1;
    }
    CUdeviceptr out = b->out, y = b->y;
    void *ua[] = {&out, &y, &nwl, &t, &NH, &hs};
    return gl_cuda_launch(c->k_unpermute, "unpermute", (long long)nw * NH * t * hs, GL_CUDA_THREADS, ua, err);
}

// The backward of the f32 attention above, per (window, head) as strided batches: with P the kept
// probabilities and dy the gradient of y = P·v, dP = dy·vᵀ, dv = Pᵀ·dy, dS = P∘(dP − rowsum(P∘dP))·scale
// (softmax_causal_backward), dq = dS·k, dk = dSᵀ·q; q, k, v are permuted again from the kept qkv.
int gl_cuda_attention_backward(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, const gl_attention_grads *g, char *err) {
    int C = m->c, NH = m->heads, hs = C / NH, mode = 0, ld = C, gather = 0, scatter = 1, ld3 = 3 * C;
    long long nwl = nw, per = (long long)nw * NH * t * hs, th = (long long)t * hs, tt = (long long)t * t;
    int batch = nw * NH;
    CUdeviceptr qkvp = g->qkvp, qkv = g->qkv, dy = g->dy, datty = g->datty, datt = g->datt, att = g->att;
    void *pa[] = {&qkvp, &qkv, &nwl, &t, &NH, &hs, &mode};
    if (gl_cuda_launch(c->k_permute_qkv, "permute_qkv", per, GL_CUDA_THREADS, pa, err)) return 1;
    void *ya[] = {&dy, &datty, &nwl, &t, &NH, &hs, &ld, &gather};
    if (gl_cuda_launch(c->k_permute_heads, "permute_heads", per, GL_CUDA_THREADS, ya, err)) return 1;
    gl_operand q = {qkvp, hs, th}, k = {qkvp + (CUdeviceptr)per * 4, hs, th}, v = {qkvp + (CUdeviceptr)(2 * per) * 4, hs, th};
    gl_operand dyo = {dy, hs, th}, p = {att, t, tt}, ds = {datt, t, tt};
    CUdeviceptr dq = g->dqkvp, dk = g->dqkvp + (CUdeviceptr)per * 4, dv = g->dqkvp + (CUdeviceptr)(2 * per) * 4;
    if (gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N, t, t, hs, 1.0f, v, dyo, 0.0f, datt, t, tt, batch,
                     "attention dP", err)) return 1;
    if (gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_T, hs, t, t, 1.0f, dyo, p, 0.0f, dv, hs, th, batch,
                     "attention dv", err)) return 1;
    long long rows = (long long)batch * t;
    float scale = 1.0f / sqrtf((float)hs);
    void *sa[] = {&datt, &att, &rows, &t, &scale};
    if (gl_cuda_launch(c->k_softmax_causal_backward, "softmax_causal_backward", rows * 32, GL_CUDA_THREADS, sa, err)) return 1;
    if (gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_N, hs, t, t, 1.0f, k, ds, 0.0f, dq, hs, th, batch,
                     "attention dq", err)) return 1;
    if (gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_T, hs, t, t, 1.0f, q, ds, 0.0f, dk, hs, th, batch,
                     "attention dk", err)) return 1;
    for (int j = 0; j < 3; j++) {
        CUdeviceptr dst = g->dqkv + (CUdeviceptr)j * C * 4, src = g->dqkvp + (CUdeviceptr)(j * per) * 4;
        void *sc[] = {&dst, &src, &nwl, &t, &NH, &hs, &ld3, &scatter};
        if (gl_cuda_launch(c->k_permute_heads, "permute_heads", per, GL_CUDA_THREADS, sc, err)) return 1;
    }
    return 0;
}
