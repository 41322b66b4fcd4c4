import CBLAS

// Matmul: out (N, OC) = inp (N, C) · weightᵀ (OC, C) + bias (OC).
// Weights are [out, in] (nn.Linear). Forward cuts the N rows into fixed blocks of
// `matmulRowBlock` and hands the blocks to threads; each block is one single-threaded
// OpenBLAS sgemm call. Because the blocks do not depend on the thread count, results are
// bit-for-bit the same for any --threads (sharded scoring relies on this).

let matmulRowBlock = 256  // OpenBLAS re-packs the weight per call: fewer, taller calls

/// Fast path: OpenBLAS sgemm over fixed row blocks, blocks spread across `threads`.
func matmulForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                   _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                   n: Int, c: Int, oc: Int, threads: Int) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.matmul, t0, flops: 2 * Double(n) * Double(c) * Double(oc)) }
    parallelFixedBlocks(n, block: matmulRowBlock, threads: threads) { rows in
        let o = out + rows.lowerBound * oc
        let x = inp + rows.lowerBound * c
        let m = rows.count
        if let bias {
            for r in 0..<m { (o + r * oc).update(from: bias, count: oc) }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(oc), Int32(c),
                    1, x, Int32(c), weight, Int32(c), bias == nil ? 0 : 1, o, Int32(oc))
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
