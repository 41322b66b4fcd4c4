// oneDNN's bf16 matrix product, for the bf16 engine path (Engine/Kernels/MatmulBF16.swift).
// oneDNN (Debian's libdnnl-dev) JIT-compiles a kernel for the ISA it finds; on some CPUs its bf16
// matmul is twice its f32 rate, on others half, so the engine times it against the widened-sgemm path
// before using it.
#pragma once
#include <stdint.h>

/// 1 when oneDNN's CPU engine could be created (once per process), else 0.
int gl_dnnl_available(void);

/// out (rows, m), row stride ldc, = x (rows, k) bf16 contiguous · wᵀ, w (m, k) bf16 row-major; f32 sums,
/// out overwritten. One thread: call it from the engine's own workers. Returns 0, or a oneDNN status.
int gl_dnnl_matmul_bf16(float *out, int64_t ldc, const uint16_t *x, const uint16_t *w,
                        int64_t rows, int64_t k, int64_t m);

/// The implementation oneDNN picked for the last primitive made ("brg:avx512_core_bf16", …), or "".
const char *gl_dnnl_impl(void);
