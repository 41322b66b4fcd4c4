import CBLAS

// LM head + log-softmax + negative log-likelihood, in row chunks so memory stays bounded.
// x is the final LayerNorm output (N, C); head is (V, C) (wte when tied); targets (N).
// nll[i] = logsumexp(logits_i) − logits_i[target_i], for rows where `active[i]` is true
// (others are skipped and left untouched). Each chunk's logits (rows, V) live in a
// per-thread scratch of `crossEntropyChunk` rows.

let crossEntropyChunk = 32

func crossEntropyForward(_ nll: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                         _ head: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                         active: [Int], n: Int, c C: Int, v V: Int, threads: Int) {
    // Rows to score, gathered so chunks are dense.
    let rows = active
    parallelChunks((rows.count + crossEntropyChunk - 1) / crossEntropyChunk, threads: threads) { chunks in
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: crossEntropyChunk * V)
        let xs = UnsafeMutablePointer<Float>.allocate(capacity: crossEntropyChunk * C)
        defer { logits.deallocate(); xs.deallocate() }
        for ch in chunks {
            let lo = ch * crossEntropyChunk, hi = min(rows.count, lo + crossEntropyChunk)
            let m = hi - lo
            for r in 0..<m { (xs + r * C).update(from: x + rows[lo + r] * C, count: C) }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(V), Int32(C),
                        1, xs, Int32(C), head, Int32(C), 0, logits, Int32(V))
            for r in 0..<m {
                let i = rows[lo + r]
                let row = logits + r * V
                nll[i] = logSumExp(row, count: V) - row[Int(targets[i])]
            }
        }
    }
}

/// log Σ exp(row[j]), stable (max subtracted), SIMD16 bulk.
@inline(__always)
func logSumExp(_ row: UnsafePointer<Float>, count V: Int) -> Float {
    var mv = SIMD16<Float>(repeating: -.infinity)
    let blocks = V / 16
    for b in 0..<blocks { mv = maxSIMD(mv, UnsafeRawPointer(row + b * 16).loadUnaligned(as: SIMD16<Float>.self)) }
    var m = mv.max()
    for j in (blocks * 16)..<V { m = max(m, row[j]) }
    let msplat = SIMD16<Float>(repeating: m)
    var acc = SIMD16<Float>(repeating: 0)
    for b in 0..<blocks { acc += expSIMD(UnsafeRawPointer(row + b * 16).loadUnaligned(as: SIMD16<Float>.self) - msplat) }
    var s = Double(acc.sum())
    for j in (blocks * 16)..<V { s += Double(expf(row[j] - m)) }
    return m + Float(log(s))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
