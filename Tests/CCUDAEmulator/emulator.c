// The emulated device (include/CCUDAEmulator.h). Kernels are matched by name and run as plain loops
// with the arithmetic of Sources/CCUDA/kernels.h; GEMMs follow cuBLAS's column-major definition
// C = alpha·op(A)·op(B) + beta·C, element (i, j) at i + j·ld.
#include "CCUDAEmulator.h"
#include "cuda_api.h"
#include "emulated_bf16.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static long launches, gemms;
long gl_cuda_emulated_launches(void) { return launches; }
long gl_cuda_emulated_gemms(void) { return gemms; }


/// TF32 split as kernels.h's tf32_hi: to nearest (ties away) at a 10-bit mantissa.
static float tf32_hi(float x) {
    uint32_t u; memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;
    uint32_t r = (u + 0x1000u) & 0xffffe000u;
    if ((r & 0x7f800000u) == 0x7f800000u) r = u & 0xffffe000u;
    float h; memcpy(&h, &r, 4); return h;
}
static int nonfinite(float x) { uint32_t u; memcpy(&u, &x, 4); return (u & 0x7f800000u) == 0x7f800000u; }
/// What a TF32 tensor core reads of an f32 operand: the low 13 mantissa bits dropped (truncation, the
/// harsher of the hardware's and cuBLAS's conversions).
static float tf32_truncate(float x) { uint32_t u; memcpy(&u, &x, 4); u &= 0xffffe000u; float f; memcpy(&f, &u, 4); return f; }

/// kernels.h's ln_stats: a row's mean and 1/sqrt(var + eps).
static void ln_stats(const float *x, int c, float *m, float *r) {
    float s = 0; for (int i = 0; i < c; i++) s += x[i];
    *m = s / (float)c;
    float v = 0; for (int i = 0; i < c; i++) { float d = x[i] - *m; v += d * d; }
    *r = 1.0f / sqrtf(v / (float)c + 1e-5f);
}
static float gelu_of(float x) { return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); }
/// kernels.h's put_operand: element (r, j) of a (rows, k) product input, f32 (mode 0), [hi|hi|lo] rows (1), bf16 (2).
static void put_operand(void *dst, long long r, int k, int j, float v, int mode) {
    if (mode == 2) { ((uint16_t *)dst)[r * k + j] = round_bf16(v); return; }
    if (mode == 0) { ((float *)dst)[r * k + j] = v; return; }
    float h = tf32_hi(v), *d = (float *)dst + r * 3 * k + j;
    d[0] = h; d[k] = h; d[2 * k] = nonfinite(v) ? 0.0f : v - h;
}

static CUresult ok0(void) { return 0; }
extern int gl_cuda_emulated_pending_fault;   // emulator_attention.c
static CUresult e_sync(void) {
    if (!gl_cuda_emulated_pending_fault) return 0;
    gl_cuda_emulated_pending_fault = 0;
    return 700;   // CUDA_ERROR_ILLEGAL_ADDRESS
}
static CUresult e_init(unsigned f) { (void)f; return 0; }
static CUresult e_version(int *v) { *v = 13000; return 0; }
static CUresult e_count(int *n) { *n = 1; return 0; }
static CUresult e_get(CUdevice *d, int o) { *d = o; return o == 0 ? 0 : 101; }
static CUresult e_name(char *n, int len, CUdevice d) { (void)d; strncpy(n, "emulated device", (size_t)len); return 0; }
static CUresult e_attr(int *v, int a, CUdevice d) { (void)d; *v = a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ? 9 : 0; return 0; }
static CUresult e_mem(size_t *b, CUdevice d) { (void)d; *b = (size_t)1 << 34; return 0; }
static size_t free_bytes = (size_t)1 << 34;
void gl_cuda_emulated_set_free_bytes(size_t bytes) { free_bytes = bytes ? bytes : (size_t)1 << 34; }
static CUresult e_meminfo(size_t *f, size_t *t) { *f = free_bytes; *t = (size_t)1 << 34; return 0; }
static CUresult e_retain(CUcontext *c, CUdevice d) { (void)d; *c = (CUcontext)(uintptr_t)0x1; return 0; }
static CUresult e_release(CUdevice d) { (void)d; return 0; }
static CUresult e_setcur(CUcontext c) { (void)c; return 0; }
static int fail_allocs = 0;
void gl_cuda_emulated_fail_allocs(int on) { fail_allocs = on; }
static CUresult e_alloc(CUdeviceptr *p, size_t n) {
    if (fail_allocs) return 2;  // CUDA_ERROR_OUT_OF_MEMORY
    void *m = calloc(1, n); *p = (CUdeviceptr)(uintptr_t)m; return m ? 0 : 2;
}
static CUresult e_free(CUdeviceptr p) { free((void *)(uintptr_t)p); return 0; }
static CUresult e_htod(CUdeviceptr d, const void *h, size_t n) { memcpy((void *)(uintptr_t)d, h, n); return 0; }
static CUresult e_dtoh(void *h, CUdeviceptr d, size_t n) { memcpy(h, (void *)(uintptr_t)d, n); return 0; }
static CUresult e_modload(CUmodule *m, const void *img) { (void)img; *m = (CUmodule)(uintptr_t)0x2; return 0; }
static CUresult e_modunload(CUmodule m) { (void)m; return 0; }
static CUresult e_getfn(CUfunction *f, CUmodule m, const char *name) { (void)m; *f = (CUfunction)(uintptr_t)strdup(name); return 0; }
static CUresult e_errname(CUresult r, const char **s) { (void)r; *s = "CUDA_ERROR_EMULATED"; return 0; }

#define ARG(i, T) (*(T *)args[i])
#define PTR(i, T) ((T *)(uintptr_t)ARG(i, CUdeviceptr))

/// The backward pass's kernels (emulator_backward.c); non-zero for a name it does not know.
int gl_cuda_emulate_backward(const char *k, void **args);
/// compare's paired heads, Hutchinson's probe (emulator_backward.c).
int gl_cuda_emulate_pair(const char *k, void **args);
int gl_cuda_emulate_probe(const char *k, void **args);
/// The fused bf16 attention (emulator_attention.c).
int gl_cuda_emulate_attention(const char *k, void **args);

static CUresult e_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                         unsigned shm, CUstream st, void **args, void **extra) {
    (void)gy; (void)gz; (void)by; (void)bz; (void)shm; (void)st; (void)extra; (void)gx; (void)bx;
    const char *k = (const char *)f;
    launches++;
    if (!strcmp(k, "embed") || !strcmp(k, "embed_bf16")) {
        float *out = PTR(0, float); const int *ids = PTR(1, int); const float *wpe = PTR(3, float);
        long long n = ARG(4, long long); int t = ARG(5, int), c = ARG(6, int), v = ARG(7, int);
        for (long long r = 0; r < n; r++) for (int i = 0; i < c; i++) {
            int id = ids[r];
            float e = id < 0 || id >= v ? NAN : k[5] ? widen(PTR(2, uint16_t)[(long long)id * c + i]) : PTR(2, float)[(long long)id * c + i];
            out[r * c + i] = e + wpe[(r % t) * c + i];
        }
    } else if (!strcmp(k, "layernorm") || !strcmp(k, "layernorm_operand")) {
        void *out = PTR(0, void); const float *x = PTR(1, float), *w = PTR(2, float), *b = PTR(3, float);
        long long n = ARG(4, long long); int c = ARG(5, int), staged = !strcmp(k, "layernorm");
        float *mean = staged ? PTR(6, float) : NULL, *rstd = staged ? PTR(7, float) : NULL;
        int mode = staged ? 0 : ARG(6, int);
        for (long long r = 0; r < n; r++) {
            const float *xr = x + r * c;
            float m, rs;
            ln_stats(xr, c, &m, &rs);
            if (mean) { mean[r] = m; rstd[r] = rs; }
            for (int i = 0; i < c; i++) put_operand(out, r, c, i, (xr[i] - m) * rs * w[i] + b[i], mode);
        }
    } else if (!strcmp(k, "bias_rows")) {
        float *out = PTR(0, float); const float *b = PTR(1, float); long long n = ARG(2, long long); int oc = ARG(3, int);
        for (long long i = 0; i < n * oc; i++) out[i] = b[i % oc];
    } else if (!strcmp(k, "residual")) {
        float *out = PTR(0, float); const float *a = PTR(1, float), *b = PTR(2, float); long long n = ARG(3, long long);
        for (long long i = 0; i < n; i++) out[i] = a[i] + b[i];
    } else if (!strcmp(k, "residual_bias")) {
        float *x = PTR(0, float); const float *p = PTR(1, float), *b = PTR(2, float);
        long long n = ARG(3, long long); int c = ARG(4, int);
        for (long long i = 0; i < n; i++) x[i] = x[i] + (b ? p[i] + b[i % c] : p[i]);
    } else if (!strcmp(k, "gelu")) {
        float *out = PTR(0, float); const float *in = PTR(1, float); long long n = ARG(2, long long);
        for (long long i = 0; i < n; i++) out[i] = gelu_of(in[i]);
    } else if (!strcmp(k, "gelu_operand")) {
        void *out = PTR(0, void); const float *in = PTR(1, float), *b = PTR(2, float);
        long long n = ARG(3, long long); int f = ARG(4, int), mode = ARG(5, int);
        for (long long i = 0; i < n; i++) put_operand(out, i / f, f, (int)(i % f), gelu_of(b ? in[i] + b[i % f] : in[i]), mode);
    } else if (!strcmp(k, "softmax_causal")) {
        float *att = PTR(0, float); long long rows = ARG(1, long long); int t = ARG(2, int), mode = ARG(3, int);
        void *out = PTR(4, void);
        for (long long r = 0; r < rows; r++) {
            float *p = att + r * t; int valid = (int)(r % t) + 1;
            float m = -INFINITY; for (int i = 0; i < valid; i++) m = fmaxf(m, p[i]);
            float s = 0; for (int i = 0; i < valid; i++) s += expf(p[i] - m);
            float inv = 1.0f / s;
            float *o3 = (float *)out + r * 3 * t; uint16_t *o16 = (uint16_t *)out + r * t;
            for (int i = 0; i < t; i++) {
                float e = i < valid ? expf(p[i] - m) * inv : 0.0f;
                if (mode == 0) p[i] = e;
                else if (mode == 2) o16[i] = round_bf16(e);
                else { float h = tf32_hi(e); o3[i] = h; o3[t + i] = h; o3[2 * t + i] = e - h; }
            }
        }
    } else if (!strcmp(k, "split3")) {
        float *dst = PTR(0, float); const float *x = PTR(1, float); long long rows = ARG(2, long long);
        int kk = ARG(3, int), pattern = ARG(4, int);
        for (long long i = 0; i < rows * kk; i++) {
            long long r = i / kk; int j = (int)(i % kk);
            float v = x[i], h = tf32_hi(v), l = nonfinite(v) ? 0.0f : v - h;
            float *d = dst + r * 3 * kk + j;
            d[0] = h; d[kk] = pattern ? l : h; d[2 * kk] = pattern ? h : l;
        }
    } else if (!strcmp(k, "permute_qkv")) {
        void *dst = PTR(0, void); const float *qkv = PTR(1, float);
        long long nw = ARG(2, long long); int t = ARG(3, int), nh = ARG(4, int), hs = ARG(5, int), mode = ARG(6, int);
        const float *bias = PTR(7, float);
        long long n = nw * nh * t * hs, c = (long long)nh * hs;
        for (long long i = 0; i < n; i++) {
            int d = (int)(i % hs); long long r = i / hs; int p = (int)(r % t); long long bh = r / t; int h = (int)(bh % nh);
            long long w = bh / nh, col = (long long)h * hs + d;
            const float *src = qkv + (w * t + p) * 3 * c + col;
            float in[3];
            for (int j = 0; j < 3; j++) in[j] = bias ? src[j * c] + bias[j * c + col] : src[j * c];
            if (mode == 1) {
                float *q = (float *)dst, *k3 = q + 3 * n, *v3 = q + 6 * n;
                float qv = in[0], kv = in[1], vv = in[2];
                float qh = tf32_hi(qv), kh = tf32_hi(kv), vh = tf32_hi(vv);
                float ql = nonfinite(qv) ? 0 : qv - qh, kl = nonfinite(kv) ? 0 : kv - kh, vl = nonfinite(vv) ? 0 : vv - vh;
                long long row = (bh * t + p) * 3 * hs + d, vr = (bh * 3 * t + p) * hs + d;
                q[row] = qh; q[row + hs] = qh; q[row + 2 * hs] = ql;
                k3[row] = kh; k3[row + hs] = kl; k3[row + 2 * hs] = kh;
                v3[vr] = vh; v3[vr + (long long)t * hs] = vl; v3[vr + 2LL * t * hs] = vh;
                continue;
            }
            for (int j = 0; j < 3; j++) {
                float v = in[j];
                if (mode == 2) ((uint16_t *)dst)[j * n + i] = round_bf16(v);
                else ((float *)dst)[j * n + i] = v;
            }
        }
    } else if (!strcmp(k, "unpermute")) {
        float *out = PTR(0, float); const float *y = PTR(1, float);
        long long nw = ARG(2, long long); int t = ARG(3, int), nh = ARG(4, int), hs = ARG(5, int);
        long long n = nw * nh * t * hs;
        for (long long i = 0; i < n; i++) {
            int d = (int)(i % hs); long long r = i / hs; int p = (int)(r % t); r /= t; int h = (int)(r % nh); long long w = r / nh;
            out[(w * t + p) * nh * hs + (long long)h * hs + d] = y[i];
        }
    } else if (!strcmp(k, "to_bf16")) {
        uint16_t *out = PTR(0, uint16_t); const float *in = PTR(1, float); long long n = ARG(2, long long);
        for (long long i = 0; i < n; i++) out[i] = round_bf16(in[i]);
    } else if (!strcmp(k, "lse_init")) {
        float *mx = PTR(0, float); double *sum = PTR(1, double); float *pk = PTR(2, float); long long n = ARG(3, long long);
        for (long long i = 0; i < n; i++) { mx[i] = -INFINITY; sum[i] = 0; pk[i] = NAN; }
    } else if (!strcmp(k, "lse_chunk")) {
        const float *lg = PTR(0, float); long long rows = ARG(1, long long); int vb = ARG(2, int), v0 = ARG(3, int);
        const int *tg = PTR(4, int); float *mx = PTR(5, float); double *sum = PTR(6, double); float *pk = PTR(7, float);
        if ((long long)gx != rows) return 1;
        for (long long r = 0; r < rows; r++) {
            const float *l = lg + r * vb;
            float cm = -INFINITY; for (int i = 0; i < vb; i++) cm = fmaxf(cm, l[i]);
            float cs = 0; for (int i = 0; i < vb; i++) cs += expf(l[i] - cm);
            float old = mx[r], nm = fmaxf(old, cm);
            double acc = sum[r];
            acc = (old == nm ? acc : acc * exp((double)old - (double)nm)) + (double)cs * exp((double)cm - (double)nm);
            mx[r] = nm; sum[r] = acc;
            int t = tg[r] - v0;
            if (t >= 0 && t < vb) pk[r] = l[t];
        }
    } else if (!strcmp(k, "nll_finish")) {
        float *nll = PTR(0, float); const float *mx = PTR(1, float); const double *sum = PTR(2, double);
        const float *pk = PTR(3, float); const int *tg = PTR(4, int); long long n = ARG(5, long long); int v = ARG(6, int);
        for (long long i = 0; i < n; i++) nll[i] = tg[i] >= 0 && tg[i] < v ? (float)((double)mx[i] + log(sum[i]) - (double)pk[i]) : NAN;
    } else if (gl_cuda_emulate_backward(k, args) && gl_cuda_emulate_pair(k, args) && gl_cuda_emulate_probe(k, args)
               && gl_cuda_emulate_attention(k, args)) {
        return 500;  // CUDA_ERROR_NOT_FOUND
    }
    return 0;
}

static nvrtcResult n_version(int *a, int *b) { *a = 0; *b = 0; return 0; }
static nvrtcResult n_create(nvrtcProgram *p, const char *s, const char *n, int h, const char *const *a, const char *const *b) {
    (void)s; (void)n; (void)h; (void)a; (void)b; *p = (nvrtcProgram)(uintptr_t)0x3; return 0;
}
static nvrtcResult n_compile(nvrtcProgram p, int n, const char *const *o) { (void)p; (void)n; (void)o; return 0; }
static nvrtcResult n_logsize(nvrtcProgram p, size_t *n) { (void)p; *n = 1; return 0; }
static nvrtcResult n_log(nvrtcProgram p, char *l) { (void)p; l[0] = 0; return 0; }
static nvrtcResult n_cubinsize(nvrtcProgram p, size_t *n) { (void)p; *n = 9; return 0; }
static nvrtcResult n_cubin(nvrtcProgram p, char *c) { (void)p; memcpy(c, "emulated", 9); return 0; }
static nvrtcResult n_destroy(nvrtcProgram *p) { (void)p; return 0; }
static const char *n_err(nvrtcResult r) { (void)r; return "NVRTC_ERROR_EMULATED"; }

static cublasStatus_t b_create(cublasHandle_t *h) { *h = (cublasHandle_t)(uintptr_t)0x4; return 0; }
static cublasStatus_t b_destroy(cublasHandle_t h) { (void)h; return 0; }
static cublasStatus_t b_math(cublasHandle_t h, int m) { (void)h; (void)m; return 0; }

static double load(const void *p, int type, long long i, int tf32) {
    if (type == CUDA_R_16BF) return widen(((const uint16_t *)p)[i]);
    float x = ((const float *)p)[i];
    return tf32 ? tf32_truncate(x) : x;
}
static long tf32_gemms;
long gl_cuda_emulated_tf32_gemms(void) { return tf32_gemms; }

static cublasStatus_t b_batched(cublasHandle_t h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int at,
                                int lda, long long sa, const void *B, int bt, int ldb, long long sb, const void *beta, void *C,
                                int ct, int ldc, long long sc, int batch, int compute, int algo) {
    (void)h; (void)algo;
    int tf32 = compute == CUBLAS_COMPUTE_32F_FAST_TF32 && at == CUDA_R_32F;
    if (tf32) tf32_gemms++;
    if (ct != CUDA_R_32F || (at != CUDA_R_32F && at != CUDA_R_16BF) || at != bt) return 7;
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return 7;  // cuBLAS's leading-dimension rule
    gemms++;
    float al = *(const float *)alpha, be = *(const float *)beta;
    size_t es = at == CUDA_R_16BF ? 2 : 4;
    for (int q = 0; q < batch; q++) {
        const char *a = (const char *)A + (size_t)(sa * q) * es, *b = (const char *)B + (size_t)(sb * q) * es;
        float *c = (float *)C + sc * q;
        for (int j = 0; j < n; j++) for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += load(a, at, ta ? p + (long long)i * lda : i + (long long)p * lda, tf32)
                     * load(b, bt, tb ? j + (long long)p * ldb : p + (long long)j * ldb, tf32);
            float *o = c + i + (long long)j * ldc;
            *o = (float)(al * s) + (be != 0 ? be * *o : 0);
        }
    }
    return 0;
}

static cublasStatus_t b_gemm(cublasHandle_t h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int at, int lda,
                             const void *B, int bt, int ldb, const void *beta, void *C, int ct, int ldc, int compute, int algo) {
    return b_batched(h, ta, tb, m, n, k, alpha, A, at, lda, 0, B, bt, ldb, 0, beta, C, ct, ldc, 0, 1, compute, algo);
}

void gl_cuda_emulate(void) {
    struct gl_cuda_api t = {
        .cuInit = e_init, .cuDriverGetVersion = e_version, .cuDeviceGetCount = e_count, .cuDeviceGet = e_get,
        .cuDeviceGetName = e_name, .cuDeviceGetAttribute = e_attr, .cuDeviceTotalMem = e_mem, .cuMemGetInfo = e_meminfo,
        .cuDevicePrimaryCtxRetain = e_retain, .cuDevicePrimaryCtxRelease = e_release, .cuCtxSetCurrent = e_setcur,
        .cuCtxSynchronize = e_sync, .cuMemAlloc = e_alloc, .cuMemFree = e_free, .cuMemcpyHtoD = e_htod, .cuMemcpyDtoH = e_dtoh,
        .cuModuleLoadData = e_modload, .cuModuleUnload = e_modunload, .cuModuleGetFunction = e_getfn,
        .cuLaunchKernel = e_launch, .cuGetErrorName = e_errname, .cuGetErrorString = e_errname,
        .nvrtcVersion = n_version, .nvrtcCreateProgram = n_create, .nvrtcCompileProgram = n_compile,
        .nvrtcGetProgramLogSize = n_logsize, .nvrtcGetProgramLog = n_log, .nvrtcGetCUBINSize = n_cubinsize,
        .nvrtcGetCUBIN = n_cubin, .nvrtcDestroyProgram = n_destroy, .nvrtcGetErrorString = n_err,
        .cublasCreate = b_create, .cublasDestroy = b_destroy, .cublasSetMathMode = b_math,
        .cublasGemmEx = b_gemm, .cublasGemmStridedBatchedEx = b_batched,
    };
    gl_cuda_install(&t, "emulated (tests)");
}
