// One GPT-2 transformer block, forward and backward side by side (llm.c's layer loop body):
//   residual2 = input + attproj(attention(qkv(ln_1(input))))
//   residual3 = residual2 + fcproj(gelu(fc(ln_2(residual2))))
// The windowed forward (scoring, backward), the prompt prefill and the one-token KV-cache step all
// run this one function; only the attention differs (`BlockAttention`). A precision or GEMM change
// is made here once. Shapes: N rows (N = B·T for windows, 1 for a step), legend in Config.swift.

/// One block's activations: what forward writes and backward reads, each (N, ·).
/// The KV-cache step aliases some of them (one row, nothing kept for backward): see `KVCache`.
struct BlockActivations {
    let ln1: UnsafeMutablePointer<Float>       // (N, C)
    let ln1Mean, ln1Rstd: UnsafeMutablePointer<Float>?  // (N); nil in the KV-cache step
    let qkv: UnsafeMutablePointer<Float>       // (N, 3C)
    let atty: UnsafeMutablePointer<Float>      // (N, C) attention output, heads side by side
    let attproj: UnsafeMutablePointer<Float>   // (N, C)
    let residual2: UnsafeMutablePointer<Float> // (N, C)
    let ln2: UnsafeMutablePointer<Float>       // (N, C)
    let ln2Mean, ln2Rstd: UnsafeMutablePointer<Float>?  // (N); nil in the KV-cache step
    let fch: UnsafeMutablePointer<Float>       // (N, F)
    let fchGelu: UnsafeMutablePointer<Float>   // (N, F)
    let fcproj: UnsafeMutablePointer<Float>    // (N, C)
    let residual3: UnsafeMutablePointer<Float> // (N, C) the block's output
}

/// How a block attends.
enum BlockAttention {
    /// Causal attention inside each of `b` windows of `t` tokens (N = B·T). `att` (B, NH, T, T)
    /// keeps the probabilities for backward; `cache`, when given (b = 1), receives every position's
    /// keys and values (prompt prefill).
    case windows(b: Int, t: Int, att: UnsafeMutablePointer<Float>?, cache: KVCache?)
    /// One new token at `position` (N = 1): its keys and values join the cache, then its query
    /// attends to every cached position.
    case step(cache: KVCache, position: Int)
}

extension GPT2Model {
    /// Runs block `layer` over N rows of `input` (N, C); the output is `a.residual3` (N, C).
    /// With `half` (a bf16 model) the four products read its bf16 matrices (Kernels/MatmulBF16.swift).
    func blockForward(_ w: BlockTensors, _ half: HalfBlockTensors?, layer: Int, input: UnsafePointer<Float>,
                      _ a: BlockActivations, n: Int, attention: BlockAttention) {
        let C = config.nEmbd, F = config.nInner, NH = config.nHead
        let k = backend
        func linear(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafeMutablePointer<Float>, _ weight: UnsafePointer<Float>,
                    _ halfWeight: UnsafePointer<UInt16>?, _ bias: UnsafePointer<Float>, c: Int, oc: Int) {
            if let halfWeight { k.matmulBF16(out: out, inp: inp, weight: halfWeight, bias: bias, n: n, c: c, oc: oc) }
            else { k.matmul(out: out, inp: inp, weight: weight, bias: bias, n: n, c: c, oc: oc) }
        }
        k.layerNorm(out: a.ln1, mean: a.ln1Mean, rstd: a.ln1Rstd, inp: input, weight: w.ln1w, bias: w.ln1b, n: n, c: C)
        linear(a.qkv, a.ln1, w.qkvw, half?.qkvw, w.qkvb, c: C, oc: 3 * C)
        switch attention {
        case let .windows(b, t, att, cache):
            cache?.store(layer: layer, qkv: a.qkv, rows: n, from: 0)
            k.attention(out: a.atty, att: att, qkv: a.qkv, b: b, t: t, c: C, nh: NH)
        case let .step(cache, position):
            cache.store(layer: layer, qkv: a.qkv, rows: 1, from: position)
            k.attentionStep(out: a.atty, q: a.qkv, keys: cache.key(layer, 0), values: cache.value(layer, 0),
                            scores: cache.scores, n: position + 1, c: C, nh: NH)
        }
        linear(a.attproj, a.atty, w.attprojw, half?.attprojw, w.attprojb, c: C, oc: C)
        residualForward(a.residual2, input, a.attproj, count: n * C, threads: k.threads)
        k.layerNorm(out: a.ln2, mean: a.ln2Mean, rstd: a.ln2Rstd, inp: a.residual2, weight: w.ln2w, bias: w.ln2b, n: n, c: C)
        linear(a.fch, a.ln2, w.fcw, half?.fcw, w.fcb, c: C, oc: F)
        k.gelu(out: a.fchGelu, inp: a.fch, count: n * F)
        linear(a.fcproj, a.fchGelu, w.fcprojw, half?.fcprojw, w.fcprojb, c: F, oc: C)
        residualForward(a.residual3, a.residual2, a.fcproj, count: n * C, threads: k.threads)
    }

    /// Backward through one block of B windows of T tokens (N = B·T), from forward's cached `a`
    /// and attention probabilities `att` (B, NH, T, T).
    /// On entry `s.dres` holds d(residual3); on return it holds d(input). Parameter gradients go
    /// into `g` (+=), bias slots included (callers zero the slots of tensors a checkpoint lacks).
    /// residual3 = residual2 + fcproj gives both the same gradient, so the MLP reads dres as
    /// d(fcproj) and LayerNorm 2 adds into it, making it d(residual2); the attention half repeats this.
    func blockBackward(_ w: BlockTensors, _ g: BlockTensors, input: UnsafePointer<Float>, _ a: BlockActivations,
                       att: UnsafePointer<Float>, scratch s: GradientScratch) {
        let B = s.b, T = s.t, N = B * T, C = config.nEmbd, F = config.nInner, NH = config.nHead
        let k = backend
        s.dfchGelu.update(repeating: 0, count: N * F)
        k.matmulBackward(dinp: s.dfchGelu, dweight: g.fcprojw, dbias: g.fcprojb, dout: s.dres, inp: a.fchGelu,
                         weight: w.fcprojw, n: N, c: F, oc: C)
        s.dfch.update(repeating: 0, count: N * F)
        k.geluBackward(dinp: s.dfch, inp: a.fch, dout: s.dfchGelu, count: N * F)
        s.dln.update(repeating: 0, count: N * C)
        k.matmulBackward(dinp: s.dln, dweight: g.fcw, dbias: g.fcb, dout: s.dfch, inp: a.ln2, weight: w.fcw, n: N, c: C, oc: F)
        k.layerNormBackward(dinp: s.dres, dweight: g.ln2w, dbias: g.ln2b, dout: s.dln, inp: a.residual2,
                            weight: w.ln2w, mean: a.ln2Mean!, rstd: a.ln2Rstd!, n: N, c: C)
        s.datty.update(repeating: 0, count: N * C)
        k.matmulBackward(dinp: s.datty, dweight: g.attprojw, dbias: g.attprojb, dout: s.dres, inp: a.atty,
                         weight: w.attprojw, n: N, c: C, oc: C)
        s.dqkv.update(repeating: 0, count: N * 3 * C)
        k.attentionBackward(dqkv: s.dqkv, dout: s.datty, qkv: a.qkv, att: att, b: B, t: T, c: C, nh: NH)
        s.dln.update(repeating: 0, count: N * C)
        k.matmulBackward(dinp: s.dln, dweight: g.qkvw, dbias: g.qkvb, dout: s.dqkv, inp: a.ln1, weight: w.qkvw,
                         n: N, c: C, oc: 3 * C)
        k.layerNormBackward(dinp: s.dres, dweight: g.ln1w, dbias: g.ln1b, dout: s.dln, inp: input,
                            weight: w.ln1w, mean: a.ln1Mean!, rstd: a.ln1Rstd!, n: N, c: C)
    }
}
