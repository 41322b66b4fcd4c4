import CDNNL

// Causal attention's two products on oneDNN, where the f32 block products run there (MatmulF32Choice.swift):
// the same units as Attention.swift's OpenBLAS path — (window, head, 64-row block) — and the same softmax, but
// every operand dense. oneDNN 2.6 takes its brgemm kernel for dense 64-wide products and a slower gemm:jit for
// the strided ones (rows of the (N, 3C) qkv buffer). Attention as a whole (copies and softmax included), one
// 1,024-token window of GPT-2 small's heads, interleaved with the OpenBLAS path on a 2-vCPU Emerald Rapids VM
// (2026-12-06, medians of 12, three runs): 1.14–1.21× on one thread, 1.18–1.23× on two.
//
// First q (scaled by 1/√hs), k and v are copied per (window, head) into dense (T, hs) blocks; then each unit
// computes its scores (rows, r1) into the worker's scratch, the causal softmax, the probabilities into `att`
// when kept, and out[r0..<r1] = P · v[0..<r1]. Units are taken longest first (the last row blocks attend to
// the most keys), one at a time by whichever worker is free; each unit's numbers depend only on the unit.

/// false when oneDNN failed (the caller recomputes everything on OpenBLAS; nothing written here is kept).
func attentionForwardDNNL(_ out: UnsafeMutablePointer<Float>, _ att: UnsafeMutablePointer<Float>?,
                          _ qkv: UnsafePointer<Float>, b B: Int, t T: Int, c C: Int, nh NH: Int, threads: Int) -> Bool {
    let hs = C / NH, C3 = 3 * C, heads = B * NH
    let scale = 1 / Float(hs).squareRoot()
    let block = heads * T * hs
    let dense = UnsafeMutablePointer<Float>.allocate(capacity: 3 * block)   // q·scale, k, v: (B·NH, T, hs) each
    defer { dense.deallocate() }
    let qd = dense, kd = dense + block, vd = dense + 2 * block
    parallelChunks(B * T, threads: threads, minChunk: 64) { positions in
        for r in positions {
            let b = r / T, t = r % T, src = qkv + r * C3
            for h in 0..<NH {
                let o = ((b * NH + h) * T + t) * hs, s = src + h * hs
                for d in 0..<hs { qd[o + d] = s[d] * scale }
                (kd + o).update(from: s + C, count: hs)
                (vd + o).update(from: s + 2 * C, count: hs)
            }
        }
    }
    let R = attentionRowBlock, units = heads * ((T + R - 1) / R)
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkCount(units, threads: threads) * R * T)   // per worker (rows, r1)
    defer { scratch.deallocate() }
    return parallelUnitsSucceed(units, threads: threads) { worker, u in
        let (p, r0, r1) = attentionUnit(u, pairs: heads, t: T)
        let b = p / NH, h = p % NH, rows = r1 - r0
        let P = scratch + worker * R * T
        let st = gl_dnnl_matmul_f32(P, Int64(r1), qd + (p * T + r0) * hs, kd + p * T * hs, nil,
                                    Int64(rows), Int64(hs), Int64(r1))
        guard st == 0 else { return st }
        for i in 0..<rows { softmaxCausalRow(P + i * r1, valid: r0 + i + 1, width: r1) }
        if let att {
            for i in 0..<rows {
                let dst = att + p * T * T + (r0 + i) * T
                dst.update(from: P + i * r1, count: r1)
                (dst + r1).update(repeating: 0, count: T - r1)
            }
        }
        return gl_dnnl_matmul_f32_km(out + (b * T + r0) * C + h * hs, Int64(C), P, vd + p * T * hs,
                                     Int64(rows), Int64(r1), Int64(hs))
    }
}
