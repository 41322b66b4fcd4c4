// The statistics and rows phases, over every run's score: each run's loss with its interval, Δ
// against the baseline and the reference (the window bootstrap on full scores, or each run's
// sequential windows), the seed-noise band and verdicts, then one `RunResult` per run.

import Foundation

/// The statistics a row of the report shows, from full scores (bootstrap) or sequential ones.
struct RowStatistics {
    var loss: Double
    var lossCI: [Double]
    var delta: Double?
    var deltaCI: [Double]?
    var pValue: Double?
    var deltaRef: Double?
    var deltaRefCI: [Double]?
    var sequential: SequentialRunResult?
    var blocks: BootstrapBlocks?
}

/// Rows of a full report: the window bootstrap of Statistics.swift for each run's loss, its
/// paired Δ against the baseline and against the reference.
func bootstrapRowStatistics(_ m: ReportManifest, nll: (String) -> [Double], counts: [Int],
                            options: ReportOptions) throws -> [String: RowStatistics] {
    let B = options.bootstrap, seed = options.seed, level = options.level
    let base = nll(m.baseline), ref = m.reference.map(nll)
    guard !counts.isEmpty else { throw StatisticsError.empty }
    guard B >= 1 else { throw StatisticsError.invalid("resamples must be at least 1, got \(B)") }
    if let r = m.runs.first(where: { nll($0.name).count != counts.count }) {
        throw StatisticsError.mismatched("\(r.name) has \(nll(r.name).count) window NLL sums but \(counts.count) counts")
    }
    func paired(_ a: [Double], _ b: [Double]) -> (comparison: PairedComparison, block: Int) {
        pairedRatioBootstrap(zip(a, b).map { $0 - $1 }, counts: counts, resamples: B, seed: seed, level: level)
    }
    var out: [String: RowStatistics] = [:]
    for r in m.runs {
        let mine = nll(r.name)
        let own = ratioBootstrap(mine, counts: counts, resamples: B, seed: seed, level: level)
        let ci = own.interval
        let againstBase = r.name == m.baseline ? nil : paired(mine, base)
        let vsBase = againstBase?.comparison
        let vsRef = (ref == nil || r.name == m.reference) ? nil : paired(mine, ref!).comparison
        let blocks = BootstrapBlocks(loss: own.block, delta: againstBase?.block)
        out[r.name] = RowStatistics(loss: ci.estimate, lossCI: [ci.lo, ci.hi], delta: vsBase?.delta.estimate,
                                    deltaCI: vsBase.map { [$0.delta.lo, $0.delta.hi] }, pValue: vsBase?.pValue,
                                    deltaRef: vsRef?.delta.estimate, deltaRefCI: vsRef.map { [$0.delta.lo, $0.delta.hi] }, blocks: blocks)
    }
    return out
}

/// The statistics phase: each run's `RowStatistics`, by name.
func statisticsPhase(_ runs: [RunState], _ s: ComparisonSetup) throws -> [String: RowStatistics] {
    let byName = Dictionary(uniqueKeysWithValues: runs.map { ($0.name, $0) })
    guard s.m.sequential != nil else {
        return try bootstrapRowStatistics(s.m, nll: { byName[$0]!.score!.full!.windowScores.nllSums }, counts: s.counts, options: s.options)
    }
    return try sequentialRowStatistics(s.m, scores: byName.compactMapValues { $0.score?.sequential },
                                   sources: byName.compactMapValues { $0.score?.windows }, order: s.order, counts: s.counts,
                                   level: s.options.level)
}

/// The rows phase: one `RunResult` per run in manifest order, with the seed-noise band its verdicts used.
func rowsPhase(_ runs: [RunState], _ stats: [String: RowStatistics], _ s: ComparisonSetup) -> (rows: [RunResult], seedNoise: SeedNoise?) {
    let m = s.m
    // What the seed band and the gap compare: full-set losses, or (sequential) each run's paired Δ
    // against the baseline, whose differences estimate the same loss differences.
    let comparable = m.sequential == nil ? stats.mapValues(\.loss) : stats.mapValues { $0.delta ?? 0 }   // the baseline's Δ is 0
    let groupRoot = m.seedGroup(of: m.baseline).isEmpty ? m.runs.first { !m.seedGroup(of: $0.name).isEmpty }?.name : m.baseline
    let group = groupRoot.map { m.seedGroup(of: $0) } ?? []
    let band = seedNoiseHalfWidth(group.map { comparable[$0]! })
    let seedNoise = band.map {
        SeedNoise(runs: group, halfWidth: $0,
                  rule: "half-width = largest |loss difference| between runs of the seed group; a Δ is in the noise when |Δ| ≤ it (the group's own runs are when the group holds the baseline; otherwise they compare with the baseline like any run)")
    }
    var rows: [RunResult] = []
    for run in runs {
        let r = run.spec, st = stats[r.name]!, norms = run.norms!
        let isBase = r.name == m.baseline
        let h = withTraining(r.hyper, run.training)
        let tau = h.lr.flatMap { lr in h.weightDecay.flatMap { adamWTimescale(lr: lr, weightDecay: $0) } }
        let steps = h.steps ?? h.tokens.flatMap { t in h.batchSize.flatMap { trainingSteps(tokens: t, batchSize: $0, context: run.config.contextLength) } }
        let verdict = isBase ? (inNoise: nil, verdict: nil)
            : runVerdict(delta: st.delta, deltaCI: st.deltaCI, band: band,
                         sameSeedGroupAsBaseline: group.contains(m.baseline) && group.contains(r.name))
        rows.append(RunResult(
            name: r.name, description: r.description, checkpoint: r.checkpoint, contentHash: run.contentHash,
            identicalTo: runs.filter { $0.name != r.name && $0.contentHash == run.contentHash }.map(\.name),
            scoreSource: run.score!.source, params: run.params, loss: st.loss, lossCI: st.lossCI,
            perplexity: exp(st.loss),
            deltaVsBaseline: isBase ? 0 : st.delta, deltaCI: st.deltaCI, pValue: st.pValue,
            inNoise: verdict.inNoise, verdict: verdict.verdict,
            deltaVsReference: r.name == m.reference ? 0 : st.deltaRef, deltaReferenceCI: st.deltaRefCI,
            gapClosed: m.reference.flatMap { gapClosedPercent(baseline: comparable[m.baseline]!, run: comparable[r.name]!,
                                                              reference: comparable[$0]!) },
            totalSumSq: norms.totalSumSq, decaySumSq: norms.decaySumSq, noDecaySumSq: norms.noDecaySumSq,
            hyperparameters: h, tauSteps: tau, tauFraction: tau.flatMap { t in steps.flatMap { $0 > 0 ? t / Double($0) : nil } },
            stackOf: r.stackOf, expectedIfAdditive: nil, hessianTrace: run.hessian?.trace, hessianStderr: run.hessian?.stderr,
            completion: run.completion, sequential: st.sequential, shapeSource: run.shapeSource, ciBlocks: st.blocks))
        if let stepLosses = run.steps { rows[rows.count - 1].stepLosses = withFinalStep(stepLosses, row: rows[rows.count - 1]) }
    }
    for i in rows.indices where !rows[i].stackOf.isEmpty {
        let parts = rows[i].stackOf.map { p in rows.first { $0.name == p }?.deltaVsBaseline }
        rows[i].expectedIfAdditive = parts.contains { $0 == nil } ? nil : parts.reduce(0) { $0 + $1! }
    }
    return (rows, seedNoise)
}
