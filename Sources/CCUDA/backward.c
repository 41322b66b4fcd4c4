// The gradient of GPT-2's mean NLL on the GPU: a forward that keeps every activation (the scoring
// forward's pieces, forward.c and attention.c, writing into kept buffers), then llm.c's backward in this
// engine's layout (Sources/Engine/ModelBackward.swift, Block.swift): the LM head in vocabulary chunks
// (logits recomputed, softmax − one-hot, d(x) and d(head) by two products), LayerNorm, GELU, attention
// (dP = dy·vᵀ, dv = Pᵀ·dy, the softmax's backward, dq = dS·k, dk = dSᵀ·q), each linear's two products and
// its bias's column sum, and the embeddings. Products in cuBLAS's FP32; every sum in a fixed order, so a
// gradient is the same bits each run (finite-difference HVPs subtract two gradients).
#include "cuda_api.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = GL_CUDA_THREADS, PER = 64, ROWS_CAP = 32768 };
/// The most bytes a chunk's kept activations take; chunks have at least one window.
static size_t chunk_bytes = (size_t)8 << 30;

void gl_cuda_set_gradient_chunk_bytes(size_t bytes) { chunk_bytes = bytes ? bytes : (size_t)8 << 30; }

#define CHECK(x) do { if (x) return 1; } while (0)

/// One block's kept activations (rows n): LayerNorm outputs and statistics, qkv, the attention
/// probabilities (nw·nh·t·t), attention output, the residual after attention, fc before and after GELU,
/// and the block's output.
typedef struct { CUdeviceptr ln1, m1, r1, qkv, att, atty, res2, ln2, m2, r2, fch, gelu, res3; } layer_bufs;
/// The rest: embeddings, final LayerNorm; the backward's gradients of the residual stream, a LayerNorm's
/// output, qkv, attention output, fc; q/k/v and their gradients per head, dy per head, d(scores), the
/// column sums' partials, the LM head's chunk and logsumexp, ids and targets, the embedding's segments.
typedef struct {
    CUdeviceptr encoded, lnf, mf, rf, dres, dln, dqkv, datty, dfch, qkvp, dqkvp, dy, datt, part;
    CUdeviceptr logits, ids, tgt, mx, sum, picked, nll, order, seg_start, seg_id;
    CUdeviceptr layer0;
    size_t layer_bytes;
} train_bufs;

static CUdeviceptr carve(CUdeviceptr *cur, size_t bytes) {
    CUdeviceptr p = *cur;
    *cur += (bytes + 255) / 256 * 256;
    return p;
}

static size_t carve_layer(CUdeviceptr base, const gl_cuda_model *m, size_t nw, size_t t, layer_bufs *lb) {
    size_t n = nw * t, C = (size_t)m->c, F = (size_t)m->inner;
    CUdeviceptr cur = base;
    lb->ln1 = carve(&cur, n * C * 4); lb->m1 = carve(&cur, n * 4); lb->r1 = carve(&cur, n * 4);
    lb->qkv = carve(&cur, n * 3 * C * 4); lb->att = carve(&cur, nw * m->heads * t * t * 4);
    lb->atty = carve(&cur, n * C * 4); lb->res2 = carve(&cur, n * C * 4); lb->ln2 = carve(&cur, n * C * 4);
    lb->m2 = carve(&cur, n * 4); lb->r2 = carve(&cur, n * 4); lb->fch = carve(&cur, n * F * 4);
    lb->gelu = carve(&cur, n * F * 4); lb->res3 = carve(&cur, n * C * 4);
    return (size_t)(cur - base);
}

/// Carves tb from base for chunks of nw windows of t tokens; returns the bytes in all.
static size_t carve_all(CUdeviceptr base, const gl_cuda_model *m, size_t nw, size_t t, train_bufs *tb) {
    size_t n = nw * t, C = (size_t)m->c, F = (size_t)m->inner, G = (n + PER - 1) / PER;
    size_t part = 2 * G * C;
    if (G * F > part) part = G * F;
    if (G * 3 * C > part) part = G * 3 * C;
    if (t * C > part) part = t * C;
    size_t hr = n < GL_HEAD_ROWS ? n : GL_HEAD_ROWS;
    CUdeviceptr cur = base;
    tb->encoded = carve(&cur, n * C * 4); tb->lnf = carve(&cur, n * C * 4);
    tb->mf = carve(&cur, n * 4); tb->rf = carve(&cur, n * 4);
    tb->dres = carve(&cur, n * C * 4); tb->dln = carve(&cur, n * C * 4); tb->dqkv = carve(&cur, n * 3 * C * 4);
    tb->datty = carve(&cur, n * C * 4); tb->dfch = carve(&cur, n * F * 4);
    tb->qkvp = carve(&cur, n * 3 * C * 4); tb->dqkvp = carve(&cur, n * 3 * C * 4); tb->dy = carve(&cur, n * C * 4);
    tb->datt = carve(&cur, nw * m->heads * t * t * 4); tb->part = carve(&cur, part * 4);
    tb->logits = carve(&cur, hr * GL_VOCAB_BLOCK * 4); tb->ids = carve(&cur, n * 4); tb->tgt = carve(&cur, n * 4);
    tb->mx = carve(&cur, n * 4); tb->sum = carve(&cur, n * 8); tb->picked = carve(&cur, n * 4); tb->nll = carve(&cur, n * 4);
    tb->order = carve(&cur, n * 4); tb->seg_start = carve(&cur, (n + 1) * 4); tb->seg_id = carve(&cur, n * 4);
    layer_bufs lb;
    tb->layer_bytes = carve_layer(0, m, nw, t, &lb);
    tb->layer0 = cur;
    cur += tb->layer_bytes * (size_t)m->layers;
    return (size_t)(cur - base);
}

/// Windows per chunk for b windows of t tokens: as many as chunk_bytes holds (at least one, at most b).
static int chunk_windows(const gl_cuda_model *m, int b, int t) {
    train_bufs probe;
    size_t per_window = carve_all(0, m, 1, (size_t)t, &probe);
    int nw = (int)(chunk_bytes / per_window);
    if (nw < 1) nw = 1;
    if (nw > ROWS_CAP / t) nw = ROWS_CAP / t > 0 ? ROWS_CAP / t : 1;
    if (nw > b) nw = b;
    return nw;
}

size_t gl_cuda_gradient_bytes(const gl_cuda_model *m, int b, int t) {
    if (b < 1 || t < 1) return 0;
    train_bufs tb;
    return carve_all(0, m, (size_t)chunk_windows(m, b, t), (size_t)t, &tb);
}

void gl_cuda_release_gradient(gl_cuda_ctx *c) {
    gl_cuda_free(c, c->g.base, c->g.bytes);
    memset(&c->g, 0, sizeof c->g);
}

/// The buffers for chunks of nw windows of t tokens, allocated unless the last call's fit.
static int ensure_buffers(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, train_bufs *tb, char *err) {
    if (!(c->g.base && c->g.nw >= nw && c->g.t == t && c->g.c == m->c && c->g.f == m->inner && c->g.nh == m->heads
          && c->g.layers == m->layers && c->g.v == m->vocab_stored)) {
        gl_cuda_release_gradient(c);
        size_t bytes = carve_all(0, m, (size_t)nw, (size_t)t, tb);
        CHECK(gl_cuda_alloc(c, bytes, &c->g.base, err));
        c->g.bytes = bytes; c->g.nw = nw; c->g.t = t; c->g.c = m->c; c->g.f = m->inner; c->g.nh = m->heads;
        c->g.layers = m->layers; c->g.v = m->vocab_stored;
    }
    carve_all(c->g.base, m, (size_t)c->g.nw, (size_t)t, tb);
    return 0;
}

static layer_bufs layer(const gl_cuda_model *m, const train_bufs *tb, int nw, int t, int l) {
    layer_bufs lb;
    carve_layer(tb->layer0 + (CUdeviceptr)l * tb->layer_bytes, m, (size_t)nw, (size_t)t, &lb);
    return lb;
}

static int launch(gl_cuda_ctx *c, CUfunction f, const char *name, long long threads, void **args, char *err) {
    (void)c;
    return gl_cuda_launch(f, name, threads, THREADS, args, err);
}

static int add(gl_cuda_ctx *c, CUdeviceptr out, CUdeviceptr a, CUdeviceptr b, long long n, char *err) {
    void *args[] = {&out, &a, &b, &n};
    return launch(c, c->k_residual, "residual", n, args, err);
}

/// The forward over one chunk, keeping what the backward reads; the NLL of each row in tb->nll.
static int forward_kept(gl_cuda_ctx *c, const gl_cuda_model *m, const train_bufs *tb, int nw, int t, char *err) {
    long long n = (long long)nw * t;
    int C = m->c, F = m->inner, V = m->vocab_stored;
    CUdeviceptr enc = tb->encoded, ids = tb->ids;
    void *ea[] = {&enc, &ids, (void *)&m->wte, (void *)&m->wpe, &n, &t, &C, &V};
    CHECK(launch(c, c->k_embed, "embed", n * C, ea, err));
    CUdeviceptr in = tb->encoded;
    for (int l = 0; l < m->layers; l++) {
        const gl_cuda_block *w = &m->blocks[l];
        layer_bufs L = layer(m, tb, c->g.nw, t, l);
        CHECK(gl_cuda_layernorm(c, L.ln1, in, w->ln1w, w->ln1b, n, C, L.m1, L.r1, err));
        CHECK(gl_cuda_linear(c, 0, L.qkv, L.ln1, w->qkvw, w->qkvb, n, C, 3 * C, "qkv", err));
        gl_attention_bufs ab = {L.qkv, tb->qkvp, L.att, 0, tb->dy, L.atty, nw};
        CHECK(gl_cuda_attention(c, m, nw, t, &ab, err));
        CHECK(gl_cuda_linear(c, 0, tb->dln, L.atty, w->attprojw, w->attprojb, n, C, C, "attproj", err));
        CHECK(add(c, L.res2, in, tb->dln, n * C, err));
        CHECK(gl_cuda_layernorm(c, L.ln2, L.res2, w->ln2w, w->ln2b, n, C, L.m2, L.r2, err));
        CHECK(gl_cuda_linear(c, 0, L.fch, L.ln2, w->fcw, w->fcb, n, C, F, "fc", err));
        long long nf = n * F;
        void *ga[] = {&L.gelu, &L.fch, &nf};
        CHECK(launch(c, c->k_gelu, "gelu", nf, ga, err));
        CHECK(gl_cuda_linear(c, 0, tb->dln, L.gelu, w->fcprojw, w->fcprojb, n, F, C, "fcproj", err));
        CHECK(add(c, L.res3, L.res2, tb->dln, n * C, err));
        in = L.res3;
    }
    CHECK(gl_cuda_layernorm(c, tb->lnf, in, m->lnfw, m->lnfb, n, C, tb->mf, tb->rf, err));
    gl_head_bufs h = {tb->lnf, tb->tgt, tb->logits, tb->mx, tb->sum, tb->picked, tb->nll};
    return gl_cuda_head_loss(c, m, n, &h, err);
}

/// dst (c) += the column sums of x (n, c), in two ordered stages.
static int colsum(gl_cuda_ctx *c, const train_bufs *tb, uint64_t dst, CUdeviceptr x, long long n, long long cols, int per, char *err) {
    CUdeviceptr part = tb->part, d = (CUdeviceptr)dst;
    int groups = (int)((n + per - 1) / per);
    void *pa[] = {&part, &x, &n, &cols, &per};
    CHECK(launch(c, c->k_colsum_part, "colsum_part", groups * cols, pa, err));
    void *aa[] = {&d, &part, &groups, &cols};
    return launch(c, c->k_colsum_add, "colsum_add", cols, aa, err);
}

/// LayerNorm's backward: dinp += …, and its weight's and bias's gradients.
static int layernorm_backward(gl_cuda_ctx *c, const train_bufs *tb, CUdeviceptr dinp, CUdeviceptr dout, CUdeviceptr inp,
                              uint64_t w, CUdeviceptr mean, CUdeviceptr rstd, uint64_t dw, uint64_t db, long long n, int C, char *err) {
    void *a[] = {&dinp, &dout, &inp, &w, &mean, &rstd, &n, &C};
    CHECK(launch(c, c->k_layernorm_backward, "layernorm_backward", n * 32, a, err));
    int per = PER;
    long long groups = (n + per - 1) / per, cols = C;
    CUdeviceptr pw = tb->part, pb = tb->part + (CUdeviceptr)groups * C * 4, dwp = dw, dbp = db;
    void *pa[] = {&pw, &pb, &dout, &inp, &mean, &rstd, &n, &C, &per};
    CHECK(launch(c, c->k_layernorm_part, "layernorm_part", groups * C, pa, err));
    int g = (int)groups;
    void *aw[] = {&dwp, &pw, &g, &cols};
    CHECK(launch(c, c->k_colsum_add, "colsum_add", C, aw, err));
    void *ab[] = {&dbp, &pb, &g, &cols};
    return launch(c, c->k_colsum_add, "colsum_add", C, ab, err);
}

/// y (n, oc) = x (n, k)·Wᵀ + b: dx = dy·W, dW += dyᵀ·x, db += column sums of dy.
static int linear_backward(gl_cuda_ctx *c, const train_bufs *tb, CUdeviceptr dx, CUdeviceptr dy, CUdeviceptr x, uint64_t w,
                           uint64_t dw, uint64_t db, long long n, int k, int oc, const char *what, char *err) {
    gl_operand W = {(CUdeviceptr)w, k, 0}, DY = {dy, oc, 0}, X = {x, k, 0};
    CHECK(gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_N, k, (int)n, oc, 1.0f, W, DY, 0.0f, dx, k, 0, 1, what, err));
    CHECK(gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_T, k, oc, (int)n, 1.0f, X, DY, 1.0f, (CUdeviceptr)dw, k, 0, 1, what, err));
    return colsum(c, tb, db, dy, n, oc, PER, err);
}

/// The LM head's and the final LayerNorm's backward: d(lnf) into tb->dln (zeroed first), d(head) into g.
static int head_backward(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_model *g, const train_bufs *tb,
                         long long n, float scale, char *err) {
    int C = m->c, V = m->softmax_rows;
    long long nc = n * C;
    CUdeviceptr dln = tb->dln, lg = tb->logits;
    void *za[] = {&dln, &nc};
    CHECK(launch(c, c->k_zero, "zero", nc, za, err));
    for (long long r0 = 0; r0 < n; r0 += GL_HEAD_ROWS) {
        int rc = (int)(n - r0 < GL_HEAD_ROWS ? n - r0 : GL_HEAD_ROWS);
        gl_operand x = {tb->lnf + (CUdeviceptr)r0 * C * 4, C, 0};
        for (int v0 = 0; v0 < V; v0 += GL_VOCAB_BLOCK) {
            int vb = V - v0 < GL_VOCAB_BLOCK ? V - v0 : GL_VOCAB_BLOCK;
            gl_operand w = {(CUdeviceptr)m->head + (CUdeviceptr)v0 * C * 4, C, 0}, dl = {lg, vb, 0};
            CHECK(gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N, vb, rc, C, 1.0f, w, x, 0.0f, lg, vb, 0, 1, "LM head chunk", err));
            CUdeviceptr tg = tb->tgt + r0 * 4, mx = tb->mx + r0 * 4, sm = tb->sum + r0 * 8;
            long long rows = rc;
            void *a[] = {&lg, &rows, &vb, &v0, &tg, &mx, &sm, &scale};
            CHECK(launch(c, c->k_lse_backward, "lse_backward", rows * vb, a, err));
            CHECK(gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_T, C, vb, rc, 1.0f, x, dl, 1.0f,
                               (CUdeviceptr)g->head + (CUdeviceptr)v0 * C * 4, C, 0, 1, "LM head gradient", err));
            CHECK(gl_cuda_gemm(c, CUDA_R_32F, CUBLAS_OP_N, CUBLAS_OP_N, C, rc, vb, 1.0f, w, dl, 1.0f,
                               dln + (CUdeviceptr)r0 * C * 4, C, 0, 1, "LM head input gradient", err));
        }
    }
    return 0;
}

/// One block's backward: tb->dres holds d(block output) and leaves holding d(block input).
static int block_backward(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_block *w, const gl_cuda_block *gw,
                          const train_bufs *tb, const layer_bufs *L, CUdeviceptr in, int nw, int t, char *err) {
    long long n = (long long)nw * t, nf = n * m->inner;
    int C = m->c, F = m->inner;
    CHECK(linear_backward(c, tb, tb->dfch, tb->dres, L->gelu, w->fcprojw, gw->fcprojw, gw->fcprojb, n, F, C, "fcproj backward", err));
    CUdeviceptr dfch = tb->dfch, fch = L->fch;
    void *ga[] = {&dfch, &fch, &dfch, &nf};
    CHECK(launch(c, c->k_gelu_backward, "gelu_backward", nf, ga, err));
    CHECK(linear_backward(c, tb, tb->dln, tb->dfch, L->ln2, w->fcw, gw->fcw, gw->fcb, n, C, F, "fc backward", err));
    CHECK(layernorm_backward(c, tb, tb->dres, tb->dln, L->res2, w->ln2w, L->m2, L->r2, gw->ln2w, gw->ln2b, n, C, err));
    CHECK(linear_backward(c, tb, tb->datty, tb->dres, L->atty, w->attprojw, gw->attprojw, gw->attprojb, n, C, C,
                          "attproj backward", err));
    gl_attention_grads ag = {L->qkv, L->att, tb->datty, tb->dqkv, tb->qkvp, tb->dqkvp, tb->dy, tb->datt};
    CHECK(gl_cuda_attention_backward(c, m, nw, t, &ag, err));
    CHECK(linear_backward(c, tb, tb->dln, tb->dqkv, L->ln1, w->qkvw, gw->qkvw, gw->qkvb, n, C, 3 * C, "qkv backward", err));
    return layernorm_backward(c, tb, tb->dres, tb->dln, in, w->ln1w, L->m1, L->r1, gw->ln1w, gw->ln1b, n, C, err);
}

/// The embeddings' gradients from d(encoded) in tb->dres: wte through the chunk's ids sorted on the host
/// (segments of equal ids, each summed in position order), wpe as column sums over the windows.
static int embed_backward(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_model *g, const train_bufs *tb,
                          const int32_t *ids, int nw, int t, char *err) {
    int n = nw * t, C = m->c, V = m->vocab_stored;
    int *count = calloc((size_t)V + 1, sizeof(int)), *order = malloc((size_t)n * sizeof(int));
    int *start = malloc(((size_t)n + 1) * sizeof(int)), *segid = malloc((size_t)n * sizeof(int));
    int rc = 1, segments = 0;
    if (!count || !order || !start || !segid) { snprintf(err, GL_CUDA_ERR, "out of host memory for the embedding's gradient"); goto done; }
    for (int i = 0; i < n; i++) count[ids[i] + 1]++;        // ids were checked below V by the caller
    for (int v = 0; v < V; v++) count[v + 1] += count[v];    // count[v]: where id v's positions start
    for (int i = 0; i < n; i++) order[count[ids[i]]++] = i;  // stable: positions in order within an id
    for (int j = 0; j < n; j++) {
        if (j == 0 || ids[order[j]] != ids[order[j - 1]]) { start[segments] = j; segid[segments++] = ids[order[j]]; }
    }
    start[segments] = n;
    if (gl_cuda_copy_in(c, tb->order, order, (size_t)n * 4, err) || gl_cuda_copy_in(c, tb->seg_start, start, ((size_t)segments + 1) * 4, err)
        || gl_cuda_copy_in(c, tb->seg_id, segid, (size_t)segments * 4, err)) goto done;
    CUdeviceptr dwte = (CUdeviceptr)g->wte, dres = tb->dres, o = tb->order, s = tb->seg_start, si = tb->seg_id;
    void *a[] = {&dwte, &dres, &o, &s, &si, &segments, &C};
    if (launch(c, c->k_wte_backward, "wte_backward", (long long)segments * C, a, err)) goto done;
    rc = colsum(c, tb, g->wpe, tb->dres, nw, (long long)t * C, nw, err);
done:
    free(count); free(order); free(start); free(segid);
    return rc;
}

static int chunk_gradient(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_model *g, const train_bufs *tb,
                          const int32_t *ids, const int32_t *tgt, int nw, int t, float scale, double *sum, char *err) {
    long long n = (long long)nw * t;
    int C = m->c, L = m->layers;
    CHECK(gl_cuda_copy_in(c, tb->ids, ids, (size_t)n * 4, err));
    CHECK(gl_cuda_copy_in(c, tb->tgt, tgt, (size_t)n * 4, err));
    CHECK(forward_kept(c, m, tb, nw, t, err));
    float *nll = malloc((size_t)n * 4);
    if (!nll) { snprintf(err, GL_CUDA_ERR, "out of host memory for %lld losses", n); return 1; }
    int rc = gl_cuda_download(c, nll, tb->nll, (size_t)n * 4, err);
    for (long long i = 0; i < n && !rc; i++) *sum += nll[i];
    free(nll);
    CHECK(rc);
    CHECK(head_backward(c, m, g, tb, n, scale, err));
    long long nc = n * C;
    CUdeviceptr dres = tb->dres;
    void *za[] = {&dres, &nc};
    CHECK(launch(c, c->k_zero, "zero", nc, za, err));
    layer_bufs last = layer(m, tb, c->g.nw, t, L - 1);
    CHECK(layernorm_backward(c, tb, tb->dres, tb->dln, last.res3, m->lnfw, tb->mf, tb->rf, g->lnfw, g->lnfb, n, C, err));
    for (int l = L - 1; l >= 0; l--) {
        layer_bufs lb = layer(m, tb, c->g.nw, t, l);
        CUdeviceptr in = l == 0 ? tb->encoded : layer(m, tb, c->g.nw, t, l - 1).res3;
        CHECK(block_backward(c, m, &m->blocks[l], &g->blocks[l], tb, &lb, in, nw, t, err));
    }
    return embed_backward(c, m, g, tb, ids, nw, t, err);
}

int gl_cuda_gradient(gl_cuda_ctx *c, const gl_cuda_model *m, const gl_cuda_model *g, const int32_t *inputs,
                     const int32_t *targets, int b, int t, double *loss, char *err) {
    if (m->bf16 || c->math != GL_CUDA_MATH_F32) {
        snprintf(err, GL_CUDA_ERR, "gl_cuda_gradient: f32 weights with FP32 products only (bf16 %d, math %d)", m->bf16, c->math);
        return 1;
    }
    if (b < 1 || t < 1 || t > m->context || m->heads < 1 || m->c % m->heads != 0 || m->layers < 1) {
        snprintf(err, GL_CUDA_ERR, "gl_cuda_gradient: invalid shape (%d windows of %d tokens, context %d)", b, t, m->context);
        return 1;
    }
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    int nw = chunk_windows(m, b, t);
    train_bufs tb;
    CHECK(ensure_buffers(c, m, nw, t, &tb, err));
    double sum = 0;
    float scale = 1.0f / (float)((long long)b * t);
    for (int w0 = 0; w0 < b; w0 += nw) {
        int cw = b - w0 < nw ? b - w0 : nw;
        size_t o = (size_t)w0 * t;
        CHECK(chunk_gradient(c, m, g, &tb, inputs + o, targets + o, cw, t, scale, &sum, err));
    }
    CU_CHECK(gl_cu.cuCtxSynchronize(), err);
    *loss = sum / ((double)b * t);
    return 0;
}

int gl_cuda_zero(gl_cuda_ctx *c, uint64_t p, size_t n, char *err) {
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    CUdeviceptr d = (CUdeviceptr)p;
    long long count = (long long)n;
    void *a[] = {&d, &count};
    return launch(c, c->k_zero, "zero", count, a, err);
}

int gl_cuda_axpby(gl_cuda_ctx *c, uint64_t out, float a, uint64_t x, float b, uint64_t y, size_t n, char *err) {
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    CUdeviceptr o = (CUdeviceptr)out, xp = (CUdeviceptr)x, yp = (CUdeviceptr)y;
    long long count = (long long)n;
    void *args[] = {&o, &a, &xp, &b, &yp, &count};
    return launch(c, c->k_axpby, "axpby", count, args, err);
}

int gl_cuda_rademacher(gl_cuda_ctx *c, uint64_t v, size_t n, uint64_t state, long long draw0, char *err) {
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    CUdeviceptr d = (CUdeviceptr)v;
    long long count = (long long)n;
    unsigned long long s = state;
    void *a[] = {&d, &count, &s, &draw0};
    return launch(c, c->k_rademacher_fill, "rademacher_fill", count, a, err);
}

int gl_cuda_dot_tiles(gl_cuda_ctx *c, uint64_t part, uint64_t x, uint64_t y, size_t n, char *err) {
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    CUdeviceptr p = (CUdeviceptr)part, xp = (CUdeviceptr)x, yp = (CUdeviceptr)y;
    long long count = (long long)n, tiles = (count + GL_DOT_TILE - 1) / GL_DOT_TILE;
    void *a[] = {&p, &xp, &yp, &count};
    return gl_cuda_launch(c->k_dot_part, "dot_part", tiles * 256, 256, a, err);  // one block of 256 a tile
}
