// GPT-2's scoring forward on the GPU, step for step as the CPU engine (Sources/Engine/Model.swift,
// Block.swift): embeddings, per block x += attproj(attention(qkv(ln_1(x)))); x += fcproj(gelu(fc(ln_2(x)))),
// ln_f, then the LM head with an online logsumexp over vocabulary chunks, so (rows, V) logits never
// exist at once. Products through cuBLAS (row-major y = x·Wᵀ is the column-major yᵀ = W·xᵀ): f32 with
// f32 compute (TF32 only when asked), or, for a bf16 model, bf16 weights and bf16-rounded inputs with
// f32 sums and f32 output, as the CPU's bf16 path. Attention per window: q·kᵀ and att·v as strided
// batches over the heads, a causal softmax kernel between them.
#include "cuda_api.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { ROWS_CAP = 32768, VOCAB_BLOCK = 8192, HEAD_ROWS = 8192, THREADS = 256 };

#define CHECK(x) do { if (x) return 1; } while (0)

static CUdeviceptr *scratch_slot(gl_cuda_ctx *c, int i) {
    CUdeviceptr *slots[15] = {&c->s.x, &c->s.ln, &c->s.qkv, &c->s.atty, &c->s.proj, &c->s.fch, &c->s.half, &c->s.att,
                              &c->s.logits, &c->s.ids, &c->s.tgt, &c->s.lse_max, &c->s.lse_sum, &c->s.picked, &c->s.nll};
    return slots[i];
}

void gl_cuda_release_scratch(gl_cuda_ctx *c) {
    for (int i = 0; i < 15; i++) { gl_cuda_free(c, *scratch_slot(c, i), c->s.bytes[i]); *scratch_slot(c, i) = 0; c->s.bytes[i] = 0; }
    c->s.rows = 0;
}

/// Scratch for at least `rows` rows (whole windows of t tokens) of model m; reused while the shape holds
/// and it is large enough (a short last batch reuses the full batch's).
static int ensure_scratch(gl_cuda_ctx *c, const gl_cuda_model *m, int rows, int t, char *err) {
    if (c->s.rows >= rows && c->s.t == t && c->s.c == m->c && c->s.f == m->inner && c->s.nh == m->heads
        && c->s.v == m->softmax_rows && c->s.bf16 == m->bf16) return 0;
    gl_cuda_release_scratch(c);
    size_t n = (size_t)rows, C = (size_t)m->c, F = (size_t)m->inner, T = (size_t)t, hr = n < HEAD_ROWS ? n : HEAD_ROWS;
    size_t wide = C > F ? C : F;
    size_t sizes[15] = {n * C * 4, n * C * 4, n * 3 * C * 4, n * C * 4, n * C * 4, n * F * 4,
                        m->bf16 ? n * wide * 2 : 0, (size_t)m->heads * T * T * 4, hr * VOCAB_BLOCK * 4,
                        n * 4, n * 4, n * 4, n * 8, n * 4, n * 4};
    for (int i = 0; i < 15; i++) {
        if (gl_cuda_alloc(c, sizes[i], scratch_slot(c, i), err)) { gl_cuda_release_scratch(c); return 1; }
        c->s.bytes[i] = sizes[i];
    }
    c->s.rows = rows; c->s.t = t; c->s.c = m->c; c->s.f = m->inner; c->s.nh = m->heads; c->s.v = m->softmax_rows;
    c->s.bf16 = m->bf16;
    return 0;
}

static int launch(CUfunction f, const char *name, long long threads, int block, void **args, char *err) {
    long long grid = (threads + block - 1) / block;
    if (grid < 1) return 0;
    CUresult r = gl_cu.cuLaunchKernel(f, (unsigned)grid, 1, 1, (unsigned)block, 1, 1, 0, NULL, args, NULL);
    if (r) { char call[96]; snprintf(call, sizeof call, "cuLaunchKernel(%s)", name); return gl_cu_fail(err, call, r); }
    return 0;
}

static int compute_type(const gl_cuda_ctx *c) { return c->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F; }

/// out (n, oc) = inp (n, k) · weightᵀ (oc, k) + bias (oc); with bf16 the weight is bf16 and inp is
/// rounded to bf16 first (into the half scratch).
static int linear(gl_cuda_ctx *c, int bf16, CUdeviceptr out, CUdeviceptr inp, uint64_t weight, uint64_t bias,
                  long long n, int k, int oc, const char *what, char *err) {
    float one = 1.0f, zero = 0.0f;
    if (bias) {
        void *a[] = {&out, &bias, &n, &oc};
        CHECK(launch(c->k_bias_rows, "bias_rows", n * oc, THREADS, a, err));
    }
    cublasStatus_t s;
    if (bf16) {
        long long count = n * k;
        void *a[] = {&c->s.half, &inp, &count};
        CHECK(launch(c->k_to_bf16, "to_bf16", count, THREADS, a, err));
        s = gl_cu.cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, oc, (int)n, k, &one, (const void *)weight, CUDA_R_16BF, k,
                               (const void *)c->s.half, CUDA_R_16BF, k, bias ? &one : &zero, (void *)out, CUDA_R_32F, oc,
                               CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    } else {
        s = gl_cu.cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, oc, (int)n, k, &one, (const void *)weight, CUDA_R_32F, k,
                               (const void *)inp, CUDA_R_32F, k, bias ? &one : &zero, (void *)out, CUDA_R_32F, oc,
                               compute_type(c), CUBLAS_GEMM_DEFAULT);
    }
    if (s) { char call[96]; snprintf(call, sizeof call, "cublasGemmEx(%s, %lld x %d x %d)", what, n, oc, k); return gl_cublas_fail(err, call, s); }
    return 0;
}

static int layernorm(gl_cuda_ctx *c, CUdeviceptr out, CUdeviceptr inp, uint64_t w, uint64_t b, long long n, int C, char *err) {
    void *a[] = {&out, &inp, &w, &b, &n, &C};
    return launch(c->k_layernorm, "layernorm", n * 32, THREADS, a, err);  // one warp per row
}

/// Causal attention of `nw` windows of t tokens: atty (nw·t, C) from qkv (nw·t, 3C), heads side by side.
static int attention(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, char *err) {
    int C = m->c, NH = m->heads, hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs), one = 1.0f, zero = 0.0f;
    for (int w = 0; w < nw; w++) {
        CUdeviceptr q = c->s.qkv + (CUdeviceptr)w * t * C3 * 4, k = q + (CUdeviceptr)C * 4, v = q + (CUdeviceptr)2 * C * 4;
        CUdeviceptr y = c->s.atty + (CUdeviceptr)w * t * C * 4;
        // scores (t, t) per head, row-major: column-major scoresᵀ = K·Qᵀ (scale applied here, as the CPU does)
        BLAS_CHECK(gl_cu.cublasGemmStridedBatchedEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, t, t, hs, &scale,
                   (const void *)k, CUDA_R_32F, C3, hs, (const void *)q, CUDA_R_32F, C3, hs, &zero,
                   (void *)c->s.att, CUDA_R_32F, t, (long long)t * t, NH, compute_type(c), CUBLAS_GEMM_DEFAULT), err);
        long long rows = (long long)NH * t;
        void *a[] = {&c->s.att, &rows, &t};
        CHECK(launch(c->k_softmax_causal, "softmax_causal", rows * 32, THREADS, a, err));
        // y (t, hs) per head = P (t, t) · V (t, hs): column-major yᵀ = Vᵀ·Pᵀ
        BLAS_CHECK(gl_cu.cublasGemmStridedBatchedEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, hs, t, t, &one,
                   (const void *)v, CUDA_R_32F, C3, hs, (const void *)c->s.att, CUDA_R_32F, t, (long long)t * t, &zero,
                   (void *)y, CUDA_R_32F, C, hs, NH, compute_type(c), CUBLAS_GEMM_DEFAULT), err);
    }
    return 0;
}

/// Copies window 0's first `count` floats of `src` to `dst` (a GPT2LAB_CUDA_CHECK dump), when asked.
static int dump(float *dst, CUdeviceptr src, size_t count, const char *what, char *err) {
    if (!dst) return 0;
    CUresult r = gl_cu.cuMemcpyDtoH(dst, src, count * 4);
    if (r) { char call[96]; snprintf(call, sizeof call, "cuMemcpyDtoH(check: %s)", what); return gl_cu_fail(err, call, r); }
    return 0;
}

static int block(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_block *w, int nw, int t,
                 const gl_cuda_dump *d, int l, char *err) {
    long long n = (long long)nw * t;
    int C = m->c, F = m->inner;
    size_t tc = (size_t)t * C;
    const gl_cuda_dump *d0 = l == 0 ? d : NULL;
    CHECK(layernorm(c, c->s.ln, c->s.x, w->ln1w, w->ln1b, n, C, err));
    CHECK(d0 && dump(d0->ln1, c->s.ln, tc, "ln1", err));
    CHECK(linear(c, m->bf16, c->s.qkv, c->s.ln, w->qkvw, w->qkvb, n, C, 3 * C, "qkv", err));
    CHECK(d0 && dump(d0->qkv, c->s.qkv, 3 * tc, "qkv", err));
    CHECK(attention(c, m, nw, t, err));
    CHECK(d0 && dump(d0->atty, c->s.atty, tc, "attention", err));
    CHECK(linear(c, m->bf16, c->s.proj, c->s.atty, w->attprojw, w->attprojb, n, C, C, "attproj", err));
    long long nc = n * C;
    void *ra[] = {&c->s.x, &c->s.proj, &nc};
    CHECK(launch(c->k_residual, "residual", nc, THREADS, ra, err));
    CHECK(d0 && dump(d0->res2, c->s.x, tc, "residual2", err));
    CHECK(layernorm(c, c->s.ln, c->s.x, w->ln2w, w->ln2b, n, C, err));
    CHECK(d0 && dump(d0->ln2, c->s.ln, tc, "ln2", err));
    CHECK(linear(c, m->bf16, c->s.fch, c->s.ln, w->fcw, w->fcb, n, C, F, "fc", err));
    CHECK(d0 && dump(d0->fch, c->s.fch, (size_t)t * F, "fc", err));
    long long nf = n * F;
    void *ga[] = {&c->s.fch, &nf};
    CHECK(launch(c->k_gelu, "gelu", nf, THREADS, ga, err));
    CHECK(d0 && dump(d0->gelu, c->s.fch, (size_t)t * F, "gelu", err));
    CHECK(linear(c, m->bf16, c->s.proj, c->s.fch, w->fcprojw, w->fcprojb, n, F, C, "fcproj", err));
    CHECK(launch(c->k_residual, "residual", nc, THREADS, ra, err));
    CHECK(d && d->blocks && dump(d->blocks + (size_t)l * tc, c->s.x, tc, "block output", err));
    return 0;
}

/// nll (n) from the final LayerNorm's output in s.ln and the targets in s.tgt.
static int head_loss(gl_cuda_ctx *c, const gl_cuda_model *m, long long n, char *err) {
    int C = m->c, V = m->softmax_rows;
    size_t esz = m->bf16 ? 2 : 4;
    CUdeviceptr x = c->s.ln;
    if (m->bf16) {
        long long count = n * C;
        void *a[] = {&c->s.half, &c->s.ln, &count};
        CHECK(launch(c->k_to_bf16, "to_bf16", count, THREADS, a, err));
        x = c->s.half;
    }
    void *ia[] = {&c->s.lse_max, &c->s.lse_sum, &c->s.picked, &n};
    CHECK(launch(c->k_lse_init, "lse_init", n, THREADS, ia, err));
    float one = 1.0f, zero = 0.0f;
    int dt = m->bf16 ? CUDA_R_16BF : CUDA_R_32F, ct = m->bf16 ? CUBLAS_COMPUTE_32F : compute_type(c);
    for (long long r0 = 0; r0 < n; r0 += HEAD_ROWS) {
        int rc = (int)(n - r0 < HEAD_ROWS ? n - r0 : HEAD_ROWS);
        for (int v0 = 0; v0 < V; v0 += VOCAB_BLOCK) {
            int vb = V - v0 < VOCAB_BLOCK ? V - v0 : VOCAB_BLOCK;
            cublasStatus_t s = gl_cu.cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, vb, rc, C, &one,
                (const void *)(m->head + (CUdeviceptr)v0 * C * esz), dt, C, (const void *)(x + (CUdeviceptr)r0 * C * esz), dt, C,
                &zero, (void *)c->s.logits, CUDA_R_32F, vb, ct, CUBLAS_GEMM_DEFAULT);
            if (s) return gl_cublas_fail(err, "cublasGemmEx(LM head chunk)", s);
            CUdeviceptr tg = c->s.tgt + r0 * 4, mx = c->s.lse_max + r0 * 4, sm = c->s.lse_sum + r0 * 8, pk = c->s.picked + r0 * 4;
            long long rows = rc;
            void *a[] = {&c->s.logits, &rows, &vb, &v0, &tg, &mx, &sm, &pk};
            CUresult r = gl_cu.cuLaunchKernel(c->k_lse_chunk, (unsigned)rc, 1, 1, THREADS, 1, 1, 0, NULL, a, NULL);
            if (r) return gl_cu_fail(err, "cuLaunchKernel(lse_chunk)", r);
        }
    }
    void *fa[] = {&c->s.nll, &c->s.lse_max, &c->s.lse_sum, &c->s.picked, &c->s.tgt, &n, &V};
    return launch(c->k_nll_finish, "nll_finish", n, THREADS, fa, err);
}

/// nw windows of t tokens: ids and targets (nw·t) from the host, nll (nw·t) back to it.
static int forward_rows(gl_cuda_ctx *c, const gl_cuda_model *m, const int32_t *ids, const int32_t *tgt, int nw, int t,
                        float *nll, const gl_cuda_dump *d, char *err) {
    long long n = (long long)nw * t;
    int C = m->c, V = m->vocab_stored;
    CU_CHECK(gl_cu.cuMemcpyHtoD(c->s.ids, ids, (size_t)n * 4), err);
    CU_CHECK(gl_cu.cuMemcpyHtoD(c->s.tgt, tgt, (size_t)n * 4), err);
    void *ea[] = {&c->s.x, &c->s.ids, (void *)&m->wte, (void *)&m->wpe, &n, &t, &C, &V};
    if (m->bf16) CHECK(launch(c->k_embed_bf16, "embed_bf16", n * C, THREADS, ea, err));
    else CHECK(launch(c->k_embed, "embed", n * C, THREADS, ea, err));
    CHECK(d && dump(d->encoded, c->s.x, (size_t)t * C, "embeddings", err));
    for (int l = 0; l < m->layers; l++) CHECK(block(c, m, &m->blocks[l], nw, t, d, l, err));
    CHECK(layernorm(c, c->s.ln, c->s.x, m->lnfw, m->lnfb, n, C, err));
    CHECK(d && dump(d->lnf, c->s.ln, (size_t)t * C, "ln_f", err));
    CHECK(head_loss(c, m, n, err));
    CU_CHECK(gl_cu.cuMemcpyDtoH(nll, c->s.nll, (size_t)n * 4), err);
    return 0;
}

int gl_cuda_forward(gl_cuda_ctx *c, const gl_cuda_model *m, const int32_t *inputs, const int32_t *targets,
                    int b, int t, float *nll, const gl_cuda_dump *d, char *err) {
    if (b < 1 || t < 1 || t > m->context || m->heads < 1 || m->c % m->heads != 0 || m->softmax_rows < 1
        || m->softmax_rows > m->vocab_stored) {
        snprintf(err, GL_CUDA_ERR, "gl_cuda_forward: invalid shape (%d windows of %d tokens, context %d)", b, t, m->context);
        return 1;
    }
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    int per = ROWS_CAP / t < 1 ? 1 : ROWS_CAP / t;
    if (per > b) per = b;
    CHECK(ensure_scratch(c, m, per * t, t, err));
    for (int w0 = 0; w0 < b; w0 += per) {
        int nw = b - w0 < per ? b - w0 : per;
        size_t o = (size_t)w0 * t;
        CHECK(forward_rows(c, m, inputs + o, targets + o, nw, t, nll + o, w0 == 0 ? d : NULL, err));
    }
    CU_CHECK(gl_cu.cuCtxSynchronize(), err);
    return 0;
}
