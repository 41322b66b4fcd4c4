import CBLAS
import CKernels

// The bf16 matrix product: out (N, OC) = bf16(inp) (N, C) · weightᵀ (OC, C) + bias (OC), the
// weight held in bf16, the sums in f32. A product of two bf16 values is exact in f32 (8-bit
// significands), so an f32 FMA on bf16 operands computes what a bf16 dot-product instruction
// computes; only the summation order differs, as it does between any two GEMMs.
//
// How: the product goes in fixed units of `productColumnBlock` weight rows × `matmulRowBlock` input
// rows, spread over threads; each thread widens a weight block into an f32 scratch (exact) and runs
// single-threaded sgemm on the OpenBLAS kernels chosen for this CPU. The units never depend on the
// thread count, so neither do the results. With N ≤ `bf16GEMVRows` (a generation step) the
// weight is read as bf16 directly (gl_gemv_bf16): half the memory traffic of f32.
//
// Why not a bf16 GEMM library (yet): oneDNN 2.6.3's avx512_core_bf16 matmul ran at half its f32
// rate on an Emerald Rapids Xeon (no AMX), and at twice it on Zen 5 (408-429 vs 211-219 GFLOP/s, one
// thread): which is faster must be measured on the CPU at hand. docs/performance.md.

let bf16GEMVRows = 4

/// Rounds each value of `x` (count) to bf16 in place: the product's input, as a bf16 GEMM reads it.
func roundToBF16(_ x: UnsafeMutablePointer<Float>, count: Int) { gl_round_to_bf16(x, x, count) }
func bf16FromF32(_ out: UnsafeMutablePointer<UInt16>, _ x: UnsafePointer<Float>, count: Int) { gl_bf16_from_f32(out, x, count) }
func f32FromBF16(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<UInt16>, count: Int) { gl_f32_from_bf16(out, x, count) }

/// The bf16 product above, on the path chosen for this CPU (`bf16GEMM`, MatmulBF16Choice.swift).
/// `inp` may be rounded to bf16 in place: the callers' inputs (LayerNorm, attention and GELU outputs)
/// feed only this product.
func matmulForwardBF16(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafeMutablePointer<Float>,
                       _ weight: UnsafePointer<UInt16>, _ bias: UnsafePointer<Float>?,
                       n: Int, c: Int, oc: Int, threads: Int, path: BF16GEMMPath? = nil) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.matmul, t0, flops: 2 * Double(n) * Double(c) * Double(oc)) }
    if n > bf16GEMVRows, (path ?? bf16GEMM.path) == .onednn,
       bf16ProductDNNL(out, inp, weight, bias, n: n, c: c, oc: oc, threads: threads) { return }
    parallelChunks(n, threads: threads, minChunk: 64) { rows in roundToBF16(inp + rows.lowerBound * c, count: rows.count * c) }
    let x = UnsafePointer(inp)
    if n <= bf16GEMVRows {
        parallelChunks(oc, threads: threads, minChunk: 64) { outs in
            for r in 0..<n {
                gl_gemv_bf16(out + r * oc, x + r * c, weight, bias, c, outs.lowerBound, outs.upperBound)
            }
        }
        return
    }
    bf16ProductWidened(out, x, weight, bias, n: n, c: c, oc: oc, threads: threads)
}

/// The widened path: `x` already rounded to bf16. Units of (192 weight rows) × (256 input rows),
/// column block outer: a thread widens each weight block once for its run of units, and small outputs
/// still spread evenly over threads.
func bf16ProductWidened(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                        _ weight: UnsafePointer<UInt16>, _ bias: UnsafePointer<Float>?,
                        n: Int, c: Int, oc: Int, threads: Int) {
    let units = ProductUnits(n: n, oc: oc)
    parallelChunks(units.count, threads: threads) { range in
        let wide = UnsafeMutablePointer<Float>.allocate(capacity: productColumnBlock * c)
        defer { wide.deallocate() }
        var widened = -1
        for u in range {
            let (cb, o0, m, r0, rows) = units[u]
            if cb != widened { f32FromBF16(wide, weight + o0 * c, count: m * c); widened = cb }
            if let bias {
                for r in r0..<r0 + rows { (out + r * oc + o0).update(from: bias + o0, count: m) }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(m), Int32(c),
                        1, x + r0 * c, Int32(c), wide, Int32(c), bias == nil ? 0 : 1, out + r0 * oc + o0, Int32(oc))
        }
    }
}

/// Algorithmic reference: bf16-rounded input times the widened weight, plain loops in Double.
func matmulForwardBF16Naive(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                            _ weight: UnsafePointer<UInt16>, _ bias: UnsafePointer<Float>?,
                            n: Int, c: Int, oc: Int) {
    var xr = [Float](repeating: 0, count: c), wr = [Float](repeating: 0, count: c)
    for i in 0..<n {
        gl_round_to_bf16(&xr, inp + i * c, c)
        for o in 0..<oc {
            gl_f32_from_bf16(&wr, weight + o * c, c)
            var s = Double(bias?[o] ?? 0)
            for k in 0..<c { s += Double(xr[k]) * Double(wr[k]) }
            out[i * oc + o] = Float(s)
        }
    }
}

/// Token + position embedding from a bf16 token embedding: out (B, T, C) = f32(wte[inp]) + wpe[t].
func encoderForwardBF16(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Int32>,
                        _ wte: UnsafePointer<UInt16>, _ wpe: UnsafePointer<Float>, b B: Int, t T: Int, c C: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.embedding, t0) }
    for b in 0..<B {
        for t in 0..<T {
            gl_add_bf16_f32(out + (b * T + t) * C, wte + Int(inp[b * T + t]) * C, wpe + t * C, C)
        }
    }
}
