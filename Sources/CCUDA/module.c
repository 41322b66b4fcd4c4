// Compiling the kernels with NVRTC for the device present and loading them, with an on-disk cache:
// $XDG_CACHE_HOME/gpt2lab/cuda (or ~/.cache/gpt2lab/cuda), one cubin per hash of the source, the
// architecture and NVRTC's version, written atomically (a temporary file renamed into place).
#define _GNU_SOURCE
#include "cuda_api.h"
#include "kernels.h"
#include "kernels_backward.h"
#include "kernels_attention.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char gl_cuda_kernel_source[] = GL_CUDA_KERNEL_SOURCE GL_CUDA_BACKWARD_SOURCE GL_CUDA_ATTENTION_SOURCE;

const char *gl_cuda_kernel_text(void) { return gl_cuda_kernel_source; }

int gl_cuda_compile(int arch, char **cubin, size_t *bytes, char *err) {
    const char *problem = gl_cuda_nvrtc_problem();
    if (problem) { snprintf(err, GL_CUDA_ERR, "NVRTC (libnvrtc.so.13/.12) %s", problem); return 1; }
    nvrtcProgram prog;
    nvrtcResult r = gl_cu.nvrtcCreateProgram(&prog, gl_cuda_kernel_source, "gpt2lab_kernels.cu", 0, NULL, NULL);
    if (r) return gl_nvrtc_fail(err, "nvrtcCreateProgram", r);
    char archopt[64];
    snprintf(archopt, sizeof archopt, "--gpu-architecture=sm_%d", arch);
    // No --use_fast_math: expf, tanhf and the divisions stay IEEE-accurate, as the f32 engine needs.
    const char *opts[] = {archopt, "-default-device", "--std=c++17"};
    r = gl_cu.nvrtcCompileProgram(prog, 3, opts);
    if (r) {
        size_t n = 0;
        char log[400] = "";
        if (gl_cu.nvrtcGetProgramLogSize(prog, &n) == 0 && n > 1) {
            char *full = malloc(n);
            if (full && gl_cu.nvrtcGetProgramLog(prog, full) == 0) {
                for (char *c = full; *c; c++) if (*c == '\n') *c = ' ';
                for (size_t k = strlen(full); k > 0 && full[k - 1] == ' '; k--) full[k - 1] = 0;
                snprintf(log, sizeof log, "%s", full);
            }
            free(full);
        }
        snprintf(err, GL_CUDA_ERR, "nvrtcCompileProgram(%s) failed: %s: %s", archopt, gl_cu.nvrtcGetErrorString(r), log);
        gl_cu.nvrtcDestroyProgram(&prog);
        return 1;
    }
    size_t n = 0;
    r = gl_cu.nvrtcGetCUBINSize(prog, &n);
    if (r) { gl_cu.nvrtcDestroyProgram(&prog); return gl_nvrtc_fail(err, "nvrtcGetCUBINSize", r); }
    char *out = malloc(n ? n : 1);
    if (!out) { gl_cu.nvrtcDestroyProgram(&prog); snprintf(err, GL_CUDA_ERR, "out of memory for a %zu-byte cubin", n); return 1; }
    r = gl_cu.nvrtcGetCUBIN(prog, out);
    gl_cu.nvrtcDestroyProgram(&prog);
    if (r) { free(out); return gl_nvrtc_fail(err, "nvrtcGetCUBIN", r); }
    if (n == 0) { free(out); snprintf(err, GL_CUDA_ERR, "nvrtcGetCUBIN gave no cubin for sm_%d", arch); return 1; }
    *cubin = out; *bytes = n;
    return 0;
}

int gl_cuda_compile_check(int arch, size_t *cubin_bytes, char *err) {
    gl_cuda_load(NULL);  // NVRTC may load without a driver
    char *cubin = NULL;
    if (gl_cuda_compile(arch, &cubin, cubin_bytes, err)) return 1;
    free(cubin);
    return 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ULL; }
    return h;
}

/// The cache folder (created), or 0 with `why` when there is none.
static int cache_dir(char *dir, size_t n, char *why, size_t wn) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char base[900];
    if (xdg && *xdg) snprintf(base, sizeof base, "%s", xdg);
    else if (home && *home) snprintf(base, sizeof base, "%s/.cache", home);
    else { snprintf(why, wn, "neither XDG_CACHE_HOME nor HOME is set"); return 0; }
    char parts[3][1000];
    snprintf(parts[0], sizeof parts[0], "%s", base);
    snprintf(parts[1], sizeof parts[1], "%s/gpt2lab", base);
    snprintf(parts[2], sizeof parts[2], "%s/gpt2lab/cuda", base);
    for (int i = 0; i < 3; i++) {
        if (mkdir(parts[i], 0755) != 0 && errno != EEXIST) { snprintf(why, wn, "cannot create %s: %s", parts[i], strerror(errno)); return 0; }
    }
    snprintf(dir, n, "%s", parts[2]);
    return 1;
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len > 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len)) && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf); buf = NULL;
        }
        *n = len > 0 ? (size_t)len : 0;
    }
    fclose(f);
    return buf;
}

/// Writes `data` to `path` through a hidden temporary file in the same folder (a unique name from mkstemp: processes
/// on several nodes sharing the cache folder may write the same entry at once) and a rename; 0 on success.
static int write_atomic(const char *path, const char *data, size_t n, char *why, size_t wn) {
    char tmp[1200];
    const char *slash = strrchr(path, '/');
    int dn = slash ? (int)(slash - path) + 1 : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.tmp-XXXXXX", dn, path, path + dn);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        snprintf(why, wn, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0) { close(fd); unlink(tmp); }
        return 1;
    }
    int ok = fwrite(data, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) { snprintf(why, wn, "cannot write %s: %s", path, strerror(errno)); unlink(tmp); return 1; }
    return 0;
}

static int get_functions(gl_cuda_ctx *c, char *err) {
    struct { CUfunction *f; const char *name; } fs[] = {
        {&c->k_embed, "embed"}, {&c->k_embed_bf16, "embed_bf16"}, {&c->k_layernorm, "layernorm"},
        {&c->k_bias_rows, "bias_rows"}, {&c->k_residual, "residual"}, {&c->k_gelu, "gelu"},
        {&c->k_softmax_causal, "softmax_causal"}, {&c->k_to_bf16, "to_bf16"}, {&c->k_lse_chunk, "lse_chunk"},
        {&c->k_nll_finish, "nll_finish"}, {&c->k_lse_init, "lse_init"}, {&c->k_split3, "split3"},
        {&c->k_permute_qkv, "permute_qkv"}, {&c->k_unpermute, "unpermute"}, {&c->k_layernorm_operand, "layernorm_operand"},
        {&c->k_gelu_operand, "gelu_operand"}, {&c->k_residual_bias, "residual_bias"},
        {&c->k_pair_init, "pair_init"}, {&c->k_pair_chunk, "pair_chunk"},
        {&c->k_zero, "zero"}, {&c->k_axpby, "axpby"}, {&c->k_lse_backward, "lse_backward"},
        {&c->k_layernorm_backward, "layernorm_backward"}, {&c->k_colsum_part, "colsum_part"},
        {&c->k_layernorm_part, "layernorm_part"}, {&c->k_colsum_add, "colsum_add"}, {&c->k_gelu_backward, "gelu_backward"},
        {&c->k_softmax_causal_backward, "softmax_causal_backward"}, {&c->k_permute_heads, "permute_heads"},
        {&c->k_wte_backward, "wte_backward"}, {&c->k_rademacher_fill, "rademacher_fill"}, {&c->k_dot_part, "dot_part"},
        {&c->k_attention_bf16, "attention_bf16"},
    };
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) {
        CUresult r = gl_cu.cuModuleGetFunction(fs[i].f, c->module, fs[i].name);
        if (r) {
            char call[128];
            snprintf(call, sizeof call, "cuModuleGetFunction(%s)", fs[i].name);
            return gl_cu_fail(err, call, r);
        }
    }
    return 0;
}

int gl_cuda_load_module(gl_cuda_ctx *c, char *err) {
    int arch = c->cc_major * 10 + c->cc_minor;
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, gl_cuda_kernel_source, sizeof gl_cuda_kernel_source);
    int ver = gl_cuda_nvrtc_version();
    h = fnv1a(h, &arch, sizeof arch);
    h = fnv1a(h, &ver, sizeof ver);
    char dir[1000], why[600] = "", path[1200] = "";
    if (cache_dir(dir, sizeof dir, why, sizeof why)) {
        snprintf(path, sizeof path, "%s/kernels-sm_%d-%016llx.cubin", dir, arch, (unsigned long long)h);
        size_t n = 0;
        char *cached = read_all(path, &n);
        if (cached && n > 0 && gl_cu.cuModuleLoadData(&c->module, cached) == 0) {
            free(cached);
            snprintf(c->origin, sizeof c->origin, "cache %s", path);
            return get_functions(c, err);
        }
        free(cached);  // absent or unloadable: compile again
    }
    char *cubin = NULL;
    size_t n = 0;
    if (gl_cuda_compile(arch, &cubin, &n, err)) return 1;
    CUresult r = gl_cu.cuModuleLoadData(&c->module, cubin);
    if (r) { free(cubin); return gl_cu_fail(err, "cuModuleLoadData(NVRTC cubin)", r); }
    if (path[0] && write_atomic(path, cubin, n, why, sizeof why) == 0) {
        snprintf(c->origin, sizeof c->origin, "compiled for sm_%d by NVRTC %d (cached in %s)", arch, ver, path);
    } else {
        snprintf(c->origin, sizeof c->origin, "compiled for sm_%d by NVRTC %d (not cached: %s)", arch, ver, why);
    }
    free(cubin);
    return get_functions(c, err);
}
