// The comparison behind `gpt2lab report`: score every run of a manifest on the same windows
// (from the cache, a pre-computed score file, or the engine), then the statistics of
// Statistics.swift, weight norms, AdamW timescales and (optionally) Hessian traces. The Report
// module turns the results into HTML and charts; nothing here draws or formats.
//
// Order of work: every check first (manifest, test set, each checkpoint's vocabulary and
// context, each score file's settings), then the expensive part, one run at a time.

import Checkpoints
import Engine
import Foundation
import Plumbing
import TestSets
import Tokenizer

/// Problem with a run, named through the manifest.
func runError(_ m: ReportManifest, _ r: RunSpec, _ problem: String) -> ManifestError {
    ManifestError(m.path, line: r.line, "run '\(r.name)': \(problem)")
}

func describeError(_ error: Error) -> String {
    (error as? LocalizedError)?.errorDescription ?? String(describing: error)
}

/// Scores (or reuses scores of) every run of `manifest` and compares them. See the file comment.
public func compareRuns(_ m: ReportManifest, options: ReportOptions,
                        events: @escaping (ComparisonEvent) -> Void = { _ in }) throws -> (ComparisonResults, ComparisonExtras) {
    // 1. Checks, cheapest first; nothing is scored until all pass.
    let tokens: TokenFile
    do { tokens = try loadTokenIDs(path: m.testSet) } catch { throw ManifestError(m.path, "test_set: \(describeError(error))") }
    var configs: [String: GPT2Config] = [:], training: [String: TrainingInfo] = [:]
    let vocab: VocabRows = m.fullVocab ? .all : .tokenizer
    for r in m.runs {
        do { (configs[r.name], training[r.name]) = try checkpointPeek(path: r.checkpoint, heads: r.heads, headsGivenBy: .manifest, vocab: vocab) } catch {
            throw runError(m, r, describeError(error))
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
    try checkPerTokenRuns(m, configs: configs)
    let plan: WindowPlan
    do {
        plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: m.stride ?? T, skip: m.skip, maxTokens: m.maxTokens)
        try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: gpt2VocabSize, path: m.testSet)
    } catch { throw ManifestError(m.path, "test_set: \(describeError(error))") }
    let settings = ScoreSettings(context: T, stride: plan.stride, skip: m.skip, maxTokens: m.maxTokens)
    let counts = plan.windows.map(\.scoredCount)
    let evalSets = try prepareEvals(m)
    let stepPlan = try planStepCheckpoints(m, context: T, vocab: vocab)
    var given: [String: ScoreReport] = [:]
    for r in m.runs {
        guard let p = r.scores else { continue }
        given[r.name] = try readScoreFile(p, settings: settings, plan: plan, manifest: m, run: r)
    }

    // 2. Hashes, then scores.
    // The test set is keyed by its token ids, not its file bytes: the same text as .txt or as
    // .bin scores the same, and a tokenizer change shows up as new ids.
    let testSetHash = tokens.contentHash
    let tokenizer = try options.completionPrompt.map { _ in try GPT2Tokenizer.load() }
    var completions: [String: RunCompletion] = [:]
    var hashes: [String: String] = [:]
    for r in m.runs { hashes[r.name] = try fileContentHash(path: r.checkpoint) }
    let cache = options.cacheDirectory.map(ScoreCache.init(directory:))
    var scores: [String: ScoreReport] = [:], sources: [String: String] = [:], shapeSources: [String: String] = [:]
    var norms: [CheckpointNormStats] = [], hessians: [String: HessianResult] = [:], params: [String: Int] = [:]
    var normOptions = NormOptions()
    normOptions.spectral = false
    // Sequential (`ci`): one visiting order for every run; the baseline goes first so that each
    // later run can pull its paired baseline windows from it (SequentialCompare.swift).
    let order = m.sequential.map { visitOrder(count: plan.windows.count, seed: $0.seed) } ?? []
    let rule = m.sequential.map { r -> SequentialRule in var r = r; r.level = options.level; return r }   // the report's level
    var nllSources: [String: WindowNLLSource] = [:], sequential: [String: SequentialRunScores] = [:]
    let (device, gpu) = try settleDevice(options.device)
    let runOrder = m.sequential == nil ? m.runs : m.runs.filter { $0.name == m.baseline } + m.runs.filter { $0.name != m.baseline }
    for r in runOrder {
        let ck: LoadedCheckpoint
        do { ck = try loadCheckpoint(path: r.checkpoint, heads: r.heads, headsGivenBy: .manifest, vocab: vocab) } catch { throw runError(m, r, describeError(error)) }
        let key = ScoreKey(checkpointHash: hashes[r.name]!, testSetHash: testSetHash, settings: settings,
                           config: ck.weights.config, precision: options.precision, gpu: gpu)
        if let t = ck.training { training[r.name] = t }
        shapeSources[r.name] = ck.shapeSource.description
        for w in ck.warnings { events(.note("\(r.name): \(w)")) }
        if let s = given[r.name] {
            scores[r.name] = s; sources[r.name] = "scores file"
        } else if !options.rescore, let s = cache?.load(key) {
            scores[r.name] = s; sources[r.name] = "cache"
        } else if m.sequential != nil {
            events(.score(run: r.name, source: "scoring sequentially"))
            let model = GPT2Model(parameters: ck.parameters.at(options.precision), backend: CPUBackend(threads: options.threads))
            nllSources[r.name] = WindowNLLSource(model: model, tokens: tokens.ids, plan: plan, batch: defaultBatch(context: T)) { _ in }
            sources[r.name] = "scored (sequential)"
        } else {
            events(.score(run: r.name, source: "scoring"))
            let (report, _, _) = try scoreCheckpoint(ck.at(options.precision), tokens: tokens, testSetPath: m.testSet, context: T, stride: plan.stride,
                                                     skip: m.skip, maxTokens: m.maxTokens, threads: options.threads, device: device) {
                events(.scoring(run: r.name, done: $0, total: $1))
            }
            scores[r.name] = report; sources[r.name] = "scored"
            try cache?.store(report, for: key)
        }
        if sources[r.name] == "cache" || sources[r.name] == "scores file" {
            events(.score(run: r.name, source: sources[r.name] == "cache" ? "cached" : "scores file"))
        }
        if let rule {
            let src = nllSources[r.name] ?? WindowNLLSource(full: scores[r.name]!.windowScores.nllSums)
            nllSources[r.name] = src
            if r.name != m.baseline || m.runs.count == 1 {
                let q = sequentialRunScores(run: src, baseline: r.name == m.baseline ? nil : nllSources[m.baseline], order: order,
                                            counts: counts, batch: defaultBatch(context: T), rule: rule)
                sequential[r.name] = q
                let est = q.paired ?? ratioEstimate(values: q.run, counts: q.visited.map { counts[$0] }, population: counts.count, level: rule.level)
                events(.info(String(format: "%@: sequential, %d of %d windows (%.1f%%): %@ %.4f ± %.4f", r.name, q.visited.count,
                                    counts.count, 100 * est.fractionScored, q.paired == nil ? "loss" : "Δ vs \(m.baseline)",
                                    est.estimate, est.halfWidth)))
            }
        }
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

    norms.sort { a, b in m.runs.firstIndex { $0.name == a.checkpoint }! < m.runs.firstIndex { $0.name == b.checkpoint }! }

    // 3. Statistics on the shared windows (full scores), or on each run's sequential windows.
    let B = options.bootstrap, seed = options.seed, level = options.level
    let stats = m.sequential == nil
        ? try bootstrapRowStatistics(m, nll: { scores[$0]!.windowScores.nllSums }, counts: counts, options: options)
        : sequentialRowStatistics(m, scores: sequential, sources: nllSources, order: order, counts: counts, level: level)
    // What the seed band and the gap compare: full-set losses, or (sequential) each run's paired Δ
    // against the baseline, whose differences estimate the same loss differences.
    let losses = stats.mapValues(\.loss)
    let comparable = m.sequential == nil ? losses : stats.mapValues { $0.delta ?? 0 }   // the baseline's Δ is 0
    let groupRoot = m.seedGroup(of: m.baseline).isEmpty ? m.runs.first { !m.seedGroup(of: $0.name).isEmpty }?.name : m.baseline
    let group = groupRoot.map { m.seedGroup(of: $0) } ?? []
    let band = seedNoiseHalfWidth(group.map { comparable[$0]! })
    let seedNoise = band.map {
        SeedNoise(runs: group, halfWidth: $0,
                  rule: "half-width = largest |loss difference| between runs of the seed group; a Δ is in the noise when |Δ| ≤ it (the group's own runs are when the group holds the baseline; otherwise they compare with the baseline like any run)")
    }
    var rows: [RunResult] = []
    for r in m.runs {
        let st = stats[r.name]!
        let isBase = r.name == m.baseline
        let h = withTraining(r.hyper, training[r.name])
        let tau = h.lr.flatMap { lr in h.weightDecay.flatMap { adamWTimescale(lr: lr, weightDecay: $0) } }
        let steps = h.steps ?? {
            guard let t = h.tokens, let b = h.batchSize else { return nil }
            return t / (b * configs[r.name]!.contextLength)
        }()
        let hess = hessians[r.name]
        let verdict = isBase ? (inNoise: nil, verdict: nil)
            : runVerdict(delta: st.delta, deltaCI: st.deltaCI, band: band,
                         sameSeedGroupAsBaseline: group.contains(m.baseline) && group.contains(r.name))
        rows.append(RunResult(
            name: r.name, description: r.description, checkpoint: r.checkpoint, contentHash: hashes[r.name]!,
            identicalTo: m.runs.filter { $0.name != r.name && hashes[$0.name] == hashes[r.name] }.map(\.name),
            scoreSource: sources[r.name]!, params: params[r.name]!, loss: st.loss, lossCI: st.lossCI,
            perplexity: exp(st.loss),
            deltaVsBaseline: isBase ? 0 : st.delta, deltaCI: st.deltaCI, pValue: st.pValue,
            inNoise: verdict.inNoise, verdict: verdict.verdict,
            deltaVsReference: r.name == m.reference ? 0 : st.deltaRef, deltaReferenceCI: st.deltaRefCI,
            gapClosed: m.reference.flatMap { gapClosedPercent(baseline: comparable[m.baseline]!, run: comparable[r.name]!,
                                                              reference: comparable[$0]!) },
            totalSumSq: norms.last { $0.checkpoint == r.name }!.totalSumSq,
            decaySumSq: norms.last { $0.checkpoint == r.name }!.decaySumSq,
            noDecaySumSq: norms.last { $0.checkpoint == r.name }!.noDecaySumSq,
            hyperparameters: h, tauSteps: tau, tauFraction: tau.flatMap { t in steps.map { t / Double($0) } },
            stackOf: r.stackOf, expectedIfAdditive: nil, hessianTrace: hess?.trace, hessianStderr: hess?.stderr,
            completion: completions[r.name], sequential: st.sequential, shapeSource: shapeSources[r.name]))
    }
    let stepScoring = StepScoring(tokens: tokens, testSetPath: m.testSet, plan: plan, settings: settings, testSetHash: testSetHash,
                                  cache: cache, rule: rule, order: order, vocab: vocab)
    for i in rows.indices {
        guard let steps = stepPlan[rows[i].name], let r = m.run(rows[i].name) else { continue }
        rows[i].stepLosses = withFinalStep(try scoreStepCheckpoints(steps, run: r, stepScoring, options: options, events: events), row: rows[i])
    }
    for i in rows.indices where !rows[i].stackOf.isEmpty {
        let parts = rows[i].stackOf.map { p in rows.first { $0.name == p }?.deltaVsBaseline }
        rows[i].expectedIfAdditive = parts.contains { $0 == nil } ? nil : parts.reduce(0) { $0 + $1! }
    }
    var results = ComparisonResults(
        title: m.title, description: m.description, manifest: m.path,
        testSet: TestSetInfo(path: m.testSet, contentHash: testSetHash, tokens: tokens.ids.count, format: tokens.format),
        settings: ReportSettings(context: T, stride: plan.stride, skip: m.skip, maxTokens: m.maxTokens, windows: plan.windows.count,
                                 tokensScored: plan.tokensScored, bootstrap: B, seed: seed, level: level,
                                 hessianSamples: options.hessianSamples, engine: scoringEngineVersion,
                                 pValueRule: m.sequential == nil
                                     ? "paired bootstrap over windows: p = 2·min(P(Δ*≤0), P(Δ*≥0)), floored at 1/B, capped at 1"
                                     : "none: sequential scoring reports the paired Δ's interval, not a p-value",
                                 precision: options.precision.rawValue,
                                 sequential: m.sequential.map {
                                     SequentialSettings(halfWidth: $0.halfWidth, seed: $0.seed, minWindows: $0.minWindows, level: level,
                                                        rule: sequentialRuleDescription)
                                 }),
        baseline: m.baseline, reference: m.reference, referenceNote: m.referenceNote, seedNoise: seedNoise, runs: rows)
    results.settings.device = gpu?.scoreKeyName
    results.evals = try compareEvals(evalSets, m, losses: losses, options: options, events: events)
    if !m.perToken.isEmpty {
        results.perToken = try comparePerToken(m, tokens: tokens, context: T, vocab: vocab, options: options, events: events)
    }
    let curves = m.runs.filter { !$0.lossCurve.isEmpty }.map { (name: $0.name, points: $0.lossCurve) }
    return (results, ComparisonExtras(norms: norms, lossCurves: curves))
}

/// What `settings.sequential.rule` says in results.json.
let sequentialRuleDescription = "windows in one seeded random order shared by all runs; each run stops when the "
    + "interval of its mean paired difference to the baseline (ratio estimator, without replacement, finite-population "
    + "corrected, Student t) has half-width ≤ ci after ≥ min_windows windows, or when every window is read"

/// Rows of a full report: the window bootstrap of Statistics.swift for each run's loss, its
/// paired Δ against the baseline and against the reference.
func bootstrapRowStatistics(_ m: ReportManifest, nll: (String) -> [Double], counts: [Int],
                            options: ReportOptions) throws -> [String: RowStatistics] {
    let B = options.bootstrap, seed = options.seed, level = options.level
    let base = nll(m.baseline), ref = m.reference.map(nll)
    var out: [String: RowStatistics] = [:]
    for r in m.runs {
        let mine = nll(r.name)
        let ci = try bootstrapLossCI(nllSums: mine, counts: counts, resamples: B, seed: seed, level: level)
        let vsBase = r.name == m.baseline ? nil
            : try pairedBootstrap(nllSumsA: mine, nllSumsB: base, counts: counts, resamples: B, seed: seed, level: level)
        let vsRef = (ref == nil || r.name == m.reference) ? nil
            : try pairedBootstrap(nllSumsA: mine, nllSumsB: ref!, counts: counts, resamples: B, seed: seed, level: level)
        out[r.name] = RowStatistics(loss: ci.estimate, lossCI: [ci.lo, ci.hi], delta: vsBase?.delta.estimate,
                                    deltaCI: vsBase.map { [$0.delta.lo, $0.delta.hi] }, pValue: vsBase?.pValue,
                                    deltaRef: vsRef?.delta.estimate, deltaRefCI: vsRef.map { [$0.delta.lo, $0.delta.hi] })
    }
    return out
}

/// A pre-computed score (`gpt2lab score --json`, or a merge of shards): its windows must be
/// exactly the report's.
func readScoreFile(_ path: String, settings: ScoreSettings, plan: WindowPlan, manifest m: ReportManifest,
                   run r: RunSpec) throws -> ScoreReport {
    guard let data = FileManager.default.contents(atPath: path) else { throw runError(m, r, "scores '\(path)': cannot read") }
    let s: ScoreReport
    do { s = try JSONDecoder().decode(ScoreReport.self, from: data) } catch {
        throw runError(m, r, "scores '\(path)': not a `gpt2lab score --json` object (\(shortDecodingError(error)))")
    }
    let theirs = ScoreSettings(context: s.context, stride: s.stride, skip: s.skip, maxTokens: s.maxTokens)
    guard theirs == settings else {
        throw runError(m, r, "scores '\(path)' used context \(s.context), stride \(s.stride), skip \(s.skip), max_tokens "
                       + "\(s.maxTokens.map(String.init) ?? "none"); the report uses context \(settings.context), stride "
                       + "\(settings.stride), skip \(settings.skip), max_tokens \(settings.maxTokens.map(String.init) ?? "none")")
    }
    if let n = s.windowsScored, let total = s.windowsTotal, s.windowIndices != nil {
        throw runError(m, r, "scores '\(path)' is a sequential (--ci) score of \(n) of \(total) windows; the report needs every window (score without --ci, or set `ci` in the manifest)")
    }
    guard s.windowScores.counts == plan.windows.map(\.scoredCount) else {
        throw runError(m, r, "scores '\(path)' has \(s.windowScores.counts.count) windows and \(s.tokensScored) tokens; the test set gives "
                       + "\(plan.windows.count) windows and \(plan.tokensScored) tokens (a different test set, or a partial shard?)")
    }
    return s
}
