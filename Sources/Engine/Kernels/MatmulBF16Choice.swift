import CDNNL
import CKernels
import Foundation

// Which bf16 GEMM runs, decided once per process by a rule of the CPU: oneDNN's bf16 matmul when oneDNN
// runs the product on a brgemm kernel with bf16 instructions (`brg:avx512_core_bf16`, or AMX's
// `brg:avx512_core_amx…`) and its result agrees with the widened path on a probe product; else the
// bf16 weights widened to f32 for OpenBLAS (no bf16 instructions: oneDNN would emulate them, or has no
// bf16 matmul at all on AVX2). It was a start-up timing (oneDNN taken when 1.2× faster) until
// 2026-12-07: under load the timing flipped between processes on one machine (oneDNN ran at 2× the
// widened rate on a Zen 4 VM, yet a loaded process chose the widened path), so a shard's part and the
// unsharded run differed in their low bits (3.6e-7 in a loss) and the exact merge failed. Both paths
// compute the same exact products with f32 sums; only the summation order differs. The two paths are
// still timed (≈ 20 ms) for `runtime`'s rates, never to decide.

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
    let widened = out   // the widened path's product, which oneDNN's must agree with
    let dnnl = best { x = xs; return bf16ProductDNNL(&out, &x, w, nil, n: n, c: c, oc: oc, threads: 1) }
    let impl = productUnitImpl(n: n, c: c, oc: oc, f32: false, bias: false)   // the timed product's first unit
    guard let dnnl else {
        // oneDNN 2.6's bf16 matmul needs AVX-512 (it emulates bf16 on avx512_core); on AVX2 it is unimplemented.
        let why = gl_cpu_isa_level() < 3 ? "oneDNN has no bf16 matmul without AVX-512" : "oneDNN matmul failed"
        return BF16GEMMChoice(path: .widenedSGEMM, sgemmRate: sgemm, onednnRate: nil, onednnImpl: why)
    }
    // `out` holds oneDNN's product from its last timed run. Sums of 768 exact products of values in [-1, 1]: the
    // two summation orders differ far below 1e-3.
    let agrees = zip(out, widened).allSatisfy { abs($0 - $1) <= 1e-3 }
    return BF16GEMMChoice(path: agrees && bf16NativeKernel(impl) ? .onednn : .widenedSGEMM,
                          sgemmRate: sgemm, onednnRate: dnnl, onednnImpl: agrees ? impl : "oneDNN disagreed with the widened path on the probe product")
}

/// Whether oneDNN's kernel `impl` computes bf16 products with bf16 instructions (AVX512-BF16, AMX) rather than
/// emulating them: "brg:avx512_core_bf16", "brg:avx512_core_amx…".
func bf16NativeKernel(_ impl: String) -> Bool {
    impl.hasPrefix("brg:") && (impl.contains("bf16") || impl.contains("amx"))
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
/// no bf16 instructions for oneDNN to use). The numbers are still bf16's, the same on every CPU up to
/// summation order; nil when oneDNN runs.
public func bf16SpeedNotice(_ c: BF16GEMMChoice = bf16GEMM) -> String? {
    guard c.path == .widenedSGEMM else { return nil }
    let why = c.onednnImpl.hasPrefix("brg:") || c.onednnImpl.hasPrefix("gemm:") || c.onednnImpl.isEmpty
        ? "oneDNN's bf16 kernel here is \(c.onednnImpl.isEmpty ? "unnamed" : c.onednnImpl), without bf16 instructions"
        : c.onednnImpl
    return "note: no bf16 GEMM is faster on this CPU (\(why)): bf16 products run as exact f32 products of the "
        + "bf16 values, so the numbers are bf16's and the speed no better than f32's"
}
