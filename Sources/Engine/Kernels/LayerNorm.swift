// LayerNorm over the last dimension, eps 1e-5 (GPT-2).
// inp, out are (N, C); weight, bias are (C); forward caches mean and rstd (N) for backward
// (nil where nothing will go backward: the KV-cache step).

public let layerNormEps: Float = 1e-5

func layerNormForward(_ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>?,
                      _ rstd: UnsafeMutablePointer<Float>?, _ inp: UnsafePointer<Float>,
                      _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                      n: Int, c: Int, threads: Int) {
    parallelChunks(n, threads: threads, minChunk: 64) { rows in
        for i in rows {
            let x = inp + i * c
            var s: Float = 0
            for k in 0..<c { s += x[k] }
            let m = s / Float(c)
            var v: Float = 0
            for k in 0..<c { let d = x[k] - m; v += d * d }
            let r = 1 / (v / Float(c) + layerNormEps).squareRoot()
            let o = out + i * c
            for k in 0..<c { o[k] = (x[k] - m) * r * weight[k] + bias[k] }
            mean?[i] = m
            rstd?[i] = r
        }
    }
}

// Backward, from forward's cached mean and rstd (N); norm = (x − mean)·rstd is recomputed.
//   dbias (C)   += Σ_rows dout
//   dweight (C) += Σ_rows dout · norm
//   dinp (N, C) += rstd · (dnorm − mean(dnorm) − norm · mean(dnorm · norm)),  dnorm = dout · weight
// Rows are split across threads; each chunk sums dweight/dbias into its own partial, and the
// partials are added at the end (in chunk order, so results do not depend on scheduling).
func layerNormBackward(_ dinp: UnsafeMutablePointer<Float>, _ dweight: UnsafeMutablePointer<Float>,
                       _ dbias: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                       _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                       _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
                       n: Int, c: Int, threads: Int) {
    let chunks = chunkCount(n, threads: threads, minChunk: 64)
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks * 2 * c)  // (chunks, 2, C)
    partial.initialize(repeating: 0, count: chunks * 2 * c)
    defer { partial.deallocate() }
    parallelChunksIndexed(n, chunks: chunks) { chunk, rows in
        let pw = partial + chunk * 2 * c, pb = pw + c
        for i in rows {
            let x = inp + i * c, d = dout + i * c, dx = dinp + i * c
            let m = mean[i], r = rstd[i]
            var dnormMean: Float = 0, dnormNormMean: Float = 0
            for k in 0..<c {
                let norm = (x[k] - m) * r
                let dnorm = weight[k] * d[k]
                dnormMean += dnorm
                dnormNormMean += dnorm * norm
            }
            dnormMean /= Float(c); dnormNormMean /= Float(c)
            for k in 0..<c {
                let norm = (x[k] - m) * r
                let dnorm = weight[k] * d[k]
                pb[k] += d[k]
                pw[k] += norm * d[k]
                dx[k] += (dnorm - dnormMean - norm * dnormNormMean) * r
            }
        }
    }
    for ch in 0..<chunks {
        let pw = partial + ch * 2 * c, pb = pw + c
        for k in 0..<c { dweight[k] += pw[k]; dbias[k] += pb[k] }
    }
}
