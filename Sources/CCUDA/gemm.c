// The forward's products through cuBLAS, in the math the context was opened with. f32 operands:
// GL_CUDA_MATH_F32 runs cuBLAS's FP32 (no TF32); GL_CUDA_MATH_TF32 one TF32 product; GL_CUDA_MATH_SPLIT
// the three-product TF32 split: with x = hi + lo (hi rounded to TF32, lo the exact rest),
// a·b ≈ a_lo·b_hi + a_hi·b_lo + a_hi·b_hi, summed small terms first, dropping only a_lo·b_lo
// (≈ 2⁻²² relative), so the result carries f32-order rounding while the tensor cores do the work.
// bf16 operands: one product with f32 sums, as the CPU's bf16 path.
#include "cuda_api.h"
#include <stdio.h>

int gl_cuda_launch(CUfunction f, const char *name, long long threads, int block, void **args, char *err) {
    long long grid = (threads + block - 1) / block;
    if (grid < 1) return 0;
    CUresult r = gl_cu.cuLaunchKernel(f, (unsigned)grid, 1, 1, (unsigned)block, 1, 1, 0, NULL, args, NULL);
    if (r) { char call[96]; snprintf(call, sizeof call, "cuLaunchKernel(%s)", name); return gl_cu_fail(err, call, r); }
    return 0;
}

static int one(gl_cuda_ctx *c, int dt, int compute, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr a,
               int lda, long long sa, CUdeviceptr b, int ldb, long long sb, float beta, CUdeviceptr out, int ldc,
               long long sc, int batch, const char *what, char *err) {
    cublasStatus_t s = batch == 1
        ? gl_cu.cublasGemmEx(c->blas, ta, tb, m, n, k, &alpha, (const void *)a, dt, lda, (const void *)b, dt, ldb,
                             &beta, (void *)out, CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT)
        : gl_cu.cublasGemmStridedBatchedEx(c->blas, ta, tb, m, n, k, &alpha, (const void *)a, dt, lda, sa,
                                           (const void *)b, dt, ldb, sb, &beta, (void *)out, CUDA_R_32F, ldc, sc,
                                           batch, compute, CUBLAS_GEMM_DEFAULT);
    if (s) {
        char call[128];
        snprintf(call, sizeof call, "cublasGemm%sEx(%s, %d x %d x %d%s)", batch == 1 ? "" : "StridedBatched", what, m, n, k,
                 batch == 1 ? "" : " batched");
        return gl_cublas_fail(err, call, s);
    }
    return 0;
}

int gl_cuda_gemm(gl_cuda_ctx *c, int dt, int ta, int tb, int m, int n, int k, float alpha, gl_operand a, gl_operand b,
                 float beta, CUdeviceptr out, int ldc, long long sc, int batch, const char *what, char *err) {
#define ONE(compute, A, B, BETA) one(c, dt, compute, ta, tb, m, n, k, alpha, A, a.ld, a.stride, B, b.ld, b.stride, BETA, \
                                     out, ldc, sc, batch, what, err)
    if (dt == CUDA_R_16BF) return ONE(CUBLAS_COMPUTE_32F, a.hi, b.hi, beta);
    if (c->math != GL_CUDA_MATH_SPLIT)
        return ONE(c->math == GL_CUDA_MATH_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, a.hi, b.hi, beta);
    if (ONE(CUBLAS_COMPUTE_32F_FAST_TF32, a.lo, b.hi, beta)) return 1;
    if (ONE(CUBLAS_COMPUTE_32F_FAST_TF32, a.hi, b.lo, 1.0f)) return 1;
    return ONE(CUBLAS_COMPUTE_32F_FAST_TF32, a.hi, b.hi, 1.0f);
#undef ONE
}

int gl_cuda_split_weights(gl_cuda_ctx *c, uint64_t w, size_t n, uint64_t *lo, char *err) {
    *lo = 0;
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    CUdeviceptr l = 0;
    if (gl_cuda_alloc(c, n * 4, &l, err)) return 1;
    CUdeviceptr hi = (CUdeviceptr)w;
    long long count = (long long)n;
    void *args[] = {&hi, &l, &hi, &count};
    if (gl_cuda_launch(c->k_split_tf32, "split_tf32", count, GL_CUDA_THREADS, args, err)) { gl_cuda_free(c, l, n * 4); return 1; }
    *lo = l;
    return 0;
}
