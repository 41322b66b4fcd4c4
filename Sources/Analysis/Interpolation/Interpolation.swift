// Linear mode connectivity: the test loss along the straight line θ(t) = (1 − t)·θ_A + t·θ_B between
// two checkpoints of one shape, and the barrier — the largest excess of loss(t) over the straight line
// (1 − t)·L(0) + t·L(1) between the endpoints' losses, over the points strictly between them.
//
// One f32 parameter buffer is rewritten for each t (the whole flat canonical layout, so a tied
// embedding is one tensor, interpolated once) and scored with `scoreWindows` on the same windows
// for every t (on a GPU, each t's weights uploaded in place of the last), so each point's excess over the line is a
// paired difference of per-window NLL sums:
// Σ_w [nll_t(w) − (1 − t)·nll_0(w) − t·nll_1(w)] / Σ_w count(w), whose interval is the percentile
// bootstrap over windows of Statistics.swift (the estimator behind the paired Δ).

import Checkpoints
import Engine
import Foundation
import TestSets

/// Why two checkpoints cannot be interpolated.
public enum InterpolationError: Error, LocalizedError, Sendable, Equatable {
    case shapesDiffer(a: String, b: String, differences: [String])
    case unreadable(String)
    public var errorDescription: String? {
        switch self {
        case let .unreadable(path): return "\(path): no such file, or not readable"
        case let .shapesDiffer(a, b, d):
            return "cannot interpolate \(a) and \(b): their shapes differ (\(d.joined(separator: "; ")))"
        }
    }
}

/// What differs between two checkpoints' shapes (layers, width, heads, MLP width, vocabulary, context,
/// bias presence, tying); empty when a straight line between them is defined.
public func shapeDifferences(_ a: LoadedCheckpoint, _ b: LoadedCheckpoint) -> [String] {
    var d = configDifferences(a.config, b.config)
    if a.parameters.tied != b.parameters.tied {
        d.append("LM head \(a.parameters.tied ? "tied" : "untied") vs \(b.parameters.tied ? "tied" : "untied")")
    }
    if d.isEmpty {
        let sa = Set(a.parameters.parameterTensors), sb = Set(b.parameters.parameterTensors)
        let only = sa.symmetricDifference(sb).sorted()
        if let first = only.first {
            d.append("\(first.canonicalName) only in \(sa.contains(first) ? "the first" : "the second")"
                     + (only.count > 1 ? " (and \(only.count - 1) more tensors one of them lacks)" : ""))
        }
    }
    return d
}

/// What differs between two configurations (layers, width, heads, MLP width, vocabulary, context): the
/// part of `shapeDifferences` a checkpoint's header already tells.
public func configDifferences(_ ca: GPT2Config, _ cb: GPT2Config) -> [String] {
    var d: [String] = []
    func field(_ name: String, _ x: Int, _ y: Int) { if x != y { d.append("\(name) \(x) vs \(y)") } }
    field("layers", ca.nLayer, cb.nLayer)
    field("width", ca.nEmbd, cb.nEmbd)
    field("heads", ca.nHead, cb.nHead)
    field("MLP width", ca.nInner, cb.nInner)
    field("vocabulary", ca.vocabSize, cb.vocabSize)
    field("context", ca.contextLength, cb.contextLength)
    return d
}

/// θ(t) = (1 − t)·a + t·b element by element, in float32: out[i] = Float(1 − t)·a[i] + Float(t)·b[i].
/// t = 0 gives a and t = 1 gives b exactly.
public func interpolateParameters(_ a: [Float], _ b: [Float], t: Double, into out: inout [Float]) {
    precondition(a.count == b.count && a.count == out.count, "internal: interpolating buffers of different sizes")
    let u = Float(1 - t), v = Float(t)
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { po in
                for i in 0..<po.count { po[i] = u * pa[i] + v * pb[i] }
            }
        }
    }
}

/// `count` evenly spaced values from `from` to `to` (both included; `to` exactly). A point that falls on 0 or 1
/// is exactly 0 or 1: −0.1 + 1.2·1/12 rounds to 1.4e-17, which counted as an interior point of the barrier
/// search and had the endpoints scored twice.
public func interpolationGrid(from: Double, to: Double, count: Int) -> [Double] {
    guard count > 1 else { return [from] }
    var grid = (0..<count).map { $0 == count - 1 ? to : from + (to - from) * Double($0) / Double(count - 1) }
    for end in [0.0, 1.0] {
        let k = (end - from) / (to - from) * Double(count - 1)
        if abs(k - k.rounded()) < 1e-9, let i = Int(exactly: k.rounded()), grid.indices.contains(i) { grid[i] = end }
    }
    return grid
}

/// One point on the line: its loss (and bootstrap CI), and its excess over the straight line between
/// the endpoints' losses (and the paired CI of that excess).
public struct InterpolationPoint: Codable, Sendable {
    public var t: Double
    public var loss: Double
    public var lossCI: [Double]
    public var excess: Double
    public var excessCI: [Double]
    enum CodingKeys: String, CodingKey { case t, loss, lossCI = "loss_ci", excess = "excess_over_line", excessCI = "excess_ci" }
}

/// The barrier: the largest excess over the line among points with 0 < t < 1, where it is, and the
/// paired interval of the excess at that t (the interval does not account for choosing the argmax).
public struct InterpolationBarrier: Codable, Sendable {
    public var t: Double
    public var excess: Double
    public var ci: [Double]
}

/// What `gpt2lab interpolate --json` prints.
public struct InterpolationResult: Codable, Sendable {
    public var a: String
    public var b: String
    public var testSet: String
    public var settings: ScoreSettings
    public var windows: Int
    public var tokensScored: Int
    /// L(0) and L(1): the endpoints' losses the straight line joins.
    public var lossA: Double
    public var lossB: Double
    public var points: [InterpolationPoint]
    /// nil when no point lies strictly between 0 and 1.
    public var barrier: InterpolationBarrier?
    public var resamples: Int
    public var seed: UInt64
    public var seconds: Double
    /// With an init checkpoint C: the paths from C to A and from C to B, on the same t and windows.
    public var fromInit: [InterpolationResult]? = nil
    /// The GPU the points were scored on ("cuda NAME sm_CC [math]"); nil for the CPU engine.
    public var device: String? = nil
    enum CodingKeys: String, CodingKey {
        case a, b, testSet = "test_set", settings, windows, tokensScored = "tokens_scored", lossA = "loss_a", lossB = "loss_b"
        case points, barrier, resamples = "bootstrap_resamples", seed = "bootstrap_seed", seconds, fromInit = "from_init", device
    }
}

/// Scores θ(t) for each t in `ts` on one window plan; returns the plan, the scores in `ts` order and,
/// when they ran on a GPU (`device`, `math` as for `scoreCheckpoint`), its key name.
/// `progress(k, done, total)`: point k's scored tokens so far.
public func scoreInterpolation(_ a: LoadedCheckpoint, _ b: LoadedCheckpoint, ts: [Double], tokens: TokenFile,
                               testSetPath: String, context: Int? = nil, stride: Int? = nil, skip: Int = 0,
                               maxTokens: Int? = nil, batch: Int? = nil, threads: Int? = nil,
                               device: ComputeDevice = .cpu, math: GPUMath = .default,
                               progress: ((Int, Int, Int) -> Void)? = nil) throws -> (WindowPlan, [WindowScores], String?) {
    let d = shapeDifferences(a, b)
    guard d.isEmpty else { throw InterpolationError.shapesDiffer(a: a.path, b: b.path, differences: d) }
    guard let wa = a.parameters.f32, let wb = b.parameters.f32 else {
        preconditionFailure("internal: interpolation needs f32 weights")
    }
    let (plan, template, gpu, B) = try prepareScoring(a, tokens: tokens, testSetPath: testSetPath, context: context, stride: stride,
                                                      skip: skip, maxTokens: maxTokens, batch: batch, threads: threads,
                                                      device: device, math: math)
    var w = wa  // the one buffer rewritten for every t (its first write copies A's)
    w.stored = wa.stored.union(wb.stored)
    var out: [WindowScores] = []
    for (k, t) in ts.enumerated() {
        interpolateParameters(wa.data, wb.data, t: t, into: &w.data)
        if let gpu {   // the same GPU model, each point's weights uploaded in place of the last
            try gpu.replaceWeights(.f32(w))
            out.append(try scoreWindows(gpu: gpu, tokens: tokens.ids, windows: plan.windows, batch: B) { progress?(k, $0, $1) })
        } else {
            let model = GPT2Model(weights: w, backend: template.backend)
            out.append(scoreWindows(model: model, tokens: tokens.ids, windows: plan.windows, batch: B) { progress?(k, $0, $1) })
        }
        try out[out.count - 1].requireFinite("the interpolation at t = \(t)")
    }
    return (plan, out, gpu?.info.scoreKeyName)
}

/// Losses, excesses over the straight line and the barrier for the points `ts` with scores `scores`,
/// given the endpoints' scores `s0` (t = 0) and `s1` (t = 1) on the same windows. Bootstrap: `resamples`
/// window resamples from `seed`, 95% percentile intervals.
public func interpolationSummary(ts: [Double], scores: [WindowScores], s0: WindowScores, s1: WindowScores,
                                 resamples: Int = 2000, seed: UInt64 = 0) throws -> (points: [InterpolationPoint], barrier: InterpolationBarrier?) {
    let counts = s0.counts
    var points: [InterpolationPoint] = []
    for (t, s) in zip(ts, scores) {
        guard s.counts == counts, s1.counts == counts else { throw StatisticsError.mismatched("interpolation points scored on different windows") }
        let ci = try bootstrapLossCI(nllSums: s.nllSums, counts: counts, resamples: resamples, seed: seed)
        let d = (0..<counts.count).map { s.nllSums[$0] - (1 - t) * s0.nllSums[$0] - t * s1.nllSums[$0] }
        let ex = ratioBootstrap(d, counts: counts, resamples: resamples, seed: seed, level: 0.95).interval
        points.append(InterpolationPoint(t: t, loss: s.loss, lossCI: [ci.lo, ci.hi], excess: ex.estimate, excessCI: [ex.lo, ex.hi]))
    }
    let interior = points.filter { $0.t > 0 && $0.t < 1 }
    let top = interior.max { $0.excess < $1.excess }
    return (points, top.map { InterpolationBarrier(t: $0.t, excess: $0.excess, ci: $0.excessCI) })
}

/// The whole measurement: scores the grid `ts` and, when the grid lacks them, t = 0 and t = 1.
public func interpolate(_ a: LoadedCheckpoint, _ b: LoadedCheckpoint, ts: [Double], tokens: TokenFile, testSetPath: String,
                        context: Int? = nil, stride: Int? = nil, skip: Int = 0, maxTokens: Int? = nil,
                        batch: Int? = nil, threads: Int? = nil, device: ComputeDevice = .cpu, math: GPUMath = .default,
                        resamples: Int = 2000, seed: UInt64 = 0,
                        progress: ((Double, Int, Int) -> Void)? = nil) throws -> InterpolationResult {
    let all = ts + [0.0, 1.0].filter { !ts.contains($0) }
    let t0 = Date()
    let (plan, scores, gpu) = try scoreInterpolation(a, b, ts: all, tokens: tokens, testSetPath: testSetPath, context: context,
                                                     stride: stride, skip: skip, maxTokens: maxTokens, batch: batch, threads: threads,
                                                     device: device, math: math) { k, done, total in progress?(all[k], done, total) }
    let seconds = Date().timeIntervalSince(t0)
    let s0 = scores[all.firstIndex(of: 0)!], s1 = scores[all.firstIndex(of: 1)!]
    let (points, barrier) = try interpolationSummary(ts: ts, scores: Array(scores.prefix(ts.count)), s0: s0, s1: s1,
                                                     resamples: resamples, seed: seed)
    var r = InterpolationResult(a: a.path, b: b.path, testSet: testSetPath,
                                settings: ScoreSettings(plan: plan),
                                windows: plan.windows.count, tokensScored: plan.tokensScored, lossA: s0.loss, lossB: s1.loss,
                                points: points, barrier: barrier, resamples: resamples, seed: seed, seconds: seconds)
    r.device = gpu
    return r
}
