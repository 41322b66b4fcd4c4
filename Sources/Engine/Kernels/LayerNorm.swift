// LayerNorm over the last dimension, eps 1e-5 (GPT-2).
// inp, out are (N, C); weight, bias are (C); forward caches mean and rstd (N) for backward.

public let layerNormEps: Float = 1e-5

func layerNormForward(_ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>,
                      _ rstd: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
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
            mean[i] = m
            rstd[i] = r
        }
    }
}
