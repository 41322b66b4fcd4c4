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
    let stats: UnsafeMutablePointer<Float>   // (2) LayerNorm mean, rstd (unused)

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
        fch = row(F); fchGelu = row(F); scores = row(config.contextLength); stats = row(2)
    }

    deinit {
        for p in [keys, values, x, ln, qkv, atty, proj, fch, fchGelu, scores, stats] { p.deallocate() }
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

    /// Bytes held.
    public var bytes: Int {
        let c = config
        return (2 * c.nLayer * c.contextLength * c.nEmbd + 7 * c.nEmbd + 2 * c.nInner + c.contextLength + 2)
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
        tokens.withUnsafeBufferPointer { inputs in
            forwardTrunk(inputs: inputs.baseAddress!, acts: acts) { l, qkv in
                for t in 0..<T {
                    cache.key(l, t).update(from: qkv + t * 3 * C + C, count: C)
                    cache.value(l, t).update(from: qkv + t * 3 * C + 2 * C, count: C)
                }
            }
        }
        cache.count = T
        return headLogits(acts.lnf + (T - 1) * C, rows: 1)
    }

    /// Decodes one token at `position` (= `cache.count`, < context; callers validate): appends its keys
    /// and values to the cache and returns the logits (V) that predict the token after it.
    public func step(token: Int32, position: Int, cache: KVCache) -> [Float] {
        let c = config
        let C = c.nEmbd, F = c.nInner, NH = c.nHead
        precondition(position == cache.count && position < c.contextLength, "internal: step at \(position), cache holds \(cache.count)")
        let layout = weights.layout
        weights.data.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress!
            func w(_ k: TensorKind, _ l: Int? = nil) -> UnsafePointer<Float> { base + layout.offsets[TensorID(k, layer: l)]! }
            let x = cache.x
            // x (C) = wte[token] + wpe[position]
            residualForward(x, w(.wte) + Int(token) * C, w(.wpe) + position * C, count: C)
            for l in 0..<c.nLayer {
                backend.layerNorm(out: cache.ln, mean: cache.stats, rstd: cache.stats + 1, inp: x,
                                  weight: w(.ln1w, l), bias: w(.ln1b, l), n: 1, c: C)
                backend.matmul(out: cache.qkv, inp: cache.ln, weight: w(.qkvw, l), bias: w(.qkvb, l), n: 1, c: C, oc: 3 * C)
                cache.key(l, position).update(from: cache.qkv + C, count: C)
                cache.value(l, position).update(from: cache.qkv + 2 * C, count: C)
                backend.attentionStep(out: cache.atty, q: cache.qkv, keys: cache.key(l, 0), values: cache.value(l, 0),
                                      scores: cache.scores, n: position + 1, c: C, nh: NH)
                backend.matmul(out: cache.proj, inp: cache.atty, weight: w(.attprojw, l), bias: w(.attprojb, l),
                               n: 1, c: C, oc: C)
                residualForward(x, x, cache.proj, count: C)
                backend.layerNorm(out: cache.ln, mean: cache.stats, rstd: cache.stats + 1, inp: x,
                                  weight: w(.ln2w, l), bias: w(.ln2b, l), n: 1, c: C)
                backend.matmul(out: cache.fch, inp: cache.ln, weight: w(.fcw, l), bias: w(.fcb, l), n: 1, c: C, oc: F)
                backend.gelu(out: cache.fchGelu, inp: cache.fch, count: F)
                backend.matmul(out: cache.proj, inp: cache.fchGelu, weight: w(.fcprojw, l), bias: w(.fcprojb, l),
                               n: 1, c: F, oc: C)
                residualForward(x, x, cache.proj, count: C)
            }
            backend.layerNorm(out: cache.ln, mean: cache.stats, rstd: cache.stats + 1, inp: x,
                              weight: w(.lnfw), bias: w(.lnfb), n: 1, c: C)
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

    /// out (rows, V) = x (rows, C) · headᵀ, head = wte when tied, else lm_head.
    func headLogits(_ x: UnsafePointer<Float>, rows: Int) -> [Float] {
        let C = config.nEmbd, V = config.vocabSize
        var out = [Float](repeating: 0, count: rows * V)
        weights.data.withUnsafeBufferPointer { buf in
            let head = buf.baseAddress! + weights.layout.offsets[TensorID(weights.tied ? .wte : .lmHead)]!
            out.withUnsafeMutableBufferPointer { o in
                backend.matmul(out: o.baseAddress!, inp: x, weight: head, bias: nil, n: rows, c: C, oc: V)
            }
        }
        return out
    }
}
