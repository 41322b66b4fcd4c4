import CDNNL
import CKernels
import Foundation

// Which bf16 GEMM runs, measured on this CPU at first use. oneDNN's bf16 matmul (VDPBF16PS / AMX
// kernels) ran at twice its f32 rate on Zen 5 and at half it on an Emerald Rapids Xeon without AMX, so
// no CPU flag says which path is faster: both are timed on one 256 × 768 × 768 product (≈ 20 ms in all)
// and oneDNN is taken only when it is clearly (1.2×) faster. Both paths compute the same exact products
// with f32 sums; only the summation order differs, as between any two GEMMs.

public enum BF16GEMMPath: String, Sendable {
    /// Weight blocks widened to f32 (exact), OpenBLAS sgemm (MatmulBF16.swift).
    case widenedSGEMM = "widened-sgemm"
    /// oneDNN's bf16 matmul (Sources/CDNNL).
    case onednn
}

public struct BF16GEMMChoice: Sendable {
    public var path: BF16GEMMPath
    /// One-thread GFLOP/s of each path in the timing (nil: not measured).
    public var sgemmRate: Double?, onednnRate: Double?
    /// oneDNN's implementation name, or why it was not used.
    public var onednnImpl: String
}

/// Made on first use (the first bf16 product of more than 4 rows, or `RuntimeInfo`).
public let bf16GEMM: BF16GEMMChoice = chooseBF16GEMM()

func chooseBF16GEMM() -> BF16GEMMChoice {
    ensureGEMMSelected()
    guard gl_dnnl_available() == 1 else {
        return BF16GEMMChoice(path: .widenedSGEMM, sgemmRate: nil, onednnRate: nil, onednnImpl: "oneDNN CPU engine unavailable")
    }
    let n = 256, c = 768, oc = 768
    var rng = SplitMix64(seed: 1)
    let xs = (0..<n * c).map { _ in Float.random(in: -1...1, using: &rng) }
    let wf = (0..<oc * c).map { _ in Float.random(in: -1...1, using: &rng) }
    var w = [UInt16](repeating: 0, count: oc * c)
    bf16FromF32(&w, wf, count: w.count)
    var out = [Float](repeating: 0, count: n * oc), x = xs
    func best(_ body: () -> Bool) -> Double? {
        var t = Double.infinity
        for _ in 0..<4 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            guard body() else { return nil }
            t = min(t, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return 2 * Double(n * c * oc) / t / 1e9
    }
    let sgemm = best {
        x = xs
        roundToBF16(&x, count: x.count)
        bf16ProductWidened(&out, x, w, nil, n: n, c: c, oc: oc, threads: 1)
        return true
    }
    let dnnl = best { x = xs; return bf16ProductDNNL(&out, &x, w, nil, n: n, c: c, oc: oc, threads: 1) }
    let impl = productUnitImpl(n: n, c: c, oc: oc, f32: false, bias: false)   // the timed product's first unit
    guard let dnnl else {
        // oneDNN 2.6's bf16 matmul needs AVX-512 (it emulates bf16 on avx512_core); on AVX2 it is unimplemented.
        let why = gl_cpu_isa_level() < 3 ? "oneDNN has no bf16 matmul without AVX-512" : "oneDNN matmul failed"
        return BF16GEMMChoice(path: .widenedSGEMM, sgemmRate: sgemm, onednnRate: nil, onednnImpl: why)
    }
    return BF16GEMMChoice(path: dnnl > 1.2 * (sgemm ?? 0) ? .onednn : .widenedSGEMM,
                          sgemmRate: sgemm, onednnRate: dnnl, onednnImpl: impl)
}

/// The oneDNN path: the input rows converted to bf16, then units of (192 weight rows) × (256 input
/// rows), one oneDNN call each on the engine's threads. false when oneDNN failed (nothing usable written).
func bf16ProductDNNL(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                     _ weight: UnsafePointer<UInt16>, _ bias: UnsafePointer<Float>?,
                     n: Int, c: Int, oc: Int, threads: Int) -> Bool {
    let xh = UnsafeMutablePointer<UInt16>.allocate(capacity: n * c)
    defer { xh.deallocate() }
    parallelChunks(n, threads: threads, minChunk: 64) { rows in
        bf16FromF32(xh + rows.lowerBound * c, inp + rows.lowerBound * c, count: rows.count * c)
    }
    return ProductUnits(n: n, oc: oc).runAll(threads: threads) { o0, m, r0, rows in
        gl_dnnl_matmul_bf16(out + r0 * oc + o0, Int64(oc), xh + r0 * c, weight + o0 * c, bias.map { $0 + o0 },
                            Int64(rows), Int64(c), Int64(m))
    }
}

/// One line for stderr when `--precision bf16` gains no speed on this CPU (the widened path was chosen:
/// no bf16 instructions, or oneDNN's bf16 matmul measured slower). The numbers are still bf16's, the
/// same on every CPU up to summation order; nil when oneDNN runs.
public func bf16SpeedNotice(_ c: BF16GEMMChoice = bf16GEMM) -> String? {
    guard c.path == .widenedSGEMM else { return nil }
    let why = c.onednnRate.map { String(format: "oneDNN's bf16 matmul measured %.0f GFLOP/s against %.0f", $0, c.sgemmRate ?? 0) }
        ?? c.onednnImpl
    return "note: no bf16 GEMM is faster on this CPU (\(why)): bf16 products run as exact f32 products of the "
        + "bf16 values, so the numbers are bf16's and the speed no better than f32's"
}
