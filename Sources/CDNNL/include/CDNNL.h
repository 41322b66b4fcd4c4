// oneDNN's matrix products, bf16 (Engine/Kernels/MatmulBF16.swift) and f32 (Engine/Kernels/MatmulF32Choice.swift).
// oneDNN (Debian's libdnnl-dev) JIT-compiles a kernel for the ISA it finds; on some CPUs its bf16
// matmul is twice its f32 rate, on others half, so the engine times it against the widened-sgemm path
// before using it.
#pragma once
#include <stdint.h>

/// 1 when oneDNN's CPU engine could be created (once per process), else 0.
int gl_dnnl_available(void);

/// out (rows, m), row stride ldc, = x (rows, k) bf16 contiguous · wᵀ (w (m, k) bf16 row-major) + bias (m, f32,
/// or NULL); f32 sums, out overwritten. One thread: call it from the engine's own workers. Returns 0, or a
/// oneDNN status.
int gl_dnnl_matmul_bf16(float *out, int64_t ldc, const uint16_t *x, const uint16_t *w, const float *bias,
                        int64_t rows, int64_t k, int64_t m);

/// out (rows, m), row stride ldc, = x (rows, k) f32 contiguous · wᵀ (w (m, k) f32 row-major) + bias (m, or
/// NULL); out overwritten. One thread, as above. Returns 0, or a oneDNN status.
int gl_dnnl_matmul_f32(float *out, int64_t ldc, const float *x, const float *w, const float *bias,
                       int64_t rows, int64_t k, int64_t m);

/// out (rows, m), row stride ldc, = x (rows, k) f32 contiguous · w (w (k, m) f32 row-major, not transposed: attention's
/// P·V); no bias. One thread, as above. Returns 0, or a oneDNN status.
int gl_dnnl_matmul_f32_km(float *out, int64_t ldc, const float *x, const float *w, int64_t rows, int64_t k, int64_t m);

/// The implementation oneDNN picked for the cached primitive of that call shape ("brg:avx512_core_bf16",
/// "brg:avx512_core", …), or "" when none was made. f32: 1 for the f32 product, 0 for bf16; bias: 0 or 1.
/// (Any ldc: a primitive always writes a dense result, copied out when ldc ≠ m; see dnnl_matmul.c.)
const char *gl_dnnl_impl_of(int64_t rows, int64_t k, int64_t m, int f32, int bias);
