// The report's per-token section: each `per_token` run against the baseline, token by token, with
// `compareTokens` (TokenComparison.swift, what `gpt2lab compare` runs) on the report's first windows
// up to `per_token_max_tokens` scored tokens.
//
// Cost: per compared run, one trunk forward and one LM-head product of each of the two models per
// compared window, plus one pass over the two logit blocks — what `compare` costs on those
// windows. Scoring cannot share it: scores come from the cache or a score file as often as from the
// engine, and cover every window, while this covers a capped prefix and needs both models' full
// distributions at once.

import Checkpoints
import Engine
import Foundation
import TestSets
import Tokenizer

/// One run against the baseline, token by token (results.json `per_token`).
public struct PerTokenComparison: Codable, Sendable {
    public var run: String
    public var baseline: String
    /// The cap the manifest set (`per_token_max_tokens`); `comparison.tokensScored` is what was used.
    public var maxTokens: Int
    /// `comparison.lossByPosition` in bins of consecutive positions (the report's chart).
    public var positionBins: [PositionBin]
    /// A = the baseline, B = the run: Δ = NLL_run − NLL_baseline, negative where the run is better.
    public var comparison: TokenComparison
    enum CodingKeys: String, CodingKey { case run, baseline, maxTokens = "max_tokens", positionBins = "position_bins", comparison }
}

/// Position bins in the report's chart.
public let perTokenPositionBins = 16

/// Segments shown each way (gains, losses) and their length in tokens.
public let perTokenSegments = (count: 3, length: 32)

/// Checks, before anything is scored, that every per-token run softmaxes over the baseline's rows.
func checkPerTokenRuns(_ m: ReportManifest, configs: [String: GPT2Config]) throws {
    guard let base = configs[m.baseline] else { return }
    for name in m.perToken {
        guard let c = configs[name], let r = m.run(name) else { continue }
        guard c.softmaxVocab == base.softmaxVocab else {
            throw ManifestError(m.path, line: r.line, "per_token: run '\(name)' softmaxes over \(c.softmaxVocab) rows and the "
                                + "baseline '\(m.baseline)' over \(base.softmaxVocab): they cannot be compared token by token")
        }
    }
}

/// The windows a per-token comparison reads: the report's windows over its first `cap` + 1 tokens
/// (the same starts as the report's; the last one may end sooner).
func perTokenPlan(_ m: ReportManifest, tokenCount: Int, context T: Int) throws -> WindowPlan {
    try WindowPlan(tokenCount: tokenCount, context: T, stride: m.stride ?? T, skip: m.skip,
                   maxTokens: cappedMaxTokens(m, cap: m.perTokenMaxTokens))
}

/// The per-token phase: run `r` (a `m.perToken` run, its model `b`) against the baseline's model `a`
/// on `perTokenPlan`'s windows. The baseline's model is the one its own phases loaded, kept until the
/// last per-token run is compared (CompareRuns.swift), so neither checkpoint is opened again. With the report on a
/// GPU both models are also there (f32 weights, the report's --gpu-math), and the comparison runs there when their
/// shapes allow one pass (`CUDAModel.canCompare`), else on the CPU.
func perTokenPhase(_ r: RunState, a: (cpu: GPT2Model, gpu: CUDAModel?), b: (cpu: GPT2Model, gpu: CUDAModel?), _ s: ComparisonSetup,
                   events: @escaping (ComparisonEvent) -> Void) throws -> PerTokenComparison {
    let m = s.m, name = r.name
    let plan = try perTokenPlan(m, tokenCount: s.tokens.ids.count, context: s.context)
    var topts = TokenComparisonOptions()
    topts.segments = perTokenSegments.count; topts.segmentLength = perTokenSegments.length
    // Frequencies from the manifest's `frequencies` file (counted by the checks), else from every token the
    // report scores (validated by then), not only the compared prefix.
    topts.frequencies = s.frequencies ?? TokenFrequencies(ids: Array(s.tokens.ids[s.plan.tokenRange]), vocabSize: a.cpu.config.softmaxVocab,
                                                          source: m.testSet, fromTestSet: true)
    events(.comparing(run: name, done: 0, total: plan.tokensScored))
    var pair: (a: CUDAModel, b: CUDAModel)? = nil
    if let ga = a.gpu, let gb = b.gpu, ga.canCompare(with: gb) { pair = (ga, gb) }
    let c = try compareTokens(a: a.cpu, b: b.cpu, names: (m.run(m.baseline)!.checkpoint, r.spec.checkpoint), tokens: s.tokens.ids,
                              testSet: m.testSet, plan: plan, options: topts, tokenizer: s.tokenizer!, gpu: pair) { done, total in
        events(.comparing(run: name, done: done, total: total))
    }
    return PerTokenComparison(run: name, baseline: m.baseline, maxTokens: m.perTokenMaxTokens,
                              positionBins: c.binnedLossByPosition(bins: perTokenPositionBins), comparison: c)
}
