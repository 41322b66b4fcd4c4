// Internal to CCUDA (and the tests' emulated device; CCUDA.h does not include it, so Swift never sees
// it). The CUDA driver, NVRTC and cuBLAS declarations gpt2lab uses, written here so no CUDA header is
// needed to build: the handle types are opaque pointers, the enums carry the values of cuda.h,
// nvrtc.h, library_types.h and cublas_api.h (stable across CUDA 11-13). Each function is reached
// through a pointer filled by dlsym (loader.c); `gl_cu` is the one table.
#ifndef GPT2LAB_CUDA_API_H
#define GPT2LAB_CUDA_API_H

#include <stddef.h>
#include <stdint.h>
#include "CCUDA.h"

typedef int CUresult;                 // CUDA_SUCCESS = 0
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;
enum { CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76 };

typedef int nvrtcResult;              // NVRTC_SUCCESS = 0
typedef struct _nvrtcProgram *nvrtcProgram;

typedef int cublasStatus_t;           // CUBLAS_STATUS_SUCCESS = 0
typedef struct cublasContext *cublasHandle_t;
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 };                                     // cudaDataType
enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77 };          // cublasComputeType_t
enum { CUBLAS_GEMM_DEFAULT = -1 };                                             // cublasGemmAlgo_t
enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2, CUBLAS_TF32_TENSOR_OP_MATH = 3 };  // cublasMath_t

struct gl_cuda_api {
    // driver (libcuda.so.1)
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDriverGetVersion)(int *);
    CUresult (*cuDeviceGetCount)(int *);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDeviceGetName)(char *, int, CUdevice);
    CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*cuDeviceTotalMem)(size_t *, CUdevice);
    CUresult (*cuMemGetInfo)(size_t *, size_t *);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree)(CUdeviceptr);
    CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*cuModuleLoadData)(CUmodule *, const void *);
    CUresult (*cuModuleUnload)(CUmodule);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                               unsigned, CUstream, void **, void **);
    CUresult (*cuGetErrorName)(CUresult, const char **);
    CUresult (*cuGetErrorString)(CUresult, const char **);
    // NVRTC
    nvrtcResult (*nvrtcVersion)(int *, int *);
    nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram *, const char *, const char *, int, const char *const *, const char *const *);
    nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t *);
    nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char *);
    nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t *);
    nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char *);
    nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram *);
    const char *(*nvrtcGetErrorString)(nvrtcResult);
    // cuBLAS
    cublasStatus_t (*cublasCreate)(cublasHandle_t *);
    cublasStatus_t (*cublasDestroy)(cublasHandle_t);
    cublasStatus_t (*cublasSetMathMode)(cublasHandle_t, int);
    cublasStatus_t (*cublasGemmEx)(cublasHandle_t, int, int, int, int, int, const void *, const void *, int, int,
                                   const void *, int, int, const void *, void *, int, int, int, int);
    cublasStatus_t (*cublasGemmStridedBatchedEx)(cublasHandle_t, int, int, int, int, int, const void *,
                                                 const void *, int, int, long long, const void *, int, int, long long,
                                                 const void *, void *, int, int, long long, int, int, int);
};

extern struct gl_cuda_api gl_cu;

/// Uses `table` instead of the loaded libraries (the tests' emulated device, Tests/CCUDAEmulator);
/// `label` is what gl_cuda_library reports for each library.
void gl_cuda_install(const struct gl_cuda_api *table, const char *label);

/// One line into err: "CALL failed: NAME (description)" for a driver result.
int gl_cu_fail(char *err, const char *call, CUresult r);
/// The same for NVRTC and cuBLAS results.
int gl_nvrtc_fail(char *err, const char *call, nvrtcResult r);
int gl_cublas_fail(char *err, const char *call, cublasStatus_t r);

#define CU_CHECK(call, err) do { CUresult r_ = (call); if (r_ != 0) return gl_cu_fail(err, #call, r_); } while (0)
#define BLAS_CHECK(call, err) do { cublasStatus_t r_ = (call); if (r_ != 0) return gl_cublas_fail(err, #call, r_); } while (0)

enum { GL_CUDA_SCRATCH_SLOTS = 17, GL_CUDA_THREADS = 256 };

/// The kernel source (kernels.h) and the module functions the forward launches.
extern const char gl_cuda_kernel_source[];

/// score --profile's totals (CCUDA.h's gl_cuda_profile_set).
typedef struct {
    int on;
    double last, seconds[GL_PROF_CLASSES], flops[GL_PROF_CLASSES];
    long long calls[GL_PROF_CLASSES];
} gl_cuda_profile;

struct gl_cuda_ctx {
    int ordinal, cc_major, cc_minor, math;   // math: GL_CUDA_MATH_*
    CUdevice dev;
    CUcontext context;
    cublasHandle_t blas;
    CUmodule module;
    CUfunction k_embed, k_embed_bf16, k_layernorm, k_bias_rows, k_residual, k_gelu, k_softmax_causal,
               k_to_bf16, k_lse_chunk, k_nll_finish, k_lse_init, k_split3, k_permute_qkv, k_unpermute,
               k_layernorm_operand, k_gelu_operand, k_residual_bias;
    // compare's paired heads (compare.c)
    CUfunction k_pair_init, k_pair_chunk;
    // the backward pass (backward.c)
    CUfunction k_zero, k_axpby, k_lse_backward, k_layernorm_backward, k_colsum_part, k_layernorm_part, k_colsum_add,
               k_gelu_backward, k_softmax_causal_backward, k_permute_heads, k_wte_backward, k_rademacher_fill, k_dot_part;
    // the fused bf16 attention (kernels_attention.h) and whether this context uses it (attention.c's
    // gl_cuda_attention_choose): 0 not decided, 1 fused, 2 the products path; att_why says which and why
    CUfunction k_attention_bf16;
    int att_choice;
    char att_why[200];
    char origin[1024];
    size_t held, peak;
    gl_cuda_profile prof;
    // The forward's scratch for `rows` rows of windows of t tokens, kept between calls of one shape
    // (forward.c's scratch_sizes says what each slot holds); att_windows: windows per attention chunk (0 when
    // the fused attention runs and no scores are kept).
    struct {
        int rows, t, c, f, nh, v, bf16, math, att_windows, fused;
        CUdeviceptr x, ln, qkv, atty, proj, fch, xa, att, att2, qkvp, logits, ids, tgt, lse_max, lse_sum, picked, nll;
        size_t bytes[GL_CUDA_SCRATCH_SLOTS];
    } s;
    // The gradient's buffers (backward.c) for chunks of nw windows of t tokens: one allocation.
    struct { int nw, t, c, f, nh, layers, v; CUdeviceptr base; size_t bytes; } g;
};

int gl_cuda_alloc(gl_cuda_ctx *ctx, size_t bytes, CUdeviceptr *p, char *err);
/// With the profile on: waits for the device and charges the time since the previous mark to `cls` (a
/// GL_PROF_* class; -1 starts the clock, charging nothing).
int gl_cuda_mark(gl_cuda_ctx *ctx, int cls, double flops, char *err);
/// Compiles (or reads from the cache) and loads the kernels into ctx->module.
int gl_cuda_load_module(gl_cuda_ctx *ctx, char *err);
/// Launches `f` over `threads` threads in blocks of `block` (nothing when threads < 1).
int gl_cuda_launch(CUfunction f, const char *name, long long threads, int block, void **args, char *err);

/// One GEMM operand: its device pointer, leading dimension and the stride between batch entries (elements).
typedef struct { CUdeviceptr p; int ld; long long stride; } gl_operand;
/// C (column-major m × n, `batch` of them) = alpha·op(A)·op(B) + beta·C with f32 sums: bf16 operands
/// (dt CUDA_R_16BF), or f32 operands in the context's math (gemm.c; with the split math the operands are
/// already stacked along k by split3 and k is three times the product's own).
int gl_cuda_gemm(gl_cuda_ctx *c, int dt, int ta, int tb, int m, int n, int k, float alpha, gl_operand a, gl_operand b,
                 float beta, CUdeviceptr out, int ldc, long long stride_c, int batch, const char *what, char *err);
/// One attention's buffers: qkv (nw·t, 3C) in, out (nw·t, C); qkvp: q, k, v per (window, head); att: the
/// scores of att_windows windows at a time (att2: their probabilities in bf16, or stacked for the split math;
/// with f32 math the probabilities stay in att); y: the heads' outputs (nw·t·C floats) before out; qkv_bias: the
/// qkv product's bias (3C), added as q, k, v are permuted (0 when qkv holds it).
typedef struct { CUdeviceptr qkv, qkvp, att, att2, y, out; int att_windows; CUdeviceptr qkv_bias; } gl_attention_bufs;
/// Causal attention of nw windows of t tokens (attention.c).
int gl_cuda_attention(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, const gl_attention_bufs *b, char *err);
/// Whether m's attention runs as the fused kernel in this context (a bf16 model with 64-wide heads, once
/// gl_cuda_attention_choose took the kernel): then no (t, t) scores are kept.
int gl_cuda_attention_fused(const gl_cuda_ctx *c, const gl_cuda_model *m);

/// One attention's backward (f32): qkv (nw·t, 3C) and the probabilities att (nw·nh·t·t) its forward kept,
/// datty (nw·t, C) in, dqkv (nw·t, 3C) out; qkvp, dqkvp (3·nw·t·C each), dy (nw·t·C) and datt (as att) scratch.
typedef struct { CUdeviceptr qkv, att, datty, dqkv, qkvp, dqkvp, dy, datt; } gl_attention_grads;
int gl_cuda_attention_backward(gl_cuda_ctx *c, const gl_cuda_model *m, int nw, int t, const gl_attention_grads *g, char *err);

/// The LM head's buffers: x (n, C) the final LayerNorm's output, tgt (n ids), a logits chunk, the online
/// logsumexp (mx, sum in double), the target's logit and the NLL (n each).
typedef struct { CUdeviceptr x, tgt, logits, mx, sum, picked, nll; } gl_head_bufs;
/// nll from x through the LM head, in chunks of gl_head_rows rows × gl_head_vocab vocabulary columns (forward.c).
int gl_cuda_head_loss(gl_cuda_ctx *c, const gl_cuda_model *m, long long n, const gl_head_bufs *h, char *err);
enum { GL_HEAD_ROWS = 8192, GL_VOCAB_BLOCK = 8192 };
/// nw windows of t tokens (ids from the host) through the blocks and ln_f into s.ln (nw·t rows; the scratch
/// sized for them), and the LM head's logits (rows, vb) of vocabulary columns v0.. for x's rows (f32, C wide) into
/// out, in the model's precision and the context's math (forward.c).
int gl_cuda_hidden(gl_cuda_ctx *c, const gl_cuda_model *m, const int32_t *ids, int nw, int t, char *err);
int gl_cuda_head_logits(gl_cuda_ctx *c, const gl_cuda_model *m, CUdeviceptr x, int rows, int v0, int vb, CUdeviceptr out, char *err);
/// out (n, oc) = inp (n, k) · weightᵀ + bias, and LayerNorm (mean, rstd may be 0), as the forward runs them.
int gl_cuda_linear(gl_cuda_ctx *c, int bf16, CUdeviceptr out, CUdeviceptr inp, uint64_t weight, uint64_t bias,
                   long long n, int k, int oc, const char *what, char *err);
int gl_cuda_layernorm(gl_cuda_ctx *c, CUdeviceptr out, CUdeviceptr inp, uint64_t w, uint64_t b, long long n, int C,
                      CUdeviceptr mean, CUdeviceptr rstd, char *err);

/// NVRTC: the kernels compiled for sm_<arch>, malloc'd into *cubin.
int gl_cuda_compile(int arch, char **cubin, size_t *bytes, char *err);

#endif
