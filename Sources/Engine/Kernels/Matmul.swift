import CBLAS

// Matmul: out (N, OC) = inp (N, C) · weightᵀ (OC, C) + bias (OC).
// Weights are [out, in] (nn.Linear). Forward splits the N rows across threads, each
// thread running single-threaded OpenBLAS sgemm on its block.

/// Fast path: OpenBLAS sgemm, rows split across `threads`.
func matmulForward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                   _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                   n: Int, c: Int, oc: Int, threads: Int) {
    parallelChunks(n, threads: threads, minChunk: 16) { rows in
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
