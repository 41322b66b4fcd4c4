// What `gpt2lab eval --json` prints, its summary statistics, and the shard parts `merge` combines.
//
// Every number is recomputed from the per-example predictions, in file order: acc = mean of the correct
// flags, acc_norm likewise, ppl = exp(−mean per-example loglikelihood) (lm-eval's `perplexity` aggregation:
// `math.exp(-mean(items))`). So a merge of shards, which concatenates predictions in example order, prints
// exactly what the unsharded run prints.

import Foundation
import Plumbing

/// Summary and per-example predictions of one benchmark run.
public struct EvalReport: Codable, Sendable {
    public var task: EvalTask
    /// "llmc" or "lm-eval".
    public var recipe: String
    public var data: String
    public var checkpoint: String
    public var layout: String
    public var examples: Int
    public var acc: Double
    /// lm-eval's `mean_stderr`: the sample standard deviation of the 0/1 outcomes (n − 1) over √n, i.e.
    /// √(p(1 − p)/(n − 1)).
    public var accStderr: Double
    public var accNorm: Double?
    public var accNormStderr: Double?
    public var ppl: Double?
    public var context: Int
    public var seconds: Double
    public var predictions: [EvalPrediction]

    enum CodingKeys: String, CodingKey {
        case task, recipe, data, checkpoint, layout, examples, acc, ppl, context, seconds, predictions
        case accStderr = "acc_stderr", accNorm = "acc_norm", accNormStderr = "acc_norm_stderr"
    }

    public init(task: EvalTask, recipe: String, data: String, checkpoint: String, layout: String, context: Int,
                seconds: Double, predictions: [EvalPrediction]) {
        self.task = task; self.recipe = recipe; self.data = data; self.checkpoint = checkpoint; self.layout = layout
        self.context = context; self.seconds = seconds; self.predictions = predictions
        examples = predictions.count
        let hits = predictions.filter(\.correct).count
        acc = meanOfFlags(hits, examples)
        accStderr = binomialStderr(hits, examples)
        if task.info.headlineMetric == "acc_norm" {
            let norm = predictions.filter(\.correctNorm).count
            accNorm = meanOfFlags(norm, examples)
            accNormStderr = binomialStderr(norm, examples)
        }
        if task.info.reportsPerplexity {
            ppl = exp(-predictions.reduce(0) { $0 + ($1.loglikelihood ?? 0) } / Double(max(examples, 1)))
        }
    }
}

func meanOfFlags(_ k: Int, _ n: Int) -> Double { n > 0 ? Double(k) / Double(n) : .nan }

/// √(p(1 − p)/(n − 1)) with p = k/n: the standard error lm-eval prints for an accuracy (sample std, n − 1).
public func binomialStderr(_ k: Int, _ n: Int) -> Double {
    guard n > 1 else { return .nan }
    let p = Double(k) / Double(n)
    return (p * (1 - p) / Double(n - 1)).squareRoot()
}

// MARK: shards

/// Which examples shard `k` of `n` scores: a contiguous, even split.
public func shardExampleRange(shard k: Int, of n: Int, examples: Int) -> Range<Int> {
    (examples * k / n)..<(examples * (k + 1) / n)
}

/// One shard of an eval, written by `eval --shard K/N --out PART.json`.
public struct EvalPart: Codable, Sendable {
    public var format = "gpt2lab-eval-part"
    public var version = 1
    public var shard: Int
    public var shards: Int
    /// Examples of the whole run (after --limit) and this shard's first.
    public var totalExamples: Int
    public var exampleStart: Int
    /// XXH64 of the checkpoint file and of the benchmark file.
    public var checkpointHash: String
    public var dataHash: String
    /// Attention heads the weights were read with; nil in parts written before it was recorded.
    public var heads: Int?
    public var report: EvalReport

    enum CodingKeys: String, CodingKey {
        case format, version, shard, shards, report, heads
        case totalExamples = "total_examples", exampleStart = "example_start"
        case checkpointHash = "checkpoint_hash", dataHash = "data_hash"
    }

    public init(shard: Int, shards: Int, totalExamples: Int, exampleStart: Int, checkpointHash: String, dataHash: String,
                heads: Int, report: EvalReport) {
        self.shard = shard; self.shards = shards; self.totalExamples = totalExamples; self.exampleStart = exampleStart
        self.checkpointHash = checkpointHash; self.dataHash = dataHash; self.heads = heads; self.report = report
    }

    /// What decides this part's predictions; parts merge only when their keys are equal.
    public var key: EvalKey {
        EvalKey(checkpointHash: checkpointHash, dataHash: dataHash, task: report.task.rawValue, recipe: report.recipe,
                examples: totalExamples, context: report.context, heads: heads, shards: shards)
    }
}

/// What decides a sharded eval's predictions (see `IdentityKey`).
public struct EvalKey: IdentityKey {
    public var checkpointHash: String
    public var dataHash: String
    public var task: String
    public var recipe: String
    public var examples: Int
    public var context: Int
    public var heads: Int?
    public var shards: Int
    public static let fieldNames = [
        "checkpointHash": "checkpoint content hash", "dataHash": "benchmark file content hash", "task": "task",
        "recipe": "recipe", "examples": "example count (--limit)", "context": "context", "heads": "heads", "shards": "shard count",
    ]
    public static let noneMeans = ["heads": "not recorded"]
}

/// The `format` field of a part file ("gpt2lab-score-part", "gpt2lab-eval-part"), so `merge` can tell them apart.
public func partFormat(path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else { throw MergeError(message: "\(path): cannot read") }
    struct Head: Decodable { var format: String }
    do { return try JSONDecoder().decode(Head.self, from: data).format } catch {
        throw MergeError(message: "\(path): not a gpt2lab part file (\(shortDecodingError(error)))")
    }
}

public func readEvalPart(path: String) throws -> EvalPart {
    guard let data = FileManager.default.contents(atPath: path) else { throw MergeError(message: "\(path): cannot read") }
    let part: EvalPart
    do { part = try JSONDecoder().decode(EvalPart.self, from: data) } catch {
        throw MergeError(message: "\(path): not a gpt2lab eval part (\(shortDecodingError(error)))")
    }
    guard part.format == "gpt2lab-eval-part", part.version == 1, part.shards >= 1, (0..<part.shards).contains(part.shard) else {
        throw MergeError(message: "\(path): not a gpt2lab eval part v1 (format \(part.format) v\(part.version), shard \(part.shard)/\(part.shards))")
    }
    return part
}

/// Merges eval parts (any order) into the report the unsharded run prints.
public func mergeEvalParts(_ parts: [(path: String, part: EvalPart)]) throws -> EvalReport {
    guard let (firstPath, first) = parts.first else { throw MergeError(message: "merge: no parts given") }
    for (path, p) in parts.dropFirst() {
        let diffs = p.key.differences(from: first.key)
        if !diffs.isEmpty {
            throw MergeError(message: "\(path): differs from \(firstPath) in \(diffs.joined(separator: ", ")); parts of different evals cannot be merged")
        }
    }
    let ordered = try partsInShardOrder(parts, shards: first.shards) { $0.shard }
    var predictions: [EvalPrediction] = []
    var seconds = 0.0
    for (k, (path, p)) in ordered.enumerated() {
        let want = shardExampleRange(shard: k, of: first.shards, examples: first.totalExamples)
        guard p.exampleStart == want.lowerBound, p.report.predictions.count == want.count else {
            throw MergeError(message: "\(path): shard \(k) holds examples \(p.exampleStart)..<\(p.exampleStart + p.report.predictions.count), expected \(want)")
        }
        predictions += p.report.predictions
        seconds += p.report.seconds
    }
    let r = first.report
    return EvalReport(task: r.task, recipe: r.recipe, data: r.data, checkpoint: r.checkpoint, layout: r.layout, context: r.context,
                      seconds: seconds, predictions: predictions)
}
