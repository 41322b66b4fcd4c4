// The comparison behind `gpt2lab report`, as a list of phases over one state per run (RunState.swift):
//
//   checks      Prepare.swift       manifest, test set, each checkpoint's header, score files, benchmark
//                                   and step files; nothing is scored until all pass
//   then one run at a time (the baseline first), its checkpoint loaded once and shared by
//   score       ScorePhase.swift    score file, cache or engine (with `ci`, sequentially against the baseline)
//   norms       RunPhases.swift     ‖θ‖² and the parameter count
//   completions RunPhases.swift     greedy and sampled smoke-test completions
//   Hessian     RunPhases.swift     Hutchinson's trace by block and role (`--hessian-samples`), top
//                                   eigenvalues (`--hessian-top`), density (`--hessian-density`)
//   spectra     WhyPhases.swift     the weight matrices' spectra (manifest `spectra`)
//   benchmarks  CompareEvals.swift  HellaSwag / LAMBADA predictions
//   per-token   ComparePerToken.swift  against the baseline's model, kept from its own phases
//   steps       StepLosses.swift    the run's step checkpoints (each loaded once, after the run's is released),
//                                   scored, their spectra with `spectra`, their Hessian with `--hessian-steps`
//   then over every run
//   statistics, rows  RowsPhase.swift  intervals, Δ, the seed band, verdicts, one RunResult per run
//   and the benchmark tables and per-token section;
//   then each `interpolate` pair  InterpolationPhase.swift  the loss along the straight line between two runs
//
// Memory: one run's weights at a time, plus the baseline's while per-token runs remain (as many as
// the per-token comparison itself holds); with `ci`, each run's model stays with its lazily scored
// windows. The Report module turns the results into HTML and charts; nothing here draws or formats.

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
/// With `--device auto` a GPU that is there but refuses the work stops the report with the same line the other
/// commands give (openOnDevice), never a silent CPU run.
public func compareRuns(_ m: ReportManifest, options: ReportOptions,
                        events: @escaping (ComparisonEvent) -> Void = { _ in }) throws -> (ComparisonResults, ComparisonExtras) {
    do { return try compareRuns(m, options: options, opener: .files, events: events) } catch let e as CUDAError where options.device == .auto {
        throw autoDeviceRefusal(ordinal: 0, e)
    }
}

/// `compareRuns` with the checkpoints opened through `opener` (a test counts the opens).
func compareRuns(_ m: ReportManifest, options: ReportOptions, opener: CheckpointOpener,
                 events: @escaping (ComparisonEvent) -> Void) throws -> (ComparisonResults, ComparisonExtras) {
    let (s, checked) = try prepareComparison(m, options: options, opener: opener)   // every check; nothing scored before all pass
    var runs = checked
    // The baseline first: with `ci` each later run pulls its paired windows from it, and the
    // per-token section compares each of its runs with the baseline's model, kept until the last one.
    let order = runs.indices.filter { runs[$0].name == m.baseline } + runs.indices.filter { runs[$0].name != m.baseline }
    let lastPerToken = order.last { m.perToken.contains(runs[$0].name) }
    var baselineModel: (cpu: GPT2Model, gpu: CUDAModel?)?
    for i in order {
        let baselineWindows = runs[order[0]].score?.windows
        try withLoadedCheckpoint(&runs[i], s, events: events) { run, ck in
            run.score = try scorePhase(run, ck, s, baseline: baselineWindows, events: events)
            (run.norms, run.params) = normsPhase(run, ck)
            run.completion = try completionsPhase(run, ck, s)
            run.hessian = try hessianPhase(run.name, ck, s, events: events)
            run.spectra = try spectraPhase(run.name, path: run.spec.checkpoint, ck, s, events: events)
            run.benchmarks = try benchmarkPhase(run, weights: s.vocab == .all ? ck.weights.softmaxing(rows: run.tokenizerRows) : ck.weights,
                                                s, events: events)
            let isBase = run.name == m.baseline
            if isBase ? lastPerToken != nil : m.perToken.contains(run.name) {
                let model = (cpu: GPT2Model(weights: ck.weights, backend: CPUBackend(threads: options.threads)),
                             gpu: try openDevice(s.device, parameters: .f32(ck.weights), math: options.gpuMath))
                if isBase { baselineModel = model } else { run.perToken = try perTokenPhase(run, a: baselineModel!, b: model, s, events: events) }
            }
        }
        if i == lastPerToken { baselineModel = nil }
        (runs[i].steps, runs[i].stepSpectra, runs[i].stepHessian) = try stepsPhase(runs[i], s, events: events)
    }
    let stats = try statisticsPhase(runs, s)
    let (rows, seedNoise) = rowsPhase(runs, stats, s)
    var results = ComparisonResults(
        title: m.title, description: m.description, manifest: m.path,
        testSet: TestSetInfo(path: m.testSet, contentHash: s.testSetHash, tokens: s.tokens.ids.count, format: s.tokens.format),
        settings: reportSettings(s), baseline: m.baseline, reference: m.reference, referenceNote: m.referenceNote,
        seedNoise: seedNoise, runs: rows)
    results.evals = try benchmarkTables(s.evals, m, predictions: Dictionary(uniqueKeysWithValues: runs.map { ($0.name, $0.benchmarks) }),
                                        losses: stats.mapValues(\.loss), level: options.level)
    let perToken = Dictionary(uniqueKeysWithValues: runs.compactMap { r in r.perToken.map { (r.name, $0) } })
    if !m.perToken.isEmpty { results.perToken = m.perToken.compactMap { perToken[$0] } }
    results.hessian = hessianResults(runs, rows: rows)
    results.spectra = spectraResults(runs, rows: rows)
    if !m.interpolate.isEmpty { results.interpolation = try interpolationPhase(s, events: events) }
    let curves = m.runs.filter { !$0.lossCurve.isEmpty }.map { (name: $0.name, points: $0.lossCurve) }
    return (results, ComparisonExtras(norms: runs.map { $0.norms! }, lossCurves: curves))
}

/// Loads run `run`'s checkpoint (once: every phase of the run reads this copy), records what the load
/// says about it, and hands both to `phases`; the weights are released when it returns.
func withLoadedCheckpoint(_ run: inout RunState, _ s: ComparisonSetup, events: @escaping (ComparisonEvent) -> Void,
                          _ phases: (inout RunState, LoadedCheckpoint) throws -> Void) throws {
    let ck: LoadedCheckpoint
    do {
        ck = try s.opener.load(run.spec.checkpoint, run.spec.heads, s.vocab)
        if let stamp = run.stamp { try checkCheckpointUnchanged(path: run.spec.checkpoint, since: stamp) }
    } catch { throw s.runError(run.spec, describeError(error)) }
    if let t = ck.training { run.training = t }
    run.shapeSource = ck.shapeSource.description
    for w in ck.warnings { events(.note("\(run.name): \(w)")) }
    try phases(&run, ck)
}

/// results.json's `settings`.
func reportSettings(_ s: ComparisonSetup) -> ReportSettings {
    let m = s.m, options = s.options
    var settings = ReportSettings(
        context: s.context, stride: s.plan.stride, skip: m.skip, maxTokens: s.plan.limit, windows: s.plan.windows.count,
        tokensScored: s.plan.tokensScored, bootstrap: options.bootstrap, seed: options.seed, level: options.level,
        hessianSamples: options.hessianSamples, engine: scoringEngineVersion,
        pValueRule: m.sequential == nil
            ? "paired circular block bootstrap over consecutive windows (Politis–White block length, ci_block_windows): p = 2·min(P(Δ*≤0), P(Δ*≥0)), floored at 1/B, capped at 1; with fewer than 10 whole blocks in the windows, the two-sided Student t p on k − 1 degrees of freedom of Δ / sd(Δ*), k the whole blocks (and its t interval)"
            : "none: sequential scoring reports the paired Δ's interval, not a p-value",
        precision: options.precision.rawValue,
        sequential: m.sequential.map {
            SequentialSettings(halfWidth: $0.halfWidth, seed: $0.seed, minWindows: $0.minWindows, level: options.level,
                               rule: sequentialRuleDescription)
        })
    settings.device = s.gpu?.scoreKeyName
    if options.hessianSamples > 0 {
        if options.hessianTop > 0 { settings.hessianTop = options.hessianTop }
        settings.hessianDensityVectors = options.hessianDensity?.vectors
        settings.hessianDensitySteps = options.hessianDensity?.steps
        if options.hessianSteps { settings.hessianSteps = true }
    }
    return settings
}

/// What `settings.sequential.rule` says in results.json.
let sequentialRuleDescription = "windows in one seeded random order shared by all runs; each run stops when the "
    + "interval of its mean paired difference to the baseline (ratio estimator, without replacement, finite-population "
    + "corrected, Student t) has half-width ≤ ci after ≥ min_windows windows, or when every window is read"
