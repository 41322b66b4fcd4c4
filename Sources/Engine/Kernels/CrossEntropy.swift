import CBLAS
import CDNNL
import CKernels

// LM head + log-softmax + negative log-likelihood, without ever holding (N, V) logits.
// x is the final LayerNorm output (N, C); head is (V, C) (wte when tied); targets (N).
// nll[i] = logsumexp(logits_i) − logits_i[target_i] for each i in `active`; other rows untouched.
//
// Rows go in chunks of `crossEntropyRows`; within a chunk the vocabulary goes in fixed blocks of
// `crossEntropyVocabBlock(V)` entries, spread over threads. Each block is one sgemm (rows × block × C), so
// OpenBLAS packs each slice of the head once per chunk instead of once per few rows, and each
// block leaves a (max, Σexp) pair per row that is merged in block order (an online logsumexp).
// The blocks never depend on the thread count, so neither do the results.

// 1024 rows × ~512 vocabulary entries: tall calls reuse each packed head slice over more rows (1024
// rows measured 8% faster than 256 on OpenBLAS, interleaved, bench/gemm/f32_paths.c); narrow blocks
// keep the per-thread logits scratch near 2 MB (2048 cost 12 MB more peak RSS at 2 threads, no speed).
let crossEntropyRows = 1024
let crossEntropyRowsBF16 = 512

/// The vocabulary's block width: about 512 entries, a multiple of 16, set so the block count is close to a
/// multiple of 48, which 2, 3, 4, 6, 8, 12, 16, 24 and 48 threads divide evenly. GPT-2's 50,257 entries go
/// in 96 blocks of 528 (the last 97): as 99 blocks of 512, 16 threads took 6 or 7 each (88% of the time
/// busy), 12 threads 8 or 9 (92%). It depends on V alone, so the results never depend on the thread count.
func crossEntropyVocabBlock(_ V: Int) -> Int {
    let groups = max(1, Int((Double(V) / (512 * 48)).rounded()))
    let vb = (V + 48 * groups - 1) / (48 * groups)
    return (vb + 15) / 16 * 16
}

/// With `headBF16` (V, C) the head is bf16 (`head` unused): the gathered rows are rounded to bf16 and
/// each block's product runs on the bf16 path chosen for this CPU (`bf16GEMM`): oneDNN's bf16 matmul,
/// or the block widened (exactly) into a per-thread scratch for sgemm. Rows go in chunks of
/// `crossEntropyRowsBF16` (512: the bf16 memory budget; f32 takes 1024, which measured 8% faster
/// than 256 on OpenBLAS, interleaved in one process, bench/gemm/f32_paths.c).
func crossEntropyForward(_ nll: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                         _ head: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                         active rows: [Int], n: Int, c C: Int, v V: Int, threads: Int,
                         headBF16: UnsafePointer<UInt16>? = nil) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.lmHeadLoss, t0, flops: 2 * Double(rows.count) * Double(V) * Double(C)) }
    let R = headBF16 == nil ? crossEntropyRows : crossEntropyRowsBF16, VB = crossEntropyVocabBlock(V)
    let nb = (V + VB - 1) / VB
    let xs = UnsafeMutablePointer<Float>.allocate(capacity: R * C)        // (R, C) gathered rows
    let maxes = UnsafeMutablePointer<Float>.allocate(capacity: nb * R)    // (nb, R) block max
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: nb * R)     // (nb, R) Σ exp(l − max)
    let picked = UnsafeMutablePointer<Float>.allocate(capacity: R)        // (R) target logit
    // bf16 head where oneDNN's bf16 matmul was chosen (MatmulBF16Choice.swift): the rows as bf16.
    let xh = headBF16 != nil && bf16GEMM.path == .onednn ? UnsafeMutablePointer<UInt16>.allocate(capacity: R * C) : nil
    defer { xs.deallocate(); maxes.deallocate(); sums.deallocate(); picked.deallocate(); xh?.deallocate() }
    var lo = 0
    while lo < rows.count {
        let m = min(R, rows.count - lo)
        for r in 0..<m { (xs + r * C).update(from: x + rows[lo + r] * C, count: C) }
        if headBF16 != nil { roundToBF16(xs, count: m * C) }
        if let xh { bf16FromF32(xh, xs, count: m * C) }
        let xsc = UnsafePointer(xs)
        parallelChunks(nb, threads: threads) { blocks in
            let logits = UnsafeMutablePointer<Float>.allocate(capacity: R * VB)  // (m, VB)
            var wide: UnsafeMutablePointer<Float>? = nil   // a widened bf16 block, when sgemm takes it
            defer { logits.deallocate(); wide?.deallocate() }
            for b in blocks {
                let v0 = b * VB, vb = min(VB, V - v0)
                if let headBF16, let xh,
                   gl_dnnl_matmul_bf16(logits, Int64(vb), xh, headBF16 + v0 * C, nil, Int64(m), Int64(C), Int64(vb)) == 0 {
                    // oneDNN wrote this block's logits
                } else {
                    var block = head + v0 * C
                    if let headBF16 {
                        let w = wide ?? .allocate(capacity: VB * C)
                        wide = w
                        f32FromBF16(w, headBF16 + v0 * C, count: vb * C)
                        block = UnsafePointer(w)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(vb), Int32(C),
                                1, xsc, Int32(C), block, Int32(C), 0, logits, Int32(vb))
                }
                for r in 0..<m {
                    let row = logits + r * vb
                    let (mx, s) = maxAndSumExp(row, count: vb)
                    maxes[b * R + r] = mx
                    sums[b * R + r] = s
                    let t = Int(targets[rows[lo + r]]) - v0
                    if t >= 0 && t < vb { picked[r] = row[t] }
                }
            }
        }
        for r in 0..<m {
            var mx = -Float.infinity
            for b in 0..<nb { mx = max(mx, maxes[b * R + r]) }
            var total = 0.0
            for b in 0..<nb { total += Double(sums[b * R + r]) * exp(Double(maxes[b * R + r] - mx)) }
            nll[rows[lo + r]] = mx + Float(log(total)) - picked[r]
        }
        lo += m
    }
}

// Forward + backward together, for training-style passes. The mean loss over the N_scored
// rows has dlogits = (softmax(logits) − onehot(target)) · scale, scale = 1/N_scored.
// Rows go in chunks of `crossEntropyBackwardChunk`; per chunk, with xs (m, C) the gathered rows:
//   logits (m, V) = xs · headᵀ          (V split across threads)
//   nll, then logits → dlogits in place (rows split across threads)
//   dhead (V, C) += dlogitsᵀ · xs       (V split across threads)
//   dx rows (m, C) += dlogits · head    (rows split across threads)
// so (N, V) logits never exist at once: the scratch is (chunk, V).
let crossEntropyBackwardChunk = 128

func crossEntropyBackward(_ nll: UnsafeMutablePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                          _ dhead: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                          _ head: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                          active rows: [Int], scale: Float, n: Int, c C: Int, v V: Int, threads: Int) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.lmHeadLoss, t0, flops: 6 * Double(rows.count) * Double(V) * Double(C)) }
    let chunk = crossEntropyBackwardChunk
    let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * V)  // (chunk, V)
    let xs = UnsafeMutablePointer<Float>.allocate(capacity: chunk * C)      // (chunk, C)
    let dxs = UnsafeMutablePointer<Float>.allocate(capacity: chunk * C)     // (chunk, C)
    defer { logits.deallocate(); xs.deallocate(); dxs.deallocate() }
    var lo = 0
    while lo < rows.count {
        let m = min(chunk, rows.count - lo)
        for r in 0..<m { (xs + r * C).update(from: x + rows[lo + r] * C, count: C) }
        parallelChunks(V, threads: threads, minChunk: 512) { vs in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(vs.count), Int32(C),
                        1, xs, Int32(C), head + vs.lowerBound * C, Int32(C), 0, logits + vs.lowerBound, Int32(V))
        }
        parallelChunks(m, threads: threads) { rr in
            for r in rr {
                let i = rows[lo + r], row = logits + r * V, tgt = Int(targets[i])
                let lse = logSumExp(row, count: V)
                nll[i] = lse - row[tgt]
                softmaxFromLSE(row, lse: lse, scale: scale, count: V)
                row[tgt] -= scale
            }
        }
        parallelChunks(V, threads: threads, minChunk: 512) { vs in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(vs.count), Int32(C), Int32(m),
                        1, logits + vs.lowerBound, Int32(V), xs, Int32(C), 1, dhead + vs.lowerBound * C, Int32(C))
        }
        parallelChunks(m, threads: threads) { rr in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rr.count), Int32(C), Int32(V),
                        1, logits + rr.lowerBound * V, Int32(V), head, Int32(C), 0, dxs + rr.lowerBound * C, Int32(C))
        }
        for r in 0..<m {
            let d = dx + rows[lo + r] * C, s = dxs + r * C
            for k in 0..<C { d[k] += s[k] }
        }
        lo += m
    }
}

/// In place: row[j] = exp(row[j] − lse) · scale.
@inline(__always)
func softmaxFromLSE(_ row: UnsafeMutablePointer<Float>, lse: Float, scale: Float, count V: Int) {
    gl_exp_shifted_scale(row, V, lse, scale)
}

/// Algorithmic reference for `crossEntropyBackward`: whole logits matrix, plain loops, Double sums.
func crossEntropyBackwardNaive(_ nll: UnsafeMutablePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                               _ dhead: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                               _ head: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>,
                               active rows: [Int], scale: Float, c C: Int, v V: Int) {
    var logits = [Double](repeating: 0, count: V)
    for i in rows {
        for o in 0..<V {
            var s = 0.0
            for k in 0..<C { s += Double(x[i * C + k]) * Double(head[o * C + k]) }
            logits[o] = s
        }
        let m = logits.max()!
        let z = logits.reduce(0) { $0 + exp($1 - m) }
        let tgt = Int(targets[i])
        nll[i] = Float(m + log(z) - logits[tgt])
        for o in 0..<V {
            let d = Float((exp(logits[o] - m) / z - (o == tgt ? 1 : 0)) * Double(scale))
            for k in 0..<C {
                dx[i * C + k] += d * head[o * C + k]
                dhead[o * C + k] += d * x[i * C + k]
            }
        }
    }
}

/// log Σ exp(row[j]), stable (max subtracted): `maxAndSumExp` folded into one number.
@inline(__always)
func logSumExp(_ row: UnsafePointer<Float>, count V: Int) -> Float {
    let (m, s) = maxAndSumExp(row, count: V)
    return m + Float(log(Double(s)))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
