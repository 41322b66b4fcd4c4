// LayerNorm over the last dimension, eps 1e-5 (GPT-2).
// inp, out are (N, C); weight, bias are (C); forward caches mean and rstd (N) for backward
// (nil where nothing will go backward: the KV-cache step).
// Forward's row loop is C (Sources/CKernels/vec.c, one clone per ISA level).
import CKernels

public let layerNormEps: Float = 1e-5

func layerNormForward(_ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>?,
                      _ rstd: UnsafeMutablePointer<Float>?, _ inp: UnsafePointer<Float>,
                      _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
                      n: Int, c: Int, threads: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.layerNorm, t0) }
    parallelChunks(n, threads: threads, minChunk: 64) { rows in
        for i in rows {
            gl_layernorm_row(out + i * c, inp + i * c, weight, bias, c, layerNormEps, mean.map { $0 + i }, rstd.map { $0 + i })
        }
    }
}

/// Algorithmic reference for `layerNormForward`: plain loops, Double sums.
func layerNormForwardNaive(_ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>,
                           _ rstd: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                           _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, n: Int, c: Int) {
    for i in 0..<n {
        let x = inp + i * c
        var s = 0.0
        for k in 0..<c { s += Double(x[k]) }
        let m = s / Double(c)
        var v = 0.0
        for k in 0..<c { v += (Double(x[k]) - m) * (Double(x[k]) - m) }
        let r = 1 / (v / Double(c) + Double(layerNormEps)).squareRoot()
        for k in 0..<c { out[i * c + k] = Float((Double(x[k]) - m) * r) * weight[k] + bias[k] }
        mean[i] = Float(m)
        rstd[i] = Float(r)
    }
}

// Backward, from forward's cached mean and rstd (N); norm = (x − mean)·rstd is recomputed.
//   dbias (C)   += Σ_rows dout
//   dweight (C) += Σ_rows dout · norm
//   dinp (N, C) += rstd · (dnorm − mean(dnorm) − norm · mean(dnorm · norm)),  dnorm = dout · weight
// Rows go in fixed units of `layerNormBackwardUnit`, whatever the thread count; each unit sums dweight/dbias
// into its own partial, and the partials are added at the end in unit order, so the gradient is the same
// bits for any --threads (the units were one per thread, and `hessian --threads 1` and `2` differed by 4e-7).
let layerNormBackwardUnit = 64

func layerNormBackward(_ dinp: UnsafeMutablePointer<Float>, _ dweight: UnsafeMutablePointer<Float>,
                       _ dbias: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                       _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                       _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
                       n: Int, c: Int, threads: Int) {
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.layerNorm, t0) }
    let unit = layerNormBackwardUnit, chunks = max(1, (n + unit - 1) / unit)
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks * 2 * c)  // (chunks, 2, C)
    partial.initialize(repeating: 0, count: chunks * 2 * c)
    defer { partial.deallocate() }
    parallelUnits(chunks, threads: threads) { _, chunk in
        let rows = (chunk * unit)..<min(n, (chunk + 1) * unit)
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
