// `compare` on the GPU: two models' next-token distributions at the same positions. Each model runs the
// scoring forward to its final LayerNorm (forward.c's gl_cuda_hidden; A's output kept aside), then both LM
// heads go chunk by chunk over the vocabulary (a (rows, 8192) logits chunk of each) into pair_chunk, which
// merges per row the running maxima and their first indices, Σe^(a−max), Σe^(b−max), Σe^(a−max)(a − b) and
// the targets' logits. The host finishes each row as Divergence.swift does on the CPU: NLL of each, KL(A‖B),
// the argmaxes, each one's confidence.
#include "cuda_api.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { ROWS_CAP = 32768 };
#define CHECK(x) do { if (x) goto fail; } while (0)

typedef struct { CUdeviceptr keep, lb, tgt, ma, mb, sums, idx, picked; size_t bytes[8]; } pair_bufs;

static void release(gl_cuda_ctx *c, pair_bufs *p) {
    CUdeviceptr *ps[] = {&p->keep, &p->lb, &p->tgt, &p->ma, &p->mb, &p->sums, &p->idx, &p->picked};
    for (int i = 0; i < 8; i++) { gl_cuda_free(c, *ps[i], p->bytes[i]); *ps[i] = 0; }
}

static int allocate(gl_cuda_ctx *c, pair_bufs *p, size_t n, size_t ca, char *err) {
    size_t hr = n < GL_HEAD_ROWS ? n : GL_HEAD_ROWS;
    size_t sizes[8] = {n * ca * 4, hr * GL_VOCAB_BLOCK * 4, n * 4, n * 4, n * 4, n * 3 * 8, n * 2 * 4, n * 2 * 4};
    CUdeviceptr *ps[] = {&p->keep, &p->lb, &p->tgt, &p->ma, &p->mb, &p->sums, &p->idx, &p->picked};
    for (int i = 0; i < 8; i++) {
        if (gl_cuda_alloc(c, sizes[i], ps[i], err)) { release(c, p); return 1; }
        p->bytes[i] = sizes[i];
    }
    return 0;
}

/// The per-row sums of nw windows' rows (their ids and targets from the host) into the host arrays.
static int pair_rows(gl_cuda_ctx *c, const gl_cuda_model *a, const gl_cuda_model *b, const pair_bufs *p, const int32_t *ids,
                     const int32_t *tgt, int nw, int t, float *ma, float *mb, double *sums, int32_t *idx, float *picked, char *err) {
    long long n = (long long)nw * t, nca = n * a->c;
    float one = 1.0f, nil = 0.0f;
    if (gl_cuda_hidden(c, a, ids, nw, t, err)) return 1;
    CUdeviceptr keep = p->keep, ln = c->s.ln;
    void *ka[] = {&keep, &one, &ln, &nil, &ln, &nca};
    if (gl_cuda_launch(c->k_axpby, "axpby(keep ln_f of A)", nca, GL_CUDA_THREADS, ka, err)) return 1;
    if (gl_cuda_hidden(c, b, ids, nw, t, err)) return 1;
    CU_CHECK(gl_cu.cuMemcpyHtoD(p->tgt, tgt, (size_t)n * 4), err);
    CUdeviceptr pma = p->ma, pmb = p->mb, ps = p->sums, pi = p->idx, pp = p->picked;
    void *ia[] = {&pma, &pmb, &ps, &pi, &pp, &n};
    if (gl_cuda_launch(c->k_pair_init, "pair_init", n, GL_CUDA_THREADS, ia, err)) return 1;
    int V = a->softmax_rows;
    for (long long r0 = 0; r0 < n; r0 += GL_HEAD_ROWS) {
        int rc = (int)(n - r0 < GL_HEAD_ROWS ? n - r0 : GL_HEAD_ROWS);
        for (int v0 = 0; v0 < V; v0 += GL_VOCAB_BLOCK) {
            int vb = V - v0 < GL_VOCAB_BLOCK ? V - v0 : GL_VOCAB_BLOCK;
            CUdeviceptr la = c->s.logits, lb = p->lb;
            if (gl_cuda_head_logits(c, a, p->keep + (CUdeviceptr)r0 * a->c * 4, rc, v0, vb, la, err)) return 1;
            if (gl_cuda_head_logits(c, b, c->s.ln + (CUdeviceptr)r0 * b->c * 4, rc, v0, vb, lb, err)) return 1;
            CUdeviceptr tg = p->tgt + r0 * 4, xa = p->ma + r0 * 4, xb = p->mb + r0 * 4, s = p->sums + r0 * 24,
                        k = p->idx + r0 * 8, pk = p->picked + r0 * 8;
            long long rows = rc;
            void *args[] = {&la, &lb, &rows, &vb, &v0, &tg, &xa, &xb, &s, &k, &pk};
            CUresult r = gl_cu.cuLaunchKernel(c->k_pair_chunk, (unsigned)rc, 1, 1, GL_CUDA_THREADS, 1, 1, 0, NULL, args, NULL);
            if (r) return gl_cu_fail(err, "cuLaunchKernel(pair_chunk)", r);
        }
    }
    CU_CHECK(gl_cu.cuMemcpyDtoH(ma, p->ma, (size_t)n * 4), err);
    CU_CHECK(gl_cu.cuMemcpyDtoH(mb, p->mb, (size_t)n * 4), err);
    CU_CHECK(gl_cu.cuMemcpyDtoH(sums, p->sums, (size_t)n * 24), err);
    CU_CHECK(gl_cu.cuMemcpyDtoH(idx, p->idx, (size_t)n * 8), err);
    CU_CHECK(gl_cu.cuMemcpyDtoH(picked, p->picked, (size_t)n * 8), err);
    return 0;
}

int gl_cuda_compare(gl_cuda_ctx *c, const gl_cuda_model *a, const gl_cuda_model *b, const int32_t *inputs,
                    const int32_t *targets, int nw, int t, gl_cuda_position *out, char *err) {
    // One scratch serves both forwards: the same width, inner size and heads (the layers may differ).
    if (nw < 1 || t < 1 || t > a->context || t > b->context || a->softmax_rows != b->softmax_rows || a->bf16 != b->bf16
        || a->c != b->c || a->inner != b->inner || a->heads != b->heads) {
        snprintf(err, GL_CUDA_ERR, "gl_cuda_compare: invalid pair (%d windows of %d tokens; softmax rows %d and %d, width %d and %d)",
                 nw, t, a->softmax_rows, b->softmax_rows, a->c, b->c);
        return 1;
    }
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    int per = ROWS_CAP / t < 1 ? 1 : ROWS_CAP / t;
    if (per > nw) per = nw;
    size_t n = (size_t)per * t;
    pair_bufs p = {0};
    float *ma = malloc(n * 4), *mb = malloc(n * 4), *picked = malloc(n * 8);
    double *sums = malloc(n * 24);
    int32_t *idx = malloc(n * 8);
    int rc = 1;
    if (!ma || !mb || !picked || !sums || !idx) { snprintf(err, GL_CUDA_ERR, "out of host memory for %zu rows", n); goto fail; }
    CHECK(allocate(c, &p, n, (size_t)a->c, err));
    for (int w0 = 0; w0 < nw; w0 += per) {
        int cw = nw - w0 < per ? nw - w0 : per;
        size_t o = (size_t)w0 * t, rows = (size_t)cw * t;
        CHECK(pair_rows(c, a, b, &p, inputs + o, targets + o, cw, t, ma, mb, sums, idx, picked, err));
        for (size_t r = 0; r < rows; r++) {
            double sa = sums[3 * r], sb = sums[3 * r + 1], sab = sums[3 * r + 2];
            double lsea = (double)ma[r] + log(sa), lseb = (double)mb[r] + log(sb), kl = sab / sa - lsea + lseb;
            out[o + r] = (gl_cuda_position){(float)(lsea - (double)picked[2 * r]), (float)(lseb - (double)picked[2 * r + 1]),
                                            kl > 0 ? kl : 0, idx[2 * r], idx[2 * r + 1], (float)(1 / sa), (float)(1 / sb)};
        }
    }
    rc = 0;
fail:
    release(c, &p);
    free(ma); free(mb); free(picked); free(sums); free(idx);
    return rc;
}
