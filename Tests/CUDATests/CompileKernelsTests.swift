import CCUDA
import Engine
import Foundation
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

    /// Where NVRTC is absent (CI), the same source goes through clang's CUDA front end (the Swift toolchain's
    /// clang++, device side only, no CUDA headers): every kernel parses and type-checks. The few device
    /// functions NVRTC provides built in are declared here; a kernel using a new one fails until it is added.
    func testKernelSourceParsesWithClangCUDA() throws {
        // The toolchain's clang++ beside swift (recent enough for CUDA), else the first on PATH.
        let beside = which("swift").map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().deletingLastPathComponent().path + "/clang++" }
        guard let clang = beside.flatMap({ FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }) ?? which("clang++") else {
            throw XCTSkip("no clang++ to parse the kernels with")
        }
        let resource = try run(clang, ["-print-resource-dir"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard FileManager.default.fileExists(atPath: resource + "/include/__clang_cuda_builtin_vars.h") else {
            throw XCTSkip("\(clang) has no CUDA headers of its own (\(resource)/include)")
        }
        let prelude = """
            #define __device__ __attribute__((device))
            #define __global__ __attribute__((global))
            #define __shared__ __attribute__((shared))
            #define __forceinline__ __inline__ __attribute__((always_inline))
            #define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
            #include <__clang_cuda_builtin_vars.h>
            __device__ unsigned __float_as_uint(float); __device__ float __uint_as_float(unsigned);
            __device__ float __int_as_float(int); __device__ float __shfl_xor_sync(unsigned, float, int);
            __device__ int __shfl_xor_sync(unsigned, int, int); __device__ double __shfl_xor_sync(unsigned, double, int);
            __device__ float expf(float); __device__ float tanhf(float); __device__ float sqrtf(float);
            __device__ float fmaxf(float, float); __device__ double exp(double); __device__ double log(double);
            __device__ void __syncthreads(void);

            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-kernels-\(getpid()).cu")
        try (prelude + String(cString: gl_cuda_kernel_text())).write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try run(clang, ["-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib", "--cuda-gpu-arch=sm_80",
                                "-std=c++17", "-fsyntax-only", "-I", resource + "/include", file.path])
        XCTAssertEqual(r.status, 0, "the kernels' source does not parse as CUDA:\n\(r.err)")
    }

    private func which(_ name: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(name)" }
            .first(where: FileManager.default.isExecutableFile)
    }

    private func run(_ tool: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process(), out = Pipe(), err = Pipe()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
