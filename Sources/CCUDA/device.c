// One device for scoring: its primary context (which cuBLAS, through the runtime, shares), a cuBLAS
// handle, the kernels, and device memory with a count of the bytes held (and the most held at once).
#include "cuda_api.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int gl_cuda_alloc(gl_cuda_ctx *c, size_t bytes, CUdeviceptr *p, char *err) {
    *p = 0;
    if (bytes == 0) return 0;
    CUresult r = gl_cu.cuMemAlloc(p, bytes);
    if (r) {
        char call[160];
        snprintf(call, sizeof call, "cuMemAlloc(%zu bytes, %zu already held)", bytes, c->held);
        return gl_cu_fail(err, call, r);
    }
    c->held += bytes;
    if (c->held > c->peak) c->peak = c->held;
    return 0;
}

void gl_cuda_free(gl_cuda_ctx *c, uint64_t p, size_t bytes) {
    if (!p) return;
    gl_cu.cuMemFree((CUdeviceptr)p);
    c->held -= bytes <= c->held ? bytes : c->held;
}

int gl_cuda_upload(gl_cuda_ctx *c, const void *host, size_t bytes, uint64_t *dptr, char *err) {
    CUdeviceptr p = 0;
    if (gl_cuda_alloc(c, bytes, &p, err)) return 1;
    if (bytes) {
        CUresult r = gl_cu.cuMemcpyHtoD(p, host, bytes);
        if (r) { gl_cuda_free(c, p, bytes); return gl_cu_fail(err, "cuMemcpyHtoD(weights)", r); }
    }
    *dptr = p;
    return 0;
}

int gl_cuda_open(int ordinal, int math, gl_cuda_ctx **out, char *err) {
    *out = NULL;
    if (gl_cuda_load(err)) return 1;
    char name[256];
    size_t total = 0;
    gl_cuda_ctx *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, GL_CUDA_ERR, "out of host memory"); return 1; }
    c->ordinal = ordinal; c->math = math;
    if (gl_cuda_device_info(ordinal, name, &c->cc_major, &c->cc_minor, &total, err)) { free(c); return 1; }
    CUresult r = gl_cu.cuDeviceGet(&c->dev, ordinal);
    if (r) { free(c); return gl_cu_fail(err, "cuDeviceGet", r); }
    r = gl_cu.cuDevicePrimaryCtxRetain(&c->context, c->dev);
    if (r) { free(c); return gl_cu_fail(err, "cuDevicePrimaryCtxRetain", r); }
    r = gl_cu.cuCtxSetCurrent(c->context);
    if (r) { gl_cuda_close(c); return gl_cu_fail(err, "cuCtxSetCurrent", r); }
    cublasStatus_t s = gl_cu.cublasCreate(&c->blas);
    if (s) { c->blas = NULL; gl_cuda_close(c); return gl_cublas_fail(err, "cublasCreate_v2", s); }
    // The default math mode: each product's compute type (gemm.c) says whether TF32 is used.
    s = gl_cu.cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH);
    if (s) { gl_cuda_close(c); return gl_cublas_fail(err, "cublasSetMathMode", s); }
    if (gl_cuda_load_module(c, err)) { gl_cuda_close(c); return 1; }
    *out = c;
    return 0;
}

void gl_cuda_close(gl_cuda_ctx *c) {
    if (!c) return;
    if (gl_cu.cuCtxSetCurrent && c->context) gl_cu.cuCtxSetCurrent(c->context);
    gl_cuda_release_scratch(c);
    gl_cuda_release_gradient(c);
    if (c->blas) gl_cu.cublasDestroy(c->blas);
    if (c->module) gl_cu.cuModuleUnload(c->module);
    if (c->context) gl_cu.cuDevicePrimaryCtxRelease(c->dev);
    free(c);
}

const char *gl_cuda_kernel_origin(const gl_cuda_ctx *c) { return c->origin; }
size_t gl_cuda_bytes_held(const gl_cuda_ctx *c) { return c->held; }
size_t gl_cuda_bytes_peak(const gl_cuda_ctx *c) { return c->peak; }

int gl_cuda_alloc_bytes(gl_cuda_ctx *c, size_t bytes, uint64_t *p, char *err) {
    CUdeviceptr d = 0;
    if (gl_cuda_alloc(c, bytes, &d, err)) return 1;
    *p = d;
    return 0;
}

int gl_cuda_download(gl_cuda_ctx *c, void *host, uint64_t p, size_t bytes, char *err) {
    (void)c;
    CU_CHECK(gl_cu.cuMemcpyDtoH(host, (CUdeviceptr)p, bytes), err);
    return 0;
}

int gl_cuda_copy_in(gl_cuda_ctx *c, uint64_t p, const void *host, size_t bytes, char *err) {
    (void)c;
    if (bytes) CU_CHECK(gl_cu.cuMemcpyHtoD((CUdeviceptr)p, host, bytes), err);
    return 0;
}

int gl_cuda_free_bytes(gl_cuda_ctx *c, size_t *free_bytes, char *err) {
    size_t total = 0;
    *free_bytes = 0;
    CU_CHECK(gl_cu.cuCtxSetCurrent(c->context), err);
    CU_CHECK(gl_cu.cuMemGetInfo(free_bytes, &total), err);
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gl_cuda_profile_set(gl_cuda_ctx *c, int on) {
    memset(&c->prof, 0, sizeof c->prof);
    c->prof.on = on;
    c->prof.last = now_seconds();
}

void gl_cuda_profile_read(const gl_cuda_ctx *c, double *seconds, double *flops, long long *calls) {
    memcpy(seconds, c->prof.seconds, sizeof c->prof.seconds);
    memcpy(flops, c->prof.flops, sizeof c->prof.flops);
    memcpy(calls, c->prof.calls, sizeof c->prof.calls);
}

int gl_cuda_mark(gl_cuda_ctx *c, int cls, double flops, char *err) {
    if (!c->prof.on) return 0;
    CU_CHECK(gl_cu.cuCtxSynchronize(), err);
    double t = now_seconds();
    if (cls >= 0) {   // cls < 0: a start, nothing charged
        c->prof.seconds[cls] += t - c->prof.last;
        c->prof.flops[cls] += flops;
        c->prof.calls[cls] += 1;
    }
    c->prof.last = t;
    return 0;
}
