// The GPU scorer's C side: the CUDA driver, NVRTC and cuBLAS loaded at run time (dlopen), so the
// binary builds and runs without CUDA; the scoring forward of GPT-2 (f32 or bf16 products) on one
// device. No CUDA header is needed at build time: the few types used are declared in cuda_api.h.
//
// Every function returns 0 on success; on failure it returns non-zero and writes one line naming
// the call that failed into the caller's `err` buffer (GL_CUDA_ERR bytes).
#ifndef GPT2LAB_CCUDA_H
#define GPT2LAB_CCUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GL_CUDA_ERR 512

/// The three libraries, in the order gl_cuda_library() numbers them.
enum { GL_CUDA_LIB_DRIVER = 0, GL_CUDA_LIB_NVRTC = 1, GL_CUDA_LIB_CUBLAS = 2, GL_CUDA_LIB_COUNT = 3 };
/// More GPUs than this from cuDeviceGetCount is a driver fault, refused.
enum { GL_CUDA_MAX_DEVICES = 1024 };

/// Loads the libraries (once; later calls return the first outcome). 0 when all three loaded.
int gl_cuda_load(char *err);
/// Where library `which` was found (a path or a soname), or NULL with `why` saying why none was.
const char *gl_cuda_library(int which, const char **why);

/// The driver's version (e.g. 13000) and the device count; needs gl_cuda_load's driver.
int gl_cuda_devices(int *driver_version, int *count, char *err);
/// One device's name (up to 255 bytes), compute capability and memory.
int gl_cuda_device_info(int ordinal, char *name, int *cc_major, int *cc_minor, size_t *total_bytes, char *err);
/// NVRTC's version as major*1000 + minor*10 (nvrtcVersion), or -1 when NVRTC is not loaded.
int gl_cuda_nvrtc_version(void);
/// NULL when NVRTC loaded with every symbol gpt2lab calls, else why not (found, or not loadable).
const char *gl_cuda_nvrtc_problem(void);

/// Compiles the kernel source for `arch` (e.g. 90 for sm_90) without a device: the test that the
/// source compiles where NVRTC is found. Writes the compile log's first line into err on failure.
int gl_cuda_compile_check(int arch, size_t *cubin_bytes, char *err);

/// The kernels' CUDA source as NVRTC compiles it (kernels.h and kernels_backward.h).
const char *gl_cuda_kernel_text(void);

/// A device, its primary context, a cuBLAS handle and the compiled kernels.
typedef struct gl_cuda_ctx gl_cuda_ctx;

/// How f32 products run: GL_CUDA_MATH_F32 (cuBLAS's FP32 on the CUDA cores), GL_CUDA_MATH_SPLIT (each
/// product as three TF32 tensor-core products of (hi, lo) splits, hi·hi + hi·lo + lo·hi: errors of f32's
/// order), GL_CUDA_MATH_TF32 (one TF32 product: 10-bit mantissas). bf16 models use bf16 products.
enum { GL_CUDA_MATH_F32 = 0, GL_CUDA_MATH_SPLIT = 1, GL_CUDA_MATH_TF32 = 2 };

int gl_cuda_open(int ordinal, int math, gl_cuda_ctx **out, char *err);
void gl_cuda_close(gl_cuda_ctx *ctx);
/// Where the kernels came from: "cache <path>", "compiled (written to <path>)", "compiled (not cached: ...)".
const char *gl_cuda_kernel_origin(const gl_cuda_ctx *ctx);
/// Bytes this context holds on the device now, and the most it held at once.
size_t gl_cuda_bytes_held(const gl_cuda_ctx *ctx);
size_t gl_cuda_bytes_peak(const gl_cuda_ctx *ctx);

/// `score --profile` on the GPU: while on, the scoring forward waits for the device after each stage and adds the
/// wall time since the previous stage to the stage's class (in the order of the engine's KernelClass), and the
/// products' FLOPs; off, a stage pays one test. The waits add a launch gap a stage, so the classes sum to a little
/// more than an unprofiled score takes.
enum { GL_PROF_MATMUL, GL_PROF_ATTENTION, GL_PROF_HEAD, GL_PROF_LAYERNORM, GL_PROF_GELU, GL_PROF_RESIDUAL,
       GL_PROF_EMBEDDING, GL_PROF_CLASSES };
/// Turns the profile on (its totals zeroed) or off.
void gl_cuda_profile_set(gl_cuda_ctx *ctx, int on);
/// The totals so far: seconds, FLOPs and calls, GL_PROF_CLASSES of each.
void gl_cuda_profile_read(const gl_cuda_ctx *ctx, double *seconds, double *flops, long long *calls);

/// Device memory: an allocation filled from host memory, and its release.
int gl_cuda_upload(gl_cuda_ctx *ctx, const void *host, size_t bytes, uint64_t *dptr, char *err);
void gl_cuda_free(gl_cuda_ctx *ctx, uint64_t dptr, size_t bytes);

/// The split math's form of the f32 matrix at `w` (rows × k): a new allocation *stacked (rows × 3k floats,
/// freed with gl_cuda_free) whose row r is [hi | lo | hi] of w's row r (hi: TF32-rounded, lo: the rest).
int gl_cuda_stack_weights(gl_cuda_ctx *ctx, uint64_t w, size_t rows, int k, uint64_t *stacked, char *err);

/// One block's tensors on the device (f32 unless the model is bf16, where the four matrices are bf16).
/// With the split math the four matrices are held stacked (gl_cuda_stack_weights: rows × 3k).
typedef struct {
    uint64_t ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb;
} gl_cuda_block;

/// A model on the device. With bf16 != 0, wte, head and the blocks' matrices hold bf16 values.
typedef struct {
    int vocab_stored;   // V: head rows stored
    int softmax_rows;   // rows the softmax runs over (<= V)
    int context, c, layers, heads, inner;
    int bf16;
    uint64_t wte, wpe, lnfw, lnfb, head;   // the split math: head stacked (its own copy when tied; wte stays whole)
    const gl_cuda_block *blocks;  // host array of `layers`
} gl_cuda_model;

/// Host buffers that receive intermediate values of window 0 (GPT2LAB_CUDA_CHECK); any may be NULL.
/// Each is (T, width) for window 0 only.
typedef struct {
    float *encoded;                 // (T, C) embeddings
    float *ln1, *qkv, *atty, *res2, *ln2, *fch, *gelu;  // block 0's stages
    float *blocks;                  // (L, T, C): each block's output
    float *lnf;                     // (T, C)
} gl_cuda_dump;

/// Per-token NLL (b*t floats, host) of b windows of t tokens: inputs and targets (b*t ids, host).
/// Targets outside [0, softmax_rows) give NaN. Rows are processed in chunks that bound memory.
/// target_logit and max_logit (b*t floats each, or NULL): each position's target logit and largest logit
/// (the target is a greedy choice when they are equal).
int gl_cuda_forward(gl_cuda_ctx *ctx, const gl_cuda_model *m, const int32_t *inputs, const int32_t *targets,
                    int b, int t, float *nll, float *target_logit, float *max_logit, const gl_cuda_dump *dump, char *err);

/// One position of `compare` (Divergence.swift's PositionComparison): each model's NLL, KL(A‖B) in nats,
/// each one's argmax and largest probability.
typedef struct { float nll_a, nll_b; double kl; int32_t argmax_a, argmax_b; float conf_a, conf_b; } gl_cuda_position;
/// Both models (on this context's device; the same softmax rows, precision, width, inner size and heads) on nw
/// windows of t tokens:
/// out (nw·t) for every position (compare.c).
int gl_cuda_compare(gl_cuda_ctx *ctx, const gl_cuda_model *a, const gl_cuda_model *b, const int32_t *inputs,
                    const int32_t *targets, int nw, int t, gl_cuda_position *out, char *err);

/// Decides, once per context, how a bf16 model's attention runs: the fused tensor-core kernel when its heads are
/// 64 wide, the GPU is sm_80 or later and the kernel agrees with the products path on a check problem run on
/// the device (GPT2LAB_CUDA_ATTENTION=products forces the products, for benchmarks); else the products path.
int gl_cuda_attention_choose(gl_cuda_ctx *ctx, int heads, int width, char *err);
/// Which attention path the context chose, and why ("" before gl_cuda_attention_choose).
const char *gl_cuda_attention_path(const gl_cuda_ctx *ctx);
/// Frees the forward's scratch (it is kept between calls of one shape).
void gl_cuda_release_scratch(gl_cuda_ctx *ctx);

/// The gradient of the mean NLL over b windows of t tokens (every position scored) with respect to m's
/// weights, added (+=) into the device buffers g points at (g has m's form: a tied head's g->head is g->wte).
/// f32 models in a context opened with GL_CUDA_MATH_F32 only. *loss: the mean NLL. Windows go in chunks
/// that bound the kept activations; the buffers are kept between calls of one shape (backward.c).
int gl_cuda_gradient(gl_cuda_ctx *ctx, const gl_cuda_model *m, const gl_cuda_model *g, const int32_t *inputs,
                     const int32_t *targets, int b, int t, double *loss, char *err);
/// The device bytes gl_cuda_gradient's buffers take for b windows of t tokens of m's shape (addresses unused).
size_t gl_cuda_gradient_bytes(const gl_cuda_model *m, int b, int t);
/// The most bytes of kept activations one chunk of windows may take (0: the default, 8 GiB); for tests.
void gl_cuda_set_gradient_chunk_bytes(size_t bytes);
/// Hutchinson's probe on the device: v (n floats) as the CPU's rademacher() fills a block whose first
/// SplitMix64 draw is draw0 (the draw-th output of the generator at `state`): bit i % 64 of draw draw0 + i / 64.
int gl_cuda_rademacher(gl_cuda_ctx *ctx, uint64_t v, size_t n, uint64_t state, long long draw0, char *err);
/// Σ x·y in double over each tile of GL_DOT_TILE elements of n: ⌈n / GL_DOT_TILE⌉ doubles at part, each in a
/// fixed order (the host adds the tiles in order).
enum { GL_DOT_TILE = 4096 };
int gl_cuda_dot_tiles(gl_cuda_ctx *ctx, uint64_t part, uint64_t x, uint64_t y, size_t n, char *err);
/// Frees the gradient's buffers.
void gl_cuda_release_gradient(gl_cuda_ctx *ctx);
/// Device memory of n floats: out = a·x + b·y; zeros; copies to and from the host.
int gl_cuda_axpby(gl_cuda_ctx *ctx, uint64_t out, float a, uint64_t x, float b, uint64_t y, size_t n, char *err);
int gl_cuda_zero(gl_cuda_ctx *ctx, uint64_t p, size_t n, char *err);
int gl_cuda_download(gl_cuda_ctx *ctx, void *host, uint64_t p, size_t bytes, char *err);
int gl_cuda_copy_in(gl_cuda_ctx *ctx, uint64_t p, const void *host, size_t bytes, char *err);
int gl_cuda_alloc_bytes(gl_cuda_ctx *ctx, size_t bytes, uint64_t *p, char *err);
/// The device memory free now (cuMemGetInfo), in bytes.
int gl_cuda_free_bytes(gl_cuda_ctx *ctx, size_t *free_bytes, char *err);

#ifdef __cplusplus
}
#endif
#endif
