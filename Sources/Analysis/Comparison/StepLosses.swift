// Test loss across training steps for `gpt2lab report` (`loss_across_steps = true`): each run's
// step checkpoints (its `step_checkpoints`, else the `step-N` / `…-iter=N` files beside its
// checkpoint, TrainingSteps.swift) scored on the report's windows — fully (through the score
// cache), or, with `ci`, sequentially on the run's own loss in the report's shared visiting order.
// The run's own checkpoint is the last point, at its `steps`, with its row's loss.

import Checkpoints
import Engine
import Foundation
import Plumbing
import TestSets

/// Each run's step checkpoints, checked like the runs' own before anything is scored: readable,
/// GPT-2's vocabulary, context at least the report's. Runs without any are left out.
func planStepCheckpoints(_ m: ReportManifest, context T: Int, vocab: VocabRows, opener: CheckpointOpener) throws -> [String: [(step: Int, path: String)]] {
    guard m.lossAcrossSteps else { return [:] }
    var out: [String: [(step: Int, path: String)]] = [:]
    for r in m.runs {
        let found: [(step: Int, path: String)]
        do {
            found = try r.stepCheckpoints.map { ps in ps.map { (trainingStep(fromPath: $0) ?? 0, $0) }.sorted { $0.0 < $1.0 } }
                ?? stepCheckpoints(besides: r.checkpoint)
        } catch {
            throw runError(m, r, "step checkpoints: \(describeError(error))")
        }
        for (_, p) in found {
            let c: GPT2Config
            do { c = try opener.peek(p, r.heads, vocab).config } catch {
                throw runError(m, r, "step checkpoint: \(describeError(error))")
            }
            guard c.vocabSize >= gpt2VocabSize, c.contextLength >= T else {
                throw runError(m, r, "step checkpoint \(p) has vocabulary \(c.vocabSize) and "
                               + "context \(c.contextLength); the report needs ≥ \(gpt2VocabSize) and ≥ \(T)")
            }
        }
        if !found.isEmpty { out[r.name] = found }
    }
    return out
}

/// The steps phase: run `r`'s step checkpoints (see the file comment) scored in step order, each
/// loaded once, and their spectra with `spectra = true`; nil when it has none.
func stepsPhase(_ r: RunState, _ s: ComparisonSetup, events: @escaping (ComparisonEvent) -> Void) throws
    -> (losses: [StepLoss]?, spectra: [StepSpectra]?, hessian: [StepHessian]?) {
    guard let steps = s.stepPlan[r.name] else { return (nil, nil, nil) }
    var spectra: [StepSpectra] = [], hessian: [StepHessian] = []
    let options = s.options, counts = s.counts, N = counts.count
    let cache = s.cache
    var out: [StepLoss] = []
    for (step, path) in steps {
        let label = "\(r.name) step \(step)"
        let (hash, ck) = try hashedCheckpoint(path: path) { try s.opener.load(path, r.spec.heads, s.vocab) }
        if let sp = try spectraPhase(label, path: path, ck, s, events: events) { spectra.append(StepSpectra(step: step, spectra: sp)) }
        if s.options.hessianSteps, let h = try hessianPhase(label, ck, s, events: events) {
            hessian.append(StepHessian(step: step, hessian: RunHessian(run: label, h)))
        }
        var normOptions = NormOptions()
        normOptions.spectral = false
        let norms = checkpointNormStats(checkpoint: path, weights: ck.weights, options: normOptions)
        let key = ScoreKey(checkpointHash: hash, testSetHash: s.testSetHash, settings: s.settings,
                           config: ck.weights.config, precision: options.precision)
        let lookup: CacheLookup = options.rescore ? .miss : cache?.load(key, counts: counts) ?? .miss
        if case let .damaged(why) = lookup { events(.info("\(label): score cache entry not used: \(why); scoring again")) }
        var full = lookup.score
        var source: StepSource = full == nil ? .scored : .cache
        if let rule = s.rule {
            let src = full.map { WindowNLLSource(full: $0.windowScores.nllSums) } ?? WindowNLLSource(
                model: GPT2Model(parameters: ck.parameters.at(options.precision), backend: CPUBackend(threads: options.threads)),
                name: path, tokens: s.tokens.ids,
                plan: s.plan, batch: defaultBatch(context: s.plan.context)) { _ in }
            events(.score(run: label, source: full == nil ? "scoring sequentially" : "cached"))
            let q = try sequentialRunScores(run: src, baseline: nil, order: s.order, counts: counts,
                                        batch: defaultBatch(context: s.plan.context), rule: rule)
            let e = ratioEstimate(values: q.run, counts: q.visited.map { counts[$0] }, population: N, level: rule.level)
            out.append(StepLoss(step: step, checkpoint: path, loss: e.estimate, lossCI: [e.lo, e.hi], windowsScored: q.visited.count,
                                windowsTotal: N, source: source, totalSumSq: norms.totalSumSq, decaySumSq: norms.decaySumSq))
            continue
        }
        if full == nil {
            events(.score(run: label, source: "scoring"))
            let (report, _, _) = try scoreCheckpoint(ck.at(options.precision), tokens: s.tokens, testSetPath: s.m.testSet,
                                                     context: s.plan.context, stride: s.plan.stride, skip: s.m.skip,
                                                     maxTokens: s.m.maxTokens, threads: options.threads) {
                events(.scoring(run: label, done: $0, total: $1))
            }
            storeInCache(cache, report, key, events)
            full = report; source = .scored
        } else {
            events(.score(run: label, source: "cached"))
        }
        let w = full!.windowScores
        out.append(StepLoss(step: step, checkpoint: path, loss: w.loss, lossCI: nil, windowsScored: N, windowsTotal: N, source: source,
                            totalSumSq: norms.totalSumSq, decaySumSq: norms.decaySumSq))
    }
    return (out, s.m.spectra ? spectra : nil, hessian.isEmpty ? nil : hessian)
}

/// The run's step losses followed by its own checkpoint at `steps` (when known and not already a step).
func withFinalStep(_ steps: [StepLoss], row: RunResult) -> [StepLoss] {
    guard let n = row.hyperparameters.steps, !steps.contains(where: { $0.step == n }) else { return steps }
    let s = row.sequential
    return (steps + [StepLoss(step: n, checkpoint: row.checkpoint, loss: row.loss, lossCI: s == nil ? nil : row.lossCI,
                              windowsScored: s?.windowsScored ?? steps.first?.windowsTotal ?? 0,
                              windowsTotal: s?.windowsTotal ?? steps.first?.windowsTotal ?? 0, source: .run,
                              totalSumSq: row.totalSumSq, decaySumSq: row.decaySumSq)])
        .sorted { $0.step < $1.step }
}
