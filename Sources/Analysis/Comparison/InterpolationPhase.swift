// The report's paths between runs (manifest `interpolate = [["a", "b"], …]`): for each pair, what
// `gpt2lab interpolate a b` measures (Interpolation.swift) — the test loss of θ(t) = (1 − t)·θ_a + t·θ_b at
// `interpolate_points` evenly spaced t in [0, 1] and the barrier, the largest excess of loss(t) over the
// straight line between the endpoints, with its paired window-bootstrap interval — on the report's first
// windows up to `interpolate_max_tokens` scored tokens (the same starts as the report's windows), so the
// section stays cheap on a big test set. It runs after every run's phases: the pair's two checkpoints are
// loaded again (two models at once, as the line needs; one shared with the previous pair is kept), in f32 whatever `--precision` says, on the
// report's device (`--device`, `--gpu-math`). Shapes that differ in the header are refused by the checks
// (Prepare.swift); a difference only the tensors show (a bias one of them lacks, tying) when the pair loads.

import Checkpoints
import Engine
import Foundation
import TestSets

/// One pair's path, by run name.
public struct RunInterpolation: Codable, Sendable {
    public var a: String
    public var b: String
    /// Scored tokens each point was capped at (`interpolate_max_tokens`).
    public var maxTokens: Int
    public var result: InterpolationResult
    enum CodingKeys: String, CodingKey { case a, b, maxTokens = "max_tokens", result }
}

/// Refuses, before any scoring, a pair whose headers already say the shapes differ.
func checkInterpolationPairs(_ m: ReportManifest, configs: [String: GPT2Config]) throws {
    for p in m.interpolate {
        let d = configDifferences(configs[p.a]!, configs[p.b]!)
        guard d.isEmpty else {
            throw ManifestError(m.path, "interpolate: runs '\(p.a)' and '\(p.b)' cannot be interpolated: their shapes differ (\(d.joined(separator: "; ")))")
        }
    }
}

/// Every pair of `m.interpolate`, in manifest order.
func interpolationPhase(_ s: ComparisonSetup, events: @escaping (ComparisonEvent) -> Void) throws -> [RunInterpolation] {
    let m = s.m
    let ts = interpolationGrid(from: 0, to: 1, count: m.interpolatePoints)
    var loaded: [String: LoadedCheckpoint] = [:]   // the last pair's, so a run in consecutive pairs is read once
    return try m.interpolate.map { p in
        loaded = loaded.filter { $0.key == p.a || $0.key == p.b }
        let cks = try [p.a, p.b].map { name -> LoadedCheckpoint in
            if let ck = loaded[name] { return ck }
            let r = m.run(name)!
            do { loaded[name] = try s.opener.load(r.checkpoint, r.heads, s.vocab) } catch { throw s.runError(r, describeError(error)) }
            return loaded[name]!
        }
        let result: InterpolationResult
        do {
            result = try interpolate(cks[0], cks[1], ts: ts, tokens: s.tokens, testSetPath: m.testSet, context: s.context,
                                     stride: s.plan.stride, skip: m.skip, maxTokens: cappedMaxTokens(m, cap: m.interpolateMaxTokens),
                                     threads: s.options.threads, device: s.device, math: s.options.gpuMath,
                                     resamples: s.options.bootstrap, seed: s.options.seed) { t, done, total in
                events(.interpolating(a: p.a, b: p.b, t: t, done: done, total: total))
            }
        } catch let e as InterpolationError {
            throw ManifestError(m.path, "interpolate: runs '\(p.a)' and '\(p.b)': \(describeError(e))")
        }
        return RunInterpolation(a: p.a, b: p.b, maxTokens: m.interpolateMaxTokens, result: result)
    }
}
