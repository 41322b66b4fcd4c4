import CKernels
import Foundation

// Which kernels this process runs, chosen once from what the CPU reports.
//
// GEMM: Debian's OpenBLAS is a DYNAMIC_ARCH build that picks its kernel table in a library
// constructor, before main, from cpuid or OPENBLAS_CORETYPE. 0.3.21 does not know recent CPUs
// (Emerald Rapids, Zen 5) and can land on its generic SSE3 "Prescott" table, 5-7× slower than
// the AVX-512 one. So, on x86-64, the CPU's ISA tier (cpuid) is compared with the tier of the
// table OpenBLAS took; when OpenBLAS's is lower, it is switched to the table made for the CPU's
// tier (AVX-512 → SkylakeX, AVX2 → Haswell, AVX → Sandybridge) before the first product.
// A table at or above the CPU's tier, OpenBLAS's own pick or an OPENBLAS_CORETYPE, is kept.
// Elementwise kernels: clones per ISA level in the CKernels target, picked at load time.

/// What runs: `gpt2lab doctor` prints it, `score --json` records it as "runtime".
public struct RuntimeInfo: Codable, Sendable, Equatable {
    /// cpuid brand string (x86-64), or the architecture.
    public var cpu: String
    /// ISA level cpuid reports: "avx512", "avx2", "avx", "baseline" (x86-64) or the architecture.
    public var isa: String
    /// Extra features that matter for a bf16 path: "avx512bf16", "amx-bf16", "avx512vnni".
    public var features: [String]
    /// "OpenBLAS 0.3.21 ..." (openblas_get_config()).
    public var gemmBackend: String
    /// OpenBLAS's kernel table in use (openblas_get_corename()), e.g. "SkylakeX".
    public var gemmKernel: String
    /// How that table was chosen: "openblas" (its own pick), "environment" (OPENBLAS_CORETYPE kept),
    /// or "cpuid" (gpt2lab switched it; `gemmKernelBefore` says from what).
    public var gemmSelectedBy: String
    public var gemmKernelBefore: String?
    /// Clone of the elementwise kernels: "avx512", "avx2-fma", "baseline", "neon".
    public var elementwise: String
    public var threads: Int
    public var precision: String
    /// With bf16: the block products' path, "onednn" or "widened-sgemm", and the one-thread GFLOP/s of
    /// each in the start-up timing (Kernels/MatmulBF16Choice.swift).
    public var bf16GEMM: String?
    public var bf16Rates: [String: Double]?
    /// The f32 block products' path, "onednn" or "openblas", and oneDNN's kernel or why it is not used
    /// (Kernels/MatmulF32Choice.swift): every f32 `matmulForward` (block products, the head in generation and
    /// per-token comparison). Scoring's fused LM head + loss and every backward product run on OpenBLAS.
    public var f32GEMM: String?
    public var f32GEMMDetail: String?
    /// Where a score's forward ran ("cpu", "cuda:N") and that GPU; nil in doctor.
    public var device: String?
    public var gpu: GPUInfo?
    /// CUDA on this machine (driver, GPUs, libraries): doctor fills it.
    public var cuda: CUDAStatus?

    enum CodingKeys: String, CodingKey {
        case device, gpu, cuda
        case cpu, isa, features, threads, precision, elementwise, bf16GEMM = "bf16_gemm", bf16Rates = "bf16_gemm_rates"
        case f32GEMM = "f32_gemm", f32GEMMDetail = "f32_gemm_detail"
        case gemmBackend = "gemm_backend", gemmKernel = "gemm_kernel", gemmSelectedBy = "gemm_selected_by"
        case gemmKernelBefore = "gemm_kernel_before"
    }

    /// This process's runtime with `threads` engine threads, products at `precision`.
    public static func current(threads: Int, precision: Precision = .f32) -> RuntimeInfo {
        let g = gemmSelection
        return RuntimeInfo(cpu: cpuBrand(), isa: isaName(Int(gl_cpu_isa_level())), features: cpuFeatures(),
                           gemmBackend: g.backend, gemmKernel: g.kernel, gemmSelectedBy: g.selectedBy,
                           gemmKernelBefore: g.before, elementwise: String(cString: gl_elementwise_isa()),
                           threads: threads, precision: precision.rawValue,
                           bf16GEMM: precision == .bf16 ? Engine.bf16GEMM.path.rawValue : nil,
                           bf16Rates: precision == .bf16 ? bf16RatesMeasured() : nil,
                           f32GEMM: Engine.f32GEMM.path.rawValue, f32GEMMDetail: Engine.f32GEMM.detail)
    }

    static func bf16RatesMeasured() -> [String: Double] {
        var r: [String: Double] = [:]
        r["widened-sgemm"] = Engine.bf16GEMM.sgemmRate
        r["onednn"] = Engine.bf16GEMM.onednnRate
        return r
    }

    private func gpuMathDetail(_ math: String?) -> String {
        switch math.flatMap(GPUMath.init(rawValue:)) {
        case .split?: return "cuBLAS products as three TF32 tensor-core products of hi/lo splits (f32-order rounding)"
        case .tf32?: return "cuBLAS TF32 products (10-bit mantissa inputs)"
        case .f32?, nil: return "cuBLAS f32 products (no TF32)"
        }
    }

    /// How products at this precision are computed (Kernels/MatmulBF16.swift).
    public var precisionDetail: String {
        if let gpu {
            return (precision == Precision.bf16.rawValue
                ? "weights held in bf16; inputs rounded to bf16; cuBLAS bf16 products with f32 sums"
                : "f32 weights; " + gpuMathDetail(gpu.math))
                + "; LayerNorm, attention softmax, GELU and the loss in f32 kernels, on \(gpu.name)"
        }
        return precision == Precision.bf16.rawValue
            ? "weights held in bf16; inputs rounded to bf16; products exact in f32, sums in f32; block products and LM head by "
                + (bf16GEMM == BF16GEMMPath.onednn.rawValue ? "oneDNN (\(bf16GEMMImpl))" : "\(gemmKernel) sgemm on widened weight blocks")
                + (bf16Rates.map { r in ", timed at start (for information; the path is a rule of the CPU): " + r.sorted { $0.key < $1.key }.map { String(format: "%@ %.0f GFLOP/s", $0.key, $0.value) }.joined(separator: ", ") } ?? "")
            : "f32 weights and products; block products by "
                + (f32GEMM == F32GEMMPath.onednn.rawValue ? "oneDNN (\(f32GEMMDetail ?? ""))" : "\(gemmKernel) sgemm")
                + ", scoring's LM head by \(gemmKernel) sgemm"
    }

    var bf16GEMMImpl: String { Engine.bf16GEMM.onednnImpl }

    /// True when the CPU has AVX2 or AVX-512 but the GEMM kernel table is one of OpenBLAS's generic ones.
    public var genericGEMMOnVectorCPU: Bool {
        (isa == "avx2" || isa == "avx512") && openblasCoreTier(gemmKernel) < 2
    }
}

struct GEMMSelection: Sendable {
    var backend: String, kernel: String, selectedBy: String, before: String?
}

/// Made on first use (CPUBackend.init and every GEMM kernel entry touch it), before any product.
let gemmSelection: GEMMSelection = selectGEMM()

@inline(__always)
func ensureGEMMSelected() { _ = gemmSelection }

private func selectGEMM() -> GEMMSelection {
    func backend() -> String { gl_openblas_config().map { String(cString: $0) } ?? "BLAS (no openblas_get_config)" }
    let before = gl_openblas_corename().map { String(cString: $0) } ?? "unknown"
    let fromEnv = (getenv("OPENBLAS_CORETYPE").map { String(cString: $0) } ?? "").isEmpty == false
    let owner = fromEnv ? "environment" : "openblas"
    #if arch(x86_64)
    let tier = Int(gl_cpu_isa_level())
    let target = ["", "Sandybridge", "Haswell", "SkylakeX"][tier]
    // Same tier but measurably slower sgemm in 0.3.21: Cooperlake's table (the pick for CPUs with
    // AVX512-BF16) against SkylakeX's, 118-122 vs 130-173 GFLOP/s on one Zen 5 thread and 94.8 vs
    // 135.7 on Emerald Rapids. Switched only when it was OpenBLAS's own pick, not the user's.
    let slower = !fromEnv && tier == 3 && before.lowercased() == "cooperlake"
    if tier > 0, openblasCoreTier(before) < tier || slower, gl_openblas_force_core(target) == 1 {
        let now = gl_openblas_corename().map { String(cString: $0) } ?? target
        return GEMMSelection(backend: backend(), kernel: now, selectedBy: "cpuid", before: before)
    }
    #endif
    return GEMMSelection(backend: backend(), kernel: before, selectedBy: owner, before: nil)
}

/// ISA tier of an OpenBLAS x86-64 core name: 3 AVX-512, 2 AVX2, 1 AVX, 0 SSE-only/generic/unknown.
func openblasCoreTier(_ core: String) -> Int {
    switch core.lowercased() {
    case "skylakex", "cooperlake", "sapphirerapids": return 3
    case "haswell", "zen", "excavator": return 2
    case "sandybridge", "bulldozer", "piledriver", "steamroller": return 1
    default: return 0
    }
}

private func isaName(_ level: Int) -> String {
    #if arch(x86_64)
    return ["baseline", "avx", "avx2", "avx512"][level]
    #elseif arch(arm64)
    return "aarch64 (neon)"
    #else
    return "generic"
    #endif
}

private func cpuFeatures() -> [String] {
    ["avx512bf16", "amx-bf16", "avx512vnni"].filter { gl_cpu_has($0) == 1 }
}

private func cpuBrand() -> String {
    var buf = [CChar](repeating: 0, count: 64)
    gl_cpu_brand(&buf, buf.count)
    let brand = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        .trimmingCharacters(in: .whitespaces)
    #if arch(x86_64)
    return brand.isEmpty ? "x86_64" : brand
    #elseif arch(arm64)
    return "aarch64"
    #else
    return "unknown"
    #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
