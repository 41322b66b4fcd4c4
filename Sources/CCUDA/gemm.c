// The forward's products through cuBLAS, in the math the context was opened with. f32 operands:
// GL_CUDA_MATH_F32 runs cuBLAS's FP32 (no TF32); GL_CUDA_MATH_TF32 one TF32 product; GL_CUDA_MATH_SPLIT
// the TF32 split: with x = hi + lo (hi rounded to TF32, lo the exact rest), a·b ≈ a_hi·b_hi + a_hi·b_lo +
// a_lo·b_hi, dropping only a_lo·b_lo (≈ 2⁻²² relative), so the result carries f32-order rounding while the
// tensor cores do the work. The three products are one: the operands are stacked along k (kernels.h's
// split3: activations [hi | hi | lo], weights [hi | lo | hi]), so the output is written once.
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

int gl_cuda_gemm(gl_cuda_ctx *c, int dt, int ta, int tb, int m, int n, int k, float alpha, gl_operand a, gl_operand b,
                 float beta, CUdeviceptr out, int ldc, long long sc, int batch, const char *what, char *err) {
    int compute = dt == CUDA_R_16BF || c->math == GL_CUDA_MATH_F32 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
    cublasStatus_t s = batch == 1
        ? gl_cu.cublasGemmEx(c->blas, ta, tb, m, n, k, &alpha, (const void *)a.p, dt, a.ld, (const void *)b.p, dt, b.ld,
                             &beta, (void *)out, CUDA_R_32F, ldc, compute, CUBLAS_GEMM_DEFAULT)
        : gl_cu.cublasGemmStridedBatchedEx(c->blas, ta, tb, m, n, k, &alpha, (const void *)a.p, dt, a.ld, a.stride,
                                           (const void *)b.p, dt, b.ld, b.stride, &beta, (void *)out, CUDA_R_32F, ldc, sc,
                                           batch, compute, CUBLAS_GEMM_DEFAULT);
    if (s) {
        char call[128];
        snprintf(call, sizeof call, "cublasGemm%sEx(%s, %d x %d x %d%s)", batch == 1 ? "" : "StridedBatched", what, m, n, k,
                 batch == 1 ? "" : " batched");
        return gl_cublas_fail(err, call, s);
    }
    return 0;
}

int gl_cuda_stack_weights(gl_cuda_ctx *c, uint64_t w, size_t rows, int k, uint64_t *stacked, char *err) {
    *stacked = 0;
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    size_t bytes = rows * (size_t)k * 3 * 4;
    CUdeviceptr d = 0;
    if (gl_cuda_alloc(c, bytes, &d, err)) return 1;
    CUdeviceptr x = (CUdeviceptr)w;
    long long r = (long long)rows;
    int pattern = 1;
    void *args[] = {&d, &x, &r, &k, &pattern};
    if (gl_cuda_launch(c->k_split3, "split3", r * k, GL_CUDA_THREADS, args, err)) { gl_cuda_free(c, d, bytes); return 1; }
    *stacked = d;
    return 0;
}
