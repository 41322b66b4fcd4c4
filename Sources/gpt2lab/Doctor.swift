import ArgumentParser
import Engine
import Foundation

/// `gpt2lab doctor`: which CPU, GEMM kernel, elementwise clone, threads and precision this machine runs.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the CPU, the GEMM backend and kernel, the elementwise kernels, threads and precision in use.",
        discussion: """
        The same object `score --json` records as "runtime". Exits 1 when the CPU has AVX2 or AVX-512 but \
        the GEMM kernel is a generic one. With a GPU it also names the GPU, driver and CUDA libraries, and runs \
        the self-checks a GPU must pass before gpt2lab uses it (a built-in model on the GPU and the CPU engine, \
        in each precision and math and for the Hessian's gradient), printing their differences; exits 1 when \
        one of them refuses the GPU or fails to run.
        """)

    @OptionGroup var threadsOption: ThreadsOption
    var threads: Int? { threadsOption.threads }

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        var info = RuntimeInfo.current(threads: max(1, threads ?? ProcessInfoCores.active))
        info.cuda = CUDAStatus.current()
        if info.cuda?.problem == nil, info.cuda?.devices.isEmpty == false { info.cuda?.selfCheck = cudaSelfCheckLines(ordinal: 0) }
        if json {
            try printJSON(info)
        } else {
            print("cpu          \(info.cpu)")
            print("isa          \(info.isa)" + (info.features.isEmpty ? "" : " + " + info.features.joined(separator: ", ")))
            print("gemm         \(info.gemmBackend)")
            print("gemm kernel  \(info.gemmKernel) (chosen by \(info.gemmSelectedBy)"
                  + (info.gemmKernelBefore.map { "; OpenBLAS had \($0)" } ?? "") + ")")
            if let path = info.f32GEMM {
                print("f32 products \(path == "onednn" ? "oneDNN" : "OpenBLAS") (\(info.f32GEMMDetail ?? "")); scoring's fused LM head and backward: OpenBLAS")
            }
            print("elementwise  \(info.elementwise)")
            print("threads      \(info.threads)")
            print("precision    \(info.precision)")
            if let cuda = info.cuda { printCUDA(cuda) }
        }
        if info.genericGEMMOnVectorCPU {
            try runReporting { throw CommandError("the CPU has \(info.isa) but the GEMM kernel is the generic \(info.gemmKernel)") }
        }
        if let unusable = info.cuda.map(unusableGPULines), !unusable.isEmpty {
            try runReporting { throw CommandError(unusable.joined(separator: "; ")) }
        }
        if let failed = info.cuda.flatMap(selfCheckFailure) {
            try runReporting { throw CommandError(failed + "; work that needs it stops there") }
        }
    }
}

/// doctor's GPU lines: each GPU (or why there is none) and where each CUDA library was found.
func printCUDA(_ cuda: CUDAStatus) {
    for g in cuda.devices {
        print("gpu          \(describeGPU(g))" + (cuda.driverVersion.map { ", driver CUDA \($0)" } ?? ""))
    }
    let unusable = unusableGPULines(cuda)
    for why in unusable { print("gpu          " + why) }
    if cuda.devices.isEmpty && unusable.isEmpty {
        print("gpu          none" + (cuda.driverVersion.map { " (driver CUDA \($0))" } ?? ""))
    }
    for lib in cuda.libraries {
        let detail = lib.name == "libnvrtc" ? (cuda.nvrtcVersion.map { " (NVRTC \($0))" } ?? "") : ""
        print(lib.name.padding(toLength: 17, withPad: " ", startingAt: 0)
              + (lib.path.map { $0 + detail } ?? (lib.problem ?? "not found")))
    }
    print("cuda         " + (cuda.problem.map { "unavailable: \($0)" } ?? selfCheckFailure(cuda).map { $0 + " (below)" }
                             ?? "ready (score --device cuda)"))
    for line in cuda.selfCheck ?? [] { print("self-check   " + line) }
}

/// "GPU 0 did not pass its self-check for …", naming the checks ("3xtf32 forward", "gradient", …) that refused GPU 0
/// or failed to run; nil when none did.
func selfCheckFailure(_ cuda: CUDAStatus) -> String? {
    let failed = (cuda.selfCheck ?? []).filter { !$0.hasSuffix(": passed") }.map { String($0.prefix { $0 != ":" }) }
    return failed.isEmpty ? nil : "GPU 0 did not pass its self-check for " + failed.joined(separator: ", ")
}

/// The GPUs the driver lists but could not describe, one line each, by ordinal.
func unusableGPULines(_ cuda: CUDAStatus) -> [String] {
    (cuda.unusableGPUs ?? [:]).sorted { Int($0.key) ?? 0 < Int($1.key) ?? 0 }.map(\.value)
}
