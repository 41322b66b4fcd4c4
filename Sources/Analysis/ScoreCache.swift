// Score cache: one JSON file per (checkpoint content, test-set content, window settings, engine
// version), so re-running a report after adding a run scores only the new run. Files are written
// atomically (temp file + rename) and checked against their key when read.

import Engine
import Foundation
import Plumbing

/// Bump when the engine's numbers change, so old cached scores are not reused.
public let scoringEngineVersion = "gpt2lab-engine-1 (fp32, float64 accumulation)"

/// What decides a score: the same key always gives the same per-window sums. The cache and shard
/// parts both key scores by it.
public struct ScoreKey: Codable, Sendable, Hashable {
    public var checkpointHash: String
    public var testSetHash: String
    public var context: Int
    public var stride: Int
    public var skip: Int
    public var maxTokens: Int?
    public var engine: String
    /// Softmax rows when not GPT-2's 50257 (a padded vocabulary scored with full_vocab).
    public var softmaxRows: Int?
    /// "bf16" for bf16 products; nil for f32 (so f32 keys, and files, are those written before bf16).
    public var precision: String?
    enum CodingKeys: String, CodingKey {
        case checkpointHash = "checkpoint_hash", testSetHash = "test_set_hash", context, stride, skip
        case maxTokens = "max_tokens", engine, softmaxRows = "softmax_rows", precision
    }
    public init(checkpointHash: String, testSetHash: String, settings: ScoreSettings, engine: String = scoringEngineVersion,
                softmaxRows: Int? = nil, precision: Precision = .f32) {
        self.checkpointHash = checkpointHash; self.testSetHash = testSetHash; self.softmaxRows = softmaxRows
        self.precision = precision == .f32 ? nil : precision.rawValue
        context = settings.context; stride = settings.stride; skip = settings.skip; maxTokens = settings.maxTokens
        self.engine = engine
    }
    public var settings: ScoreSettings { ScoreSettings(context: context, stride: stride, skip: skip, maxTokens: maxTokens) }
    /// File name: the checkpoint hash and a hash of the whole key.
    var fileName: String {
        let text = "\(checkpointHash)|\(testSetHash)|\(context)|\(stride)|\(skip)|\(maxTokens.map(String.init) ?? "-")|\(engine)"
            + (softmaxRows.map { "|rows \($0)" } ?? "") + (precision.map { "|\($0)" } ?? "")
        return "score-\(checkpointHash)-\(hex64(contentHash64(text))).json"
    }
}

private struct CacheEntry: Codable {
    var key: ScoreKey
    var score: ScoreReport
}

/// A folder of cached scores.
public struct ScoreCache: Sendable {
    public let directory: String
    public init(directory: String) { self.directory = directory }

    /// The cached score for `key`, or nil (absent, unreadable, or written for another key).
    public func load(_ key: ScoreKey) -> ScoreReport? {
        let path = directory + "/" + key.fileName
        guard let data = FileManager.default.contents(atPath: path),
              let entry = try? JSONDecoder().decode(CacheEntry.self, from: data), entry.key == key else { return nil }
        return entry.score
    }

    /// Stores `score` under `key`, atomically (a reader sees the old file, the new one, or none).
    public func store(_ score: ScoreReport, for key: ScoreKey) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try writeAtomically(try JSON.encoder(pretty: false).encode(CacheEntry(key: key, score: score)),
                                to: directory + "/" + key.fileName)
        } catch {
            throw OutputError(directory, "score cache: cannot write: \(error.localizedDescription)")
        }
    }
}
