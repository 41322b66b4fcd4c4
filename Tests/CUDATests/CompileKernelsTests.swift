import Engine
import XCTest

/// The kernels' CUDA source compiles with NVRTC for Hopper (sm_90, the H200) and Ampere (sm_80) where
/// libnvrtc is found (GPT2LAB_CUDA_LIB_PATH, /usr/local/cuda, Python's nvidia/*/lib, ...); skipped,
/// saying so, where it is not. Runs before EmulatedGPUTests (alphabetical order) or alone (--filter CompileKernelsTests): once the
/// emulator is installed, the emulated NVRTC compiles nothing.
final class CompileKernelsTests: XCTestCase {
    func testKernelsCompileForSM90AndSM80() throws {
        let status = CUDAStatus.current()
        guard let nvrtc = status.libraries.first(where: { $0.name == "libnvrtc" }), let path = nvrtc.path else {
            throw XCTSkip("NVRTC not found, kernels not compiled: \(status.libraries.first { $0.name == "libnvrtc" }?.problem ?? "")")
        }
        guard !path.hasPrefix("emulated") else { throw XCTSkip("the emulated device is installed in this process; run --filter CompileKernelsTests alone") }
        for arch in [90, 80] {
            let bytes = try cudaCompileCheck(arch: arch)
            XCTAssertGreaterThan(bytes, 10_000, "sm_\(arch) cubin")
            print("NVRTC \(status.nvrtcVersion ?? "?") at \(path): sm_\(arch) cubin of \(bytes) bytes")
        }
    }
}
