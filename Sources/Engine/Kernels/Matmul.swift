import CBLAS
import CDNNL
import Synchronization

// Matmul: out (N, OC) = inp (N, C) · weightᵀ (OC, C) + bias (OC).
// Weights are [out, in] (nn.Linear). Forward runs on the path chosen for this CPU (`f32GEMM`,
// MatmulF32Choice.swift), in fixed work units handed to threads (`ProductUnits`), each one single-threaded
// OpenBLAS or oneDNN call. Because the units do not depend on the thread count, results are bit-for-bit
// the same for any --threads (sharded scoring relies on this). OpenBLAS ran 5-10% slower per thread on
// 192-column units than on whole 256-row blocks (it packs each unit's input rows again), but whole row blocks
// are 4 units for a 1,024-token window, so past 4 threads the rest waited (2026-12-06, Emerald Rapids with
// OpenBLAS's Haswell and SkylakeX kernels: 2-thread scoring 634 -> 600 tok/s, medians of 4).

let matmulRowBlock = 256

/// The fixed work units of a product, on every path: unit u covers weight rows
/// o0 ..< o0 + m (column block cb of `productColumnBlock`) and input rows r0 ..< r0 + rows, column
/// block outer (a thread's run of units shares weight blocks).
struct ProductUnits {
    let nrb: Int, count: Int, n: Int, oc: Int
    init(n: Int, oc: Int) {
        self.n = n; self.oc = oc
        nrb = (n + matmulRowBlock - 1) / matmulRowBlock
        count = (oc + productColumnBlock - 1) / productColumnBlock * nrb
    }
    subscript(u: Int) -> (cb: Int, o0: Int, m: Int, r0: Int, rows: Int) {
        let cb = u / nrb, o0 = cb * productColumnBlock, r0 = (u % nrb) * matmulRowBlock
        return (cb, o0, min(productColumnBlock, oc - o0), r0, min(matmulRowBlock, n - r0))
    }
    /// Runs `body(o0, m, r0, rows)` once per unit, units spread over `threads`, each a library call
    /// returning 0 or an error status; true when every one returned 0.
    func runAll(threads: Int, _ body: (_ o0: Int, _ m: Int, _ r0: Int, _ rows: Int) -> Int32) -> Bool {
        let failed = Atomic<Bool>(false)
        parallelChunks(count, threads: threads) { range in
            for u in range {
                let (_, o0, m, r0, rows) = self[u]
                if body(o0, m, r0, rows) != 0 { failed.store(true, ordering: .relaxed) }
            }
        }
        return !failed.load(ordering: .relaxed)
    }
}
/// The kernel oneDNN chose for unit 0 of a product of this shape (its cache is keyed by the unit's
/// shape, not the product's), or "" when no such unit has run.
func productUnitImpl(n: Int, c: Int, oc: Int, f32: Bool, bias: Bool) -> String {
    let u = ProductUnits(n: n, oc: oc)[0]
    return String(cString: gl_dnnl_impl_of(Int64(u.rows), Int64(c), Int64(u.m), f32 ? 1 : 0, bias ? 1 : 0))
}
/// 192 weight rows: GPT-2 small's 768-wide products make 4 column blocks, so one window of 1024 rows
/// (4 row blocks) still gives 16 units, one per core of a 16-core machine.
let productColumnBlock = 192

/// The f32 product on `path` (default: this CPU's `f32GEMM`).
func matmulForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                   _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                   n: Int, c: Int, oc: Int, threads: Int, path: F32GEMMPath? = nil) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.matmul, t0, flops: 2 * Double(n) * Double(c) * Double(oc)) }
    if (path ?? f32GEMM.path) == .onednn,
       f32ProductDNNL(out, inp, weight, bias, n: n, c: c, oc: oc, threads: threads) { return }
    _ = ProductUnits(n: n, oc: oc).runAll(threads: threads) { o0, m, r0, rows in
        let o = out + r0 * oc + o0
        if let bias {
            for r in 0..<rows { (o + r * oc).update(from: bias + o0, count: m) }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(m), Int32(c),
                    1, inp + r0 * c, Int32(c), weight + o0 * c, Int32(c), bias == nil ? 0 : 1, o, Int32(oc))
        return 0
    }
}

/// Algorithmic reference: the same product with plain loops (tests compare the two).
func matmulForwardNaive(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                        _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                        n: Int, c: Int, oc: Int) {
    for i in 0..<n {
        for o in 0..<oc {
            var s: Float = bias?[o] ?? 0
            for k in 0..<c { s += inp[i * c + k] * weight[o * c + k] }
            out[i * oc + o] = s
        }
    }
}

// Backward. dout is (N, OC); forward's inp (N, C) and weight (OC, C) are what it needs.
//   dinp (N, C)     += dout · weight
//   dweight (OC, C) += doutᵀ · inp
//   dbias (OC)      += Σ over rows of dout
// dinp rows are split across threads; dweight/dbias output rows (OC) are split, so no two
// threads ever write the same float.

/// Fast path: OpenBLAS sgemm (beta = 1 accumulates).
func matmulBackward(_ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>,
                    _ dbias: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>,
                    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                    n: Int, c: Int, oc: Int, threads: Int) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.matmul, t0, flops: (dinp == nil ? 2 : 4) * Double(n) * Double(c) * Double(oc)) }
    if let dinp {
        parallelChunks(n, threads: threads, minChunk: 16) { rows in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows.count), Int32(c), Int32(oc),
                        1, dout + rows.lowerBound * oc, Int32(oc), weight, Int32(c),
                        1, dinp + rows.lowerBound * c, Int32(c))
        }
    }
    parallelChunks(oc, threads: threads, minChunk: 8) { outs in
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(outs.count), Int32(c), Int32(n),
                    1, dout + outs.lowerBound, Int32(oc), inp, Int32(c),
                    1, dweight + outs.lowerBound * c, Int32(c))
        if let dbias {
            for i in 0..<n {
                let d = dout + i * oc
                for o in outs { dbias[o] += d[o] }
            }
        }
    }
}

/// Algorithmic reference for `matmulBackward`, plain loops.
func matmulBackwardNaive(_ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>,
                         _ dbias: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>,
                         _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                         n: Int, c: Int, oc: Int) {
    for i in 0..<n {
        for o in 0..<oc {
            let d = dout[i * oc + o]
            if let dinp { for k in 0..<c { dinp[i * c + k] += d * weight[o * c + k] } }
            for k in 0..<c { dweight[o * c + k] += d * inp[i * c + k] }
            dbias?[o] += d
        }
    }
}
