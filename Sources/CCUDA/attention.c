// Causal self-attention of a batch of windows on the GPU. q, k, v are first laid out per (window, head)
// (the permute kernel, which also rounds to bf16, or stacks TF32 splits for the split math), so each
// product is one strided batch over windows × heads: scores = q·kᵀ·scale (f32 out), the causal softmax,
// y = P·v; windows go in chunks that bound the (t, t) scores' memory; y returns to (rows, C).
// bf16 models run both products on bf16 operands (P rounded to bf16) with f32 sums. f32 models run them
// in the context's math; with the split math q/k rows are [hi|hi|lo]/[hi|lo|hi] (3hs long), P's rows
// [hi|hi|lo] (3t long) and v's rows hi, lo, hi stacked (3t rows), so each product is one TF32 product.
// bf16 models with 64-wide heads run the fused kernel instead (kernels_attention.h) once gl_cuda_attention_choose
// has checked it against these products on the device.
#include "cuda_api.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gl_cuda_attention_fused(const gl_cuda_ctx *c, const gl_cuda_model *m) {
    return m->bf16 && m->heads > 0 && m->c == m->heads * 64 && c->att_choice == 1;
}

/// The attention of `nw` windows, fused when `fused` is set (gl_cuda_attention_fused, or the check's own choice: a
/// bf16 model with 64-wide heads), else as products.
static int attention_run(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, const gl_attention_bufs *b, int fused, char *err) {
    int C = m->c, NH = m->heads, hs = C / NH;
    int split = !m->bf16 && c->math == GL_CUDA_MATH_SPLIT, mode = m->bf16 ? 2 : split ? 1 : 0, x = split ? 3 : 1;
    int dt = m->bf16 ? CUDA_R_16BF : CUDA_R_32F;
    size_t es = m->bf16 ? 2 : 4;
    long long nwl = nw, per = (long long)nw * NH * t * hs * x;   // elements of each of q, k, v
    CUdeviceptr qkvp = b->qkvp, qkv = b->qkv, bias = b->qkv_bias;
    void *pa[] = {&qkvp, &qkv, &nwl, &t, &NH, &hs, &mode, &bias};
    if (gl_cuda_launch(c->k_permute_qkv, "permute_qkv", (long long)nw * NH * t * hs, GL_CUDA_THREADS, pa, err)) return 1;
    float scale = 1.0f / sqrtf((float)hs);
    if (fused) {  // one block of 4 warps per 64 query rows
        long long blocks = nwl * NH * ((t + 63) / 64);
        CUdeviceptr out = b->out;
        void *fa[] = {&out, &qkvp, &nwl, &t, &NH, &scale};
        return gl_cuda_launch(c->k_attention_bf16, "attention_bf16", blocks * 128, 128, fa, err);
    }
    if (b->att_windows < 1) {   // scratch sized for the fused kernel holds no scores
        snprintf(err, GL_CUDA_ERR, "attention: no score buffers for the products path (scratch sized for the fused kernel)");
        return 1;
    }
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

int gl_cuda_attention(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, const gl_attention_bufs *b, char *err) {
    return attention_run(c, m, nw, t, b, gl_cuda_attention_fused(c, m), err);
}

// The backward of the f32 attention above, per (window, head) as strided batches: with P the kept
// probabilities and dy the gradient of y = P·v, dP = dy·vᵀ, dv = Pᵀ·dy, dS = P∘(dP − rowsum(P∘dP))·scale
// (softmax_causal_backward), dq = dS·k, dk = dSᵀ·q; q, k, v are permuted again from the kept qkv.
int gl_cuda_attention_backward(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, const gl_attention_grads *g, char *err) {
    int C = m->c, NH = m->heads, hs = C / NH, mode = 0, ld = C, gather = 0, scatter = 1, ld3 = 3 * C;
    long long nwl = nw, per = (long long)nw * NH * t * hs, th = (long long)t * hs, tt = (long long)t * t;
    int batch = nw * NH;
    CUdeviceptr qkvp = g->qkvp, qkv = g->qkv, dy = g->dy, datty = g->datty, datt = g->datt, att = g->att, nobias = 0;
    void *pa[] = {&qkvp, &qkv, &nwl, &t, &NH, &hs, &mode, &nobias};
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

/// The check problem: 2 windows of 100 tokens (a full and a partial tile of queries and keys), 2 heads of 64, q, k, v drawn
/// uniformly in [−2, 2) so the softmax is peaked; the fused result must be within ATT_CHECK_TOL of the products'.
/// bf16 rounds the probabilities of either path differently (≤ 2⁻⁹ of each, ~4e-3 of |v| at worst); a wrong
/// fragment layout or mask is off by O(1).
enum { ATT_CHECK_NW = 2, ATT_CHECK_T = 100, ATT_CHECK_NH = 2 };
static const float ATT_CHECK_TOL = 2e-2f;

/// Runs both paths on the check problem; *diff: the largest |fused − products| (NaN if any is NaN). 1: a failure
/// of the products or the buffers, or a fault in the fused kernel, after which the context is unusable (err says
/// it); 2: the fused launch failed (err says how).
static int attention_check(gl_cuda_ctx *c, float *diff, char *err) {
    int nw = ATT_CHECK_NW, t = ATT_CHECK_T, C = ATT_CHECK_NH * 64;
    size_t nq = (size_t)nw * t * 3 * C, ny = (size_t)nw * t * C, natt = (size_t)ATT_CHECK_NH * t * t;  // scores: a window at a time
    float *host = malloc(nq * 4), *ref = malloc(ny * 4), *got = malloc(ny * 4);
    size_t sizes[7] = {nq * 4, nq * 2, natt * 4, natt * 2, ny * 4, ny * 4, ny * 4};
    CUdeviceptr p[7] = {0};
    int rc = 1;
    if (!host || !ref || !got) { snprintf(err, GL_CUDA_ERR, "out of host memory"); goto done; }
    unsigned long long z = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < nq; i++) {
        z = z * 6364136223846793005ULL + 1442695040888963407ULL;
        host[i] = (float)((z >> 40) & 0xffffff) / 16777216.0f * 4.0f - 2.0f;
    }
    for (int i = 0; i < 7; i++) if (gl_cuda_alloc(c, sizes[i], &p[i], err)) goto done;
    if (gl_cu.cuMemcpyHtoD(p[0], host, nq * 4)) { snprintf(err, GL_CUDA_ERR, "cuMemcpyHtoD(attention check)"); goto done; }
    gl_cuda_model m;
    memset(&m, 0, sizeof m);
    m.c = C; m.heads = ATT_CHECK_NH; m.bf16 = 1;
    gl_attention_bufs b = {p[0], p[1], p[2], p[3], p[4], p[5], 1};
    if (attention_run(c, &m, nw, t, &b, 0, err)) goto done;
    CUresult sync = gl_cu.cuCtxSynchronize();   // the products' own faults are theirs, not the kernel's
    if (sync) { gl_cu_fail(err, "cuCtxSynchronize (attention check, products)", sync); goto done; }
    b.out = p[6];
    if (attention_run(c, &m, nw, t, &b, 1, err)) { rc = 2; goto done; }
    sync = gl_cu.cuCtxSynchronize();
    if (sync) {   // a fault inside the kernel: such errors are sticky, the context (shared by this process) is lost
        char what[GL_CUDA_ERR];
        gl_cu_fail(what, "cuCtxSynchronize", sync);
        snprintf(err, GL_CUDA_ERR, "the fused bf16 attention kernel faulted on its check problem (%.200s), which leaves this "
                 "GPU unusable for this process; GPT2LAB_CUDA_ATTENTION=products keeps the kernel out — please report this", what);
        goto done;
    }
    if (gl_cu.cuMemcpyDtoH(ref, p[5], ny * 4) || gl_cu.cuMemcpyDtoH(got, p[6], ny * 4)) {
        snprintf(err, GL_CUDA_ERR, "cuMemcpyDtoH(attention check)");
        goto done;
    }
    *diff = 0.0f;
    for (size_t i = 0; i < ny; i++) {
        float d = fabsf(got[i] - ref[i]);
        if (d != d) { *diff = d; break; }
        if (d > *diff) *diff = d;
    }
    rc = 0;
done:
    for (int i = 0; i < 7; i++) gl_cuda_free(c, p[i], sizes[i]);
    free(host); free(ref); free(got);
    return rc;
}

int gl_cuda_attention_choose(gl_cuda_ctx *c, int heads, int width, char *err) {
    if (c->att_choice) return 0;
    const char *force = getenv("GPT2LAB_CUDA_ATTENTION");
    c->att_choice = 2;
    if (heads < 1 || width != heads * 64) {
        snprintf(c->att_why, sizeof c->att_why, "products (heads of %d, the fused kernel takes 64)", heads > 0 ? width / heads : width);
    } else if (c->cc_major < 8) {
        snprintf(c->att_why, sizeof c->att_why, "products (sm_%d%d has no bf16 tensor-core mma)", c->cc_major, c->cc_minor);
    } else if (force && !strcmp(force, "products")) {
        snprintf(c->att_why, sizeof c->att_why, "products (GPT2LAB_CUDA_ATTENTION=products)");
    } else {
        float diff = 0.0f;
        int rc = attention_check(c, &diff, err);
        if (rc == 1) { c->att_choice = 0; return 1; }
        if (rc == 2) {
            c->att_choice = 2;
            snprintf(c->att_why, sizeof c->att_why, "products (the fused kernel failed: %.150s)", err);
        } else if (diff <= ATT_CHECK_TOL) {
            c->att_choice = 1;
            snprintf(c->att_why, sizeof c->att_why, "fused (checked against the products: largest difference %.1e)", (double)diff);
        } else {
            c->att_choice = 2;
            snprintf(c->att_why, sizeof c->att_why, "products (the fused kernel differed by %.2g on its check)", (double)diff);
        }
    }
    return 0;
}

const char *gl_cuda_attention_path(const gl_cuda_ctx *c) { return c->att_why; }
