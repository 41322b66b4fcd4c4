// CPU feature detection and OpenBLAS core selection (see include/CKernels.h).
#define _GNU_SOURCE
#include "CKernels.h"
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

int gl_cpu_isa_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
#endif
    return 0;
}

int gl_cpu_has(const char *feature) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    // Leaf 7 sub-leaf 1 (EAX bit 5 = AVX512-BF16) and sub-leaf 0 (EDX bits 22/24 = AMX-BF16/AMX-TILE),
    // which __builtin_cpu_supports does not name in every compiler.
    if (strcmp(feature, "avx512bf16") == 0)
        return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1);
    if (strcmp(feature, "amx-bf16") == 0)
        return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 22 & 1) && (d >> 24 & 1);
    if (strcmp(feature, "avx512vnni") == 0)
        return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 11 & 1);
    if (strcmp(feature, "fma") == 0) { __builtin_cpu_init(); return __builtin_cpu_supports("fma"); }
    if (strcmp(feature, "avx2") == 0) { __builtin_cpu_init(); return __builtin_cpu_supports("avx2"); }
    if (strcmp(feature, "avx512f") == 0) { __builtin_cpu_init(); return __builtin_cpu_supports("avx512f"); }
    if (strcmp(feature, "avx") == 0) { __builtin_cpu_init(); return __builtin_cpu_supports("avx"); }
#endif
    (void)feature;
    return 0;
}

void gl_cpu_brand(char *buf, size_t size) {
    if (size == 0) return;
    buf[0] = 0;
#if defined(__x86_64__)
    unsigned r[12];
    if (__get_cpuid_max(0x80000000u, NULL) < 0x80000004u) return;
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    size_t n = sizeof r < size - 1 ? sizeof r : size - 1;
    memcpy(buf, r, n);
    buf[n] = 0;
#endif
}

const char *gl_elementwise_isa(void) {
#if defined(__x86_64__)
    // The same order the target_clones resolver in vec.c uses: x86-64-v4, then v3, then baseline.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return "avx512";
    if (__builtin_cpu_supports("x86-64-v3")) return "avx2-fma";
    return "baseline";
#elif defined(__aarch64__)
    return "neon";
#else
    return "generic";
#endif
}

typedef char *(*string_fn)(void);
typedef void (*void_fn)(void);

const char *gl_openblas_corename(void) {
    string_fn f = (string_fn)dlsym(RTLD_DEFAULT, "openblas_get_corename");
    return f ? f() : NULL;
}

const char *gl_openblas_config(void) {
    string_fn f = (string_fn)dlsym(RTLD_DEFAULT, "openblas_get_config");
    return f ? f() : NULL;
}

int gl_openblas_force_core(const char *core) {
    // A DYNAMIC_ARCH OpenBLAS picks its kernel table in a library constructor, before main, from
    // cpuid or OPENBLAS_CORETYPE. gotoblas_dynamic_quit() forgets that pick and
    // gotoblas_dynamic_init() makes it again, reading the variable; both are exported.
    void_fn quit = (void_fn)dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void_fn init = (void_fn)dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!quit || !init) return 0;
    setenv("OPENBLAS_CORETYPE", core, 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    return 1;
}

int gl_cpu_available(void) {
    // A set sized for the machine (a fixed cpu_set_t holds 1024 CPUs; sched_getaffinity refuses a smaller one).
    long online = sysconf(_SC_NPROCESSORS_CONF);
    for (int cpus = online > 1024 ? (int)online : 1024; cpus <= 1 << 20; cpus *= 2) {
        cpu_set_t *set = CPU_ALLOC(cpus);
        if (!set) break;
        size_t size = CPU_ALLOC_SIZE(cpus);
        int ok = sched_getaffinity(0, size, set) == 0;
        int n = ok ? CPU_COUNT_S(size, set) : 0;
        CPU_FREE(set);
        if (ok && n > 0) return n;
        if (ok || errno != EINVAL) break;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
