// GPT-2 forward pass (fp32), as HF transformers' GPT2LMHeadModel computes it in eval mode:
// x = wte[tokens] + wpe[positions]; per block: x += attn(ln_1(x)); x += mlp(ln_2(x)) (Block.swift);
// logits = ln_f(x) · headᵀ (head = wte when tied); loss = mean NLL of the targets.

public final class GPT2Model {
    public let parameters: ModelWeights
    public let backend: CPUBackend
    public var config: GPT2Config { parameters.config }
    /// f32, or bf16 when the parameters are BF16Weights (Precision.swift).
    public var precision: Precision { parameters.precision }

    /// The f32 weights, which gradients and Hessians need; a bf16 model (inference only) has none.
    public var weights: GPT2Weights {
        guard let w = parameters.f32 else { preconditionFailure("internal: a bf16 model has no f32 weights (inference only)") }
        return w
    }

    public init(weights: GPT2Weights, backend: CPUBackend = CPUBackend()) {
        self.parameters = .f32(weights)
        self.backend = backend
    }

    public init(parameters: ModelWeights, backend: CPUBackend = CPUBackend()) {
        self.parameters = parameters
        self.backend = backend
    }

    /// Runs the forward pass over `acts.b` windows of `acts.t` tokens.
    /// - inputs: (B, T) token ids, each < V (callers validate).
    /// - targets: (B, T) next-token ids; `nll` is written for positions where `t >= scoredFrom[b]`.
    /// - scoredFrom: per window, the first position whose target is scored (0 = all).
    /// Returns nothing: per-position losses are in `acts.nll` (B, T).
    public func forward(inputs: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, scoredFrom: [Int], acts: Activations) {
        let B = acts.b, T = acts.t, BT = B * T, C = config.nEmbd
        precondition(scoredFrom.count == B, "internal: one scoredFrom per window")
        forwardTrunk(inputs: inputs, acts: acts)
        var rows: [Int] = []
        rows.reserveCapacity(BT)
        for b in 0..<B { for t in max(0, scoredFrom[b])..<T { rows.append(b * T + t) } }
        parameters.withTensors { p, half in
            backend.crossEntropy(nll: acts.nll, x: acts.lnf, head: p.head, targets: targets, rows: rows,
                                 n: BT, c: C, v: config.softmaxVocab, headBF16: half?.head)
        }
    }

    /// Everything up to the final LayerNorm: fills `acts` through `acts.lnf` (B, T, C). With `cache`
    /// (B = 1), every layer's keys and values are stored in it as they are computed (prefill).
    func forwardTrunk(inputs: UnsafePointer<Int32>, acts: Activations, cache: KVCache? = nil) {
        let B = acts.b, T = acts.t, C = config.nEmbd
        precondition(T <= config.contextLength, "internal: window longer than context")
        precondition(cache == nil || B == 1, "internal: prefill is one window")
        parameters.withTensors { p, half in
            if let half { encoderForwardBF16(acts.encoded, inputs, half.wte, p.wpe, b: B, t: T, c: C) }
            else { encoderForward(acts.encoded, inputs, p.wte, p.wpe, b: B, t: T, c: C) }
            var x = UnsafePointer(acts.encoded)
            for (l, w) in p.blocks.enumerated() {
                let a = acts.block(l)
                blockForward(w, half?.blocks[l], layer: l, input: x, a, n: B * T,
                             attention: .windows(b: B, t: T, att: acts.att(l), cache: cache))
                x = UnsafePointer(a.residual3)
            }
            backend.layerNorm(out: acts.lnf, mean: acts.lnfMean, rstd: acts.lnfRstd, inp: x,
                              weight: p.lnfw, bias: p.lnfb, n: B * T, c: C)
        }
    }
}
