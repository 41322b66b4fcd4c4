// See include/CDNNL.h. Primitives are cached per shape (rows, k, m, type, bias) under a mutex; each calling
// thread has its own stream and scratchpad (user scratchpad mode), and runs oneDNN's OpenMP regions on
// one thread, so the engine's fixed work units, not oneDNN, decide the parallel split.
// A primitive always writes a dense (rows, m) result: oneDNN 2.6 takes its brgemm kernels (brg:avx512_core,
// brg:avx512_core_amx_bf16) only for a dense destination and falls back to gemm:jit for a strided one (a
// column block of a wider product) — for bf16 that drops AMX, several times slower. A strided call writes
// into the thread's dense buffer and copies the rows out.
#include "CDNNL.h"
#include <oneapi/dnnl/dnnl.h>
void omp_set_num_threads(int);   // libgomp (oneDNN's OpenMP runtime); clang here has no omp.h
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static dnnl_engine_t engine;
static int engine_ok;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void make_engine(void) { engine_ok = dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success; }
int gl_dnnl_available(void) { pthread_once(&once, make_engine); return engine_ok; }

typedef struct { int64_t rows, k, m; int f32, bias, wkm; dnnl_primitive_t prim; size_t scratch; char impl[40]; } entry;
#define MAX_ENTRIES 2048   // ~12 KB each; eval tasks bring one shape per distinct length
static entry cache[MAX_ENTRIES];
static int ncache;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static __thread dnnl_stream_t stream;
static __thread void *scratch;
static __thread size_t scratch_size;
static __thread float *dense;      // (rows, m) result of a strided call, before its rows are copied out
static __thread size_t dense_size;

static void descs(dnnl_memory_desc_t *a, dnnl_memory_desc_t *b, dnnl_memory_desc_t *c, dnnl_memory_desc_t *bias,
                  int64_t rows, int64_t k, int64_t m, int f32, int wkm) {
    dnnl_dims_t da = {rows, k}, sa = {k, 1};
    dnnl_dims_t db = {k, m}, sb = {1, k};      // (k, m) with element (kk, n) at n·k + kk: w (m, k) row-major
    if (wkm) { sb[0] = m; sb[1] = 1; }         // or at kk·m + n: w (k, m) row-major
    dnnl_dims_t dc = {rows, m}, sc = {m, 1};
    dnnl_dims_t dbias = {1, m}, sbias = {m, 1};
    dnnl_memory_desc_init_by_strides(a, 2, da, f32 ? dnnl_f32 : dnnl_bf16, sa);
    dnnl_memory_desc_init_by_strides(b, 2, db, f32 ? dnnl_f32 : dnnl_bf16, sb);
    dnnl_memory_desc_init_by_strides(c, 2, dc, dnnl_f32, sc);
    dnnl_memory_desc_init_by_strides(bias, 2, dbias, dnnl_f32, sbias);
}

static entry *lookup(int64_t rows, int64_t k, int64_t m, int f32, int bias, int wkm, dnnl_status_t *st) {
    entry *e = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ncache; i++)
        if (cache[i].rows == rows && cache[i].k == k && cache[i].m == m && cache[i].f32 == f32
            && cache[i].bias == bias && cache[i].wkm == wkm) { e = &cache[i]; break; }
    if (!e && ncache < MAX_ENTRIES) {
        dnnl_memory_desc_t a, b, c, bd;
        descs(&a, &b, &c, &bd, rows, k, m, f32, wkm);
        dnnl_matmul_desc_t md;
        dnnl_primitive_attr_t attr = NULL;
        dnnl_primitive_desc_t pd = NULL;
        *st = dnnl_matmul_desc_init(&md, &a, &b, bias ? &bd : NULL, &c);
        if (*st == dnnl_success) *st = dnnl_primitive_attr_create(&attr);
        if (*st == dnnl_success) *st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
        if (*st == dnnl_success) *st = dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL);
        dnnl_primitive_t prim = NULL;
        if (*st == dnnl_success) *st = dnnl_primitive_create(&prim, pd);
        if (*st == dnnl_success) {
            const char *s = NULL;
            const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            cache[ncache] = (entry){rows, k, m, f32, bias, wkm, prim, sp ? dnnl_memory_desc_get_size(sp) : 0, ""};
            if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) == dnnl_success && s)
                strncpy(cache[ncache].impl, s, sizeof cache[ncache].impl - 1);
            e = &cache[ncache++];
        }
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (attr) dnnl_primitive_attr_destroy(attr);
    }
    pthread_mutex_unlock(&lock);
    if (!e && *st == dnnl_success) *st = dnnl_out_of_memory;   // cache full
    return e;
}

static int run(float *out, int64_t ldc, const void *x, const void *w, const float *bias,
               int64_t rows, int64_t k, int64_t m, int f32, int wkm) {
    if (!gl_dnnl_available()) return dnnl_runtime_error;
    dnnl_status_t st = dnnl_success;
    entry *e = lookup(rows, k, m, f32, bias != NULL, wkm, &st);
    if (!e) return st;
    omp_set_num_threads(1);
    if (!stream && (st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags)) != dnnl_success) return st;
    if (e->scratch > scratch_size) {
        free(scratch);
        scratch = malloc(e->scratch);
        scratch_size = scratch ? e->scratch : 0;
        if (!scratch) return dnnl_out_of_memory;
    }
    float *dst = out;
    if (ldc != m) {
        size_t need = (size_t)(rows * m) * sizeof(float);
        if (need > dense_size) {
            free(dense);
            dense = malloc(need);
            dense_size = dense ? need : 0;
            if (!dense) return dnnl_out_of_memory;
        }
        dst = dense;
    }
    dnnl_memory_desc_t a, b, c, bd;
    descs(&a, &b, &c, &bd, rows, k, m, f32, wkm);
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, ms = NULL, mbias = NULL;
    st = dnnl_memory_create(&ma, &a, engine, (void *)x);
    if (st == dnnl_success) st = dnnl_memory_create(&mb, &b, engine, (void *)w);
    if (st == dnnl_success) st = dnnl_memory_create(&mc, &c, engine, dst);
    if (st == dnnl_success && bias) st = dnnl_memory_create(&mbias, &bd, engine, (void *)bias);
    int nargs = 3;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    if (mbias) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mbias};
    if (st == dnnl_success && e->scratch) {
        dnnl_memory_desc_t sd;
        dnnl_dims_t ds = {(int64_t)e->scratch};
        dnnl_memory_desc_init_by_tag(&sd, 1, ds, dnnl_u8, dnnl_a);
        st = dnnl_memory_create(&ms, &sd, engine, scratch);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, ms};
    }
    if (st == dnnl_success) st = dnnl_primitive_execute(e->prim, stream, nargs, args);
    if (st == dnnl_success) st = dnnl_stream_wait(stream);
    if (ma) dnnl_memory_destroy(ma);
    if (mb) dnnl_memory_destroy(mb);
    if (mc) dnnl_memory_destroy(mc);
    if (ms) dnnl_memory_destroy(ms);
    if (mbias) dnnl_memory_destroy(mbias);
    if (st == dnnl_success && dst != out)
        for (int64_t r = 0; r < rows; r++) memcpy(out + r * ldc, dst + r * m, (size_t)m * sizeof(float));
    return st;
}

int gl_dnnl_matmul_bf16(float *out, int64_t ldc, const uint16_t *x, const uint16_t *w, const float *bias,
                        int64_t rows, int64_t k, int64_t m) {
    return run(out, ldc, x, w, bias, rows, k, m, 0, 0);
}

int gl_dnnl_matmul_f32(float *out, int64_t ldc, const float *x, const float *w, const float *bias,
                       int64_t rows, int64_t k, int64_t m) {
    return run(out, ldc, x, w, bias, rows, k, m, 1, 0);
}

int gl_dnnl_matmul_f32_km(float *out, int64_t ldc, const float *x, const float *w, int64_t rows, int64_t k, int64_t m) {
    return run(out, ldc, x, w, NULL, rows, k, m, 1, 1);
}

const char *gl_dnnl_impl_of(int64_t rows, int64_t k, int64_t m, int f32, int bias) {
    const char *s = "";
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ncache; i++)
        if (cache[i].rows == rows && cache[i].k == k && cache[i].m == m && cache[i].f32 == f32
            && cache[i].bias == bias && !cache[i].wkm) { s = cache[i].impl; break; }   // entries never move
    pthread_mutex_unlock(&lock);
    return s;
}
