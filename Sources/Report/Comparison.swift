// The comparison behind `gpt2lab report`: score every run of a manifest on the same windows
// (from the cache, a pre-computed score file, or the engine), then the statistics of
// Analysis/Statistics.swift, weight norms, AdamW timescales and (optionally) Hessian traces.
//
// Order of work: every check first (manifest, test set, each checkpoint's vocabulary and
// context, each score file's settings), then the expensive part, one run at a time.

import Analysis
import Checkpoints
import Engine
import Foundation
import TestSets
import Tokenizer

/// GPT-2's vocabulary size; every run in a report must use GPT-2's tokenizer.
public let gpt2VocabSize = 50257

/// Knobs of a report.
public struct ReportOptions: Sendable {
    /// Bootstrap replicates B.
    public var bootstrap = 2000
    /// Seeds the bootstrap, the Hessian probes and the sampled completion.
    public var seed: UInt64 = 0
    /// CI coverage.
    public var level = 0.95
    /// Hutchinson probes per run; 0 skips the Hessian.
    public var hessianSamples = 0
    public var threads: Int?
    /// Cache folder; nil disables reading and writing the cache.
    public var cacheDirectory: String?
    /// Score every run even when cached (the new scores are still written to the cache).
    public var rescore = false
    /// Prompt of the smoke-test completions (gpjt's); nil skips them.
    public var completionPrompt: String? = "Every effort moves you"
    /// New tokens per completion.
    public var completionTokens = 20
    /// The seeded sample's temperature and top-k.
    public var sampleTemperature = 1.0
    public var sampleTopK: Int? = 40
    public init() {}
}

/// The smoke-test completion of a run: greedy, and one seeded sample (prompt included in the texts).
public struct RunCompletion: Codable, Sendable, Equatable {
    public var prompt: String
    public var greedy: String
    public var sample: String?
    public var seed: UInt64?
    public init(prompt: String, greedy: String, sample: String?, seed: UInt64?) {
        self.prompt = prompt; self.greedy = greedy; self.sample = sample; self.seed = seed
    }
}

/// One run's row of the report.
public struct RunResult: Codable, Sendable {
    public var name: String
    public var description: String?
    public var checkpoint: String
    public var contentHash: String
    /// Other runs whose checkpoint has the same content hash.
    public var identicalTo: [String]
    /// Where the score came from: "cache", "scores file", "scored".
    public var scoreSource: String
    public var params: Int
    public var loss: Double
    public var lossCI: [Double]
    public var perplexity: Double
    public var deltaVsBaseline: Double?
    public var deltaCI: [Double]?
    public var pValue: Double?
    /// |Δ vs baseline| ≤ the seed-noise half-width; nil without a band (and for the baseline).
    public var inNoise: Bool?
    public var deltaVsReference: Double?
    public var deltaReferenceCI: [Double]?
    public var gapClosed: Double?
    public var totalSumSq: Double
    public var decaySumSq: Double
    public var noDecaySumSq: Double
    public var hyperparameters: Hyperparameters
    public var tauSteps: Double?
    public var tauFraction: Double?
    public var stackOf: [String]
    /// Σ of the parts' Δ vs baseline, for a run with `stack_of`.
    public var expectedIfAdditive: Double?
    public var hessianTrace: Double?
    public var hessianStderr: Double?
    public var completion: RunCompletion?

    enum CodingKeys: String, CodingKey {
        case name, description, checkpoint, contentHash = "content_hash", identicalTo = "identical_to"
        case scoreSource = "score_source", params, loss, lossCI = "loss_ci", perplexity
        case deltaVsBaseline = "delta_vs_baseline", deltaCI = "delta_ci", pValue = "p_value", inNoise = "in_noise"
        case deltaVsReference = "delta_vs_reference", deltaReferenceCI = "delta_reference_ci", gapClosed = "gap_closed"
        case totalSumSq = "total_sum_sq", decaySumSq = "decay_sum_sq", noDecaySumSq = "no_decay_sum_sq"
        case hyperparameters, tauSteps = "tau_steps", tauFraction = "tau_fraction", stackOf = "stack_of"
        case expectedIfAdditive = "expected_if_additive", hessianTrace = "hessian_trace", hessianStderr = "hessian_stderr"
        case completion
    }

    /// Every key is written, absent values as null, so readers can rely on the columns.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name); try c.encode(description, forKey: .description)
        try c.encode(checkpoint, forKey: .checkpoint); try c.encode(contentHash, forKey: .contentHash)
        try c.encode(identicalTo, forKey: .identicalTo); try c.encode(scoreSource, forKey: .scoreSource)
        try c.encode(params, forKey: .params); try c.encode(loss, forKey: .loss); try c.encode(lossCI, forKey: .lossCI)
        try c.encode(perplexity, forKey: .perplexity)
        try c.encode(deltaVsBaseline, forKey: .deltaVsBaseline); try c.encode(deltaCI, forKey: .deltaCI)
        try c.encode(pValue, forKey: .pValue); try c.encode(inNoise, forKey: .inNoise)
        try c.encode(deltaVsReference, forKey: .deltaVsReference); try c.encode(deltaReferenceCI, forKey: .deltaReferenceCI)
        try c.encode(gapClosed, forKey: .gapClosed)
        try c.encode(totalSumSq, forKey: .totalSumSq); try c.encode(decaySumSq, forKey: .decaySumSq)
        try c.encode(noDecaySumSq, forKey: .noDecaySumSq)
        try c.encode(hyperparameters, forKey: .hyperparameters)
        try c.encode(tauSteps, forKey: .tauSteps); try c.encode(tauFraction, forKey: .tauFraction)
        try c.encode(stackOf, forKey: .stackOf); try c.encode(expectedIfAdditive, forKey: .expectedIfAdditive)
        try c.encode(hessianTrace, forKey: .hessianTrace); try c.encode(hessianStderr, forKey: .hessianStderr)
        try c.encode(completion, forKey: .completion)
    }
}

/// The seed-noise band: runs that differ only in their seed, and the band's half-width.
public struct SeedNoise: Codable, Sendable {
    public var runs: [String]
    public var halfWidth: Double
    public var rule: String
    enum CodingKeys: String, CodingKey { case runs, halfWidth = "half_width", rule }
}

/// Settings every run was scored and compared with.
public struct ReportSettings: Codable, Sendable {
    public var context: Int
    public var stride: Int
    public var skip: Int
    public var maxTokens: Int?
    public var windows: Int
    public var tokensScored: Int
    public var bootstrap: Int
    public var seed: UInt64
    public var level: Double
    public var hessianSamples: Int
    public var engine: String
    public var pValueRule: String
    enum CodingKeys: String, CodingKey {
        case context, stride, skip, maxTokens = "max_tokens", windows, tokensScored = "tokens_scored", bootstrap
        case seed, level, hessianSamples = "hessian_samples", engine, pValueRule = "p_value_rule"
    }
}

public struct TestSetInfo: Codable, Sendable {
    public var path: String
    public var contentHash: String
    public var tokens: Int
    public var format: String
    enum CodingKeys: String, CodingKey { case path, contentHash = "content_hash", tokens, format }
}

/// Everything `results.json` holds.
public struct ComparisonResults: Codable, Sendable {
    public var title: String
    public var description: String?
    public var manifest: String
    public var testSet: TestSetInfo
    public var settings: ReportSettings
    public var baseline: String
    public var reference: String?
    public var referenceNote: String?
    public var seedNoise: SeedNoise?
    public var runs: [RunResult]
    enum CodingKeys: String, CodingKey {
        case title, description, manifest, testSet = "test_set", settings, baseline, reference
        case referenceNote = "reference_note", seedNoise = "seed_noise", runs
    }
    public func run(_ name: String) -> RunResult? { runs.first { $0.name == name } }
}

/// What the charts need beyond results.json.
public struct ComparisonExtras: Sendable {
    public var norms: [CheckpointNormStats]
    /// Run name → (step, training loss).
    public var lossCurves: [(name: String, points: [(step: Double, loss: Double)])]
}

/// Progress events of `compareRuns`, for the CLI to print.
public enum ComparisonEvent: Sendable {
    /// A run's score: "cached", "scores file" or "scoring".
    case score(run: String, source: String)
    /// Scoring progress in tokens.
    case scoring(run: String, done: Int, total: Int)
    case hessian(run: String, done: Int, total: Int)
    case note(String)
}

/// Problem with a run, named through the manifest.
private func runError(_ m: ReportManifest, _ r: RunSpec, _ problem: String) -> ManifestError {
    ManifestError(m.path, line: r.line, "run '\(r.name)': \(problem)")
}

/// The run's hyperparameters, gaps filled from what its checkpoint records (nanoGPT's config,
/// iter_num and AdamW state), so τ = 1/(ηλ) needs no manifest typing.
func withTraining(_ given: Hyperparameters, _ t: TrainingInfo?) -> Hyperparameters {
    guard let t else { return given }
    var h = given
    let filled = (h.lr == nil && t.learningRate != nil) || (h.weightDecay == nil && t.weightDecay != nil)
        || (h.steps == nil && t.iterNum != nil)
    h.lr = h.lr ?? t.learningRate
    h.weightDecay = h.weightDecay ?? t.weightDecay
    h.steps = h.steps ?? t.iterNum.flatMap { $0 > 0 ? $0 : nil }
    h.avgEffectiveLR = t.avgEffectiveLR
    if filled { h.source = [h.source, "checkpoint"].compactMap { $0 }.joined(separator: "+") }
    return h
}

private func describe(_ error: Error) -> String {
    (error as? LocalizedError)?.errorDescription ?? String(describing: error)
}

/// Scores (or reuses scores of) every run of `manifest` and compares them. See the file comment.
public func compareRuns(_ m: ReportManifest, options: ReportOptions,
                        events: @escaping (ComparisonEvent) -> Void = { _ in }) throws -> (ComparisonResults, ComparisonExtras) {
    // 1. Checks, cheapest first; nothing is scored until all pass.
    let tokens: TokenFile
    do { tokens = try loadTokenIDs(path: m.testSet) } catch { throw ManifestError(m.path, "test_set: \(describe(error))") }
    var configs: [String: GPT2Config] = [:], training: [String: TrainingInfo] = [:]
    let vocab: VocabRows = m.fullVocab ? .all : .tokenizer
    for r in m.runs {
        do { (configs[r.name], training[r.name]) = try checkpointPeek(path: r.checkpoint, heads: r.heads, vocab: vocab) } catch {
            throw runError(m, r, describe(error))
        }
    }
    let T = m.context ?? configs[m.baseline]!.contextLength
    for r in m.runs {
        let c = configs[r.name]!
        // A padded vocabulary (nanoGPT's and llm.c's 50304) holds GPT-2's rows first.
        guard c.vocabSize >= gpt2VocabSize else {
            throw runError(m, r, "vocabulary of \(c.vocabSize) tokens is smaller than GPT-2's \(gpt2VocabSize) (\(r.checkpoint))")
        }
        guard c.contextLength >= T else {
            throw runError(m, r, "context of \(c.contextLength) positions is shorter than the report's \(T); set `context` in the manifest")
        }
    }
    let plan: WindowPlan
    do {
        plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: m.stride ?? T, skip: m.skip, maxTokens: m.maxTokens)
        try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: gpt2VocabSize, path: m.testSet)
    } catch { throw ManifestError(m.path, "test_set: \(describe(error))") }
    let settings = ScoreSettings(context: T, stride: plan.stride, skip: m.skip, maxTokens: m.maxTokens)
    let counts = plan.windows.map(\.scoredCount)
    var given: [String: ScoreReport] = [:]
    for r in m.runs {
        guard let p = r.scores else { continue }
        given[r.name] = try readScoreFile(p, settings: settings, plan: plan, manifest: m, run: r)
    }

    // 2. Hashes, then scores.
    // The test set is keyed by its token ids, not its file bytes: the same text as .txt or as
    // .bin scores the same, and a tokenizer change shows up as new ids.
    let testSetHash = tokens.ids.withUnsafeBytes { hex64(contentHash64($0)) }
    let tokenizer = try options.completionPrompt.map { _ in try GPT2Tokenizer.load() }
    var completions: [String: RunCompletion] = [:]
    var hashes: [String: String] = [:]
    for r in m.runs { hashes[r.name] = try fileContentHash(path: r.checkpoint) }
    let cache = options.cacheDirectory.map(ScoreCache.init(directory:))
    var scores: [String: ScoreReport] = [:], sources: [String: String] = [:]
    var norms: [CheckpointNormStats] = [], hessians: [String: HessianResult] = [:], params: [String: Int] = [:]
    var normOptions = NormOptions()
    normOptions.spectral = false
    for r in m.runs {
        let ck: LoadedCheckpoint
        do { ck = try loadCheckpoint(path: r.checkpoint, heads: r.heads, vocab: vocab) } catch { throw runError(m, r, describe(error)) }
        let rows = ck.weights.config.softmaxVocab
        let key = ScoreCacheKey(checkpointHash: hashes[r.name]!, testSetHash: testSetHash, settings: settings,
                                softmaxRows: rows == gpt2VocabSize ? nil : rows)
        if let t = ck.training { training[r.name] = t }
        for w in ck.warnings { events(.note("\(r.name): \(w)")) }
        if let s = given[r.name] {
            scores[r.name] = s; sources[r.name] = "scores file"
        } else if !options.rescore, let s = cache?.load(key) {
            scores[r.name] = s; sources[r.name] = "cache"
        } else {
            events(.score(run: r.name, source: "scoring"))
            let (report, _, _) = try scoreCheckpoint(ck, tokens: tokens, testSetPath: m.testSet, context: T, stride: plan.stride,
                                                     skip: m.skip, maxTokens: m.maxTokens, threads: options.threads) {
                events(.scoring(run: r.name, done: $0, total: $1))
            }
            scores[r.name] = report; sources[r.name] = "scored"
            try cache?.store(report, for: key)
        }
        if sources[r.name] != "scored" { events(.score(run: r.name, source: sources[r.name] == "cache" ? "cached" : "scores file")) }
        params[r.name] = ck.weights.parameterTensors.reduce(0) { $0 + ck.weights.layout.range($1).count }
        norms.append(checkpointNormStats(checkpoint: r.name, weights: ck.weights, options: normOptions))
        if let prompt = options.completionPrompt, let tokenizer {
            let model = GPT2Model(weights: ck.weights, backend: CPUBackend(threads: options.threads))
            let greedy = try sampleCompletions(model: model, tokenizer: tokenizer, checkpoint: r.checkpoint, prompt: prompt,
                                               mode: .greedy, maxTokens: options.completionTokens)
            let sample = try sampleCompletions(model: model, tokenizer: tokenizer, checkpoint: r.checkpoint, prompt: prompt,
                                               mode: .sample(temperature: options.sampleTemperature, topK: options.sampleTopK),
                                               maxTokens: options.completionTokens, seed: options.seed)
            completions[r.name] = RunCompletion(prompt: prompt, greedy: greedy.samples[0].text, sample: sample.samples[0].text,
                                                seed: options.seed)
        }
        if options.hessianSamples > 0 {
            let backend = CPUBackend(threads: options.threads)
            hessians[r.name] = try hessianAnalysis(weights: ck.weights, backend: backend, tokens: Array(tokens.ids[plan.tokenRange]),
                                                   batch: 4, context: T, samples: options.hessianSamples, seed: options.seed,
                                                   topK: 0) { phase, done, total in
                if phase == "trace" { events(.hessian(run: r.name, done: done, total: total)) }
            }
        }
    }

    // 3. Statistics on the shared windows.
    func nll(_ name: String) -> [Double] { zip(scores[name]!.windowLosses, counts).map { $0 * Double($1) } }
    let B = options.bootstrap, seed = options.seed, level = options.level
    let base = nll(m.baseline), ref = m.reference.map(nll)
    let losses = Dictionary(uniqueKeysWithValues: m.runs.map { r in (r.name, nll(r.name).reduce(0, +) / Double(plan.tokensScored)) })
    let groupRoot = m.seedGroup(of: m.baseline).isEmpty ? m.runs.first { !m.seedGroup(of: $0.name).isEmpty }?.name : m.baseline
    let group = groupRoot.map { m.seedGroup(of: $0) } ?? []
    let band = seedNoiseHalfWidth(group.map { losses[$0]! })
    let seedNoise = band.map {
        SeedNoise(runs: group, halfWidth: $0,
                  rule: "half-width = largest |loss difference| between runs of the seed group; a Δ is in the noise when |Δ| ≤ it (the group's own runs are)")
    }
    var rows: [RunResult] = []
    for r in m.runs {
        let mine = nll(r.name)
        let ci = try bootstrapLossCI(nllSums: mine, counts: counts, resamples: B, seed: seed, level: level)
        let isBase = r.name == m.baseline
        let vsBase = isBase ? nil : try pairedBootstrap(nllSumsA: mine, nllSumsB: base, counts: counts, resamples: B, seed: seed, level: level)
        let vsRef = (ref == nil || r.name == m.reference) ? nil
            : try pairedBootstrap(nllSumsA: mine, nllSumsB: ref!, counts: counts, resamples: B, seed: seed, level: level)
        let h = withTraining(r.hyper, training[r.name])
        let tau = h.lr.flatMap { lr in h.weightDecay.flatMap { adamWTimescale(lr: lr, weightDecay: $0) } }
        let steps = h.steps ?? {
            guard let t = h.tokens, let b = h.batchSize else { return nil }
            return t / (b * configs[r.name]!.contextLength)
        }()
        let hess = hessians[r.name]
        rows.append(RunResult(
            name: r.name, description: r.description, checkpoint: r.checkpoint, contentHash: hashes[r.name]!,
            identicalTo: m.runs.filter { $0.name != r.name && hashes[$0.name] == hashes[r.name] }.map(\.name),
            scoreSource: sources[r.name]!, params: params[r.name]!, loss: ci.estimate, lossCI: [ci.lo, ci.hi],
            perplexity: exp(ci.estimate),
            deltaVsBaseline: isBase ? 0 : vsBase?.delta.estimate, deltaCI: vsBase.map { [$0.delta.lo, $0.delta.hi] },
            pValue: vsBase?.pValue,
            // A member of the seed group is the noise by definition (its |Δ| defines the band; summing
            // in another order could put it a rounding error outside); others compare with a 1e-9 slack.
            inNoise: isBase ? nil : group.contains(r.name) && band != nil ? true
                : band.flatMap { b in vsBase.map { abs($0.delta.estimate) <= b * (1 + 1e-9) } },
            deltaVsReference: r.name == m.reference ? 0 : vsRef?.delta.estimate,
            deltaReferenceCI: vsRef.map { [$0.delta.lo, $0.delta.hi] },
            gapClosed: m.reference.flatMap { gapClosedPercent(baseline: losses[m.baseline]!, run: losses[r.name]!, reference: losses[$0]!) },
            totalSumSq: norms.last { $0.checkpoint == r.name }!.totalSumSq,
            decaySumSq: norms.last { $0.checkpoint == r.name }!.decaySumSq,
            noDecaySumSq: norms.last { $0.checkpoint == r.name }!.noDecaySumSq,
            hyperparameters: h, tauSteps: tau, tauFraction: tau.flatMap { t in steps.map { t / Double($0) } },
            stackOf: r.stackOf, expectedIfAdditive: nil, hessianTrace: hess?.trace, hessianStderr: hess?.stderr,
            completion: completions[r.name]))
    }
    for i in rows.indices where !rows[i].stackOf.isEmpty {
        let parts = rows[i].stackOf.map { p in rows.first { $0.name == p }?.deltaVsBaseline }
        rows[i].expectedIfAdditive = parts.contains { $0 == nil } ? nil : parts.reduce(0) { $0 + $1! }
    }
    let results = ComparisonResults(
        title: m.title, description: m.description, manifest: m.path,
        testSet: TestSetInfo(path: m.testSet, contentHash: testSetHash, tokens: tokens.ids.count, format: tokens.format),
        settings: ReportSettings(context: T, stride: plan.stride, skip: m.skip, maxTokens: m.maxTokens, windows: plan.windows.count,
                                 tokensScored: plan.tokensScored, bootstrap: B, seed: seed, level: level,
                                 hessianSamples: options.hessianSamples, engine: scoringEngineVersion,
                                 pValueRule: "paired bootstrap over windows: p = 2·min(P(Δ*≤0), P(Δ*≥0)), floored at 1/B, capped at 1"),
        baseline: m.baseline, reference: m.reference, referenceNote: m.referenceNote, seedNoise: seedNoise, runs: rows)
    let curves = m.runs.filter { !$0.lossCurve.isEmpty }.map { (name: $0.name, points: $0.lossCurve) }
    return (results, ComparisonExtras(norms: norms, lossCurves: curves))
}

/// A pre-computed score (`gpt2lab score --json`, or a merge of shards): its windows must be
/// exactly the report's.
func readScoreFile(_ path: String, settings: ScoreSettings, plan: WindowPlan, manifest m: ReportManifest,
                   run r: RunSpec) throws -> ScoreReport {
    guard let data = FileManager.default.contents(atPath: path) else { throw runError(m, r, "scores '\(path)': cannot read") }
    let s: ScoreReport
    do { s = try JSONDecoder().decode(ScoreReport.self, from: data) } catch {
        throw runError(m, r, "scores '\(path)': not a `gpt2lab score --json` object (\(describe(error)))")
    }
    let theirs = ScoreSettings(context: s.context, stride: s.stride, skip: s.skip, maxTokens: s.maxTokens)
    guard theirs == settings else {
        throw runError(m, r, "scores '\(path)' used context \(s.context), stride \(s.stride), skip \(s.skip), max_tokens "
                       + "\(s.maxTokens.map(String.init) ?? "none"); the report uses context \(settings.context), stride "
                       + "\(settings.stride), skip \(settings.skip), max_tokens \(settings.maxTokens.map(String.init) ?? "none")")
    }
    guard s.windowLosses.count == plan.windows.count, s.tokensScored == plan.tokensScored else {
        throw runError(m, r, "scores '\(path)' has \(s.windowLosses.count) windows and \(s.tokensScored) tokens; the test set gives "
                       + "\(plan.windows.count) windows and \(plan.tokensScored) tokens (a different test set, or a partial shard?)")
    }
    return s
}
