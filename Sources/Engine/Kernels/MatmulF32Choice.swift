import CBLAS
import CDNNL
import CKernels

// Which f32 GEMM runs `matmulForward` (Matmul.swift: the block products, and the LM head where full logits
// are needed), decided once per process from the CPU.
// On AVX-512 CPUs oneDNN's f32 matmul (JIT "brg:avx512_core" kernels) is faster than Debian's OpenBLAS
// 0.3.21 on GPT-2's block shapes: interleaved in one process on Zen 5, 2 threads, cold weights, 372 vs
// 354 GFLOP/s (bench/gemm/f32_paths.c); the issue measured 120-160 vs 136 on Emerald Rapids. Elsewhere
// (AVX2, aarch64) oneDNN 2.6 has no brgemm f32 matmul and OpenBLAS stays: on a Zen 3 EPYC (AVX2) oneDNN's
// gemm:jit ran the 192-column units 1.14-1.21x faster in f32_paths.c, but whole scoring runs with it took
// the same time as OpenBLAS (median of 10 alternating pairs 1.015x, docs/performance.md).
//
// Not timed at start-up like the bf16 choice: the two f32 paths differ by ~5-8%, inside the start-up
// noise of a shared VM, and a coin-flip between runs would give different low bits to two processes
// scoring shards of one test set on one machine. A rule of the CPU gives the same path every time.
// A oneDNN result that disagrees with OpenBLAS on a probe product (or any oneDNN failure) keeps OpenBLAS.

public enum F32GEMMPath: String, Sendable {
    /// OpenBLAS sgemm on fixed row blocks (Matmul.swift).
    case openblas
    /// oneDNN's f32 matmul on fixed (rows × columns) units (Sources/CDNNL).
    case onednn
}

public struct F32GEMMChoice: Sendable {
    public var path: F32GEMMPath
    /// oneDNN's implementation name when it runs, else why it does not.
    public var detail: String
}

/// Made on first use (the first f32 block product, or `RuntimeInfo`).
public let f32GEMM: F32GEMMChoice = chooseF32GEMM()

func chooseF32GEMM() -> F32GEMMChoice {
    ensureGEMMSelected()
    #if arch(x86_64)
    guard gl_cpu_isa_level() >= 3 else { return F32GEMMChoice(path: .openblas, detail: "no AVX-512") }
    guard gl_dnnl_available() == 1 else { return F32GEMMChoice(path: .openblas, detail: "oneDNN CPU engine unavailable") }
    // Probe: one 256 × 768 × 768 product (with bias) both ways, compared.
    let n = 256, c = 768, oc = 768
    var rng = SplitMix64(seed: 2)
    let x = (0..<n * c).map { _ in Float.random(in: -1...1, using: &rng) }
    let w = (0..<oc * c).map { _ in Float.random(in: -1...1, using: &rng) }
    let b = (0..<oc).map { _ in Float.random(in: -1...1, using: &rng) }
    var ref = [Float](repeating: 0, count: n * oc), got = ref
    for r in 0..<n { for j in 0..<oc { ref[r * oc + j] = b[j] } }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(oc), Int32(c), 1, x, Int32(c), w, Int32(c), 1, &ref, Int32(oc))
    guard f32ProductDNNL(&got, x, w, b, n: n, c: c, oc: oc, threads: 1) else {
        return F32GEMMChoice(path: .openblas, detail: "oneDNN f32 matmul failed")
    }
    let impl = productUnitImpl(n: n, c: c, oc: oc, f32: true, bias: true)   // the probe's first unit
    guard impl.hasPrefix("brg:avx512") else {
        return F32GEMMChoice(path: .openblas, detail: impl.isEmpty ? "oneDNN named no kernel for the probe" : "oneDNN picked \(impl)")
    }
    // Sums of 768 products of values in [-1, 1]: |error| of either GEMM is far below 1e-3.
    for i in 0..<ref.count where abs(ref[i] - got[i]) > 1e-3 {
        return F32GEMMChoice(path: .openblas, detail: "oneDNN disagreed with OpenBLAS on the probe product")
    }
    return F32GEMMChoice(path: .onednn, detail: impl)
    #else
    return F32GEMMChoice(path: .openblas, detail: "not x86-64")
    #endif
}

/// The oneDNN path: `ProductUnits` (192 weight rows × 256 input rows), one oneDNN call each on the
/// engine's threads, bias fused. false when any call failed (the caller recomputes with OpenBLAS).
func f32ProductDNNL(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                    _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                    n: Int, c: Int, oc: Int, threads: Int) -> Bool {
    ProductUnits(n: n, oc: oc).runAll(threads: threads) { o0, m, r0, rows in
        gl_dnnl_matmul_f32(out + r0 * oc + o0, Int64(oc), inp + r0 * c, weight + o0 * c, bias.map { $0 + o0 },
                           Int64(rows), Int64(c), Int64(m))
    }
}
