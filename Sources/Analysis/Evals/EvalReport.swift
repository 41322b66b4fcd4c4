// What `gpt2lab eval --json` prints, its summary statistics, and the body of its shard parts.
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
    /// √(p(1 − p)/(n − 1)); nil (JSON null) for a single example, where it is undefined.
    public var accStderr: Double?
    public var accNorm: Double?
    public var accNormStderr: Double?
    public var ppl: Double?
    public var context: Int
    public var seconds: Double
    /// The GPU the forwards ran on (GPUInfo.scoreKeyName); nil for the CPU engine.
    public var device: String?
    public var predictions: [EvalPrediction]

    enum CodingKeys: String, CodingKey {
        case task, recipe, data, checkpoint, layout, examples, acc, ppl, context, seconds, device, predictions
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

    /// As synthesized, but `acc_stderr` is written as null when undefined rather than left out, so every eval
    /// JSON has the same keys.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(task, forKey: .task); try c.encode(recipe, forKey: .recipe); try c.encode(data, forKey: .data)
        try c.encode(checkpoint, forKey: .checkpoint); try c.encode(layout, forKey: .layout)
        try c.encode(examples, forKey: .examples); try c.encode(acc, forKey: .acc)
        try c.encode(accStderr, forKey: .accStderr)
        try c.encodeIfPresent(accNorm, forKey: .accNorm)
        if accNorm != nil { try c.encode(accNormStderr, forKey: .accNormStderr) }
        try c.encodeIfPresent(ppl, forKey: .ppl); try c.encode(context, forKey: .context)
        try c.encode(seconds, forKey: .seconds); try c.encodeIfPresent(device, forKey: .device)
        try c.encode(predictions, forKey: .predictions)
    }
}

func meanOfFlags(_ k: Int, _ n: Int) -> Double { n > 0 ? Double(k) / Double(n) : .nan }

/// √(p(1 − p)/(n − 1)) with p = k/n: the standard error lm-eval prints for an accuracy (sample std, n − 1);
/// nil below 2 outcomes, where the sample std is undefined.
public func binomialStderr(_ k: Int, _ n: Int) -> Double? {
    guard n > 1 else { return nil }
    let p = Double(k) / Double(n)
    return (p * (1 - p) / Double(n - 1)).squareRoot()
}

// MARK: shards

/// An eval part's body (`"kind": "eval"`), written by `eval --shard K/N --out PART.json`: shard k of n
/// holds a contiguous, even share of the examples (`shardRange`, batch 1).
public struct EvalShard: PartBody {
    public static let kind = PartKind.eval
    /// The checkpoint's identity (checkpointContentHash) and the XXH64 of the benchmark file.
    public var checkpointHash: String
    public var dataHash: String
    /// Attention heads the weights were read with.
    public var heads: Int
    public var report: EvalReport

    enum CodingKeys: String, CodingKey {
        case heads, report, checkpointHash = "checkpoint_hash", dataHash = "data_hash"
    }

    public init(checkpointHash: String, dataHash: String, heads: Int, report: EvalReport) {
        self.checkpointHash = checkpointHash; self.dataHash = dataHash; self.heads = heads; self.report = report
    }

    /// What decides this part's predictions; parts merge only when their keys are equal.
    public var key: EvalKey {
        EvalKey(checkpointHash: checkpointHash, dataHash: dataHash, task: report.task.rawValue, recipe: report.recipe,
                context: report.context, heads: heads, device: report.device)
    }
    public var batch: Int { 1 }
    public var rowCount: Int { report.predictions.count }
    public func addValues(to d: inout ValueDigest) {
        d.add(checkpointHash); d.add(dataHash); d.add(heads)
        let r = report
        d.add(r.task.rawValue); d.add(r.recipe); d.add(r.data); d.add(r.checkpoint); d.add(r.layout); d.add(r.examples)
        d.add(r.context); d.add(r.seconds); d.add(r.device); d.add(r.predictions.count)
        for p in r.predictions {
            d.add(p.pred); d.add(p.predNorm); d.add(p.label); d.add(p.loglikelihoods != nil); d.add(p.loglikelihoods ?? [])
            d.add(p.hit); d.add(p.loglikelihood); d.add(p.tokens.map { Int($0) })
        }
    }

    /// Examples and predictions pair up, and each multiple-choice prediction is the first argmax of its scores, with
    /// its label one of the choices.
    public var inconsistency: String? {
        guard report.examples == report.predictions.count else { return "\(report.examples) examples, \(report.predictions.count) predictions" }
        for (i, p) in report.predictions.enumerated() {
            guard let lls = p.loglikelihoods else { continue }
            let choices = 0..<lls.count
            if p.pred != firstArgmax(lls) || !(p.label.map(choices.contains) ?? true) || !(p.predNorm.map(choices.contains) ?? true) {
                return "prediction \(i) does not follow from its scores (pred \(p.pred.map(String.init) ?? "none"), label \(p.label.map(String.init) ?? "none"), \(lls.count) choices)"
            }
        }
        return nil
    }

    /// The report the unsharded run prints: the shards' predictions in example order, their seconds added.
    public static func merged(_ bodies: [EvalShard]) -> EvalReport {
        let r = bodies[0].report
        var m = EvalReport(task: r.task, recipe: r.recipe, data: r.data, checkpoint: r.checkpoint, layout: r.layout, context: r.context,
                           seconds: bodies.reduce(0) { $0 + $1.report.seconds }, predictions: bodies.flatMap(\.report.predictions))
        m.device = r.device
        return m
    }
}

/// What decides a sharded eval's predictions (see `IdentityKey`); the split (example count, shard
/// count) is the part envelope's.
public struct EvalKey: IdentityKey {
    public var checkpointHash: String
    public var dataHash: String
    public var task: String
    public var recipe: String
    public var context: Int
    public var heads: Int
    /// The GPU (GPUInfo.scoreKeyName), nil for the CPU: its sums are not the CPU's to the last bit.
    public var device: String?
    public static let fieldNames = [
        "checkpointHash": "checkpoint content hash", "dataHash": "benchmark file content hash", "task": "task",
        "recipe": "recipe", "context": "context", "heads": "heads",
        "device": "device",
    ]
    public static let noneMeans = ["device": "cpu"]
}
