// The score phase: a run's per-window test-set NLL from its score file, the cache, or the engine
// (in full, or window by window when the manifest sets `ci`), and with `ci` its sequential run
// against the baseline (SequentialCompare.swift).

import Checkpoints
import Engine
import Foundation
import Plumbing

/// A run's score: where it came from, the full per-window scores when it has them, and with `ci`
/// its window source (lazily scored) and its sequential run against the baseline.
struct RunScore {
    var source: ScoreSource
    var full: ScoreReport?
    var windows: WindowNLLSource?
    var sequential: SequentialRunScores?
}

/// Scores run `r` on its loaded checkpoint. `baseline` is the baseline's window source (with `ci`;
/// the baseline is scored first), nil for the baseline itself.
func scorePhase(_ r: RunState, _ ck: LoadedCheckpoint, _ s: ComparisonSetup, baseline: WindowNLLSource?,
                events: @escaping (ComparisonEvent) -> Void) throws -> RunScore {
    let m = s.m, options = s.options, name = r.name
    let key = ScoreKey(checkpointHash: r.contentHash, testSetHash: s.testSetHash, settings: s.settings,
                       config: ck.weights.config, precision: options.precision, gpu: s.gpu)
    var score: RunScore
    let lookup: CacheLookup = options.rescore || r.given != nil ? .miss : s.cache?.load(key, counts: s.counts) ?? .miss
    if case let .damaged(why) = lookup { events(.info("\(name): score cache entry not used: \(why); scoring again")) }
    if let given = r.given {
        score = RunScore(source: .scoresFile, full: given)
        events(.score(run: name, source: "scores file"))
    } else if let cached = lookup.score {
        score = RunScore(source: .cache, full: cached)
        events(.score(run: name, source: "cached"))
    } else if m.sequential != nil {
        events(.score(run: name, source: "scoring sequentially"))
        let model = GPT2Model(parameters: ck.parameters.at(options.precision), backend: CPUBackend(threads: options.threads))
        score = RunScore(source: .scoredSequentially,
                         windows: WindowNLLSource(model: model, name: ck.path, tokens: s.tokens.ids, plan: s.plan, batch: defaultBatch(context: s.context)) { _ in })
    } else {
        events(.score(run: name, source: "scoring"))
        let (report, _, _) = try scoreCheckpoint(ck.at(options.precision), tokens: s.tokens, testSetPath: m.testSet, context: s.context,
                                                 stride: s.plan.stride, skip: m.skip, maxTokens: m.maxTokens, threads: options.threads,
                                                 device: s.device, math: options.gpuMath) {
            events(.scoring(run: name, done: $0, total: $1))
        }
        score = RunScore(source: .scored, full: report)
        storeInCache(s.cache, report, key, events)
    }
    guard let rule = s.rule else { return score }
    let src = score.windows ?? WindowNLLSource(full: score.full!.windowScores.nllSums)
    score.windows = src
    let isBase = name == m.baseline
    guard !isBase || m.runs.count == 1 else { return score }
    let q = try sequentialRunScores(run: src, baseline: isBase ? nil : baseline, order: s.order, counts: s.counts,
                                batch: defaultBatch(context: s.context), rule: rule)
    score.sequential = q
    let counts = s.counts
    let est = q.paired ?? ratioEstimate(values: q.run, counts: q.visited.map { counts[$0] }, population: counts.count, level: rule.level)
    events(.info(String(format: "%@: sequential, %d of %d windows (%.1f%%): %@ %.4f ± %.4f", name, q.visited.count,
                        counts.count, 100 * est.fractionScored, q.paired == nil ? "loss" : "Δ vs \(m.baseline)",
                        est.estimate, est.halfWidth)))
    return score
}

/// Stores a score in the cache; a cache that cannot take it (unwritable now, an entry that is a folder) costs a
/// re-score next time, so it is a note, not the end of a report whose scoring is done.
func storeInCache(_ cache: ScoreCache?, _ report: ScoreReport, _ key: ScoreKey, _ events: (ComparisonEvent) -> Void) {
    do { try cache?.store(report, for: key) } catch { events(.info("warning: \(describeError(error)); the score is not cached")) }
}
