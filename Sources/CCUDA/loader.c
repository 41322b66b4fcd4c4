// Finding and loading the CUDA driver, NVRTC and cuBLAS at run time, and naming failures.
//
// libcuda.so.1 comes with the driver and is opened by soname (the system path, then the usual driver
// folders). NVRTC and cuBLAS are searched, first hit wins: GPT2LAB_CUDA_LIB_PATH (a colon list), this
// binary's bundle (../lib beside bin/), the CUDA toolkit's folders, the system path (plain soname), and
// Python's `nvidia/*/lib` wheels (PyTorch's). Each outcome is recorded for `gpt2lab doctor`.
#define _GNU_SOURCE
#include "cuda_api.h"
#include <dlfcn.h>
#include <glob.h>
#include <libgen.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gl_cuda_api gl_cu;

static int loaded = -1;                 // -1 not tried, 0 ok, 1 failed
static int driver_ok = 0;               // libcuda.so.1 loaded with every symbol gl_cu needs
static int nvrtc_ok = 0;                // the same for NVRTC
static char load_err[GL_CUDA_ERR];
static char found[GL_CUDA_LIB_COUNT][1024];
static char why[GL_CUDA_LIB_COUNT][1024];

const char *gl_cuda_library(int which, const char **reason) {
    if (which < 0 || which >= GL_CUDA_LIB_COUNT) { if (reason) *reason = "no such library"; return NULL; }
    if (reason) *reason = why[which][0] ? why[which] : "not searched";
    return found[which][0] ? found[which] : NULL;
}

static void add_dir(char dirs[][1024], int *n, int max, const char *d) {
    if (*n < max && d && *d) { snprintf(dirs[*n], 1024, "%s", d); (*n)++; }
}

/// The folders NVRTC and cuBLAS are looked for in, in order ("" stands for the system path).
static int search_dirs(char dirs[][1024], int max) {
    int n = 0;
    const char *env = getenv("GPT2LAB_CUDA_LIB_PATH");
    if (env && *env) {   // at most max − 16 of its folders, so the usual places are still searched
        char *copy = strdup(env), *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) add_dir(dirs, &n, max - 16, tok);
        free(copy);
    }
    char exe[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char lib[1100];
        snprintf(lib, sizeof lib, "%s/../lib", dirname(exe));
        add_dir(dirs, &n, max, lib);
    }
    add_dir(dirs, &n, max, "/usr/local/cuda/targets/x86_64-linux/lib");
    add_dir(dirs, &n, max, "/usr/local/cuda/lib64");
    if (n < max) { dirs[n][0] = 0; n++; }  // the system path
    const char *globs[] = {"/opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib",
                           "/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
                           "/usr/local/lib/python3*/site-packages/nvidia/*/lib",
                           "/usr/lib/python3/dist-packages/nvidia/*/lib"};
    for (size_t g = 0; g < sizeof globs / sizeof *globs; g++) {
        glob_t gl;
        if (glob(globs[g], 0, NULL, &gl) == 0)
            for (size_t i = 0; i < gl.gl_pathc; i++) add_dir(dirs, &n, max, gl.gl_pathv[i]);
        globfree(&gl);
    }
    return n;
}

/// The file a dlopen handle came from ("" when the loader does not say).
static const char *loaded_path(void *h) {
    struct link_map *map = NULL;
    return dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name ? map->l_name : "";
}

/// Records why dlopen(`name`) failed in `tried`, unless `name` itself is simply absent (a library it
/// needs that is absent is recorded). The first reason is kept: it is the one a user has to mend.
static void note_dlerror(char *tried, size_t size, const char *name) {
    const char *e = dlerror();
    if (!e || tried[0]) return;
    int names_itself = strncmp(e, name, strlen(name)) == 0;
    if (names_itself && strstr(e, "No such file")) return;
    if (names_itself) snprintf(tried, size, "%s", e);
    else snprintf(tried, size, "%s: %s", name, e);
}

/// Opens the first of `names` found in `dirs` (RTLD_GLOBAL, so a library's siblings resolve); `siblings`,
/// when given, names for each of `names` a library to open first from the same folder (cuBLAS needs the
/// cublasLt of its own folder). Records where in found[which], or why not in why[which]: a file that is
/// there but does not load is named with the loader's reason.
static void *open_first(int which, const char *const *names, const char *const *siblings, int nnames,
                        char dirs[][1024], int ndirs) {
    char tried[400] = "";
    for (int d = 0; d < ndirs; d++) {
        for (int i = 0; i < nnames; i++) {
            char path[1400];
            if (dirs[d][0]) snprintf(path, sizeof path, "%s/%s", dirs[d], names[i]);
            else snprintf(path, sizeof path, "%s", names[i]);
            if (dirs[d][0] && access(path, F_OK) != 0) continue;
            if (siblings && dirs[d][0]) {
                char sib[1400];
                snprintf(sib, sizeof sib, "%s/%s", dirs[d], siblings[i]);
                if (access(sib, F_OK) == 0 && !dlopen(sib, RTLD_NOW | RTLD_GLOBAL)) note_dlerror(tried, sizeof tried, sib);
            }
            void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
            if (h) {
                const char *real = loaded_path(h);   // what the system path resolved to
                if (dirs[d][0]) snprintf(found[which], sizeof found[which], "%s", path);
                else snprintf(found[which], sizeof found[which], "%s (system library path)", real[0] ? real : path);
                return h;
            }
            note_dlerror(tried, sizeof tried, path);
        }
    }
    char all[256] = "";
    for (int i = 0; i < nnames; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? ", " : "", names[i]);
    if (tried[0]) snprintf(why[which], sizeof why[which], "found but does not load: %s", tried);
    else snprintf(why[which], sizeof why[which], "not found (tried %s in %d places: GPT2LAB_CUDA_LIB_PATH's folders, the bundle's lib, "
                  "/usr/local/cuda's two lib folders, the system path and any Python nvidia/*/lib)", all, ndirs);
    return NULL;
}

#define SYM(h, field, name, lib) do { *(void **)&gl_cu.field = dlsym(h, name); \
    if (!gl_cu.field) { snprintf(load_err, sizeof load_err, "%s has no symbol %s", lib, name); return 1; } } while (0)

static int load_driver_symbols(void *h, const char *L);

/// Opens libcuda.so.1 and resolves gl_cu's driver entries; on failure load_err and why[DRIVER] say
/// why (not there, there but not loadable, or lacking a symbol) and found[DRIVER] stays empty.
static int load_driver(void) {
    const char *names[] = {"libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1", "/usr/local/nvidia/lib/libcuda.so.1",
                           "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1"};
    void *h = NULL;
    char tried[400] = "";
    // The first libcuda.so.1 found is the one to use: one that is there but does not load is the user's
    // problem to see, not to be swapped silently for another copy further down the list.
    for (size_t i = 0; i < sizeof names / sizeof *names && !h && !tried[0]; i++) {
        h = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
        if (!h) note_dlerror(tried, sizeof tried, names[i]);
    }
    if (!h && tried[0]) {
        snprintf(why[GL_CUDA_LIB_DRIVER], 1024, "found but does not load: %s", tried);
        snprintf(load_err, sizeof load_err, "the NVIDIA driver's libcuda.so.1 does not load: %s", tried);
        return 1;
    }
    if (!h) {
        snprintf(why[GL_CUDA_LIB_DRIVER], 1024, "libcuda.so.1 not found: no NVIDIA driver on this machine "
                 "(looked on the system library path and /usr/local/nvidia)");
        snprintf(load_err, sizeof load_err, "no NVIDIA driver: libcuda.so.1 not found (system library path, /usr/local/nvidia)");
        return 1;
    }
    char L[1100];
    snprintf(L, sizeof L, "libcuda.so.1 (%s)", loaded_path(h)[0] ? loaded_path(h) : "system library path");
    if (load_driver_symbols(h, L)) {
        snprintf(why[GL_CUDA_LIB_DRIVER], 1024, "%s; the driver is too old or not NVIDIA's", load_err);
        snprintf(load_err, sizeof load_err, "%s", why[GL_CUDA_LIB_DRIVER]);
        return 1;
    }
    snprintf(found[GL_CUDA_LIB_DRIVER], 1024, "%s", loaded_path(h)[0] ? loaded_path(h) : "libcuda.so.1 (system library path)");
    driver_ok = 1;
    return 0;
}

static int load_driver_symbols(void *h, const char *L) {
    SYM(h, cuInit, "cuInit", L); SYM(h, cuDriverGetVersion, "cuDriverGetVersion", L);
    SYM(h, cuDeviceGetCount, "cuDeviceGetCount", L); SYM(h, cuDeviceGet, "cuDeviceGet", L);
    SYM(h, cuDeviceGetName, "cuDeviceGetName", L); SYM(h, cuDeviceGetAttribute, "cuDeviceGetAttribute", L);
    SYM(h, cuDeviceTotalMem, "cuDeviceTotalMem_v2", L); SYM(h, cuMemGetInfo, "cuMemGetInfo_v2", L);
    SYM(h, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", L);
    SYM(h, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", L);
    SYM(h, cuCtxSetCurrent, "cuCtxSetCurrent", L); SYM(h, cuCtxSynchronize, "cuCtxSynchronize", L);
    SYM(h, cuMemAlloc, "cuMemAlloc_v2", L); SYM(h, cuMemFree, "cuMemFree_v2", L);
    SYM(h, cuMemcpyHtoD, "cuMemcpyHtoD_v2", L); SYM(h, cuMemcpyDtoH, "cuMemcpyDtoH_v2", L);
    SYM(h, cuModuleLoadData, "cuModuleLoadData", L); SYM(h, cuModuleUnload, "cuModuleUnload", L);
    SYM(h, cuModuleGetFunction, "cuModuleGetFunction", L); SYM(h, cuLaunchKernel, "cuLaunchKernel", L);
    SYM(h, cuGetErrorName, "cuGetErrorName", L); SYM(h, cuGetErrorString, "cuGetErrorString", L);
    return 0;
}

static int load_nvrtc(char dirs[][1024], int n) {
    const char *names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    void *h = open_first(GL_CUDA_LIB_NVRTC, names, NULL, 3, dirs, n);
    if (!h) { snprintf(load_err, sizeof load_err, "NVRTC %s", why[GL_CUDA_LIB_NVRTC]); return 1; }
    const char *L = found[GL_CUDA_LIB_NVRTC];
    SYM(h, nvrtcVersion, "nvrtcVersion", L); SYM(h, nvrtcCreateProgram, "nvrtcCreateProgram", L);
    SYM(h, nvrtcCompileProgram, "nvrtcCompileProgram", L); SYM(h, nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", L);
    SYM(h, nvrtcGetProgramLog, "nvrtcGetProgramLog", L); SYM(h, nvrtcGetCUBINSize, "nvrtcGetCUBINSize", L);
    SYM(h, nvrtcGetCUBIN, "nvrtcGetCUBIN", L); SYM(h, nvrtcDestroyProgram, "nvrtcDestroyProgram", L);
    SYM(h, nvrtcGetErrorString, "nvrtcGetErrorString", L);
    return 0;
}

static int load_cublas(char dirs[][1024], int n) {
    const char *names[] = {"libcublas.so.13", "libcublas.so.12"};
    // cuBLAS loads cublasLt of its own major version from its folder.
    const char *sibs[] = {"libcublasLt.so.13", "libcublasLt.so.12"};
    void *h = open_first(GL_CUDA_LIB_CUBLAS, names, sibs, 2, dirs, n);
    if (!h) { snprintf(load_err, sizeof load_err, "cuBLAS %s", why[GL_CUDA_LIB_CUBLAS]); return 1; }
    const char *L = found[GL_CUDA_LIB_CUBLAS];
    SYM(h, cublasCreate, "cublasCreate_v2", L); SYM(h, cublasDestroy, "cublasDestroy_v2", L);
    SYM(h, cublasSetMathMode, "cublasSetMathMode", L); SYM(h, cublasGemmEx, "cublasGemmEx", L);
    SYM(h, cublasGemmStridedBatchedEx, "cublasGemmStridedBatchedEx", L);
    return 0;
}

int gl_cuda_load(char *err) {
    if (loaded < 0) {
        static char dirs[64][1024];
        int n = search_dirs(dirs, 64);
        int bad = load_driver();
        char first_err[GL_CUDA_ERR];   // the problem named: the driver's, else NVRTC's, else cuBLAS's
        snprintf(first_err, sizeof first_err, "%s", load_err);
        // NVRTC and cuBLAS are searched even without a driver, so doctor can say where they are.
        int bad_nvrtc = load_nvrtc(dirs, n);
        nvrtc_ok = !bad_nvrtc;
        if (!bad && bad_nvrtc) snprintf(first_err, sizeof first_err, "%s", load_err);
        // A library that opened but lacks a symbol is not usable: its doctor line says so.
        if (bad_nvrtc && found[GL_CUDA_LIB_NVRTC][0]) { snprintf(why[GL_CUDA_LIB_NVRTC], 1024, "%s", load_err); found[GL_CUDA_LIB_NVRTC][0] = 0; }
        int bad_blas = load_cublas(dirs, n);
        if (bad_blas && found[GL_CUDA_LIB_CUBLAS][0]) { snprintf(why[GL_CUDA_LIB_CUBLAS], 1024, "%s", load_err); found[GL_CUDA_LIB_CUBLAS][0] = 0; }
        if (bad || bad_nvrtc) snprintf(load_err, sizeof load_err, "%s", first_err);
        loaded = (bad || bad_nvrtc || bad_blas) ? 1 : 0;
    }
    if (loaded) { if (err) snprintf(err, GL_CUDA_ERR, "%s", load_err); return 1; }
    return 0;
}

void gl_cuda_install(const struct gl_cuda_api *table, const char *label) {
    gl_cu = *table;
    loaded = 0;
    driver_ok = 1;
    nvrtc_ok = 1;
    load_err[0] = 0;
    for (int i = 0; i < GL_CUDA_LIB_COUNT; i++) { snprintf(found[i], sizeof found[i], "%s", label); why[i][0] = 0; }
}

const char *gl_cuda_nvrtc_problem(void) {
    if (loaded < 0) gl_cuda_load(NULL);
    return nvrtc_ok ? NULL : why[GL_CUDA_LIB_NVRTC][0] ? why[GL_CUDA_LIB_NVRTC] : "not loaded";
}

int gl_cuda_nvrtc_version(void) {
    int major = 0, minor = 0;
    if (gl_cuda_nvrtc_problem() || gl_cu.nvrtcVersion(&major, &minor) != 0) return -1;
    return major * 1000 + minor * 10;
}

/// The name of the call CU_CHECK and BLAS_CHECK stringise: "gl_cu.cuInit(0)" → "cuInit"; a plain
/// name passed by hand (e.g. "cuMemcpyHtoD(weights)") is kept whole.
static const char *call_name(const char *call, char *buf, size_t size) {
    if (strncmp(call, "gl_cu.", 6) != 0) return call;
    snprintf(buf, size, "%s", call + 6);
    char *paren = strchr(buf, '(');
    if (paren) *paren = 0;
    return buf;
}

int gl_cu_fail(char *err, const char *call, CUresult r) {
    const char *name = NULL, *desc = NULL;
    if (gl_cu.cuGetErrorName) gl_cu.cuGetErrorName(r, &name);
    if (gl_cu.cuGetErrorString) gl_cu.cuGetErrorString(r, &desc);
    char buf[128];
    snprintf(err, GL_CUDA_ERR, "%s failed: %s (%d: %s)", call_name(call, buf, sizeof buf), name ? name : "CUDA error", r,
             desc ? desc : "no description");
    return 1;
}

int gl_nvrtc_fail(char *err, const char *call, nvrtcResult r) {
    snprintf(err, GL_CUDA_ERR, "%s failed: %s (%d)", call, gl_cu.nvrtcGetErrorString ? gl_cu.nvrtcGetErrorString(r) : "NVRTC error", r);
    return 1;
}

int gl_cublas_fail(char *err, const char *call, cublasStatus_t r) {
    const char *name = r == 1 ? "CUBLAS_STATUS_NOT_INITIALIZED" : r == 3 ? "CUBLAS_STATUS_ALLOC_FAILED"
                     : r == 7 ? "CUBLAS_STATUS_INVALID_VALUE" : r == 8 ? "CUBLAS_STATUS_ARCH_MISMATCH"
                     : r == 11 ? "CUBLAS_STATUS_MAPPING_ERROR" : r == 13 ? "CUBLAS_STATUS_EXECUTION_FAILED"
                     : r == 14 ? "CUBLAS_STATUS_INTERNAL_ERROR" : r == 15 ? "CUBLAS_STATUS_NOT_SUPPORTED"
                     : r == 16 ? "CUBLAS_STATUS_LICENSE_ERROR" : "cuBLAS error";
    char buf[128];
    snprintf(err, GL_CUDA_ERR, "%s failed: %s (%d)", call_name(call, buf, sizeof buf), name, r);
    return 1;
}

int gl_cuda_devices(int *driver_version, int *count, char *err) {
    if (!driver_ok) {
        if (loaded < 0) gl_cuda_load(NULL);
        if (!driver_ok) {
            snprintf(err, GL_CUDA_ERR, "%s", why[GL_CUDA_LIB_DRIVER][0] ? why[GL_CUDA_LIB_DRIVER] : "no NVIDIA driver: libcuda.so.1 not found");
            return 1;
        }
    }
    CU_CHECK(gl_cu.cuInit(0), err);
    CU_CHECK(gl_cu.cuDriverGetVersion(driver_version), err);
    CU_CHECK(gl_cu.cuDeviceGetCount(count), err);
    if (*count < 0 || *count > GL_CUDA_MAX_DEVICES) {
        snprintf(err, GL_CUDA_ERR, "the NVIDIA driver reports %d GPUs (cuDeviceGetCount), which cannot be right", *count);
        return 1;
    }
    return 0;
}

int gl_cuda_device_info(int ordinal, char *name, int *cc_major, int *cc_minor, size_t *total_bytes, char *err) {
    int v = 0, n = 0;
    if (gl_cuda_devices(&v, &n, err)) return 1;
    if (ordinal < 0 || ordinal >= n) { snprintf(err, GL_CUDA_ERR, "no CUDA device %d (this machine has %d)", ordinal, n); return 1; }
    CUdevice d;
    CU_CHECK(gl_cu.cuDeviceGet(&d, ordinal), err);
    CU_CHECK(gl_cu.cuDeviceGetName(name, 255, d), err);
    CU_CHECK(gl_cu.cuDeviceGetAttribute(cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d), err);
    CU_CHECK(gl_cu.cuDeviceGetAttribute(cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d), err);
    CU_CHECK(gl_cu.cuDeviceTotalMem(total_bytes, d), err);
    return 0;
}
