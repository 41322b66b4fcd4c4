// Where the loss moved, by how common the predicted token is (`gpt2lab compare`, the report's
// per-token section). Token frequencies are counted from a token file (the runs' training data,
// `compare --frequencies`) or from the test set itself. Types are ranked by that count (most
// frequent first; equal counts by token id), and each scored token falls in the bucket of its
// *target*'s rank: 1–10, 11–100, 101–1,000, 1,001–10,000, beyond 10,000, and "unseen" (a count of
// 0, which only a separate frequency file can give). Rank buckets, not count buckets, so the
// same bucket means the same thing on any amount of data: the top 10 types (punctuation, "the")
// are ~30% of English text, the top 10,000 nearly all of it, the rest the long tail.
//
// Each bucket's Δ = mean NLL_B − mean NLL_A over its tokens comes with the paired block bootstrap
// of Statistics.swift (`pairedBootstrap`): per window, the bucket's NLL sums of both models and its
// token count; windows are resampled in blocks of consecutive windows, not tokens, since tokens of one
// window share their context, with the block length the bucket's own series calls for. A replicate that
// draws no token of a rare bucket has no Δ* and is left out (never counted as 0); a bucket whose tokens lie
// in fewer than `minBucketWindows` windows gets no interval.

import Foundation
import Plumbing
import TestSets

/// How often each token id occurs in a token file. Ids must be below `vocabSize` (checked by the caller).
public struct TokenFrequencies: Sendable {
    /// Occurrences by token id.
    public var counts: [Int]
    /// The file counted, as given.
    public var source: String
    /// True when counted from the test set itself (no "unseen" bucket then).
    public var fromTestSet: Bool

    public init(ids: [Int32], vocabSize: Int, source: String, fromTestSet: Bool) {
        self.init(counts: tokenCounts(ids, vocabSize: vocabSize), source: source, fromTestSet: fromTestSet)
    }

    /// Counts already made (`countTokenIDs`: a training file, counted as it is read).
    public init(counts: [Int], source: String, fromTestSet: Bool) {
        self.counts = counts; self.source = source; self.fromTestSet = fromTestSet
    }

    /// 1-based rank of each token id by count (descending; ties by id); 0 for ids never seen.
    public var ranks: [Int] {
        let order = counts.indices.filter { counts[$0] > 0 }.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
        var r = [Int](repeating: 0, count: counts.count)
        for (i, id) in order.enumerated() { r[id] = i + 1 }
        return r
    }
}

/// The rank buckets' upper ends (inclusive); the last seen bucket is open, then "unseen".
public let frequencyRankEdges = [10, 100, 1_000, 10_000]

/// One frequency bucket: its tokens' mean NLL under both models and the paired Δ.
public struct FrequencyBucket: Codable, Sendable, Equatable {
    public var label: String
    /// Type ranks `rankFrom...rankTo` (1-based); both nil for "unseen", `rankTo` nil for the open last bucket.
    public var rankFrom: Int?
    public var rankTo: Int?
    /// Token ids in the bucket (for "unseen": ids never seen), and the largest and smallest count among them (nil
    /// when it holds none).
    public var types: Int
    public var countMax: Int?
    public var countMin: Int?
    /// Scored tokens whose target is in the bucket; the means are nil when 0.
    public var tokens: Int
    public var lossA: Double?
    public var lossB: Double?
    /// lossB − lossA with its paired window-bootstrap interval, and the bootstrap p-value: nil when fewer than
    /// `minBucketWindows` windows hold the bucket's tokens (too few to resample; lossB − lossA is still shown).
    public var delta: Interval?
    public var pValue: Double?
    /// Windows holding at least one of the bucket's tokens.
    public var windows: Int?
    enum CodingKeys: String, CodingKey {
        case label, types, tokens, delta, windows
        case rankFrom = "rank_from", rankTo = "rank_to", countMax = "count_max", countMin = "count_min"
        case lossA = "loss_a", lossB = "loss_b", pValue = "p_value"
    }

    /// Every key is written, a missing value as null (an empty bucket's counts, means and windows, a bucket under
    /// `minBucketWindows` windows' delta and p-value, the open ends' ranks): a script reading `b["delta"]` finds it.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(label, forKey: .label)
        try c.encode(rankFrom, forKey: .rankFrom)
        try c.encode(rankTo, forKey: .rankTo)
        try c.encode(types, forKey: .types)
        try c.encode(countMax, forKey: .countMax)
        try c.encode(countMin, forKey: .countMin)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(lossA, forKey: .lossA)
        try c.encode(lossB, forKey: .lossB)
        try c.encode(delta, forKey: .delta)
        try c.encode(pValue, forKey: .pValue)
        try c.encode(windows, forKey: .windows)
    }
}

extension FrequencyBucket {
    /// lossB − lossA, with or without an interval; nil for an empty bucket.
    public var deltaEstimate: Double? { lossA.flatMap { a in lossB.map { $0 - a } } }
    /// The label as the page and the text show it: a closed bucket that holds fewer types than its span (the
    /// last one reached: a test set of 7,510 types fills ranks 1,001–7,510 of 1,001–10,000) names the ranks it
    /// holds, since seen types take consecutive ranks. `label` keeps the bucket's definition for results.json.
    public var shownLabel: String {
        guard let from = rankFrom, let to = rankTo, types > 0, from + types - 1 < to else { return label }
        let last = from + types - 1
        return last == from ? "rank \(groupedThousands(from))" : "ranks \(groupedThousands(from))–\(groupedThousands(last))"
    }
    /// Why a bucket with tokens has no interval ("n/a (3 windows, fewer than 5)"); nil when it has one or is empty.
    public var noIntervalNote: String? {
        guard delta == nil, lossA != nil else { return nil }
        let k = windows ?? 0
        return "n/a (\(k) window\(k == 1 ? "" : "s"), fewer than \(minBucketWindows))"
    }
}

/// Windows a bucket's tokens must lie in for its bootstrap interval: with fewer, most resamples repeat the same
/// one or two windows and the percentile interval says nothing (one window gives a zero-width interval and p at its floor).
public let minBucketWindows = 5

/// Δ loss by target-token frequency (`TokenComparison.frequency`).
public struct FrequencyBuckets: Codable, Sendable, Equatable {
    /// The token file the frequencies were counted from.
    public var source: String
    /// "training data" (a file given for it) or "test set".
    public var countedFrom: String
    public var tokensCounted: Int
    /// The bootstrap behind every bucket's interval.
    public var level: Double
    public var resamples: Int
    public var seed: UInt64
    public var buckets: [FrequencyBucket]
    enum CodingKeys: String, CodingKey {
        case source, level, resamples, seed, buckets
        case countedFrom = "counted_from", tokensCounted = "tokens_counted"
    }
}

/// Bucket of each token id, and the buckets' descriptions, from `frequencies`.
struct FrequencyBucketing {
    /// Bucket index by token id; `labels.count - 1` is "unseen".
    let bucketOf: [UInt8]
    let specs: [(label: String, from: Int?, to: Int?)]
    let frequencies: TokenFrequencies

    init(_ f: TokenFrequencies) {
        frequencies = f
        let ranks = f.ranks
        var specs: [(label: String, from: Int?, to: Int?)] = []
        var lo = 1
        for e in frequencyRankEdges { specs.append(("ranks \(groupedThousands(lo))–\(groupedThousands(e))", lo, e)); lo = e + 1 }
        specs.append(("ranks > \(groupedThousands(lo - 1))", lo, nil))
        specs.append(("unseen", nil, nil))
        self.specs = specs
        let unseen = UInt8(specs.count - 1)
        bucketOf = ranks.map { r in r == 0 ? unseen : UInt8(frequencyRankEdges.firstIndex { r <= $0 } ?? frequencyRankEdges.count) }
    }
}

/// Per window and bucket: both models' NLL sums and the token count.
struct FrequencyAccumulator {
    let bucketing: FrequencyBucketing
    private var sumA: [[Double]], sumB: [[Double]], count: [[Int]]

    init(_ bucketing: FrequencyBucketing, windows: Int) {
        self.bucketing = bucketing
        let k = bucketing.specs.count
        sumA = Array(repeating: Array(repeating: 0, count: windows), count: k); sumB = sumA
        count = Array(repeating: Array(repeating: 0, count: windows), count: k)
    }

    mutating func add(window w: Int, target: Int32, nllA: Float, nllB: Float) {
        let t = Int(target)   // an id past the counted vocabulary was never counted: unseen
        let k = t < bucketing.bucketOf.count ? Int(bucketing.bucketOf[t]) : bucketing.specs.count - 1
        sumA[k][w] += Double(nllA); sumB[k][w] += Double(nllB); count[k][w] += 1
    }

    /// The buckets with their paired intervals; "unseen" is left out when counted from the test set.
    func result(resamples: Int = 2000, seed: UInt64 = 0, level: Double = 0.95) -> FrequencyBuckets {
        let f = bucketing.frequencies
        var buckets: [FrequencyBucket] = []
        for (k, s) in bucketing.specs.enumerated() {
            if s.from == nil && f.fromTestSet { continue }
            let typeCounts = bucketing.bucketOf.indices.filter { Int(bucketing.bucketOf[$0]) == k }.map { f.counts[$0] }
            let n = count[k].reduce(0, +)
            var b = FrequencyBucket(label: s.label, rankFrom: s.from, rankTo: s.to, types: typeCounts.count,
                                    countMax: typeCounts.max(), countMin: typeCounts.min(), tokens: n)
            if n > 0 {
                let a = sumA[k].reduce(0, +) / Double(n), bb = sumB[k].reduce(0, +) / Double(n)
                b.lossA = a; b.lossB = bb
                b.windows = count[k].filter { $0 > 0 }.count
                // pairedBootstrap's Δ is its first argument minus its second: B − A here. Resamples that draw none of
                // the bucket's windows are left out (they have no Δ), so the interval is the bootstrap's given ≥ 1 token.
                if b.windows! >= minBucketWindows, let p = try? pairedBootstrap(nllSumsA: sumB[k], nllSumsB: sumA[k], counts: count[k], resamples: resamples,
                                                seed: seed, level: level) {
                    b.delta = p.delta; b.pValue = p.pValue
                }
            }
            buckets.append(b)
        }
        return FrequencyBuckets(source: f.source, countedFrom: f.fromTestSet ? "test set" : "training data",
                                tokensCounted: f.counts.reduce(0, +), level: level, resamples: resamples, seed: seed, buckets: buckets)
    }
}
