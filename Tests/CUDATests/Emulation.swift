import CCUDAEmulator
import Foundation

/// Every emulated suite's class setUp: the kernel cache in a temporary folder (not the user's), then the
/// emulated device (Tests/CCUDAEmulator) in place of the CUDA driver, cuBLAS and NVRTC.
func startEmulatedGPU() {
    setenv("XDG_CACHE_HOME", NSTemporaryDirectory() + "gpt2lab-emulated-cache-\(getpid())", 1)
    gl_cuda_emulate()
}
