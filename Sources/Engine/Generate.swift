// Autoregressive decoding with a KV cache: each new token costs one position.
//
// A position's keys and values depend only on the tokens up to it (causal attention), so once
// computed they are kept: `prefill` runs the prompt through the batched forward and stores every
// layer's k and v rows; `step` then embeds one token, runs LayerNorm/matmuls on that one row,
// attends its query against the cached keys (Kernels/Attention.swift, `attentionStepForward`) and
// applies the LM head to that row only. Both return the logits (V) that predict the next token,
// the same numbers `logits(tokens:)` gives for that position from a full forward.

/// Keys and values of the positions decoded so far, per layer, plus the scratch one step needs.
public final class KVCache {
    public let config: GPT2Config
    /// Positions filled: the next `step` must be at this position.
    public internal(set) var count: Int = 0
    let keys: UnsafeMutablePointer<Float>    // (L, Tmax, C)
    let values: UnsafeMutablePointer<Float>  // (L, Tmax, C)
    // Scratch for one step (one row of each activation).
    let x: UnsafeMutablePointer<Float>       // (C) residual stream
    let ln: UnsafeMutablePointer<Float>      // (C) LayerNorm output
    let qkv: UnsafeMutablePointer<Float>     // (3C)
    let atty: UnsafeMutablePointer<Float>    // (C)
    let proj: UnsafeMutablePointer<Float>    // (C) attention / MLP output projection
    let fch: UnsafeMutablePointer<Float>     // (F)
    let fchGelu: UnsafeMutablePointer<Float> // (F)
    let scores: UnsafeMutablePointer<Float>  // (Tmax) one head's attention row

    public init(config: GPT2Config) {
        self.config = config
        let n = config.nLayer * config.contextLength * config.nEmbd
        keys = .allocate(capacity: n); keys.initialize(repeating: 0, count: n)
        values = .allocate(capacity: n); values.initialize(repeating: 0, count: n)
        let C = config.nEmbd, F = config.nInner
        func row(_ k: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: k); p.initialize(repeating: 0, count: k); return p
        }
        x = row(C); ln = row(C); qkv = row(3 * C); atty = row(C); proj = row(C)
        fch = row(F); fchGelu = row(F); scores = row(config.contextLength)
    }

    deinit {
        for p in [keys, values, x, ln, qkv, atty, proj, fch, fchGelu, scores] { p.deallocate() }
    }

    /// Forgets every position (the buffers are reused).
    public func reset() { count = 0 }

    /// Keeps positions 0..<n (n ≤ count) and forgets the rest, e.g. to decode another completion of the
    /// same prefilled prompt.
    public func truncate(to n: Int) {
        precondition(n >= 0 && n <= count, "internal: truncate to \(n) of \(count)")
        count = n
    }

    /// Layer l's cached key row (C) of position t.
    @inline(__always) func key(_ l: Int, _ t: Int) -> UnsafeMutablePointer<Float> {
        keys + (l * config.contextLength + t) * config.nEmbd
    }
    @inline(__always) func value(_ l: Int, _ t: Int) -> UnsafeMutablePointer<Float> {
        values + (l * config.contextLength + t) * config.nEmbd
    }

    /// Copies the k and v parts of `rows` rows of qkv (rows, 3C) into layer l's positions from `first` on.
    func store(layer l: Int, qkv: UnsafePointer<Float>, rows: Int, from first: Int) {
        let C = config.nEmbd
        for r in 0..<rows {
            key(l, first + r).update(from: qkv + r * 3 * C + C, count: C)
            value(l, first + r).update(from: qkv + r * 3 * C + 2 * C, count: C)
        }
    }

    /// The one-row activations of a step. Nothing is kept for backward, so the residual stream is
    /// updated in place (input = residual2 = residual3 = x) and the two LayerNorms and the two
    /// output projections share a row.
    var stepActivations: BlockActivations {
        BlockActivations(ln1: ln, ln1Mean: nil, ln1Rstd: nil, qkv: qkv, atty: atty, attproj: proj, residual2: x,
                         ln2: ln, ln2Mean: nil, ln2Rstd: nil, fch: fch, fchGelu: fchGelu, fcproj: proj, residual3: x)
    }

    /// Bytes held.
    public var bytes: Int {
        let c = config
        return (2 * c.nLayer * c.contextLength * c.nEmbd + 7 * c.nEmbd + 2 * c.nInner + c.contextLength)
            * MemoryLayout<Float>.size
    }
}

extension GPT2Model {
    /// Runs `tokens` (T ≥ 1, T ≤ context, ids < V; callers validate) through the batched forward from
    /// position 0, storing every layer's keys and values in `cache` (which is reset first).
    /// Returns the logits (V) at the last position: the distribution of token T.
    public func prefill(tokens: [Int32], cache: KVCache) -> [Float] {
        let T = tokens.count, C = config.nEmbd
        precondition(T >= 1 && T <= config.contextLength, "internal: prefill of \(T) tokens")
        cache.reset()
        let acts = Activations(config: config, b: 1, t: T, keepAll: false)
        tokens.withUnsafeBufferPointer { forwardTrunk(inputs: $0.baseAddress!, acts: acts, cache: cache) }
        cache.count = T
        return headLogits(acts.lnf + (T - 1) * C, rows: 1)
    }

    /// Decodes one token at `position` (= `cache.count`, < context; callers validate): appends its keys
    /// and values to the cache and returns the logits (V) that predict the token after it.
    public func step(token: Int32, position: Int, cache: KVCache) -> [Float] {
        let C = config.nEmbd
        precondition(position == cache.count && position < config.contextLength,
                     "internal: step at \(position), cache holds \(cache.count)")
        parameters.withTensors { p, half in
            let x = cache.x, a = cache.stepActivations
            // x (C) = wte[token] + wpe[position]
            if let half { encoderForwardBF16(x, [token], half.wte, p.wpe + position * C, b: 1, t: 1, c: C) }
            else { residualForward(x, p.wte + Int(token) * C, p.wpe + position * C, count: C) }
            for (l, w) in p.blocks.enumerated() {
                blockForward(w, half?.blocks[l], layer: l, input: x, a, n: 1, attention: .step(cache: cache, position: position))
            }
            backend.layerNorm(out: cache.ln, mean: nil, rstd: nil, inp: x, weight: p.lnfw, bias: p.lnfb, n: 1, c: C)
        }
        cache.count = position + 1
        return headLogits(cache.ln, rows: 1)
    }

    /// Logits (T, V), row-major, of every position of `tokens` (T ≤ context) from the full forward: the LM
    /// head applied to ln_f's output. Holds T·V floats, so meant for short sequences (tests, inspection);
    /// scoring never materialises logits.
    public func logits(tokens: [Int32]) -> [Float] {
        let T = tokens.count
        precondition(T >= 1 && T <= config.contextLength, "internal: logits of \(T) tokens")
        let acts = Activations(config: config, b: 1, t: T, keepAll: false)
        tokens.withUnsafeBufferPointer { forwardTrunk(inputs: $0.baseAddress!, acts: acts) }
        return headLogits(acts.lnf, rows: T)
    }

    /// Runs the trunk over `acts.b` windows of `acts.t` tokens (inputs (B, T), ids < V): afterwards
    /// `acts.lnf` (B, T, C) holds what the LM head reads (`headLogits`).
    public func hidden(inputs: UnsafePointer<Int32>, acts: Activations) { forwardTrunk(inputs: inputs, acts: acts) }

    /// out (rows, V) = x (rows, C) · headᵀ, the logits of `rows` positions of the trunk's output.
    public func headLogits(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        let C = config.nEmbd, V = config.vocabSize
        parameters.withTensors { p, half in
            guard let half else { return backend.matmul(out: out, inp: x, weight: p.head, bias: nil, n: rows, c: C, oc: V) }
            // The bf16 product rounds its input in place; x belongs to the caller.
            let xr = UnsafeMutablePointer<Float>.allocate(capacity: rows * C)
            defer { xr.deallocate() }
            xr.update(from: x, count: rows * C)
            backend.matmulBF16(out: out, inp: xr, weight: half.head, bias: nil, n: rows, c: C, oc: V)
        }
    }

    /// out (rows, V) = x (rows, C) · headᵀ, head = wte when tied, else lm_head.
    func headLogits(_ x: UnsafePointer<Float>, rows: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * config.vocabSize)
        out.withUnsafeMutableBufferPointer { headLogits(x, rows: rows, into: $0.baseAddress!) }
        return out
    }
}
