import Checkpoints
import Engine
import Foundation
import TestSets

/// Scores a loaded checkpoint on token ids with HF's strided-window recipe.
/// - Parameters:
///   - context: window length T; nil = the model's context length.
///   - stride: S in 1...T; nil = T (disjoint windows).
///   - batch: windows per forward; nil picks about 2048 positions per batch.
///   - windowRange: score only these window indices (shards); nil = all.
public func scoreCheckpoint(_ ck: LoadedCheckpoint, tokens: TokenFile, testSetPath: String,
                            context: Int? = nil, stride: Int? = nil, skip: Int = 0, maxTokens: Int? = nil,
                            batch: Int? = nil, threads: Int? = nil, windowRange: Range<Int>? = nil,
                            progress: ((Int, Int) -> Void)? = nil) throws -> (ScoreReport, WindowScores, WindowPlan) {
    let (plan, model, B) = try prepareScoring(ck, tokens: tokens, testSetPath: testSetPath, context: context, stride: stride,
                                              skip: skip, maxTokens: maxTokens, batch: batch, threads: threads)
    let backend = model.backend, T = plan.context
    let windows = Array(plan.windows[windowRange ?? 0..<plan.windows.count])
    let t0 = Date()
    let scores = scoreWindows(model: model, tokens: tokens.ids, windows: windows, batch: B, progress: progress)
    let seconds = Date().timeIntervalSince(t0)
    let settings = ScoreSettings(context: T, stride: plan.stride, skip: skip, maxTokens: maxTokens)
    // Bits per byte only when the whole text was scored.
    let bytes = (skip == 0 && maxTokens == nil && windowRange == nil) ? tokens.utf8Bytes : nil
    let report = ScoreReport(checkpoint: ck.path, layout: ck.layout.rawValue, testSet: testSetPath, settings: settings,
                             batch: B, threads: backend.threads, scores: scores, utf8Bytes: bytes, seconds: seconds,
                             softmaxRows: model.config.softmaxVocab, vocabStored: model.config.vocabSize,
                             precision: model.precision)
    return (report, scores, plan)
}

/// The checks and set-up every scoring shares: the window plan (context at most the model's), the
/// test set's ids within the vocabulary, the model on its kernels, and the batch size.
func prepareScoring(_ ck: LoadedCheckpoint, tokens: TokenFile, testSetPath: String, context: Int?, stride: Int?,
                    skip: Int, maxTokens: Int?, batch: Int?, threads: Int?) throws -> (WindowPlan, GPT2Model, Int) {
    let c = ck.config
    let T = context ?? c.contextLength
    guard T <= c.contextLength else {
        throw TestSetError.badWindows("context \(T) is longer than the model's \(c.contextLength) positions (\(ck.path))")
    }
    let plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: stride ?? T, skip: skip, maxTokens: maxTokens)
    try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: c.softmaxVocab, path: testSetPath)
    let model = GPT2Model(parameters: ck.parameters, backend: CPUBackend(threads: threads))
    return (plan, model, batch ?? defaultBatch(context: T))
}

/// Windows per forward when --batch is not given: about 1024 positions (activations stay
/// small next to the weights: ~56 MB for GPT-2 small at T = 1024).
public func defaultBatch(context T: Int) -> Int { max(1, 1024 / max(T, 1)) }

/// Scores windows in a seeded random order until the mean NLL's interval is as narrow as `rule`
/// asks (Sequential.swift), or every window is read. The report's `loss` is the estimate, `ci95`
/// its interval, `windowIndices` the windows read (visit order); bits per byte only when all were.
public func scoreCheckpointSequential(_ ck: LoadedCheckpoint, tokens: TokenFile, testSetPath: String, rule: SequentialRule,
                                      context: Int? = nil, stride: Int? = nil, skip: Int = 0, maxTokens: Int? = nil,
                                      batch: Int? = nil, threads: Int? = nil,
                                      progress: ((Int, Int) -> Void)? = nil) throws -> (ScoreReport, SampledEstimate) {
    let (plan, model, B) = try prepareScoring(ck, tokens: tokens, testSetPath: testSetPath, context: context, stride: stride,
                                              skip: skip, maxTokens: maxTokens, batch: batch, threads: threads)
    let backend = model.backend, T = plan.context
    let counts = plan.windows.map(\.scoredCount)
    let total = plan.tokensScored
    var done = 0
    let t0 = Date()
    let (estimate, visited, series) = runSequential(order: visitOrder(count: plan.windows.count, seed: rule.seed),
                                                    counts: counts, batch: B, rule: rule) { chunk in
        let s = scoreWindows(model: model, tokens: tokens.ids, windows: chunk.map { plan.windows[$0] }, batch: B)
        done += s.tokensScored
        progress?(done, total)
        return [s.nllSums]
    }
    let seconds = Date().timeIntervalSince(t0)
    let scores = WindowScores(nllSums: series[0], counts: visited.map { counts[$0] })
    let all = visited.count == plan.windows.count
    let settings = ScoreSettings(context: T, stride: plan.stride, skip: skip, maxTokens: maxTokens)
    var report = ScoreReport(checkpoint: ck.path, layout: ck.layout.rawValue, testSet: testSetPath, settings: settings,
                             batch: B, threads: backend.threads, scores: scores,
                             utf8Bytes: (all && skip == 0 && maxTokens == nil) ? tokens.utf8Bytes : nil, seconds: seconds,
                             softmaxRows: model.config.softmaxVocab, vocabStored: model.config.vocabSize,
                             precision: model.precision)
    report.windowIndices = visited
    report.ci95 = [estimate.lo, estimate.hi]
    report.windowsScored = visited.count
    report.windowsTotal = plan.windows.count
    return (report, estimate)
}
