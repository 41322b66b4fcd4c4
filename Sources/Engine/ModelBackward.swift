// GPT-2 backward pass (fp32), llm.c's gpt2_backward in this engine's layout.
//
// The loss is the MEAN cross-entropy over every position of the B windows. Gradients reuse the
// parameter layout (one flat [Float] of `layout.count`) and are *accumulated* (+=): callers
// zero them first. Only the checkpoint's parameters get gradients: slots of tensors it does not
// store (absent biases, which are constant zeros) are left zero. A tied LM head is one parameter
// with wte, so its gradient lands in wte directly.

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
        let v: [UnsafeMutablePointer<Float>]
        (storage, total, v) = allocateViews(Self.viewSizes(config: config, b: b, t: t))
        dres = v[0]; dln = v[1]; dqkv = v[2]; datty = v[3]; dfch = v[4]; dfchGelu = v[5]
    }

    static func viewSizes(config: GPT2Config, b: Int, t: Int) -> [Int] {
        let BT = b * t, C = config.nEmbd, F = config.nInner
        return [BT * C, BT * C, BT * 3 * C, BT * C, BT * F, BT * F]
    }

    /// Bytes a `GradientScratch(config:b:t:)` would hold.
    public static func bytes(config: GPT2Config, b: Int, t: Int) -> Int {
        viewBytes(viewSizes(config: config, b: b, t: t))
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
        let B = acts.b, T = acts.t, C = c.nEmbd, L = c.nLayer, V = c.softmaxVocab
        let BT = B * T
        forwardTrunk(inputs: inputs, acts: acts)

        let layout = weights.layout
        let s = scratch
        weights.withTensors { p in
            let g = ModelTensors(grads, layout)  // a tied head's gradient is wte's: same offset
            // LM head + loss: d(lnf) into dln, d(head) into lmHead or (tied) wte.
            s.dln.update(repeating: 0, count: BT * C)
            backend.crossEntropyBackward(nll: acts.nll, dx: s.dln, dhead: g.head, x: acts.lnf, head: p.head,
                                         targets: targets, rows: Array(0..<BT), scale: 1 / Float(BT), n: BT, c: C, v: V)
            // Final LayerNorm: d(residual3 of the last block) into dres.
            s.dres.update(repeating: 0, count: BT * C)
            backend.layerNormBackward(dinp: s.dres, dweight: g.lnfw, dbias: g.lnfb, dout: s.dln,
                                      inp: acts.block(L - 1).residual3, weight: p.lnfw, mean: acts.lnfMean,
                                      rstd: acts.lnfRstd, n: BT, c: C)
            for l in stride(from: L - 1, through: 0, by: -1) {
                let input = UnsafePointer(l == 0 ? acts.encoded : acts.block(l - 1).residual3)
                blockBackward(p.blocks[l], g.blocks[l], input: input, acts.block(l), att: acts.att(l)!, scratch: s)
            }
            encoderBackward(g.wte, g.wpe, s.dres, inputs, b: B, t: T, c: C)
        }
        // Tensors the checkpoint lacks (absent biases) are not parameters: keep their slots at zero.
        for id in layout.tensors where !weights.isStored(id) {
            (grads + layout.offsets[id]!).update(repeating: 0, count: layout.size(id))
        }
        var sum = 0.0
        for i in 0..<BT { sum += Double(acts.nll[i]) }
        return sum / Double(BT)
    }
}
