// Paired per-token diagnostics of two checkpoints on the same windows (`gpt2lab compare A B`):
// where in the context and in the text does B beat A, and how far apart are their predictions?
// Per scored token: both NLLs, KL(A‖B) of the next-token distributions, and whether their argmaxes
// agree (Engine's `compareDistributions`), and each model's confidence (its largest next-token
// probability), from which the Δ by target-token frequency (TokenFrequency.swift) and each model's
// calibration (Calibration.swift) are gathered. Each window costs one trunk forward per model and one
// LM-head product per model, what scoring the two runs costs; only the elementwise pass over the
// two (rows, V) logit blocks is extra.

import Engine
import Foundation
import TestSets
import Tokenizer

/// What `compare` measures beyond the windows: segment length and how many to show.
public struct TokenComparisonOptions: Sendable {
    public var segmentLength = 32
    public var segments = 5
    public var batch: Int?
    public var threads: Int?
    /// Token frequencies for the Δ by frequency bucket; nil: counted from the test set's tokens the windows cover.
    public var frequencies: TokenFrequencies?
    public init() {}
}

/// A run of consecutive scored tokens, with each token's Δ = NLL_B − NLL_A (negative: B better).
public struct TokenSegment: Codable, Sendable {
    public struct Token: Codable, Sendable { public var text: String; public var delta: Double }
    public var window: Int
    /// Position in the window of the first token predicted.
    public var position: Int
    /// Mean Δ over the segment's tokens (nats).
    public var deltaMean: Double
    public var text: String
    public var tokens: [Token]
    enum CodingKeys: String, CodingKey { case window, position, deltaMean = "delta_mean", text, tokens }
}

/// Mean NLL at each context position for both models.
public struct LossByPosition: Codable, Sendable { public var a: [Double]; public var b: [Double] }

/// What `compare --json` prints.
public struct TokenComparison: Codable, Sendable {
    public var a: String
    public var b: String
    public var testSet: String
    public var context: Int
    public var stride: Int
    public var windows: Int
    public var tokensScored: Int
    public var lossA: Double
    public var lossB: Double
    /// lossB − lossA.
    public var delta: Double
    public var lossByPosition: LossByPosition
    /// Tokens scored at each position (the denominators of `lossByPosition`), for the positions some
    /// window reaches: all of the context, or fewer for a test set shorter than one window.
    public var positionCounts: [Int]
    public var klMean: Double
    public var top1Agreement: Double
    /// Quantiles of the per-token Δ: "p01", "p05", "p25", "p50", "p75", "p95", "p99".
    public var deltaQuantiles: [String: Double]
    /// Histogram of per-token Δ: `counts[i]` tokens in [edges[i], edges[i+1]); the ends are open.
    public var deltaHistogram: Histogram
    /// Segments where B gains most (lowest mean Δ) and loses most (highest), best first.
    public var gains: [TokenSegment]
    public var losses: [TokenSegment]
    /// Δ by how frequent the target token is (TokenFrequency.swift), with paired intervals.
    public var frequency: FrequencyBuckets
    /// Each model's next-token calibration (Calibration.swift).
    public var calibration: CalibrationPair
    public var seconds: Double
    /// "cuda:N" when the positions were computed on a GPU; nil on the CPU.
    public var device: String? = nil

    public struct Histogram: Codable, Sendable { public var edges: [Double]; public var counts: [Int] }

    enum CodingKeys: String, CodingKey {
        case a, b, context, stride, windows, delta, gains, losses, seconds, calibration, device
        case frequency = "frequency_buckets"
        case testSet = "test_set", tokensScored = "tokens_scored", lossA = "loss_a", lossB = "loss_b"
        case lossByPosition = "loss_by_position", positionCounts = "position_counts", klMean = "kl_mean"
        case top1Agreement = "top1_agreement", deltaQuantiles = "delta_quantiles", deltaHistogram = "delta_histogram"
    }
}

/// Compares `a` and `b` (same vocabulary rows and softmaxed rows) token by token on `plan`'s windows of `tokens`.
/// `tokenizer` decodes the segments' text (nil: segments carry token ids as text). With `gpu` (both models on
/// one GPU, `CUDAModel.canCompare`) the positions are computed there (Sources/CCUDA/compare.c), else on the CPU.
public func compareTokens(a: GPT2Model, b: GPT2Model, names: (String, String), tokens: [Int32], testSet: String,
                          plan: WindowPlan, options: TokenComparisonOptions = TokenComparisonOptions(),
                          tokenizer: GPT2Tokenizer?, gpu: (a: CUDAModel, b: CUDAModel)? = nil,
                          progress: ((Int, Int) -> Void)? = nil) throws -> TokenComparison {
    let T = plan.context, Vs = a.config.softmaxVocab
    var sumA = [Double](repeating: 0, count: T), sumB = sumA, posCount = [Int](repeating: 0, count: T)
    var klSum = 0.0, agree = 0, n = 0
    var byFrequency = FrequencyAccumulator(FrequencyBucketing(options.frequencies ?? TokenFrequencies(
        ids: Array(tokens[plan.tokenRange]), vocabSize: Vs, source: testSet, fromTestSet: true)), windows: plan.windows.count)
    var calibration = CalibrationPairAccumulator()
    var deltas: [Float] = []                        // per scored token, in window order
    var located: [(window: Int, position: Int)] = []  // each delta's window and position
    deltas.reserveCapacity(plan.tokensScored); located.reserveCapacity(plan.tokensScored)
    let cpu = gpu == nil ? CPUComparison(a: a, b: b) : nil
    let t0 = Date()
    let B = max(1, options.batch ?? (gpu == nil ? defaultBatch(context: T) : defaultGPUBatch(context: T)))
    var i = 0, done = 0
    while i < plan.windows.count {
        let len = plan.windows[i].length
        var j = i
        while j < plan.windows.count && j - i < B && plan.windows[j].length == len { j += 1 }
        let nb = j - i
        var inputs = [Int32](repeating: 0, count: nb * len), targets = inputs
        var rows: [(row: Int, window: Int, position: Int)] = []
        for k in 0..<nb {
            let w = plan.windows[i + k]
            for t in 0..<len { inputs[k * len + t] = tokens[w.start + t]; targets[k * len + t] = tokens[w.start + t + 1] }
            for t in w.scoredFrom..<len { rows.append((k * len + t, i + k, t)) }
        }
        let compared: [PositionComparison]
        if let gpu {
            let all = try gpu.a.compare(with: gpu.b, inputs: inputs, targets: targets, b: nb, t: len)
            compared = rows.map { all[$0.row] }
        } else {
            compared = cpu!.positions(inputs: inputs, targets: targets, b: nb, t: len, rows: rows.map(\.row))
        }
        for (r, c) in zip(rows, compared) {
            let p = r.position, tg = targets[r.row]
            guard c.nllA.isFinite, c.nllB.isFinite, c.confidenceA.isFinite, c.confidenceB.isFinite else {
                throw NonFiniteForward(model: c.nllA.isFinite && c.confidenceA.isFinite ? names.1 : names.0, window: r.window, position: p)
            }
            sumA[p] += Double(c.nllA); sumB[p] += Double(c.nllB); posCount[p] += 1
            klSum += c.kl; agree += c.argmaxA == c.argmaxB ? 1 : 0; n += 1
            deltas.append(c.nllB - c.nllA); located.append((r.window, p))
            byFrequency.add(window: r.window, target: tg, nllA: c.nllA, nllB: c.nllB)
            calibration.add(c, target: tg)
        }
        done += rows.count
        progress?(done, plan.tokensScored)
        i = j
    }
    // Positions no window reaches (a test set shorter than one window) have no mean: left out.
    let reached = (posCount.lastIndex { $0 > 0 } ?? -1) + 1
    sumA.removeSubrange(reached...); sumB.removeSubrange(reached...); posCount.removeSubrange(reached...)
    let totalA = sumA.reduce(0, +), totalB = sumB.reduce(0, +), N = Double(max(n, 1))
    let segs = rankedSegments(deltas, located, plan: plan, tokens: tokens, length: options.segmentLength,
                              count: options.segments, tokenizer: tokenizer)
    var result = TokenComparison(
        a: names.0, b: names.1, testSet: testSet, context: T, stride: plan.stride, windows: plan.windows.count,
        tokensScored: n, lossA: totalA / N, lossB: totalB / N, delta: (totalB - totalA) / N,
        lossByPosition: LossByPosition(a: zip(sumA, posCount).map { $1 > 0 ? $0 / Double($1) : .nan },
                                       b: zip(sumB, posCount).map { $1 > 0 ? $0 / Double($1) : .nan }),
        positionCounts: posCount, klMean: klSum / N, top1Agreement: Double(agree) / N,
        deltaQuantiles: deltaQuantiles(deltas), deltaHistogram: deltaHistogram(deltas),
        gains: segs.gains, losses: segs.losses, frequency: byFrequency.result(),
        calibration: calibration.result, seconds: Date().timeIntervalSince(t0))
    result.device = gpu.map { ComputeDevice.cuda($0.a.info.ordinal).description }
    return result
}

/// Mean NLL of both models over a range of context positions, weighted by the tokens scored there.
public struct PositionBin: Codable, Sendable, Equatable {
    /// Positions `from...to` of the window (0-based, inclusive).
    public var from: Int
    public var to: Int
    public var a: Double
    public var b: Double
    /// Tokens scored in the bin (NaN means when 0).
    public var tokens: Int
}

extension TokenComparison {
    /// `lossByPosition` in `bins` runs of ⌈T / bins⌉ consecutive positions (the last may be shorter),
    /// each bin's mean the token-weighted mean of its positions (Σ NLL / Σ tokens), so strided
    /// windows' unscored positions do not count.
    public func binnedLossByPosition(bins: Int) -> [PositionBin] {
        let T = positionCounts.count
        guard T > 0, bins > 0 else { return [] }
        let width = (T + bins - 1) / bins
        return Swift.stride(from: 0, to: T, by: width).map { s in
            let e = min(T, s + width)
            var sa = 0.0, sb = 0.0, n = 0
            for p in s..<e where positionCounts[p] > 0 {
                let k = positionCounts[p]
                sa += lossByPosition.a[p] * Double(k); sb += lossByPosition.b[p] * Double(k); n += k
            }
            return PositionBin(from: s, to: e - 1, a: n > 0 ? sa / Double(n) : .nan, b: n > 0 ? sb / Double(n) : .nan, tokens: n)
        }
    }
}

private let quantileLevels: [(String, Double)] = [("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.5),
                                                  ("p75", 0.75), ("p95", 0.95), ("p99", 0.99)]

func deltaQuantiles(_ d: [Float]) -> [String: Double] {
    guard !d.isEmpty else { return [:] }
    let s = d.map(Double.init).sorted()
    return Dictionary(uniqueKeysWithValues: quantileLevels.map { ($0.0, quantile(sorted: s, $0.1)) })
}

/// 40 equal bins over [−w, w], w = the larger of |p01| and |p99| (rounded up to 0.1 nats); tokens
/// beyond fall in the end bins.
func deltaHistogram(_ d: [Float]) -> TokenComparison.Histogram {
    let q = deltaQuantiles(d)
    let w = max(0.1, (max(abs(q["p01"] ?? 0), abs(q["p99"] ?? 0)) * 10).rounded(.up) / 10)
    let bins = 40
    let edges = (0...bins).map { -w + 2 * w * Double($0) / Double(bins) }
    var counts = [Int](repeating: 0, count: bins)
    for x in d { counts[min(bins - 1, max(0, Int((Double(x) + w) / (2 * w) * Double(bins))))] += 1 }
    return TokenComparison.Histogram(edges: edges, counts: counts)
}

/// Cuts each window's scored tokens into runs of `length` (the last shorter run dropped) and
/// returns, decoded, up to `count` with the lowest mean Δ among those where B gains (mean Δ < 0) and up to
/// `count` with the highest among those where it loses (> 0): a segment is never listed as both, and identical
/// models list none.
func rankedSegments(_ deltas: [Float], _ at: [(window: Int, position: Int)], plan: WindowPlan, tokens: [Int32],
                    length: Int, count: Int, tokenizer: GPT2Tokenizer?) -> (gains: [TokenSegment], losses: [TokenSegment]) {
    guard length > 0, count > 0 else { return ([], []) }
    var starts: [(index: Int, mean: Double)] = []
    var i = 0
    while i < deltas.count {
        var j = i                                   // this window's scored tokens are [i, j)
        while j < deltas.count && at[j].window == at[i].window { j += 1 }
        var k = i
        while k + length <= j {
            starts.append((k, deltas[k..<(k + length)].reduce(0.0) { $0 + Double($1) } / Double(length)))
            k += length
        }
        i = j
    }
    let sorted = starts.sorted { $0.mean < $1.mean }
    func segment(_ s: (index: Int, mean: Double)) -> TokenSegment {
        let (w, p) = at[s.index]
        let first = plan.windows[w].start + p + 1    // the token predicted at position p
        let ids = Array(tokens[first..<(first + length)])
        let texts = ids.map { id in tokenizer.map { $0.decodeText([id]) } ?? "<\(id)>" }
        return TokenSegment(window: w, position: p, deltaMean: s.mean, text: texts.joined(),
                            tokens: zip(texts, deltas[s.index..<(s.index + length)]).map { .init(text: $0, delta: Double($1)) })
    }
    return (sorted.prefix { $0.mean < 0 }.prefix(count).map(segment),
            sorted.reversed().prefix { $0.mean > 0 }.prefix(count).map(segment))
}

/// compareTokens on the CPU engine: both trunks' hidden states for a batch of windows, then the two LM heads
/// on blocks of R rows and `compareDistributions` over their logits.
final class CPUComparison {
    let a: GPT2Model, b: GPT2Model
    let R = 64
    let la: UnsafeMutablePointer<Float>, lb: UnsafeMutablePointer<Float>, xa: UnsafeMutablePointer<Float>, xb: UnsafeMutablePointer<Float>
    let tg: UnsafeMutablePointer<Int32>, out: UnsafeMutablePointer<PositionComparison>
    var cached = OneShapeActivations<(Activations, Activations)>()

    init(a: GPT2Model, b: GPT2Model) {
        self.a = a; self.b = b
        la = .allocate(capacity: R * a.config.vocabSize); lb = .allocate(capacity: R * b.config.vocabSize)
        xa = .allocate(capacity: R * a.config.nEmbd); xb = .allocate(capacity: R * b.config.nEmbd)
        tg = .allocate(capacity: R); out = .allocate(capacity: R)
    }

    deinit { la.deallocate(); lb.deallocate(); xa.deallocate(); xb.deallocate(); tg.deallocate(); out.deallocate() }

    /// The comparisons at `rows` (indices into the b·t positions) of b windows of t tokens.
    func positions(inputs: [Int32], targets: [Int32], b nb: Int, t len: Int, rows: [Int]) -> [PositionComparison] {
        let C = a.config.nEmbd, Cb = b.config.nEmbd
        let (actsA, actsB) = cached.value(b: nb, t: len) {
            (Activations(config: a.config, b: nb, t: len, keepAll: false), Activations(config: b.config, b: nb, t: len, keepAll: false))
        }
        inputs.withUnsafeBufferPointer { a.hidden(inputs: $0.baseAddress!, acts: actsA); b.hidden(inputs: $0.baseAddress!, acts: actsB) }
        var result: [PositionComparison] = []
        result.reserveCapacity(rows.count)
        var lo = 0
        while lo < rows.count {
            let m = min(R, rows.count - lo)
            for r in 0..<m {
                let row = rows[lo + r]
                (xa + r * C).update(from: actsA.lnf + row * C, count: C)
                (xb + r * Cb).update(from: actsB.lnf + row * Cb, count: Cb)
                tg[r] = targets[row]
            }
            a.headLogits(xa, rows: m, into: la)
            b.headLogits(xb, rows: m, into: lb)
            compareDistributions(out, a: la, b: lb, targets: tg, rows: m, v: a.config.softmaxVocab, strideA: a.config.vocabSize,
                                 strideB: b.config.vocabSize, threads: a.backend.threads)
            result.append(contentsOf: UnsafeBufferPointer(start: out, count: m))
            lo += m
        }
        return result
    }
}
