import CBLAS
import CKernels

// Causal multi-head self-attention.
// qkv is (B, T, 3C) with rows [q | k | v]; out is (B, T, C).
// att, when given, is (B, NH, T, T) and receives the softmax probabilities (row i holds
// columns 0...i, the rest zero) — backward needs them. Without it, a per-thread scratch is used.
// Rows are processed in blocks of 64 so that only the causal (lower) part is multiplied; the work units
// handed to threads are (window, head, row block), so a single window still spreads over many cores.
// Where the f32 block products run on oneDNN, so do these two (AttentionDNNL.swift); else OpenBLAS, below.

let attentionRowBlock = 64

/// `path`: the products' library (default: that of the f32 block products, `f32GEMM`).
func attentionForward(_ out: UnsafeMutablePointer<Float>, _ att: UnsafeMutablePointer<Float>?,
                      _ qkv: UnsafePointer<Float>, b B: Int, t T: Int, c C: Int, nh NH: Int, threads: Int,
                      path: F32GEMMPath? = nil) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.attention, t0, flops: attentionFlops(b: B, t: T, c: C)) }
    if (path ?? f32GEMM.path) == .onednn,
       attentionForwardDNNL(out, att, qkv, b: B, t: T, c: C, nh: NH, threads: threads) { return }
    let hs = C / NH
    let scale = 1 / Float(hs).squareRoot()
    let C3 = 3 * C
    let nrb = (T + attentionRowBlock - 1) / attentionRowBlock, units = B * NH * nrb
    // Without a cache, one row block of probabilities per worker at a time, zeroed only up to the block's end.
    let scratch = att == nil ? UnsafeMutablePointer<Float>.allocate(capacity: chunkCount(units, threads: threads) * attentionRowBlock * T) : nil
    defer { scratch?.deallocate() }
    parallelUnits(units, threads: threads) { worker, u in
        let (p, r0, r1) = attentionUnit(u, pairs: B * NH, t: T)
        let b = p / NH, h = p % NH, rows = r1 - r0
        let q = qkv + b * T * C3 + h * hs
        let k = q + C
        let v = q + 2 * C
        let o = out + b * T * C + h * hs
        let P = att.map { $0 + p * T * T + r0 * T } ?? scratch! + worker * attentionRowBlock * T
        // scores (rows, r1) = q[r0..<r1] · k[0..<r1]ᵀ · scale
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(r1), Int32(hs),
                    scale, q + r0 * C3, Int32(C3), k, Int32(C3), 0, P, Int32(T))
        for i in 0..<rows { softmaxCausalRow(P + i * T, valid: r0 + i + 1, width: att == nil ? r1 : T) }
        // out[r0..<r1] (rows, hs) = P (rows, r1) · v[0..<r1] (r1, hs)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(hs), Int32(r1),
                    1, P, Int32(T), v, Int32(C3), 0, o + r0 * C, Int32(C))
    }
}

/// Attention's work unit `u` of `pairs` (window, head) pairs over `t` positions: the pair (window·heads + head)
/// and its query rows r0..<r1, a block of `attentionRowBlock`. The last row blocks come first: they attend to
/// the most keys, so workers taking units in this order (`parallelUnits`) finish together.
@inline(__always)
func attentionUnit(_ u: Int, pairs: Int, t T: Int) -> (pair: Int, r0: Int, r1: Int) {
    let nrb = (T + attentionRowBlock - 1) / attentionRowBlock
    let r0 = (nrb - 1 - u / pairs) * attentionRowBlock
    return (u % pairs, r0, min(T, r0 + attentionRowBlock))
}

// One query against a key/value cache (generation with a KV cache, see Generate.swift).
// q is (C) — this position's query, heads side by side; keys and values are (n, C): the cached
// k and v rows of positions 0..<n, this position's included (causality = attend to all n).
// out (C) = per head softmax(q·kᵀ/√hs)·v. scores is an (n) scratch. Heads run one after another:
// one row is far too little work to split across threads.
func attentionStepForward(_ out: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>,
                          _ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
                          scores: UnsafeMutablePointer<Float>, n: Int, c C: Int, nh NH: Int) {
    let hs = C / NH
    let scale = 1 / Float(hs).squareRoot()
    for h in 0..<NH {
        let qh = q + h * hs, oh = out + h * hs
        for j in 0..<n {
            let kj = keys + j * C + h * hs
            var s: Float = 0
            for d in 0..<hs { s += qh[d] * kj[d] }
            scores[j] = s * scale
        }
        softmaxCausalRow(scores, valid: n, width: n)
        for d in 0..<hs { oh[d] = 0 }
        for j in 0..<n {
            let p = scores[j], vj = values + j * C + h * hs
            for d in 0..<hs { oh[d] += p * vj[d] }
        }
    }
}

// Backward, from forward's cached probabilities att (B, NH, T, T). Per (b, h), with
// O = P·V, P = softmax(S), S = Q·Kᵀ·scale (causal):
//   dP = dO · Vᵀ                       (T, T) scratch
//   dV += Pᵀ · dO
//   dS = P ∘ (dP − rowsum(P ∘ dP))     (masked entries have P = 0, so dS = 0 there)
//   dQ += scale · dS · K,   dK += scale · dSᵀ · Q
// dqkv (B, T, 3C) += ; datty is dO (B, T, C). Threads own disjoint (b, h) pairs, hence
// disjoint columns of dqkv.
func attentionBackward(_ dqkv: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                       _ qkv: UnsafePointer<Float>, _ att: UnsafePointer<Float>,
                       b B: Int, t T: Int, c C: Int, nh NH: Int, threads: Int) {
    ensureGEMMSelected()
    let t0 = KernelProfile.begin()
    defer { KernelProfile.end(.attention, t0, flops: 2 * attentionFlops(b: B, t: T, c: C)) }
    let hs = C / NH
    let scale = 1 / Float(hs).squareRoot()
    let C3 = 3 * C
    parallelChunks(B * NH, threads: threads) { pairs in
        let dP = UnsafeMutablePointer<Float>.allocate(capacity: T * T)
        defer { dP.deallocate() }
        for p in pairs {
            let b = p / NH, h = p % NH
            let q = qkv + b * T * C3 + h * hs, k = q + C, v = q + 2 * C
            let dq = dqkv + b * T * C3 + h * hs, dk = dq + C, dv = dq + 2 * C
            let P = att + p * T * T
            let dO = dout + b * T * C + h * hs
            // dP (T, T) = dO (T, hs) · Vᵀ (hs, T)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hs),
                        1, dO, Int32(C), v, Int32(C3), 0, dP, Int32(T))
            // dV (T, hs) += Pᵀ · dO
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(T),
                        1, P, Int32(T), dO, Int32(C), 1, dv, Int32(C3))
            // dS, in place of dP
            for i in 0..<T {
                let pr = P + i * T, dr = dP + i * T
                var s: Float = 0
                for j in 0...i { s += pr[j] * dr[j] }
                for j in 0...i { dr[j] = pr[j] * (dr[j] - s) }
                for j in (i + 1)..<T { dr[j] = 0 }
            }
            // dQ (T, hs) += scale · dS · K;  dK (T, hs) += scale · dSᵀ · Q
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(T),
                        scale, dP, Int32(T), k, Int32(C3), 1, dq, Int32(C3))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hs), Int32(T),
                        scale, dP, Int32(T), q, Int32(C3), 1, dk, Int32(C3))
        }
    }
}

/// In place: softmax over row[0..<valid]; row[valid..<width] set to zero (masked).
@inline(__always)
func softmaxCausalRow(_ row: UnsafeMutablePointer<Float>, valid: Int, width: Int) {
    let sum = expShiftedInPlace(row, count: valid, shift: rowMax(row, count: valid))
    gl_scale(row, valid, 1 / sum)
    (row + valid).update(repeating: 0, count: width - valid)
}

/// Multiply-adds × 2 of the causal QKᵀ and P·V products (the lower triangle, T(T+1)/2 per head and batch).
func attentionFlops(b B: Int, t T: Int, c C: Int) -> Double {
    2 * 2 * Double(B) * Double(T) * Double(T + 1) / 2 * Double(C)
}
