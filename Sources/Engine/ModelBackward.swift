// GPT-2 backward pass (fp32), llm.c's gpt2_backward in this engine's layout.
//
// The loss is the MEAN cross-entropy over every position of the B windows. Gradients reuse the
// parameter layout (one flat [Float] of `layout.count`) and are *accumulated* (+=): callers
// zero them first. Only the checkpoint's parameters get gradients: slots of tensors it does not
// store (absent biases, which are constant zeros; the unused lmHead of a tied model) are left
// zero. A tied LM head is one parameter with wte, so its gradient lands in wte directly.

/// Backward scratch: one allocation, (B, T, ·) views, reused across layers.
public final class GradientScratch {
    public let b: Int, t: Int
    public let config: GPT2Config
    let storage: UnsafeMutablePointer<Float>
    let total: Int
    let dres: UnsafeMutablePointer<Float>      // (B, T, C) d(residual stream); aliased across a block
    let dln: UnsafeMutablePointer<Float>       // (B, T, C) d(LayerNorm output)
    let dqkv: UnsafeMutablePointer<Float>      // (B, T, 3C)
    let datty: UnsafeMutablePointer<Float>     // (B, T, C)
    let dfch: UnsafeMutablePointer<Float>      // (B, T, F)
    let dfchGelu: UnsafeMutablePointer<Float>  // (B, T, F)

    public init(config: GPT2Config, b: Int, t: Int) {
        self.config = config; self.b = b; self.t = t
        let BT = b * t, C = config.nEmbd, F = config.nInner
        let sizes = [BT * C, BT * C, BT * 3 * C, BT * C, BT * F, BT * F]
        total = sizes.reduce(0, +)
        storage = .allocate(capacity: total)
        storage.initialize(repeating: 0, count: total)
        var p = storage
        var v: [UnsafeMutablePointer<Float>] = []
        for s in sizes { v.append(p); p += s }
        dres = v[0]; dln = v[1]; dqkv = v[2]; datty = v[3]; dfch = v[4]; dfchGelu = v[5]
    }

    deinit { storage.deallocate() }
}

extension GPT2Model {
    /// Forward and backward over `acts.b` windows of `acts.t` tokens, every position scored.
    /// - inputs, targets: (B, T) token ids, each < V (callers validate).
    /// - acts: must be built with `keepAll: true` (backward needs every layer and `att`).
    /// - grads: `layout.count` floats; receives += ∂(mean NLL)/∂θ for the stored tensors.
    /// - Returns: the mean NLL (float64 sum of the fp32 per-position losses).
    @discardableResult
    public func forwardBackward(inputs: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, acts: Activations,
                                scratch: GradientScratch, grads: UnsafeMutablePointer<Float>) -> Double {
        precondition(acts.keepAll && acts.att != nil, "internal: backward needs Activations(keepAll: true)")
        precondition(scratch.b == acts.b && scratch.t == acts.t, "internal: scratch shape differs from activations")
        let c = config
        let B = acts.b, T = acts.t, C = c.nEmbd, F = c.nInner, NH = c.nHead, L = c.nLayer, V = c.softmaxVocab
        let BT = B * T
        forwardTrunk(inputs: inputs, acts: acts)

        let layout = weights.layout
        let tied = weights.tied
        let s = scratch
        weights.data.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!
            func w(_ k: TensorKind, _ l: Int? = nil) -> UnsafePointer<Float> { base + layout.offsets[TensorID(k, layer: l)]! }
            func g(_ k: TensorKind, _ l: Int? = nil) -> UnsafeMutablePointer<Float> { grads + layout.offsets[TensorID(k, layer: l)]! }
            // Optional parameters (biases a checkpoint may lack): no gradient when absent.
            func gOpt(_ k: TensorKind, _ l: Int) -> UnsafeMutablePointer<Float>? {
                weights.isStored(TensorID(k, layer: l)) ? g(k, l) : nil
            }

            // LM head + loss: d(lnf) into dln, d(head) into lmHead or (tied) wte.
            s.dln.update(repeating: 0, count: BT * C)
            backend.crossEntropyBackward(nll: acts.nll, dx: s.dln, dhead: tied ? g(.wte) : g(.lmHead),
                                         x: acts.lnf, head: tied ? w(.wte) : w(.lmHead), targets: targets,
                                         rows: Array(0..<BT), scale: 1 / Float(BT), n: BT, c: C, v: V)
            // Final LayerNorm: d(residual3 of the last block) into dres.
            s.dres.update(repeating: 0, count: BT * C)
            let last = acts.residual3 + (L - 1) * BT * C
            backend.layerNormBackward(dinp: s.dres, dweight: g(.lnfw), dbias: g(.lnfb), dout: s.dln, inp: last,
                                      weight: w(.lnfw), mean: acts.lnfMean, rstd: acts.lnfRstd, n: BT, c: C)

            for l in stride(from: L - 1, through: 0, by: -1) {
                let input: UnsafePointer<Float> = l == 0 ? UnsafePointer(acts.encoded)
                    : UnsafePointer(acts.residual3 + (l - 1) * BT * C)
                let ln1 = acts.ln1 + l * BT * C, qkv = acts.qkv + l * BT * 3 * C
                let atty = acts.atty + l * BT * C, res2 = acts.residual2 + l * BT * C
                let ln2 = acts.ln2 + l * BT * C, fch = acts.fch + l * BT * F, fchGelu = acts.fchGelu + l * BT * F
                let att = acts.att! + l * B * NH * T * T

                // dres holds d(residual3). residual3 = residual2 + fcproj: both get dres, so the
                // MLP reads dres as d(fcproj) and LayerNorm 2 adds into it, making it d(residual2).
                s.dfchGelu.update(repeating: 0, count: BT * F)
                backend.matmulBackward(dinp: s.dfchGelu, dweight: g(.fcprojw, l), dbias: gOpt(.fcprojb, l),
                                       dout: s.dres, inp: fchGelu, weight: w(.fcprojw, l), n: BT, c: F, oc: C)
                s.dfch.update(repeating: 0, count: BT * F)
                backend.geluBackward(dinp: s.dfch, inp: fch, dout: s.dfchGelu, count: BT * F)
                s.dln.update(repeating: 0, count: BT * C)
                backend.matmulBackward(dinp: s.dln, dweight: g(.fcw, l), dbias: gOpt(.fcb, l),
                                       dout: s.dfch, inp: ln2, weight: w(.fcw, l), n: BT, c: C, oc: F)
                backend.layerNormBackward(dinp: s.dres, dweight: g(.ln2w, l), dbias: g(.ln2b, l), dout: s.dln,
                                          inp: res2, weight: w(.ln2w, l), mean: acts.ln2Mean + l * BT,
                                          rstd: acts.ln2Rstd + l * BT, n: BT, c: C)
                // residual2 = input + attproj: the same aliasing, ending with d(input).
                s.datty.update(repeating: 0, count: BT * C)
                backend.matmulBackward(dinp: s.datty, dweight: g(.attprojw, l), dbias: gOpt(.attprojb, l),
                                       dout: s.dres, inp: atty, weight: w(.attprojw, l), n: BT, c: C, oc: C)
                s.dqkv.update(repeating: 0, count: BT * 3 * C)
                backend.attentionBackward(dqkv: s.dqkv, dout: s.datty, qkv: qkv, att: att, b: B, t: T, c: C, nh: NH)
                s.dln.update(repeating: 0, count: BT * C)
                backend.matmulBackward(dinp: s.dln, dweight: g(.qkvw, l), dbias: gOpt(.qkvb, l),
                                       dout: s.dqkv, inp: ln1, weight: w(.qkvw, l), n: BT, c: C, oc: 3 * C)
                backend.layerNormBackward(dinp: s.dres, dweight: g(.ln1w, l), dbias: g(.ln1b, l), dout: s.dln,
                                          inp: input, weight: w(.ln1w, l), mean: acts.ln1Mean + l * BT,
                                          rstd: acts.ln1Rstd + l * BT, n: BT, c: C)
            }
            encoderBackward(g(.wte), g(.wpe), s.dres, inputs, b: B, t: T, c: C)
        }
        // Tensors the checkpoint lacks are not parameters: keep their slots at zero.
        for id in layout.tensors where !weights.isStored(id) {
            (grads + layout.offsets[id]!).update(repeating: 0, count: layout.size(id))
        }
        var sum = 0.0
        for i in 0..<BT { sum += Double(acts.nll[i]) }
        return sum / Double(BT)
    }

    /// Convenience: mean NLL and its gradient (a fresh `layout.count` array) for B windows of T tokens.
    /// inputs, targets are (B, T) flattened.
    public func lossAndGradient(inputs: [Int32], targets: [Int32], b: Int, t: Int) -> (loss: Double, gradient: [Float]) {
        precondition(inputs.count == b * t && targets.count == b * t, "internal: inputs/targets must be (B, T)")
        let acts = Activations(config: config, b: b, t: t, keepAll: true)
        let scratch = GradientScratch(config: config, b: b, t: t)
        var grads = [Float](repeating: 0, count: weights.layout.count)
        let loss = grads.withUnsafeMutableBufferPointer { g in
            forwardBackward(inputs: inputs, targets: targets, acts: acts, scratch: scratch, grads: g.baseAddress!)
        }
        return (loss, grads)
    }
}
