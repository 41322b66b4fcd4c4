// gpt2lab's C kernels: CPU detection, OpenBLAS core selection, and the elementwise hot loops.
// The loops are compiled once per ISA level (x86-64: AVX-512, AVX2+FMA, baseline; chosen at load
// time by the ifunc resolver that target_clones emits), so their speed does not depend on the
// flags the package was built with. Shapes use the legend in Sources/Engine/Config.swift.
#pragma once
#include <stddef.h>
#include <stdint.h>

// --- CPU (cpu.c) ---

/// ISA level the CPU reports: 0 = baseline, 1 = AVX, 2 = AVX2+FMA, 3 = AVX-512 (F, BW, DQ, VL).
/// Always 0 on non-x86-64 machines.
int gl_cpu_isa_level(void);
/// 1 when the CPU reports the feature ("avx512bf16", "amx-bf16", "avx512vnni", "fma", ...), else 0.
int gl_cpu_has(const char *feature);
/// The cpuid brand string (x86-64) into buf, NUL-terminated; empty when unavailable.
void gl_cpu_brand(char *buf, size_t size);
/// The CPUs this process may run on (its affinity mask: taskset, Slurm's and cgroup cpusets), at least 1.
int gl_cpu_available(void);
/// Which clone of the elementwise kernels runs: "avx512" | "avx2-fma" | "baseline" | "neon" | "generic".
const char *gl_elementwise_isa(void);

// --- OpenBLAS (cpu.c) ---

/// openblas_get_corename(), or NULL when the loaded BLAS has none.
const char *gl_openblas_corename(void);
/// openblas_get_config(), or NULL.
const char *gl_openblas_config(void);
/// Re-runs OpenBLAS's DYNAMIC_ARCH core selection with OPENBLAS_CORETYPE=`core` (then restores the
/// variable's absence). Call before any concurrent BLAS use. Returns 1 when done, 0 when this
/// OpenBLAS has no dynamic-arch entry points (a single-target build): nothing changed then.
int gl_openblas_force_core(const char *core);

// --- Elementwise kernels (vec.c) ---

/// out[i] = gelu_tanh(inp[i]), i < n.
void gl_gelu_forward(float *out, const float *inp, size_t n);
/// dinp[i] += dout[i] · gelu_tanh'(inp[i]), i < n.
void gl_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/// max over row[0..<n] (−inf when n == 0).
float gl_max(const float *row, size_t n);
/// Σ exp(row[j] − m), row unchanged.
float gl_sum_exp_shifted(const float *row, size_t n, float m);
/// In place row[j] = exp(row[j] − m); returns Σ of the new values.
float gl_exp_shifted_inplace(float *row, size_t n, float m);
/// In place row[j] = exp(row[j] − shift) · scale.
void gl_exp_shifted_scale(float *row, size_t n, float shift, float scale);
/// In place row[j] *= s.
void gl_scale(float *row, size_t n, float s);
/// out (C) = (x − mean)·rstd·weight + bias over one row x (C); writes *mean and *rstd unless NULL. eps as given.
void gl_layernorm_row(float *out, const float *x, const float *weight, const float *bias, size_t c, float eps,
                      float *mean, float *rstd);
/// out[i] = a[i] + b[i].
void gl_add(float *out, const float *a, const float *b, size_t n);
/// Over two rows of logits a, b (n) with maxima ma, mb: *sa = Σ e^(a−ma), *sb = Σ e^(b−mb),
/// *sab = Σ e^(a−ma)·(a − b), summed in double (KL(A‖B) = sab/sa − lse(a) + lse(b)).
void gl_kl_sums(const float *a, const float *b, size_t n, float ma, float mb, double *sa, double *sb, double *sab);

// --- bfloat16 (bf16.c) ---

/// out[i] = bf16(inp[i]): round to nearest even, NaN kept, overflow to ±inf.
void gl_bf16_from_f32(uint16_t *out, const float *inp, size_t n);
/// out[i] = inp[i] widened to f32 (exact).
void gl_f32_from_bf16(float *out, const uint16_t *inp, size_t n);
/// out[i] = f32(bf16(inp[i])): the value rounded to bf16, held in an f32 (in place allowed).
void gl_round_to_bf16(float *out, const float *inp, size_t n);
/// out[i] = f32(a[i]) + b[i].
void gl_add_bf16_f32(float *out, const uint16_t *a, const float *b, size_t n);
/// out[o] = bias[o] + Σ_k x[k]·w[o·c + k] for o0 ≤ o < o1; w (OC, C) bf16, x (C) bf16-valued f32, bias may be NULL.
void gl_gemv_bf16(float *out, const float *x, const uint16_t *w, const float *bias, size_t c, size_t o0, size_t o1);
