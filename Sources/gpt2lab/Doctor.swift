import ArgumentParser
import Engine
import Foundation

/// `gpt2lab doctor`: which CPU, GEMM kernel, elementwise clone, threads and precision this machine runs.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the CPU, the GEMM backend and kernel, the elementwise kernels, threads and precision in use.",
        discussion: """
        The same object `score --json` records as "runtime". Exits 1 when the CPU has AVX2 or AVX-512 but \
        the GEMM kernel is a generic one.
        """)

    @OptionGroup var threadsOption: ThreadsOption
    var threads: Int? { threadsOption.threads }

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let info = RuntimeInfo.current(threads: max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount))
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
        }
        if info.genericGEMMOnVectorCPU {
            throw ValidationError("the CPU has \(info.isa) but the GEMM kernel is the generic \(info.gemmKernel)")
        }
    }
}
