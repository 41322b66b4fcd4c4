// Text completions from a checkpoint: greedy decoding or temperature + top-k sampling, on the
// engine's KV cache (Engine/Generate.swift), with a seeded generator so runs are reproducible.

import Engine
import Foundation
import Tokenizer

/// How the next token is chosen from the logits (V).
public enum SamplingMode: Sendable, Equatable {
    /// argmax; ties go to the lowest id (as `torch.argmax`, hence HF `generate(do_sample=False)`).
    case greedy
    /// Softmax of logits / temperature over the `topK` highest logits (all V when nil), then one draw.
    /// Ties at the k-th logit keep the lower ids.
    case sample(temperature: Double, topK: Int?)

    /// Whether the choice is fixed by the logits alone: greedy, or sampling among one token (`--top-k 1`). Such a
    /// mode draws nothing, so a seed changes nothing and every completion of a prompt is the same.
    public var drawsNothing: Bool {
        switch self {
        case .greedy: return true
        case let .sample(_, k): return k == 1
        }
    }
}

/// Why a completion ended.
public enum StopReason: String, Codable, Sendable, Equatable {
    /// The model emitted `<|endoftext|>` (kept as the completion's last id).
    case endOfText = "end_of_text"
    /// The completion reached the `maxTokens` asked for.
    case maxTokens = "max_tokens"
    /// Prompt + completion reached context + 1 tokens, before `maxTokens`: no further position can be fed.
    case context
}

/// Problems with a sampling request; one line each.
public enum SamplingError: Error, LocalizedError, Sendable, Equatable {
    case emptyPrompt
    case promptTooLong(tokens: Int, context: Int)
    case badOption(String)

    public var errorDescription: String? {
        switch self {
        case .emptyPrompt: return "the prompt is empty; give at least one token of text"
        case let .promptTooLong(n, c):
            return "the prompt is \(n) tokens; the model's context holds at most \(c)"
        case let .badOption(r): return r
        }
    }
}

/// One completion.
public struct Completion: Codable, Sendable, Equatable {
    /// Generated ids only (the prompt's are in `SampleReport.promptIDs`); ends with 50256 when the model
    /// emitted `<|endoftext|>`.
    public var ids: [Int32]
    /// Prompt + completion, decoded (`<|endoftext|>` appears literally).
    public var text: String
    /// The seed this sample drew with (nil when nothing is drawn: greedy, `--top-k 1`).
    public var seed: UInt64?
    /// Why it ended.
    public var stop: StopReason
    public init(ids: [Int32], text: String, seed: UInt64?, stop: StopReason) {
        self.ids = ids; self.text = text; self.seed = seed; self.stop = stop
    }
}

/// What `gpt2lab sample --json` prints.
public struct SampleReport: Encodable, Sendable {
    public var checkpoint: String
    public var prompt: String
    public var promptIDs: [Int32]
    /// "greedy" or "sample".
    public var mode: String
    public var temperature: Double?
    public var topK: Int?
    public var seed: UInt64?
    public var maxTokens: Int
    public var samples: [Completion]
    public var seconds: Double
    /// Vocabulary rows tokens were chosen among (a padded vocabulary's extra rows never are).
    public var softmaxRows: Int
    /// Precision of the matrix products ("f32" or "bf16").
    public var precision: String = "f32"

    enum CodingKeys: String, CodingKey {
        case checkpoint, prompt, mode, temperature, seed, samples, seconds, ids, text, stop
        case promptIDs = "prompt_ids", topK = "top_k", maxTokens = "max_tokens", softmaxRows = "softmax_rows", precision
    }

    /// With a single sample, its `ids`, `text` and `stop` are repeated at the top level for convenience.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(checkpoint, forKey: .checkpoint)
        try c.encode(prompt, forKey: .prompt)
        try c.encode(promptIDs, forKey: .promptIDs)
        try c.encode(mode, forKey: .mode)
        try c.encodeIfPresent(temperature, forKey: .temperature)
        try c.encodeIfPresent(topK, forKey: .topK)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encode(maxTokens, forKey: .maxTokens)
        try c.encode(samples, forKey: .samples)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(softmaxRows, forKey: .softmaxRows)
        try c.encode(precision, forKey: .precision)
        if samples.count == 1 {
            try c.encode(samples[0].ids, forKey: .ids)
            try c.encode(samples[0].text, forKey: .text)
            try c.encode(samples[0].stop, forKey: .stop)
        }
    }
}

/// Completes `prompt` `count` times.
///
/// Each completion decodes up to `maxTokens` new tokens and stops early
/// - after `<|endoftext|>` (50256), which is kept as the last id — HF `generate` does the same;
/// - when prompt + completion reach context + 1 tokens: the last token is predicted from a full window
///   (position context − 1) and never fed back, as HF `generate` does; no position beyond the context is fed.
///
/// Sample i (0-based) draws with `SplitMix64(seed: seed &+ i)`, so the same seed gives the same texts and
/// `--count` extends a run without changing its first samples. Greedy ignores the seed.
public func sampleCompletions(model: GPT2Model, tokenizer: GPT2Tokenizer, checkpoint: String, prompt: String,
                              mode: SamplingMode, maxTokens: Int, seed: UInt64 = 0, count: Int = 1) throws -> SampleReport {
    guard maxTokens >= 1 else { throw SamplingError.badOption("max tokens must be at least 1 (got \(maxTokens))") }
    guard count >= 1 else { throw SamplingError.badOption("count must be at least 1 (got \(count))") }
    if case let .sample(t, k) = mode {
        guard t > 0, t.isFinite else { throw SamplingError.badOption("temperature must be a positive number (got \(t))") }
        if let k, k < 1 { throw SamplingError.badOption("top-k must be at least 1 (got \(k))") }
    }
    let promptIDs = tokenizer.encode(prompt, allowEndOfText: true)
    guard !promptIDs.isEmpty else { throw SamplingError.emptyPrompt }
    let context = model.config.contextLength
    guard promptIDs.count <= context else { throw SamplingError.promptTooLong(tokens: promptIDs.count, context: context) }
    // A padded vocabulary's extra rows are never prompted nor sampled: only the softmaxed rows count.
    let V = model.config.softmaxVocab
    if let bad = promptIDs.first(where: { Int($0) >= V }) {
        throw SamplingError.badOption("prompt token \(bad) is outside the model's vocabulary of \(V)")
    }

    let t0 = Date()
    let cache = KVCache(config: model.config)
    let budget = min(maxTokens, contextRoom(promptTokens: promptIDs.count, context: context))
    // The prompt's keys, values and logits are the same for every sample: prefill once, and let each
    // sample decode over the cache cut back to the prompt.
    let promptLogits = model.prefill(tokens: promptIDs, cache: cache)
    var samples: [Completion] = []
    for i in 0..<count {
        var rng = SplitMix64(seed: seed &+ UInt64(i))
        cache.truncate(to: promptIDs.count)
        var logits = Array(promptLogits.prefix(V))
        var ids: [Int32] = []
        while ids.count < budget {
            let next: Int32
            switch mode {
            case .greedy: next = argmaxToken(logits)
            case let .sample(t, k): next = sampleToken(logits, temperature: t, topK: k, rng: &rng)
            }
            ids.append(next)
            if next == GPT2Tokenizer.endOfText || ids.count == budget { break }
            logits = Array(model.step(token: next, position: promptIDs.count + ids.count - 1, cache: cache).prefix(V))
        }
        let stop: StopReason = ids.last == GPT2Tokenizer.endOfText ? .endOfText : ids.count == maxTokens ? .maxTokens : .context
        samples.append(Completion(ids: ids, text: tokenizer.decodeText(promptIDs + ids),
                                  seed: mode.drawsNothing ? nil : seed &+ UInt64(i), stop: stop))
    }
    var temperature: Double?, topK: Int?
    if case let .sample(t, k) = mode { temperature = t; topK = k }
    return SampleReport(checkpoint: checkpoint, prompt: prompt, promptIDs: promptIDs,
                        mode: mode == .greedy ? "greedy" : "sample", temperature: temperature, topK: topK,
                        seed: mode.drawsNothing ? nil : seed, maxTokens: maxTokens, samples: samples,
                        seconds: Date().timeIntervalSince(t0), softmaxRows: V, precision: model.precision.rawValue)
}

/// New tokens a context of `context` positions leaves after a prompt: the last is predicted from position
/// context − 1 and never fed.
public func contextRoom(promptTokens: Int, context: Int) -> Int { context + 1 - promptTokens }

/// Index of the largest logit; the lowest such index on ties (`torch.argmax`).
public func argmaxToken(_ logits: [Float]) -> Int32 {
    var best = 0
    for i in 1..<logits.count where logits[i] > logits[best] { best = i }
    return Int32(best)
}

/// Ids of the `k` largest logits, largest first; equal logits in increasing id order.
public func topKIndices(_ logits: [Float], k: Int) -> [Int] {
    let k = min(k, logits.count)
    func before(_ a: Int, _ b: Int) -> Bool { logits[a] > logits[b] || (logits[a] == logits[b] && a < b) }
    if k * 8 > logits.count { return Array(Array(logits.indices).sorted(by: before).prefix(k)) }
    // Small k: keep a sorted list of the best k seen; most logits fail the threshold test at once.
    var top: [Int] = []
    top.reserveCapacity(k + 1)
    for i in logits.indices {
        if top.count == k, !before(i, top[k - 1]) { continue }
        var j = top.count
        while j > 0 && before(i, top[j - 1]) { j -= 1 }
        top.insert(i, at: j)
        if top.count > k { top.removeLast() }
    }
    return top
}

/// One draw from softmax(logits / temperature) restricted to the `topK` largest logits (all when nil).
/// Probabilities are computed in Double; the draw walks them largest first with one uniform number.
public func sampleToken(_ logits: [Float], temperature: Double, topK: Int?, rng: inout SplitMix64) -> Int32 {
    let candidates = topKIndices(logits, k: topK ?? logits.count)
    let m = Double(logits[candidates[0]])
    let weights = candidates.map { exp((Double(logits[$0]) - m) / temperature) }
    let total = weights.reduce(0, +)
    var u = rng.nextUnit() * total
    for (i, w) in zip(candidates, weights) {
        u -= w
        if u < 0 { return Int32(i) }
    }
    return Int32(candidates[candidates.count - 1])
}
