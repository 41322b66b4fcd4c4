// The report's benchmark section: HellaSwag and/or LAMBADA for every run of a manifest, on the same examples,
// each run's accuracy with a Wilson interval and paired against the baseline (McNemar's exact test and a paired
// interval for Δ), beside its test loss. `compareRuns` reads the files before anything is scored
// (`prepareEvals`), scores them on each run's loaded model (`benchmarkPhase`) and builds the tables at
// the end (`benchmarkTables`).

import Checkpoints
import Engine
import Foundation
import TestSets
import Tokenizer

/// The manifest's benchmark keys: `hellaswag = "FILE.jsonl"`, `hellaswag_recipe = "llmc" | "lm-eval"`,
/// `lambada = "FILE.jsonl"`, `eval_limit = N` (the first N examples of each file).
public struct EvalSpec: Sendable {
    public var hellaswag: String?
    public var hellaswagRecipe: HellaSwagRecipe = .llmc
    public var lambada: String?
    public var limit: Int?
    public init(hellaswag: String? = nil, hellaswagRecipe: HellaSwagRecipe = .llmc, lambada: String? = nil, limit: Int? = nil) {
        self.hellaswag = hellaswag; self.hellaswagRecipe = hellaswagRecipe; self.lambada = lambada; self.limit = limit
    }
    /// The HellaSwag recipes by name, for readers that do not see TestSets (the manifest's).
    public static let recipeNames = HellaSwagRecipe.allCases.map(\.rawValue)
    /// Sets the HellaSwag recipe from its name; false when the name is none of `recipeNames`.
    public mutating func setHellaSwagRecipe(named name: String) -> Bool {
        guard let r = HellaSwagRecipe(rawValue: name) else { return false }
        hellaswagRecipe = r
        return true
    }
}

/// One run's row of a benchmark table.
public struct EvalRunResult: Codable, Sendable {
    public var name: String
    public var loss: Double
    /// The headline accuracy (HellaSwag: acc_norm; LAMBADA: acc) with its Wilson interval.
    public var value: Interval
    /// HellaSwag's acc (by summed loglikelihood) with its interval; nil for LAMBADA.
    public var acc: Interval?
    public var ppl: Double?
    /// The headline accuracy paired against the baseline on the same examples; nil for the baseline.
    public var vsBaseline: PairedAccuracy?
    public var predictions: [EvalPrediction]
    enum CodingKeys: String, CodingKey { case name, loss, value, acc, ppl, vsBaseline = "vs_baseline", predictions }
}

/// One benchmark over every run.
public struct EvalComparison: Codable, Sendable {
    public var task: EvalTask
    public var recipe: String
    public var data: String
    public var examples: Int
    /// "acc_norm" or "acc": what `value` holds.
    public var metric: String
    public var rule: String
    public var runs: [EvalRunResult]
}

/// Benchmark files read and checked (before any scoring).
public struct PreparedEvals: Sendable {
    public var sets: [(path: String, examples: EvalExamples)]
}

/// Reads the manifest's benchmark files; a problem is a `ManifestError` naming the key.
public func prepareEvals(_ m: ReportManifest) throws -> PreparedEvals {
    var sets: [(path: String, examples: EvalExamples)] = []
    for (key, path, task) in [("hellaswag", m.evals.hellaswag, EvalTask.hellaswag), ("lambada", m.evals.lambada, .lambada)] {
        guard let path else { continue }
        do { sets.append((path, try loadEvalExamples(task: task, recipe: m.evals.hellaswagRecipe, path: path, limit: m.evals.limit))) } catch {
            throw ManifestError(m.path, "\(key): \(describeError(error))")
        }
    }
    return PreparedEvals(sets: sets)
}

/// The benchmark phase: every prepared benchmark scored on one run's model (GPT-2's vocabulary rows,
/// whatever `full_vocab` says), one prediction list per benchmark.
func benchmarkPhase(_ r: RunState, weights: GPT2Weights, _ s: ComparisonSetup,
                    events: @escaping (ComparisonEvent) -> Void) throws -> [[EvalPrediction]] {
    guard !s.evals.sets.isEmpty, let tokenizer = s.tokenizer else { return [] }
    let model = GPT2Model(weights: weights, backend: CPUBackend(threads: s.options.threads))
    let name = r.name
    return try s.evals.sets.map { set in
        let what = "\(set.examples.task.rawValue) (\(set.examples.recipe)), \(set.examples.count) examples"
        events(.evaluating(run: name, what: what, done: 0, total: set.examples.count))
        return try evaluateExamples(model: model, tokenizer: tokenizer, set.examples, path: set.path) {
            events(.evaluating(run: name, what: what, done: $0, total: $1))
        }
    }
}

/// The benchmark tables: each run's predictions (`predictions[run][benchmark]`) summarised and paired
/// against the baseline; `losses` are the runs' test losses (shown beside). nil when the manifest names
/// no benchmark.
func benchmarkTables(_ prepared: PreparedEvals, _ m: ReportManifest, predictions: [String: [[EvalPrediction]]],
                     losses: [String: Double], level: Double) throws -> [EvalComparison]? {
    guard !prepared.sets.isEmpty else { return nil }
    return try prepared.sets.enumerated().map { i, set in
        let task = set.examples.task
        let headline = task.info.headline
        let base = predictions[m.baseline]![i].map(headline)
        let rows = try m.runs.map { r -> EvalRunResult in
            let p = predictions[r.name]![i]
            let summary = EvalReport(task: task, recipe: set.examples.recipe, data: set.path, checkpoint: r.checkpoint, layout: "",
                                     context: 0, seconds: 0, predictions: p)
            let mine = p.map(headline)
            return EvalRunResult(
                name: r.name, loss: losses[r.name] ?? .nan,
                value: wilsonInterval(mine.filter { $0 }.count, mine.count, level: level),
                acc: task.info.reportsPlainAccuracy ? wilsonInterval(p.filter(\.correct).count, p.count, level: level) : nil,
                ppl: summary.ppl,
                vsBaseline: r.name == m.baseline ? nil : try pairedAccuracy(mine, base, level: level),
                predictions: p)
        }
        return EvalComparison(task: task, recipe: set.examples.recipe, data: set.path, examples: set.examples.count,
                              metric: task.info.headlineMetric,
                              rule: "Wilson score interval per run; Δ vs baseline on the same examples with Agresti–Min's paired interval; "
                                  + "p from McNemar's exact test on the discordant examples",
                              runs: rows)
    }
}
