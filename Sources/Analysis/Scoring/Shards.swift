import Checkpoints
import Engine
import Foundation
import Plumbing

// Sharded scoring: shard k of n scores a contiguous run of whole batches of windows
// (`shardRange` with the score's batch), so each window is computed exactly as the unsharded run
// computes it (same batch, same rows, and the engine's results do not depend on the thread count).
// The merge (Shards/Parts.swift) concatenates the per-window float64 sums in window order and adds
// them up in that order: the merged loss equals the unsharded loss bit for bit.

/// A score part's body (`"kind": "score"`), written by `score --shard K/N --out PART.json`.
public struct ScoreShard: PartBody {
    public static let kind = PartKind.score
    public var checkpoint: String
    public var layout: String
    public var testSet: String
    /// The checkpoint's and the test set's identities and the window recipe, as the score cache
    /// keys them: parts merge only when their keys are equal.
    public var key: ScoreKey
    public var utf8Bytes: Int?
    /// Vocabulary rows softmaxed and stored (as in ScoreReport).
    public var softmaxRows: Int?
    public var vocabStored: Int?
    public var batch: Int
    /// Σ NLL per window (float64, nats) and scored positions per window, in window order.
    public var windowNLLSums: [Double]
    public var windowCounts: [Int]
    public var threads: Int
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case checkpoint, layout, key, batch, threads, seconds
        case testSet = "test_set", softmaxRows = "softmax_rows", vocabStored = "vocab_stored", utf8Bytes = "utf8_bytes"
        case windowNLLSums = "window_nll_sums", windowCounts = "window_counts"
    }

    public init(checkpoint: String, layout: String, testSet: String, key: ScoreKey, utf8Bytes: Int?, softmaxRows: Int?,
                vocabStored: Int?, batch: Int, scores: WindowScores, threads: Int, seconds: Double) {
        self.checkpoint = checkpoint; self.layout = layout; self.testSet = testSet; self.key = key; self.utf8Bytes = utf8Bytes
        self.softmaxRows = softmaxRows; self.vocabStored = vocabStored; self.batch = batch
        windowNLLSums = scores.nllSums; windowCounts = scores.counts; self.threads = threads; self.seconds = seconds
    }

    public var rowCount: Int { windowNLLSums.count }

    /// Sums and counts pair up; every window scores 1 to `context` positions, and its NLL sum is finite and not
    /// negative (−log p ≥ 0).
    public var inconsistency: String? {
        guard windowNLLSums.count == windowCounts.count else { return "\(windowNLLSums.count) sums, \(windowCounts.count) counts" }
        if let i = windowCounts.firstIndex(where: { !(1...max(1, key.context)).contains($0) }) {
            return "window \(i) scores \(windowCounts[i]) positions; a window scores 1 to \(key.context)"
        }
        if let i = windowNLLSums.firstIndex(where: { !$0.isFinite || $0 < 0 }) { return "window \(i)'s NLL sum is \(windowNLLSums[i])" }
        return nil
    }

    public func addValues(to d: inout ValueDigest) {
        d.add(checkpoint); d.add(layout); d.add(testSet)
        d.add(key.checkpointHash); d.add(key.testSetHash); d.add(key.context); d.add(key.stride); d.add(key.skip)
        d.add(key.maxTokens); d.add(key.engine); d.add(key.softmaxRows); d.add(key.precision); d.add(key.heads); d.add(key.device)
        d.add(utf8Bytes); d.add(softmaxRows); d.add(vocabStored); d.add(batch)
        d.add(windowNLLSums); d.add(windowCounts); d.add(threads); d.add(seconds)
    }

    /// Parts of one test set read from its .txt and from its token file share a key (the token ids); only the
    /// text knows its byte count, and parts that both know it must agree.
    public func mismatch(_ other: ScoreShard) -> String? {
        guard let a = utf8Bytes, let b = other.utf8Bytes, a != b else { return nil }
        return "text bytes (\(a) vs \(b))"
    }

    /// The report the unsharded run prints: the shards' windows in order, their seconds added; the
    /// precision and the GPU as the parts' (equal) keys record them.
    public static func merged(_ bodies: [ScoreShard]) -> ScoreReport {
        let first = bodies[0]
        let scores = WindowScores(nllSums: bodies.flatMap(\.windowNLLSums), counts: bodies.flatMap(\.windowCounts))
        var r = ScoreReport(checkpoint: first.checkpoint, layout: first.layout, testSet: first.testSet, settings: first.key.settings,
                            batch: first.batch, threads: first.threads, scores: scores, utf8Bytes: bodies.lazy.compactMap(\.utf8Bytes).first,
                            seconds: bodies.reduce(0) { $0 + $1.seconds }, softmaxRows: first.softmaxRows, vocabStored: first.vocabStored,
                            heads: first.key.heads)
        r.precision = first.key.precision ?? Precision.f32.rawValue
        r.device = first.key.device
        r.checkpointHash = first.key.checkpointHash; r.testSetHash = first.key.testSetHash
        return r
    }
}
