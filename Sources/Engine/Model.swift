// GPT-2 forward pass (fp32), as HF transformers' GPT2LMHeadModel computes it in eval mode:
// x = wte[tokens] + wpe[positions]; per block: x += attn(ln_1(x)); x += mlp(ln_2(x));
// logits = ln_f(x) · headᵀ (head = wte when tied); loss = mean NLL of the targets.

public final class GPT2Model {
    public let weights: GPT2Weights
    public let backend: ComputeBackend
    public var config: GPT2Config { weights.config }

    public init(weights: GPT2Weights, backend: ComputeBackend = CPUBackend()) {
        self.weights = weights
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
        weights.data.withUnsafeBufferPointer { buf in
            let head = buf.baseAddress! + weights.layout.offsets[TensorID(weights.tied ? .wte : .lmHead)]!
            backend.crossEntropy(nll: acts.nll, x: acts.lnf, head: head, targets: targets, rows: rows,
                                 n: BT, c: C, v: config.softmaxVocab)
        }
    }

    /// Everything up to the final LayerNorm: fills `acts` through `acts.lnf` (B, T, C).
    /// `onQKV(l, qkv)`, when given, sees layer l's qkv (B, T, 3C) right after it is computed (prefill
    /// copies keys and values into a KV cache from it).
    func forwardTrunk(inputs: UnsafePointer<Int32>, acts: Activations,
                      onQKV: ((_ layer: Int, _ qkv: UnsafePointer<Float>) -> Void)? = nil) {
        let c = config
        let B = acts.b, T = acts.t, C = c.nEmbd, F = c.nInner, NH = c.nHead, L = c.nLayer
        precondition(T <= c.contextLength, "internal: window longer than context")
        let BT = B * T
        let layout = weights.layout
        weights.data.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!
            func w(_ k: TensorKind, _ l: Int? = nil) -> UnsafePointer<Float> { base + layout.offsets[TensorID(k, layer: l)]! }
            encoderForward(acts.encoded, inputs, w(.wte), w(.wpe), b: B, t: T, c: C)
            for l in 0..<L {
                let s = acts.slot(l)
                let input: UnsafePointer<Float> = l == 0 ? UnsafePointer(acts.encoded)
                    : UnsafePointer(acts.residual3 + acts.slot(l - 1) * BT * C)
                let ln1 = acts.ln1 + s * BT * C, qkv = acts.qkv + s * BT * 3 * C
                let atty = acts.atty + s * BT * C, attproj = acts.attproj + s * BT * C
                let res2 = acts.residual2 + s * BT * C, ln2 = acts.ln2 + s * BT * C
                let fch = acts.fch + s * BT * F, fchGelu = acts.fchGelu + s * BT * F
                let fcproj = acts.fcproj + s * BT * C, res3 = acts.residual3 + s * BT * C
                let att = acts.att.map { $0 + l * B * NH * T * T }

                backend.layerNorm(out: ln1, mean: acts.ln1Mean + s * BT, rstd: acts.ln1Rstd + s * BT,
                                  inp: input, weight: w(.ln1w, l), bias: w(.ln1b, l), n: BT, c: C)
                backend.matmul(out: qkv, inp: ln1, weight: w(.qkvw, l), bias: w(.qkvb, l), n: BT, c: C, oc: 3 * C)
                onQKV?(l, UnsafePointer(qkv))
                backend.attention(out: atty, att: att, qkv: qkv, b: B, t: T, c: C, nh: NH)
                backend.matmul(out: attproj, inp: atty, weight: w(.attprojw, l), bias: w(.attprojb, l), n: BT, c: C, oc: C)
                residualForward(res2, input, attproj, count: BT * C)
                backend.layerNorm(out: ln2, mean: acts.ln2Mean + s * BT, rstd: acts.ln2Rstd + s * BT,
                                  inp: res2, weight: w(.ln2w, l), bias: w(.ln2b, l), n: BT, c: C)
                backend.matmul(out: fch, inp: ln2, weight: w(.fcw, l), bias: w(.fcb, l), n: BT, c: C, oc: F)
                backend.gelu(out: fchGelu, inp: fch, count: BT * F)
                backend.matmul(out: fcproj, inp: fchGelu, weight: w(.fcprojw, l), bias: w(.fcprojb, l), n: BT, c: F, oc: C)
                residualForward(res3, res2, fcproj, count: BT * C)
            }
            let last = acts.residual3 + acts.slot(L - 1) * BT * C
            backend.layerNorm(out: acts.lnf, mean: acts.lnfMean, rstd: acts.lnfRstd, inp: last,
                              weight: w(.lnfw), bias: w(.lnfb), n: BT, c: C)
        }
    }
}
