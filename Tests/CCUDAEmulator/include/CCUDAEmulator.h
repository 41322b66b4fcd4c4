// A CPU stand-in for a CUDA device, for tests on machines without a GPU: installs a driver / NVRTC /
// cuBLAS table whose memory is host memory, whose kernels are C translations of Sources/CCUDA/kernels.h
// and whose GEMMs compute cuBLAS's documented column-major products naively. It checks the GPU
// forward's orchestration (buffers, offsets, strides, transposes, chunking) against the CPU engine;
// the CUDA kernels' own source is checked by NVRTC compiling it and on a real GPU.
#ifndef GPT2LAB_CCUDA_EMULATOR_H
#define GPT2LAB_CCUDA_EMULATOR_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
/// Replaces the CUDA libraries with the emulated device for the rest of the process.
void gl_cuda_emulate(void);
/// Kernel launches and GEMM calls the emulator has run.
long gl_cuda_emulated_launches(void);
long gl_cuda_emulated_gemms(void);
/// GEMM calls on f32 operands with TF32 compute (their operands read as a TF32 tensor core reads them).
long gl_cuda_emulated_tf32_gemms(void);
/// What cuMemGetInfo says is free (0: the default, 16 GiB).
void gl_cuda_emulated_set_free_bytes(size_t bytes);
/// Non-zero: every cuMemAlloc fails with CUDA_ERROR_OUT_OF_MEMORY (a GPU that is there but cannot take a model).
void gl_cuda_emulated_fail_allocs(int on);
/// Non-zero: the fused attention kernel drops its causal mask (a wrong kernel its check must refuse).
void gl_cuda_emulated_break_fused(int on);
/// Non-zero: the fused attention kernel faults (the next cuCtxSynchronize fails with CUDA_ERROR_ILLEGAL_ADDRESS).
void gl_cuda_emulated_fault_fused(int on);
#ifdef __cplusplus
}
#endif
#endif
