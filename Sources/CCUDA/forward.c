// GPT-2's scoring forward on the GPU, step for step as the CPU engine (Sources/Engine/Model.swift,
// Block.swift): embeddings, per block x += attproj(attention(qkv(ln_1(x)))); x += fcproj(gelu(fc(ln_2(x)))),
// ln_f, then the LM head with an online logsumexp over vocabulary chunks, so (rows, V) logits never
// exist at once. Products through cuBLAS (row-major y = x·Wᵀ is the column-major yᵀ = W·xᵀ): f32 with
// f32 operands in the context's math (gemm.c: FP32, the TF32 split, or TF32 when asked), or, for a bf16
// model, bf16 weights and bf16-rounded inputs with f32 sums and f32 output, as the CPU's bf16 path.
// Attention: attention.c (strided batches over windows × heads, a causal softmax kernel between them, or the
// fused flash-style kernel). Each block (block()) fuses its elementwise passes around the products: LayerNorm
// and GELU write the next product's operand directly, the biases ride along with the qkv permute, GELU and the
// residual adds; block_staged keeps the separate passes for the stage dumps of GPT2LAB_CUDA_CHECK.
#include "cuda_api.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { ROWS_CAP = 32768, VOCAB_BLOCK = GL_VOCAB_BLOCK, HEAD_ROWS = GL_HEAD_ROWS, THREADS = GL_CUDA_THREADS };
/// The most bytes one attention chunk's (t, t) scores take (windows × heads of them).
static const size_t ATT_BYTES = (size_t)512 << 20;

#define CHECK(x) do { if (x) return 1; } while (0)
/// score --profile's stage boundary (nothing unless the context's profile is on).
#define MARK(cls, flops) CHECK(gl_cuda_mark(c, GL_PROF_##cls, (flops), err))

static CUdeviceptr *scratch_slot(gl_cuda_ctx *c, int i) {
    CUdeviceptr *slots[GL_CUDA_SCRATCH_SLOTS] = {
        &c->s.x, &c->s.ln, &c->s.qkv, &c->s.atty, &c->s.proj, &c->s.fch, &c->s.xa, &c->s.att, &c->s.att2,
        &c->s.qkvp, &c->s.logits, &c->s.ids, &c->s.tgt, &c->s.lse_max, &c->s.lse_sum, &c->s.picked, &c->s.nll};
    return slots[i];
}

void gl_cuda_release_scratch(gl_cuda_ctx *c) {
    for (int i = 0; i < GL_CUDA_SCRATCH_SLOTS; i++) {
        gl_cuda_free(c, *scratch_slot(c, i), c->s.bytes[i]);
        *scratch_slot(c, i) = 0; c->s.bytes[i] = 0;
    }
    c->s.rows = 0;
}

/// Bytes of each scratch slot for n rows of windows of t tokens (in scratch_slot's order): the residual
/// stream x, LayerNorm out, qkv, attention out, projections, fc; xa: a product's input rounded to bf16
/// or stacked for the split math (n × 3k); att/att2: one chunk's scores (att2: the probabilities in bf16,
/// or stacked for the split math); qkvp: q, k, v permuted (stacked for the split math); the LM head's
/// logits chunk; ids, targets, the online logsumexp, NLL.
static void scratch_sizes(const gl_cuda_model *m, int math, size_t n, size_t T, int att_windows, size_t *sizes) {
    size_t C = (size_t)m->c, F = (size_t)m->inner, hr = n < HEAD_ROWS ? n : HEAD_ROWS, wide = C > F ? C : F;
    int split = !m->bf16 && math == GL_CUDA_MATH_SPLIT;
    size_t att = (size_t)att_windows * m->heads * T * T;
    size_t s[GL_CUDA_SCRATCH_SLOTS] = {
        n * C * 4, n * C * 4, n * 3 * C * 4, n * C * 4, n * C * 4, n * F * 4,
        m->bf16 ? n * wide * 2 : split ? n * wide * 3 * 4 : 0,
        att * 4, m->bf16 ? att * 2 : split ? att * 3 * 4 : 0,
        n * 3 * C * (m->bf16 ? 2 : split ? 3 * 4 : 4),
        hr * VOCAB_BLOCK * 4, n * 4, n * 4, n * 4, n * 8, n * 4, n * 4};
    for (int i = 0; i < GL_CUDA_SCRATCH_SLOTS; i++) sizes[i] = s[i];
}

/// Scratch for at least `rows` rows (whole windows of t tokens) of model m; reused while the shape holds
/// and it is large enough (a short last batch reuses the full batch's).
static int ensure_scratch(gl_cuda_ctx *c, const gl_cuda_model *m, int rows, int t, char *err) {
    int fused = gl_cuda_attention_fused(c, m);
    if (c->s.rows >= rows && c->s.t == t && c->s.c == m->c && c->s.f == m->inner && c->s.nh == m->heads
        && c->s.v == m->softmax_rows && c->s.bf16 == m->bf16 && c->s.math == c->math && c->s.fused == fused) return 0;
    gl_cuda_release_scratch(c);
    // one window's scores and, for bf16 or the split math, its probabilities beside them (none when fused)
    size_t one = (size_t)m->heads * t * t * (m->bf16 ? 6 : c->math == GL_CUDA_MATH_SPLIT ? 16 : 4);
    int windows = rows / t, aw = (int)(ATT_BYTES / (one ? one : 1));
    if (aw < 1) aw = 1;
    if (aw > windows) aw = windows;
    if (fused) aw = 0;
    size_t sizes[GL_CUDA_SCRATCH_SLOTS];
    scratch_sizes(m, c->math, (size_t)rows, (size_t)t, aw, sizes);
    for (int i = 0; i < GL_CUDA_SCRATCH_SLOTS; i++) {
        if (gl_cuda_alloc(c, sizes[i], scratch_slot(c, i), err)) { gl_cuda_release_scratch(c); return 1; }
        c->s.bytes[i] = sizes[i];
    }
    c->s.rows = rows; c->s.t = t; c->s.c = m->c; c->s.f = m->inner; c->s.nh = m->heads; c->s.v = m->softmax_rows;
    c->s.bf16 = m->bf16; c->s.math = c->math; c->s.att_windows = aw; c->s.fused = fused;
    return 0;
}

static int launch(CUfunction f, const char *name, long long threads, int block, void **args, char *err) {
    return gl_cuda_launch(f, name, threads, block, args, err);
}

/// inp (n, k) as a product's right operand: rounded to bf16 into xa, stacked for the split math into xa
/// (n, 3k), or as is. *kk: the product's k (3k when stacked).
static int prepare_input(gl_cuda_ctx *c, int bf16, CUdeviceptr inp, long long n, int k, gl_operand *x, int *kk, char *err) {
    *x = (gl_operand){inp, k, 0};
    *kk = k;
    long long count = n * k;
    if (bf16) {
        void *a[] = {&c->s.xa, &inp, &count};
        CHECK(launch(c->k_to_bf16, "to_bf16", count, THREADS, a, err));
        x->p = c->s.xa;
    } else if (c->math == GL_CUDA_MATH_SPLIT) {
        int pattern = 0;
        void *a[] = {&c->s.xa, &inp, &n, &k, &pattern};
        CHECK(launch(c->k_split3, "split3", count, THREADS, a, err));
        *x = (gl_operand){c->s.xa, 3 * k, 0};
        *kk = 3 * k;
    }
    return 0;
}

/// How this context's products take their input (kernels.h's put_operand): 0 f32 as is, 1 the split math's
/// stacked rows (3k long), 2 bf16.
static int operand_mode(const gl_cuda_ctx *c, int bf16) { return bf16 ? 2 : c->math == GL_CUDA_MATH_SPLIT ? 1 : 0; }

/// out (n, oc) = x · weightᵀ (oc, k) + beta·out, x (n, k) already in the product's operand form (operand_mode);
/// score --profile charges it (and its operand's preparation since the last mark) to the products.
static int product(gl_cuda_ctx *c, int bf16, CUdeviceptr out, CUdeviceptr x, uint64_t weight, long long n, int k, int oc,
                   float beta, const char *what, char *err) {
    int kk = operand_mode(c, bf16) == 1 ? 3 * k : k;
    gl_operand xo = {x, kk, 0}, w = {(CUdeviceptr)weight, kk, 0};
    CHECK(gl_cuda_gemm(c, bf16 ? CUDA_R_16BF : CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N, oc, (int)n, kk, 1.0f, w, xo, beta, out,
                       oc, 0, 1, what, err));
    return gl_cuda_mark(c, GL_PROF_MATMUL, 2.0 * n * k * oc, err);
}

/// out (n, oc) = inp (n, k) · weightᵀ (oc, k) + bias (oc); the weight is bf16 for a bf16 model, else f32
/// (with the split math stacked, oc × 3k).
int gl_cuda_linear(gl_cuda_ctx *c, int bf16, CUdeviceptr out, CUdeviceptr inp, uint64_t weight,
                   uint64_t bias, long long n, int k, int oc, const char *what, char *err) {
    if (bias) {
        void *a[] = {&out, &bias, &n, &oc};
        CHECK(launch(c->k_bias_rows, "bias_rows", n * oc, THREADS, a, err));
    }
    gl_operand x;
    int kk;
    CHECK(prepare_input(c, bf16, inp, n, k, &x, &kk, err));
    return product(c, bf16, out, x.p, weight, n, k, oc, bias ? 1.0f : 0.0f, what, err);
}

int gl_cuda_layernorm(gl_cuda_ctx *c, CUdeviceptr out, CUdeviceptr inp, uint64_t w, uint64_t b, long long n, int C,
                      CUdeviceptr mean, CUdeviceptr rstd, char *err) {
    void *a[] = {&out, &inp, &w, &b, &n, &C, &mean, &rstd};
    return launch(c->k_layernorm, "layernorm", n * 32, THREADS, a, err);  // one warp per row
}

/// Copies window 0's first `count` floats of `src` to `dst` (a GPT2LAB_CUDA_CHECK dump), when asked.
static int dump(float *dst, CUdeviceptr src, size_t count, const char *what, char *err) {
    if (!dst) return 0;
    CUresult r = gl_cu.cuMemcpyDtoH(dst, src, count * 4);
    if (r) { char call[96]; snprintf(call, sizeof call, "cuMemcpyDtoH(check: %s)", what); return gl_cu_fail(err, call, r); }
    return 0;
}

/// The products inside causal attention (QKᵀ and P·V over the lower triangle), as the CPU's profile counts them.
static double attention_flops(int nw, int t, int C) { return 2.0 * 2.0 * nw * (double)t * (t + 1) / 2.0 * C; }

/// One block as separate passes (LayerNorm, product with its bias, attention, residual, GELU), so that the check's
/// dumps (GPT2LAB_CUDA_CHECK) can read each stage of block 0 in f32.
static int block_staged(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_block *w, int nw, int t,
                        const gl_cuda_dump *d0, char *err) {
    long long n = (long long)nw * t;
    int C = m->c, F = m->inner;
    size_t tc = (size_t)t * C;
    CHECK(gl_cuda_layernorm(c, c->s.ln, c->s.x, w->ln1w, w->ln1b, n, C, 0, 0, err));
    MARK(LAYERNORM, 0);
    CHECK(d0 && dump(d0->ln1, c->s.ln, tc, "ln1", err));
    CHECK(gl_cuda_linear(c, m->bf16, c->s.qkv, c->s.ln, w->qkvw, w->qkvb, n, C, 3 * C, "qkv", err));
    CHECK(d0 && dump(d0->qkv, c->s.qkv, 3 * tc, "qkv", err));
    gl_attention_bufs ab = {c->s.qkv, c->s.qkvp, c->s.att, c->s.att2, c->s.proj, c->s.atty, c->s.att_windows};
    CHECK(gl_cuda_attention(c, m, nw, t, &ab, err));
    MARK(ATTENTION, attention_flops(nw, t, C));
    CHECK(d0 && dump(d0->atty, c->s.atty, tc, "attention", err));
    CHECK(gl_cuda_linear(c, m->bf16, c->s.proj, c->s.atty, w->attprojw, w->attprojb, n, C, C, "attproj", err));
    long long nc = n * C;
    void *ra[] = {&c->s.x, &c->s.x, &c->s.proj, &nc};
    CHECK(launch(c->k_residual, "residual", nc, THREADS, ra, err));
    MARK(RESIDUAL, 0);
    CHECK(d0 && dump(d0->res2, c->s.x, tc, "residual2", err));
    CHECK(gl_cuda_layernorm(c, c->s.ln, c->s.x, w->ln2w, w->ln2b, n, C, 0, 0, err));
    MARK(LAYERNORM, 0);
    CHECK(d0 && dump(d0->ln2, c->s.ln, tc, "ln2", err));
    CHECK(gl_cuda_linear(c, m->bf16, c->s.fch, c->s.ln, w->fcw, w->fcb, n, C, F, "fc", err));
    CHECK(d0 && dump(d0->fch, c->s.fch, (size_t)t * F, "fc", err));
    long long nf = n * F;
    void *ga[] = {&c->s.fch, &c->s.fch, &nf};
    CHECK(launch(c->k_gelu, "gelu", nf, THREADS, ga, err));
    MARK(GELU, 0);
    CHECK(d0 && dump(d0->gelu, c->s.fch, (size_t)t * F, "gelu", err));
    CHECK(gl_cuda_linear(c, m->bf16, c->s.proj, c->s.fch, w->fcprojw, w->fcprojb, n, F, C, "fcproj", err));
    CHECK(launch(c->k_residual, "residual", nc, THREADS, ra, err));
    MARK(RESIDUAL, 0);
    return 0;
}

/// One block with its elementwise passes fused around the products: LayerNorm and GELU write the next product's
/// input (bf16, the split math's stacks or f32) and the products run without their bias, which the next pass
/// adds: qkv's as q, k, v are permuted, fc's before GELU, the projections' with the residual. The same sums in
/// the same order as block_staged (product + bias, then the residual; rounded where it rounds), so the same bits
/// where the products are (cuBLAS may pick another algorithm for block_staged's β = 1 than for β = 0), with about half the memory traffic of a bf16 block (no bias_rows, no to_bf16 of LayerNorm's or GELU's output).
static int block(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_block *w, int nw, int t, char *err) {
    long long n = (long long)nw * t, nc = n * m->c, nf = n * m->inner;
    int C = m->c, F = m->inner, mode = operand_mode(c, m->bf16);
    CUdeviceptr ln = mode ? c->s.xa : c->s.ln, act = mode ? c->s.xa : c->s.fch;
    void *l1[] = {&ln, &c->s.x, (void *)&w->ln1w, (void *)&w->ln1b, &n, &C, &mode};
    CHECK(launch(c->k_layernorm_operand, "layernorm_operand", n * 32, THREADS, l1, err));
    MARK(LAYERNORM, 0);
    CHECK(product(c, m->bf16, c->s.qkv, ln, w->qkvw, n, C, 3 * C, 0.0f, "qkv", err));
    gl_attention_bufs ab = {c->s.qkv, c->s.qkvp, c->s.att, c->s.att2, c->s.proj, c->s.atty, c->s.att_windows, w->qkvb};
    CHECK(gl_cuda_attention(c, m, nw, t, &ab, err));
    MARK(ATTENTION, attention_flops(nw, t, C));
    CHECK(gl_cuda_linear(c, m->bf16, c->s.proj, c->s.atty, w->attprojw, 0, n, C, C, "attproj", err));
    void *r1[] = {&c->s.x, &c->s.proj, (void *)&w->attprojb, &nc, &C};
    CHECK(launch(c->k_residual_bias, "residual_bias", nc, THREADS, r1, err));
    MARK(RESIDUAL, 0);
    void *l2[] = {&ln, &c->s.x, (void *)&w->ln2w, (void *)&w->ln2b, &n, &C, &mode};
    CHECK(launch(c->k_layernorm_operand, "layernorm_operand", n * 32, THREADS, l2, err));
    MARK(LAYERNORM, 0);
    CHECK(product(c, m->bf16, c->s.fch, ln, w->fcw, n, C, F, 0.0f, "fc", err));
    void *ga[] = {&act, &c->s.fch, (void *)&w->fcb, &nf, &F, &mode};
    CHECK(launch(c->k_gelu_operand, "gelu_operand", nf, THREADS, ga, err));
    MARK(GELU, 0);
    CHECK(product(c, m->bf16, c->s.proj, act, w->fcprojw, n, F, C, 0.0f, "fcproj", err));
    void *r2[] = {&c->s.x, &c->s.proj, (void *)&w->fcprojb, &nc, &C};
    CHECK(launch(c->k_residual_bias, "residual_bias", nc, THREADS, r2, err));
    MARK(RESIDUAL, 0);
    return 0;
}

/// h->nll (n) from h->x (the final LayerNorm's output) and the targets in h->tgt.
int gl_cuda_head_loss(gl_cuda_ctx *c, const gl_cuda_model *m, long long n, const gl_head_bufs *h, char *err) {
    int C = m->c, V = m->softmax_rows;
    size_t esz = m->bf16 ? 2 : 4;
    gl_operand x;
    int kk;
    CHECK(prepare_input(c, m->bf16, h->x, n, C, &x, &kk, err));
    CUdeviceptr mxp = h->mx, smp = h->sum, pkp = h->picked, lg = h->logits;
    void *ia[] = {&mxp, &smp, &pkp, &n};
    CHECK(launch(c->k_lse_init, "lse_init", n, THREADS, ia, err));
    int dt = m->bf16 ? CUDA_R_16BF : CUDA_R_32F;
    for (long long r0 = 0; r0 < n; r0 += HEAD_ROWS) {
        int rc = (int)(n - r0 < HEAD_ROWS ? n - r0 : HEAD_ROWS);
        for (int v0 = 0; v0 < V; v0 += VOCAB_BLOCK) {
            int vb = V - v0 < VOCAB_BLOCK ? V - v0 : VOCAB_BLOCK;
            gl_operand w = {m->head + (CUdeviceptr)v0 * kk * esz, kk, 0};
            gl_operand xr = {x.p + (CUdeviceptr)r0 * kk * esz, kk, 0};
            CHECK(gl_cuda_gemm(c, dt, CUBLAS_OP_T, CUBLAS_OP_N, vb, rc, kk, 1.0f, w, xr, 0.0f, lg, vb, 0, 1,
                               "LM head chunk", err));
            CUdeviceptr tg = h->tgt + r0 * 4, mx = h->mx + r0 * 4, sm = h->sum + r0 * 8, pk = h->picked + r0 * 4;
            long long rows = rc;
            void *a[] = {&lg, &rows, &vb, &v0, &tg, &mx, &sm, &pk};
            CUresult r = gl_cu.cuLaunchKernel(c->k_lse_chunk, (unsigned)rc, 1, 1, THREADS, 1, 1, 0, NULL, a, NULL);
            if (r) return gl_cu_fail(err, "cuLaunchKernel(lse_chunk)", r);
        }
    }
    CUdeviceptr nll = h->nll, tgt = h->tgt;
    void *fa[] = {&nll, &mxp, &smp, &pkp, &tgt, &n, &V};
    return launch(c->k_nll_finish, "nll_finish", n, THREADS, fa, err);
}

/// nw windows of t tokens: ids (nw·t) from the host, through the blocks and ln_f into s.ln.
static int hidden_rows(gl_cuda_ctx *c, const gl_cuda_model *m, const int32_t *ids, int nw, int t, const gl_cuda_dump *d, char *err) {
    long long n = (long long)nw * t;
    int C = m->c, V = m->vocab_stored;
    CU_CHECK(gl_cu.cuMemcpyHtoD(c->s.ids, ids, (size_t)n * 4), err);
    void *ea[] = {&c->s.x, &c->s.ids, (void *)&m->wte, (void *)&m->wpe, &n, &t, &C, &V};
    if (m->bf16) CHECK(launch(c->k_embed_bf16, "embed_bf16", n * C, THREADS, ea, err));
    else CHECK(launch(c->k_embed, "embed", n * C, THREADS, ea, err));
    MARK(EMBEDDING, 0);
    CHECK(d && dump(d->encoded, c->s.x, (size_t)t * C, "embeddings", err));
    size_t tc = (size_t)t * C;
    for (int l = 0; l < m->layers; l++) {
        CHECK(l == 0 && d ? block_staged(c, m, &m->blocks[l], nw, t, d, err) : block(c, m, &m->blocks[l], nw, t, err));
        CHECK(d && d->blocks && dump(d->blocks + (size_t)l * tc, c->s.x, tc, "block output", err));
    }
    CHECK(gl_cuda_layernorm(c, c->s.ln, c->s.x, m->lnfw, m->lnfb, n, C, 0, 0, err));
    MARK(LAYERNORM, 0);
    CHECK(d && dump(d->lnf, c->s.ln, (size_t)t * C, "ln_f", err));
    return 0;
}

int gl_cuda_hidden(gl_cuda_ctx *c, const gl_cuda_model *m, const int32_t *ids, int nw, int t, char *err) {
    CHECK(ensure_scratch(c, m, nw * t, t, err));
    return hidden_rows(c, m, ids, nw, t, NULL, err);
}

int gl_cuda_head_logits(gl_cuda_ctx *c, const gl_cuda_model *m, CUdeviceptr x, int rows, int v0, int vb, CUdeviceptr out, char *err) {
    gl_operand xp;
    int kk;
    CHECK(prepare_input(c, m->bf16, x, rows, m->c, &xp, &kk, err));
    gl_operand w = {m->head + (CUdeviceptr)v0 * kk * (m->bf16 ? 2 : 4), kk, 0};
    return gl_cuda_gemm(c, m->bf16 ? CUDA_R_16BF : CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N, vb, rows, kk, 1.0f, w, xp, 0.0f, out,
                        vb, 0, 1, "LM head chunk", err);
}

/// nw windows of t tokens: ids and targets (nw·t) from the host, nll (nw·t) back to it.
static int forward_rows(gl_cuda_ctx *c, const gl_cuda_model *m, const int32_t *ids, const int32_t *tgt, int nw, int t,
                        float *nll, float *tlogit, float *mlogit, const gl_cuda_dump *d, char *err) {
    long long n = (long long)nw * t;
    CHECK(hidden_rows(c, m, ids, nw, t, d, err));
    CU_CHECK(gl_cu.cuMemcpyHtoD(c->s.tgt, tgt, (size_t)n * 4), err);
    gl_head_bufs h = {c->s.ln, c->s.tgt, c->s.logits, c->s.lse_max, c->s.lse_sum, c->s.picked, c->s.nll};
    CHECK(gl_cuda_head_loss(c, m, n, &h, err));
    MARK(HEAD, 2.0 * n * m->c * m->softmax_rows);
    CU_CHECK(gl_cu.cuMemcpyDtoH(nll, c->s.nll, (size_t)n * 4), err);
    if (tlogit) CU_CHECK(gl_cu.cuMemcpyDtoH(tlogit, c->s.picked, (size_t)n * 4), err);
    if (mlogit) CU_CHECK(gl_cu.cuMemcpyDtoH(mlogit, c->s.lse_max, (size_t)n * 4), err);
    return 0;
}

int gl_cuda_forward(gl_cuda_ctx *c, const gl_cuda_model *m, const int32_t *inputs, const int32_t *targets,
                    int b, int t, float *nll, float *tlogit, float *mlogit, const gl_cuda_dump *d, char *err) {
    if (b < 1 || t < 1 || t > m->context || m->heads < 1 || m->c % m->heads != 0 || m->softmax_rows < 1
        || m->softmax_rows > m->vocab_stored) {
        snprintf(err, GL_CUDA_ERR, "gl_cuda_forward: invalid shape (%d windows of %d tokens, context %d)", b, t, m->context);
        return 1;
    }
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    int per = ROWS_CAP / t < 1 ? 1 : ROWS_CAP / t;
    if (per > b) per = b;
    CHECK(ensure_scratch(c, m, per * t, t, err));
    CHECK(gl_cuda_mark(c, -1, 0, err));
    for (int w0 = 0; w0 < b; w0 += per) {
        int nw = b - w0 < per ? b - w0 : per;
        size_t o = (size_t)w0 * t;
        CHECK(forward_rows(c, m, inputs + o, targets + o, nw, t, nll + o, tlogit ? tlogit + o : NULL, mlogit ? mlogit + o : NULL,
                           w0 == 0 ? d : NULL, err));
    }
    CU_CHECK(gl_cu.cuCtxSynchronize(), err);
    return 0;
}
