// Sequential paired comparison for `gpt2lab report` with `ci = HALF_WIDTH` in the manifest.
//
// Every run visits the windows in one seeded random order (`visitOrder(count:seed:)`, the order
// `score --ci` uses), so every run's windows are a prefix of the same permutation and the baseline
// is scored once, on the longest prefix any run needs. A run is compared with the baseline on the
// paired per-window difference y_i = Σ NLL_run,i − Σ NLL_base,i over the windows' token counts x_i:
// the ratio estimator Σy/Σx of L_run − L_base with the without-replacement (finite-population
// corrected) interval of Sequential.swift, updated after each batch, stopping once its half-width
// is at most `ci` (after `ci_min_windows`) or when the windows run out. Scores that already exist
// in full (cache, `scores` file) are read from there instead of the engine; the stopping rule and
// the numbers are the same either way (up to fp32 rounding from a different batching).

import Checkpoints
import Engine
import Foundation
import TestSets

/// Per-window Σ NLL of one model, read lazily: from full scores when they exist, else scored with
/// the engine the first time a window is asked for and remembered.
final class WindowNLLSource {
    private var known: [Double]
    private var have: [Bool]
    private let scorer: (([Int]) throws -> [Double])?
    /// Windows the engine scored (not read from full scores).
    private(set) var engineWindows = 0

    /// Every window known (a cached or given full score).
    init(full nllSums: [Double]) {
        known = nllSums; have = Array(repeating: true, count: nllSums.count); scorer = nil
    }

    /// `count` windows, scored on demand by `scorer(windowIndices)` (one value per index, same order).
    init(count: Int, scorer: @escaping ([Int]) throws -> [Double]) {
        known = Array(repeating: 0, count: count); have = Array(repeating: false, count: count); self.scorer = scorer
    }

    /// The model on `plan`'s windows of `tokens`, `batch` windows per forward; `progress(windows)`
    /// after each engine call with the windows it scored. A forward that overflows (NaN/Inf) throws
    /// NonFiniteForward naming `name` and the window.
    convenience init(model: GPT2Model, name: String, tokens: [Int32], plan: WindowPlan, batch: Int,
                     progress: @escaping (Int) -> Void) {
        self.init(count: plan.windows.count) { idx in
            let s = scoreWindows(model: model, tokens: tokens, windows: idx.map { plan.windows[$0] }, batch: batch)
            try s.requireFinite(name, windows: idx)
            progress(idx.count)
            return s.nllSums
        }
    }

    func values(_ windows: [Int]) throws -> [Double] {
        let missing = windows.filter { !have[$0] }
        if !missing.isEmpty, let scorer {
            for (w, v) in zip(missing, try scorer(missing)) { known[w] = v; have[w] = true }
            engineWindows += missing.count
        }
        return windows.map { known[$0] }
    }
}

/// The outcome of one run's sequential comparison: the windows read (a prefix of the shared
/// order), both models' values on them, and the paired estimate.
struct SequentialRunScores {
    var visited: [Int]
    var run: [Double]
    var base: [Double]
    var paired: SampledEstimate?
    var stoppedOnWidth: Bool
}

/// Scores `run` against `baseline` with the paired sequential rule; `run === baseline` (or no
/// baseline) scores the run's own loss with the single-series rule instead.
func sequentialRunScores(run: WindowNLLSource, baseline: WindowNLLSource?, order: [Int], counts: [Int], batch: Int,
                         rule: SequentialRule) throws -> SequentialRunScores {
    if let baseline, baseline !== run {
        let r = try runPairedSequential(order: order, counts: counts, batch: batch, rule: rule) { w in
            (try run.values(w), try baseline.values(w))
        }
        return SequentialRunScores(visited: r.visited, run: r.a, base: r.b, paired: r.estimate,
                                   stoppedOnWidth: r.visited.count < order.count)
    }
    let r = try runSequential(order: order, counts: counts, batch: batch, rule: rule) { w in [try run.values(w)] }
    return SequentialRunScores(visited: r.visited, run: r.series[0], base: r.series[0], paired: nil,
                               stoppedOnWidth: r.visited.count < order.count)
}

/// Rows of a sequential report: each run's loss and interval on the windows it read, its paired Δ
/// against the baseline, Δ against the reference on the windows both read; the baseline's loss on
/// the longest prefix (the windows it was scored on).
func sequentialRowStatistics(_ m: ReportManifest, scores: [String: SequentialRunScores], sources: [String: WindowNLLSource],
                             order: [Int], counts: [Int], level: Double) throws -> [String: RowStatistics] {
    let N = order.count
    func ratio(_ y: [Double], _ prefix: Int) -> SampledEstimate {
        ratioEstimate(values: y, counts: order[0..<prefix].map { counts[$0] }, population: N, level: level)
    }
    var out: [String: RowStatistics] = [:]
    let longest = scores.values.map(\.visited.count).max() ?? 0
    for r in m.runs {
        let isBase = r.name == m.baseline
        let n = isBase ? longest : scores[r.name]!.visited.count
        let mine = isBase ? try sources[r.name]!.values(Array(order[0..<n])) : scores[r.name]!.run
        let own = ratio(mine, n)
        let s = scores[r.name]
        let baseLoss = isBase ? own.estimate : s!.base.reduce(0, +) / Double(max(order[0..<n].reduce(0) { $0 + counts[$1] }, 1))
        var row = RowStatistics(loss: own.estimate, lossCI: [own.lo, own.hi])
        if !isBase, let p = s?.paired { row.delta = p.estimate; row.deltaCI = [p.lo, p.hi] }
        if let ref = m.reference, ref != r.name, let refN = ref == m.baseline ? longest : scores[ref]?.visited.count {
            // Both runs' windows are prefixes of one order: compare them on the shorter one.
            let k = min(n, refN)
            let w = Array(order[0..<k])
            let d = ratio(zip(try sources[r.name]!.values(w), try sources[ref]!.values(w)).map { $0 - $1 }, k)
            row.deltaRef = d.estimate; row.deltaRefCI = [d.lo, d.hi]
        }
        row.sequential = SequentialRunResult(
            method: isBase || s?.paired == nil ? .alone : .paired, windowsScored: n, windowsTotal: N,
            fractionRead: Double(n) / Double(max(N, 1)), loss: own.estimate, baselineLoss: baseLoss,
            delta: row.delta, deltaCI: row.deltaCI,
            stopped: n < N ? .halfWidth : .exhausted)
        out[r.name] = row
    }
    return out
}
