// Score cache: one JSON file per (checkpoint content, test-set content, window settings, engine
// version), so re-running a report after adding a run scores only the new run. Files are written
// atomically (temp file + rename) and checked against their key when read.

import Engine
import Foundation
import Plumbing

/// Bump when the engine's numbers change beyond rounding (a fixed mistake), so old cached scores are not reused.
/// Rounding-level changes (a new summation order or kernel, ~1e-9 in the loss) keep it: the CPU engine's last
/// bits already differ between CPUs (oneDNN, AMX, OpenBLAS), so the key promises the same loss to rounding, not
/// the same bits. The GPU is a device of its own in the key: its products round at 1e-7 and more.
public let scoringEngineVersion = "gpt2lab-engine-1 (fp32, float64 accumulation)"

/// What decides a score: the same key always gives the same per-window sums. The cache and shard
/// parts both key scores by it, and every stored property takes part: the cache file name hashes
/// the whole encoded key and `differences(from:)` compares every field, so a setting added here
/// can be neither left out of the cache nor missed by `merge`.
public struct ScoreKey: IdentityKey, Hashable {
    public var checkpointHash: String
    public var testSetHash: String
    public var context: Int
    public var stride: Int
    public var skip: Int
    public var maxTokens: Int?
    public var engine: String
    /// Softmax rows when not GPT-2's 50257 (a padded vocabulary scored with full_vocab).
    public var softmaxRows: Int?
    /// "bf16" for bf16 products; nil for f32 (so f32 keys are those written before bf16).
    public var precision: String?
    /// Attention heads the weights were read with (the one shape the tensors do not fix); nil only
    /// in parts written before it was recorded.
    public var heads: Int?
    /// The GPU the forward ran on ("cuda NVIDIA H200 sm_9.0"): its kernels' sums are not the CPU's to
    /// the last bit. nil for the CPU engine (and in parts written before).
    public var device: String?
    enum CodingKeys: String, CodingKey {
        case checkpointHash = "checkpoint_hash", testSetHash = "test_set_hash", context, stride, skip
        case maxTokens = "max_tokens", engine, softmaxRows = "softmax_rows", precision, heads, device
    }
    /// The key of scoring a model of `config` (heads, softmax rows) at `precision` on `gpu` (nil: the CPU).
    public init(checkpointHash: String, testSetHash: String, settings: ScoreSettings, config: GPT2Config,
                precision: Precision = .f32, gpu: GPUInfo? = nil, engine: String = scoringEngineVersion) {
        device = gpu?.scoreKeyName
        self.checkpointHash = checkpointHash; self.testSetHash = testSetHash
        let rows = config.softmaxVocab
        softmaxRows = rows == gpt2VocabSize ? nil : rows
        self.precision = precision == .f32 ? nil : precision.rawValue
        heads = config.nHead
        context = settings.context; stride = settings.stride; skip = settings.skip; maxTokens = settings.maxTokens
        self.engine = engine
    }
    public var settings: ScoreSettings { ScoreSettings(context: context, stride: stride, skip: skip, maxTokens: maxTokens) }

    /// File name: the checkpoint hash and a hash of the whole key.
    var fileName: String {
        let text = (try? JSON.encoder(pretty: false).encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "\(self)"
        return "score-\(checkpointHash)-\(hex64(contentHash64(text))).json"
    }

    public static let fieldNames = [
        "checkpointHash": "checkpoint content hash", "testSetHash": "test set token-id hash", "context": "context",
        "stride": "stride", "skip": "skip", "maxTokens": "max tokens", "engine": "engine",
        "softmaxRows": "vocabulary rows softmaxed (--full-vocab)", "precision": "precision", "heads": "heads",
        "device": "device",
    ]
    public static let noneMeans = ["maxTokens": "all", "softmaxRows": "\(gpt2VocabSize)", "precision": "f32", "heads": "not recorded", "device": "cpu"]
}

extension GPUInfo {
    /// How scores name the GPU they ran on: "cuda NVIDIA H200 sm_9.0", then the f32 products' math when
    /// it is not cuBLAS's FP32 (" 3xtf32", " tf32").
    public var scoreKeyName: String {
        "cuda \(name) sm_\(computeCapability)" + (math == nil || math == GPUMath.f32.rawValue ? "" : " \(math!)")
    }
}

private struct CacheEntry: Codable {
    var key: ScoreKey
    var score: ScoreReport
    /// JSON.digest of `score` when it was written: a score changed after that is not trusted.
    var check: String?
}

/// What the cache holds for a key.
public enum CacheLookup {
    case hit(ScoreReport)
    case miss
    /// An entry for the key that cannot be trusted (why); it is scored again and replaced.
    case damaged(String)

    public var score: ScoreReport? { if case let .hit(s) = self { return s }; return nil }
}

/// The default score cache: `$XDG_CACHE_HOME/gpt2lab/scores`, else `~/.cache/gpt2lab/scores`; nil
/// without either variable. Entries are keyed by content, so one cache serves every folder.
public func defaultScoreCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
    if let x = environment["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/gpt2lab/scores" }
    guard let home = environment["HOME"], !home.isEmpty else { return nil }
    return home + "/.cache/gpt2lab/scores"
}

/// A folder of cached scores.
public struct ScoreCache: Sendable {
    public let directory: String
    public init(directory: String) { self.directory = directory }

    /// The cached score for `key` whose windows score `counts` positions (the window plan's): a hit only when the
    /// entry decodes, is for this key, matches the checksum written with it and has exactly those windows.
    public func load(_ key: ScoreKey, counts: [Int]) -> CacheLookup {
        let path = directory + "/" + key.fileName
        guard let data = FileManager.default.contents(atPath: path) else { return .miss }
        guard let entry = try? JSON.decoder().decode(CacheEntry.self, from: data) else { return .damaged("\(path) does not decode") }
        guard entry.key == key else { return .damaged("\(path) is another score's entry") }
        guard let check = entry.check, check == (try? JSON.digest(entry.score)) else {
            return .damaged("\(path) does not match its checksum (written by an earlier gpt2lab, or changed since)")
        }
        guard entry.score.windowScores.counts == counts else {
            return .damaged("\(path) has \(entry.score.windowScores.counts.count) windows, not the \(counts.count) of the test set")
        }
        // A writer of this entry killed while another run stored it leaves a hidden temporary that no later store
        // clears (a hit stores nothing): clear it here, as a store would.
        removeStaleTemporaries(for: path)
        return .hit(entry.score)
    }

    /// Stores `score` under `key`, atomically (a reader sees the old file, the new one, or none).
    public func store(_ score: ScoreReport, for key: ScoreKey) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try writeAtomically(try JSON.encoder(pretty: false).encode(CacheEntry(key: key, score: score, check: try JSON.digest(score))),
                                to: directory + "/" + key.fileName)
        } catch {
            throw OutputError(directory, "score cache: cannot write: \(ioReason(error))")
        }
    }
}
