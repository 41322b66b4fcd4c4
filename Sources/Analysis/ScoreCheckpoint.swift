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
    let c = ck.weights.config
    let T = context ?? c.contextLength
    guard T <= c.contextLength else {
        throw TestSetError.badWindows("context \(T) is longer than the model's \(c.contextLength) positions (\(ck.path))")
    }
    let plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: stride ?? T, skip: skip, maxTokens: maxTokens)
    try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: c.softmaxVocab, path: testSetPath)
    let range = windowRange ?? 0..<plan.windows.count
    let windows = Array(plan.windows[range])
    let B = batch ?? defaultBatch(context: T)
    let backend = CPUBackend(threads: threads)
    let model = GPT2Model(weights: ck.weights, backend: backend)
    let t0 = Date()
    let scores = scoreWindows(model: model, tokens: tokens.ids, windows: windows, batch: B, progress: progress)
    let seconds = Date().timeIntervalSince(t0)
    let settings = ScoreSettings(context: T, stride: plan.stride, skip: skip, maxTokens: maxTokens)
    // Bits per byte only when the whole text was scored.
    let bytes = (skip == 0 && maxTokens == nil && windowRange == nil) ? tokens.utf8Bytes : nil
    let report = ScoreReport(checkpoint: ck.path, layout: ck.layout.rawValue, testSet: testSetPath, settings: settings,
                             batch: B, threads: backend.threads, scores: scores, utf8Bytes: bytes, seconds: seconds,
                             softmaxRows: c.softmaxVocab, vocabStored: c.vocabSize)
    return (report, scores, plan)
}

/// Windows per forward when --batch is not given: about 1024 positions (activations stay
/// small next to the weights: ~56 MB for GPT-2 small at T = 1024).
public func defaultBatch(context T: Int) -> Int { max(1, 1024 / max(T, 1)) }
