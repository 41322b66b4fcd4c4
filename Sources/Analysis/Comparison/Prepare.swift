// The report's checks, cheapest first, before anything is scored: the manifest's test set, each
// run's checkpoint header (vocabulary, context, per-token rows), the windows, the benchmark files,
// the step checkpoints, the score files, the frequency file, the interpolation pairs' shapes, then the
// hashes and the device. What they settle is the
// `ComparisonSetup` every phase reads.

import Checkpoints
import Engine
import Foundation
import Plumbing
import TestSets
import Tokenizer

/// Everything the phases share: the checked manifest and options, the test set and its windows,
/// and what the checks read once for all runs.
struct ComparisonSetup {
    let m: ReportManifest
    let options: ReportOptions
    let opener: CheckpointOpener
    let tokens: TokenFile
    /// The report's context T.
    let context: Int
    let plan: WindowPlan
    let settings: ScoreSettings
    /// Scored tokens per window.
    let counts: [Int]
    let vocab: VocabRows
    let evals: PreparedEvals
    let stepPlan: [String: [(step: Int, path: String)]]
    /// The test set is keyed by its token ids, not its file bytes: the same text as .txt or as
    /// .bin scores the same, and a tokenizer change shows up as new ids.
    let testSetHash: String
    /// Loaded once when completions, benchmarks or the per-token section need it.
    let tokenizer: GPT2Tokenizer?
    let cache: ScoreCache?
    /// Sequential (`ci`): one visiting order for every run, and the rule at the report's level.
    let order: [Int]
    let rule: SequentialRule?
    let device: ComputeDevice
    let gpu: GPUInfo?
    /// The manifest's `frequencies` file, counted once for every per-token comparison.
    let frequencies: TokenFrequencies?

    func runError(_ r: RunSpec, _ problem: String) -> ManifestError { Analysis.runError(m, r, problem) }
}

/// Runs every check (see the file comment); returns the setup and each run's state, in manifest order.
func prepareComparison(_ m: ReportManifest, options: ReportOptions, opener: CheckpointOpener) throws -> (ComparisonSetup, [RunState]) {
    if options.hessianSteps && !m.lossAcrossSteps {
        throw ManifestError(m.path, "--hessian-steps needs loss_across_steps = true in the manifest (the step checkpoints)")
    }
    let tokens: TokenFile
    do { tokens = try loadTokenIDs(path: m.testSet) } catch { throw ManifestError(m.path, "test_set: \(describeError(error))") }
    let vocab: VocabRows = m.fullVocab ? .all : .tokenizer
    // Read with GPT-2's rows (the benchmarks softmax over those whatever `full_vocab` says), then as the report softmaxes.
    var headers: [(config: GPT2Config, training: TrainingInfo?)] = [], tokenizerRows: [Int?] = []
    for r in m.runs {
        do { headers.append(try opener.peek(r.checkpoint, r.heads, .tokenizer)) } catch { throw runError(m, r, describeError(error)) }
        tokenizerRows.append(headers[headers.count - 1].config.softmaxRows)
        if vocab == .all { headers[headers.count - 1].config.softmaxRows = nil }
    }
    let configs = Dictionary(uniqueKeysWithValues: zip(m.runs.map(\.name), headers.map(\.config)))
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
    // bf16 products have no f32 math: the key names it only for f32, as CUDAModel records it.
    let (device, gpu) = try settleDevice(options.device, math: options.precision == .bf16 ? nil : options.gpuMath)
    if options.hessianSamples > 0 {  // the Lanczos bases, before any run is scored (a tied layout: the fewest floats)
        for r in m.runs {
            let n = ParameterLayout(config: configs[r.name]!, tied: true).count
            // On a GPU the basis stays there when it fits beside the gradient's buffers (its total memory: an estimate)
            let deviceFree = gpu.map {
                $0.memoryBytes - CUDAGradient.deviceBytes(config: configs[r.name]!, layoutCount: n, b: reportHessianBatch, t: T)
                    - deviceMemoryMargin
            }
            do {
                if gpu == nil { try checkGradientMemory(config: configs[r.name]!, dimension: n, batch: reportHessianBatch, context: T) }
                try checkLanczosMemory(dimension: n, topK: options.hessianTop, maxIterations: hessianEigenSteps,
                                       density: options.hessianDensity, deviceFree: deviceFree)
            } catch { throw runError(m, r, describeError(error)) }
        }
    }
    try checkPerTokenRuns(m, configs: configs)
    try checkInterpolationPairs(m, configs: configs)
    let plan: WindowPlan
    do {
        plan = try WindowPlan(tokenCount: tokens.ids.count, context: T, stride: m.stride ?? T, skip: m.skip, maxTokens: m.maxTokens)
        try validateTokenIDs(Array(tokens.ids[plan.tokenRange]), vocabSize: gpt2VocabSize, path: m.testSet)
    } catch { throw ManifestError(m.path, "test_set: \(describeError(error))") }
    let settings = ScoreSettings(plan: plan)
    let evals = try prepareEvals(m)
    let frequencies = try countFrequencies(m, vocabSize: configs[m.baseline]!.softmaxVocab)
    let stepPlan = try planStepCheckpoints(m, context: T, vocab: vocab, opener: opener)
    let testSetHash = tokens.contentHash
    // Stamped before hashing, checked again once each run is loaded (withLoadedCheckpoint): the hash names the bytes scored.
    let stamps = try m.runs.map { try checkpointStamp(path: $0.checkpoint) }
    let hashes = try m.runs.map { try checkpointContentHash(path: $0.checkpoint) }
    var given: [ScoreReport?] = []
    for (i, r) in m.runs.enumerated() {
        given.append(try r.scores.map {
            try readScoreFile($0, settings: settings, plan: plan, precision: options.precision, testSetHash: testSetHash,
                              checkpointHash: hashes[i], config: headers[i].config, manifest: m, run: r)
        })
    }

    let needsTokenizer = options.completionPrompt != nil || !evals.sets.isEmpty || !m.perToken.isEmpty
    let tokenizer = needsTokenizer ? try GPT2Tokenizer.load() : nil
    var runs: [RunState] = []
    for (i, r) in m.runs.enumerated() {
        runs.append(RunState(spec: r, config: headers[i].config, tokenizerRows: tokenizerRows[i], training: headers[i].training,
                             contentHash: hashes[i], stamp: stamps[i], given: given[i]))
    }
    let setup = ComparisonSetup(
        m: m, options: options, opener: opener, tokens: tokens, context: T, plan: plan, settings: settings,
        counts: plan.windows.map(\.scoredCount), vocab: vocab, evals: evals, stepPlan: stepPlan, testSetHash: testSetHash,
        tokenizer: tokenizer, cache: options.cacheDirectory.map(ScoreCache.init(directory:)),
        order: m.sequential.map { visitOrder(count: plan.windows.count, seed: $0.seed) } ?? [],
        rule: m.sequential.map { r -> SequentialRule in var r = r; r.level = options.level; return r },   // the report's level
        device: device, gpu: gpu, frequencies: frequencies)
    return (setup, runs)
}

/// The manifest's `frequencies` file counted (every id checked against the baseline's vocabulary), when
/// a per-token comparison will rank by it.
func countFrequencies(_ m: ReportManifest, vocabSize: Int) throws -> TokenFrequencies? {
    guard let path = m.frequencies, !m.perToken.isEmpty else { return nil }
    do {
        let counts = try countTokenIDs(path: path, dataset: m.frequenciesDataset, vocabSize: vocabSize)
        return TokenFrequencies(counts: counts, source: path, fromTestSet: false)
    } catch { throw ManifestError(m.path, "frequencies: \(describeError(error))") }
}

/// A pre-computed score (`gpt2lab score --json`, or a merge of shards): its windows must be
/// exactly the report's, its products in the report's precision (the other runs are scored in it), and it must
/// come from the run's checkpoint and the report's test set (their hashes, which `score --json` and `merge` record),
/// read as the report reads it (`config`: the same heads and softmax rows).
func readScoreFile(_ path: String, settings: ScoreSettings, plan: WindowPlan, precision: Precision, testSetHash: String,
                   checkpointHash ours: String, config: GPT2Config, manifest m: ReportManifest, run r: RunSpec) throws -> ScoreReport {
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
    let theirPrecision = s.precision ?? Precision.f32.rawValue
    guard theirPrecision == precision.rawValue else {
        throw runError(m, r, "scores '\(path)' was scored in \(theirPrecision); the report scores in \(precision.rawValue) "
                       + "(score it again\(precision == .bf16 ? " with --precision bf16" : " without --precision bf16"), or match --precision)")
    }
    if let n = s.windowsScored, let total = s.windowsTotal, s.windowIndices != nil {
        throw runError(m, r, "scores '\(path)' is a sequential (--ci) score of \(n) of \(total) windows; the report needs every window (score without --ci, or set `ci` in the manifest)")
    }
    guard let theirCheckpoint = s.checkpointHash, let theirTestSet = s.testSetHash else {
        throw runError(m, r, "scores '\(path)' does not record which checkpoint and test set it scored (written by an earlier gpt2lab); score it again")
    }
    guard theirTestSet == testSetHash else {
        throw runError(m, r, "scores '\(path)' scored another test set (token hash \(theirTestSet); the report's \(m.testSet) is \(testSetHash))")
    }
    guard theirCheckpoint == ours else {
        throw runError(m, r, "scores '\(path)' scored another checkpoint (content hash \(theirCheckpoint); \(r.checkpoint) is \(ours))"
                       + folderHint(s.checkpoint, r.checkpoint))
    }
    guard let heads = s.heads, let rows = s.softmaxRows else {
        throw runError(m, r, "scores '\(path)' does not record the heads and vocabulary rows it was read with (written by an earlier gpt2lab); score it again")
    }
    guard heads == config.nHead else {
        throw runError(m, r, "scores '\(path)' read the checkpoint with \(heads) heads; the report reads it with \(config.nHead) "
                       + "(score it with --heads \(config.nHead), or set the run's `heads`)")
    }
    guard rows == config.softmaxVocab else {
        let fix = config.softmaxVocab > rows ? "score it with --full-vocab, or drop `full_vocab`" : "score it without --full-vocab, or set `full_vocab = true`"
        throw runError(m, r, "scores '\(path)' softmaxed over \(rows) vocabulary rows; the report softmaxes over \(config.softmaxVocab) (\(fix))")
    }
    let planned = plan.windows.map(\.scoredCount), theirCounts = s.windowScores.counts
    guard theirCounts == planned else {
        let what = theirCounts.count == planned.count ? (zip(theirCounts, planned).enumerated().first { $1.0 != $1.1 })
            .map { "window \($0.offset) scores \($0.element.0) tokens where the test set gives \($0.element.1)" } ?? ""
            : "it has \(theirCounts.count) windows and \(s.tokensScored) tokens; the test set gives \(plan.windows.count) windows and \(plan.tokensScored) tokens"
        throw runError(m, r, "scores '\(path)': \(what) (a different test set, or a partial shard?)")
    }
    return s
}

/// When one of a score's checkpoint and the run's is a folder holding the other: they hash differently
/// (a folder's hash covers its config), so the fix is to score the path the manifest names.
private func folderHint(_ scored: String, _ named: String) -> String {
    let a = URL(fileURLWithPath: scored).standardizedFileURL.path, b = URL(fileURLWithPath: named).standardizedFileURL.path
    let (dir, file) = a.count < b.count ? (a, b) : (b, a)
    guard file.hasPrefix(dir.hasSuffix("/") ? dir : dir + "/") else { return "" }
    return "; a folder and a file inside it hash differently: score \(named), the path the manifest names"
}
