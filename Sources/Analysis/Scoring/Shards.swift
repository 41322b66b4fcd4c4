import Checkpoints
import Foundation
import Plumbing

// Sharded scoring: shard k of n scores a contiguous run of whole batches of windows, so each
// window is computed exactly as the unsharded run computes it (same batch, same rows, and the
// engine's results do not depend on the thread count). `mergeScoreParts` concatenates the
// per-window float64 sums in window order and adds them up in that order: the merged loss
// equals the unsharded loss bit for bit.

/// Which windows shard `k` of `n` scores: whole batches of `batch` windows, split evenly.
public func shardWindowRange(shard k: Int, of n: Int, windows: Int, batch: Int) -> Range<Int> {
    let batches = (windows + batch - 1) / batch
    let b0 = batches * k / n, b1 = batches * (k + 1) / n
    return min(windows, b0 * batch)..<min(windows, b1 * batch)
}

/// Everything a merge needs from one shard, written by `score --shard K/N --out PART.json`.
public struct ScorePart: Codable, Sendable {
    public var format = "gpt2lab-score-part"
    public var version = 2
    public var shard: Int
    public var shards: Int
    public var checkpoint: String
    public var layout: String
    public var testSet: String
    /// The checkpoint's and the test set's identities and the window recipe, as the score cache
    /// keys them: parts merge only when their keys are equal.
    public var key: ScoreKey
    public var utf8Bytes: Int?
    /// Vocabulary rows softmaxed and stored (as in ScoreReport); nil in parts written before.
    public var softmaxRows: Int?
    public var vocabStored: Int?
    public var batch: Int
    public var totalWindows: Int
    /// Index of this shard's first window in the unsharded plan.
    public var windowStart: Int
    /// Σ NLL per window (float64, nats) and scored positions per window, in window order.
    public var windowNLLSums: [Double]
    public var windowCounts: [Int]
    public var threads: Int
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case format, version, shard, shards, checkpoint, layout, key, batch, threads, seconds
        case testSet = "test_set", softmaxRows = "softmax_rows", vocabStored = "vocab_stored"
        case utf8Bytes = "utf8_bytes", totalWindows = "total_windows", windowStart = "window_start"
        case windowNLLSums = "window_nll_sums", windowCounts = "window_counts"
    }

    public init(shard: Int, shards: Int, checkpoint: String, layout: String, testSet: String, key: ScoreKey,
                utf8Bytes: Int?, batch: Int, totalWindows: Int, windowStart: Int, scores: WindowScores,
                threads: Int, seconds: Double) {
        self.shard = shard; self.shards = shards; self.checkpoint = checkpoint
        self.layout = layout; self.testSet = testSet; self.key = key; self.utf8Bytes = utf8Bytes
        self.batch = batch; self.totalWindows = totalWindows; self.windowStart = windowStart
        windowNLLSums = scores.nllSums; windowCounts = scores.counts; self.threads = threads; self.seconds = seconds
    }
}

/// Why a set of parts cannot be merged; one line naming the part files.
public struct MergeError: Error, LocalizedError, Sendable {
    public let message: String
    public var errorDescription: String? { message }
}

/// Reads a part file, checking it is one.
public func readScorePart(path: String) throws -> ScorePart {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw MergeError(message: "\(path): cannot read: \(error.localizedDescription)")
    }
    let part: ScorePart
    do { part = try JSONDecoder().decode(ScorePart.self, from: data) } catch {
        throw MergeError(message: "\(path): not a gpt2lab score part (\(shortDecodingError(error)))")
    }
    guard part.format == "gpt2lab-score-part", part.version == 2 else {
        throw MergeError(message: "\(path): not a gpt2lab score part (format \(part.format) v\(part.version))")
    }
    guard part.windowNLLSums.count == part.windowCounts.count, part.shards >= 1, (0..<part.shards).contains(part.shard) else {
        throw MergeError(message: "\(path): inconsistent part (shard \(part.shard)/\(part.shards), \(part.windowNLLSums.count) sums, \(part.windowCounts.count) counts)")
    }
    return part
}

/// Merges parts (any order) into the report the unsharded run prints.
public func mergeScoreParts(_ parts: [(path: String, part: ScorePart)]) throws -> ScoreReport {
    guard let (firstPath, first) = parts.first else { throw MergeError(message: "merge: no parts given") }
    for (path, p) in parts.dropFirst() {
        let diffs = p.key.differences(from: first.key) + (p.batch != first.batch ? ["batch (\(p.batch) vs \(first.batch))"] : [])
            + (p.shards != first.shards ? ["shard count (\(p.shards) vs \(first.shards))"] : [])
            + (p.totalWindows != first.totalWindows ? ["window count (\(p.totalWindows) vs \(first.totalWindows))"] : [])
        if !diffs.isEmpty {
            throw MergeError(message: "\(path): differs from \(firstPath) in \(diffs.joined(separator: ", ")); parts of different scores cannot be merged")
        }
    }
    let ordered = try partsInShardOrder(parts, shards: first.shards) { $0.shard }
    var sums: [Double] = [], counts: [Int] = []
    var seconds = 0.0
    for (k, (path, p)) in ordered.enumerated() {
        let want = shardWindowRange(shard: k, of: first.shards, windows: first.totalWindows, batch: first.batch)
        guard p.windowStart == want.lowerBound, p.windowNLLSums.count == want.count else {
            throw MergeError(message: "\(path): shard \(k) holds windows \(p.windowStart)..<\(p.windowStart + p.windowNLLSums.count), expected \(want)")
        }
        sums += p.windowNLLSums; counts += p.windowCounts
        seconds += p.seconds
    }
    let scores = WindowScores(nllSums: sums, counts: counts)
    return ScoreReport(checkpoint: first.checkpoint, layout: first.layout, testSet: first.testSet, settings: first.key.settings,
                       batch: first.batch, threads: first.threads, scores: scores, utf8Bytes: first.utf8Bytes, seconds: seconds,
                       softmaxRows: first.softmaxRows, vocabStored: first.vocabStored)
}

/// The parts in shard order 0..<shards, each exactly once; else a `MergeError` naming the files.
func partsInShardOrder<P>(_ parts: [(path: String, part: P)], shards: Int, shard: (P) -> Int) throws -> [(path: String, part: P)] {
    var byShard: [Int: (path: String, part: P)] = [:]
    for (path, p) in parts {
        if let other = byShard[shard(p)] {
            throw MergeError(message: "merge: shard \(shard(p))/\(shards) given twice (\(other.path) and \(path))")
        }
        byShard[shard(p)] = (path, p)
    }
    let missing = (0..<shards).filter { byShard[$0] == nil }
    if !missing.isEmpty {
        throw MergeError(message: "merge: missing shard(s) \(missing.map(String.init).joined(separator: ", ")) of \(shards)")
    }
    return (0..<shards).map { byShard[$0]! }
}

func shortDecodingError(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let k, _): return "missing key \(k.stringValue)"
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
        return "bad value at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
    case DecodingError.dataCorrupted(let c): return c.debugDescription
    default: return "\(error)"
    }
}
