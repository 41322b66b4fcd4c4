// Statistics for comparing runs scored on the same windows: bootstrap confidence intervals,
// paired differences with a p-value, seed-noise bands, AdamW timescales. Pure functions; every
// random draw comes from a seeded SplitMix64, so a report is reproducible bit for bit.
//
// The unit of resampling is a *run of consecutive windows*, never a token: tokens inside a window
// are strongly correlated (they share context), and neighbouring windows are too (they share a chapter
// or a topic), so each bootstrap replicate draws blocks of consecutive windows (circular, with
// replacement) of the length the series' own dependence calls for (BlockLength.swift; a few windows even
// when it shows none, as Politis–White's rule gives) and recomputes the ratio Σ NLL / Σ tokens from per-window NLL
// sums and counts (a window's weight is its token count, as in the loss). The windows must come in
// their order in the test set.

import Engine
import Foundation

/// A point estimate with a two-sided confidence interval.
public struct Interval: Codable, Sendable, Equatable {
    public var estimate: Double
    public var lo: Double
    public var hi: Double
    public init(estimate: Double, lo: Double, hi: Double) { self.estimate = estimate; self.lo = lo; self.hi = hi }
    public func contains(_ x: Double) -> Bool { lo <= x && x <= hi }
}

/// A paired comparison: the estimate and CI of Δ = loss(a) − loss(b), and its p-value.
public struct PairedComparison: Codable, Sendable, Equatable {
    public var delta: Interval
    /// Two-sided bootstrap p-value for H0: Δ = 0 (see `pairedBootstrap`).
    public var pValue: Double
    enum CodingKeys: String, CodingKey { case delta, pValue = "p_value" }
}

/// Problems with statistics inputs.
public enum StatisticsError: Error, LocalizedError, Sendable, Equatable {
    case empty
    case mismatched(String)
    case invalid(String)
    public var errorDescription: String? {
        switch self {
        case .empty: return "statistics: no windows"
        case let .mismatched(s): return "statistics: \(s)"
        case let .invalid(s): return "statistics: \(s)"
        }
    }
}

/// The q-quantile (0...1) of an ascending-sorted sample, linear interpolation between order
/// statistics (numpy's default "linear" method).
public func quantile(sorted x: [Double], _ q: Double) -> Double {
    precondition(!x.isEmpty)
    let h = Double(x.count - 1) * min(max(q, 0), 1)
    let i = Int(h.rounded(.down)), f = h - Double(i)
    return i + 1 < x.count ? x[i] + f * (x[i + 1] - x[i]) : x[i]
}

/// Arithmetic mean and sample standard deviation (n − 1 denominator, numpy's `std(ddof=1)`), two-pass.
public func meanAndStd(_ x: [Double]) -> (mean: Double, std: Double) {
    guard !x.isEmpty else { return (.nan, .nan) }
    let m = x.reduce(0, +) / Double(x.count)
    guard x.count > 1 else { return (m, 0) }
    let ss = x.reduce(0) { $0 + ($1 - m) * ($1 - m) }
    return (m, (ss / Double(x.count - 1)).squareRoot())
}

/// Draws B bootstrap index sets of n windows and calls `stat` on each; returns the B statistics.
/// Each set is ⌈n/block⌉ blocks of `block` consecutive indices (wrapping past n − 1 to 0), cut to n; a
/// block's start is uniform in 0..<n via Lemire's multiply-shift on SplitMix64 (bias < n/2⁶⁴). With
/// block 1 every index is one such draw: the plain bootstrap.
private func bootstrapReplicates<T>(n: Int, block: Int, resamples: Int, seed: UInt64, _ stat: (_ idx: [Int]) -> T) -> [T] {
    precondition(block >= 1 && block <= max(n, 1), "internal: block length \(block) for \(n) windows")
    var rng = SplitMix64(seed: seed)
    var idx = [Int](repeating: 0, count: n)
    var out: [T] = []
    out.reserveCapacity(resamples)
    for _ in 0..<resamples {
        var i = 0
        while i < n {
            var j = Int(rng.next().multipliedFullWidth(by: UInt64(n)).high)
            for _ in 0..<min(block, n - i) {
                idx[i] = j; i += 1
                j = j + 1 == n ? 0 : j + 1
            }
        }
        out.append(stat(idx))
    }
    return out
}

/// Test loss Σ nll / Σ count with a percentile bootstrap CI over windows.
/// - Parameters:
///   - nllSums: Σ NLL of each window (nats); counts: tokens scored in each window.
///   - resamples: B replicates (2000 gives stable 95% ends); seed: the generator's seed.
///   - level: coverage, e.g. 0.95 → the 2.5% and 97.5% quantiles of the replicates.
public func bootstrapLossCI(nllSums: [Double], counts: [Int], resamples: Int = 2000, seed: UInt64 = 0,
                            level: Double = 0.95) throws -> Interval {
    guard !nllSums.isEmpty else { throw StatisticsError.empty }
    guard nllSums.count == counts.count else {
        throw StatisticsError.mismatched("\(nllSums.count) window NLL sums but \(counts.count) counts")
    }
    guard resamples >= 1 else { throw StatisticsError.invalid("resamples must be at least 1, got \(resamples)") }
    return ratioBootstrap(nllSums, counts: counts, resamples: resamples, seed: seed, level: level).interval
}

/// The bootstrap of one ratio: its interval, the sorted replicates, the block length, and, when the windows
/// hold fewer than `minBootstrapBlocks` blocks, the Student t the interval was taken from instead of the
/// replicates' percentiles (their standard deviation and the degrees of freedom).
struct RatioBootstrap {
    var interval: Interval
    var replicates: [Double]
    var block: Int
    var studentT: (standardError: Double, degreesOfFreedom: Int)?
}

/// Σ values / Σ counts and the percentile CI of that ratio over block resamples of the windows. The one
/// estimator behind both the loss CI and the paired Δ. The block length is `bootstrapBlockLength` of the
/// ratio's linearisation, value − estimate·count per window (what the ratio's error is, to first order). With
/// k = ⌊n/block⌋ < `minBootstrapBlocks` whole blocks the interval is estimate ± t_{k−1}·sd(replicates) instead
/// (see minBootstrapBlocks). A resample whose windows count no tokens (only possible when some windows count
/// 0, as in a frequency bucket) has no ratio and is left out, never counted as 0; a NaN value stays NaN.
func ratioBootstrap(_ values: [Double], counts: [Int], resamples: Int, seed: UInt64, level: Double) -> RatioBootstrap {
    let estimate = values.reduce(0, +) / Double(max(counts.reduce(0, +), 1))
    let block = ratioBlockLength(values, counts: counts)
    let reps = bootstrapReplicates(n: values.count, block: block, resamples: resamples, seed: seed) { idx -> Double? in
        var s = 0.0, c = 0
        for i in idx { s += values[i]; c += counts[i] }
        return c > 0 ? s / Double(c) : nil
    }.compactMap { $0 }.sorted()
    let a = (1 - level) / 2
    guard !reps.isEmpty else { return RatioBootstrap(interval: Interval(estimate: estimate, lo: .nan, hi: .nan), replicates: reps, block: block) }
    let k = values.count / block
    guard k >= minBootstrapBlocks else {
        let se = meanAndStd(reps).std, df = max(k - 1, 1)
        let half = studentTQuantile(1 - a, degreesOfFreedom: df) * se
        return RatioBootstrap(interval: Interval(estimate: estimate, lo: estimate - half, hi: estimate + half), replicates: reps,
                              block: block, studentT: (se, df))
    }
    return RatioBootstrap(interval: Interval(estimate: estimate, lo: quantile(sorted: reps, a), hi: quantile(sorted: reps, 1 - a)),
                          replicates: reps, block: block)
}

/// The fewest whole blocks of windows the percentile interval is taken on. With fewer, the resamples are
/// recombinations of a handful of blocks and the percentile interval comes out far too short (AR(1) series of
/// 16 values, blocks of ~3: 87% coverage for a 95% interval with φ = 0, 78% with φ = 0.4; on 16 windows of the
/// fixtures a paired p of 1/B where a t-test gives 0.07). Below it the interval is estimate ± t_{k−1}·se, se the
/// replicates' standard deviation and k the whole blocks, and the p-value is the t's (95.5% and 90% coverage
/// in the same simulations); a Student t on k − 1 degrees of freedom for k block means.
public let minBootstrapBlocks = 10

/// The block length `ratioBootstrap` uses for Σ values / Σ counts over these windows (in test-set order).
public func ratioBlockLength(_ values: [Double], counts: [Int]) -> Int {
    let estimate = values.reduce(0, +) / Double(max(counts.reduce(0, +), 1))
    return bootstrapBlockLength(zip(values, counts).map { $0 - estimate * Double($1) })
}

/// Paired bootstrap of Δ = loss(a) − loss(b) for two runs scored on the same windows.
///
/// Each replicate draws one set of windows and applies it to both runs, so what the windows
/// have in common (hard passages are hard for every model) cancels; Δ* = Σ(nllA − nllB)/Σ count
/// over the drawn windows. The CI is the percentile interval of Δ*. The p-value inverts it:
/// p = 2·min(P(Δ* ≤ 0), P(Δ* ≥ 0)), capped at 1 and floored at 1/B (B replicates cannot resolve
/// less) — the smallest two-sided level at which the percentile CI would exclude 0.
/// Identical runs give Δ* ≡ 0, so the CI is [0, 0] and p = 1.
public func pairedBootstrap(nllSumsA: [Double], nllSumsB: [Double], counts: [Int], resamples: Int = 2000,
                            seed: UInt64 = 0, level: Double = 0.95) throws -> PairedComparison {
    guard !counts.isEmpty else { throw StatisticsError.empty }
    guard nllSumsA.count == counts.count, nllSumsB.count == counts.count else {
        throw StatisticsError.mismatched("paired runs have \(nllSumsA.count) and \(nllSumsB.count) windows, counts \(counts.count)")
    }
    guard resamples >= 1 else { throw StatisticsError.invalid("resamples must be at least 1, got \(resamples)") }
    let d = zip(nllSumsA, nllSumsB).map { $0 - $1 }
    return pairedRatioBootstrap(d, counts: counts, resamples: resamples, seed: seed, level: level).comparison
}

/// `pairedBootstrap` on the windows' differences `d` = nllA − nllB, with the block length it used.
func pairedRatioBootstrap(_ d: [Double], counts: [Int], resamples: Int, seed: UInt64,
                          level: Double) -> (comparison: PairedComparison, block: Int) {
    let boot = ratioBootstrap(d, counts: counts, resamples: resamples, seed: seed, level: level)
    let delta = boot.interval, reps = boot.replicates, block = boot.block
    let B = Double(reps.count)
    if let t = boot.studentT {   // few blocks: the t's two-sided p, floored at 1/B as the percentile's is
        let z = t.standardError > 0 ? abs(delta.estimate) / t.standardError : (delta.estimate == 0 ? 0 : .infinity)
        let p = 2 * (1 - studentTCDF(z, degreesOfFreedom: t.degreesOfFreedom))
        return (PairedComparison(delta: delta, pValue: min(1, max(1 / B, p))), block)
    }
    let below = Double(reps.filter { $0 <= 0 }.count) / B
    let above = Double(reps.filter { $0 >= 0 }.count) / B
    let p = min(1, max(1 / B, 2 * min(below, above)))
    return (PairedComparison(delta: delta, pValue: p), block)
}

/// Half-width of the seed-noise band of runs that differ only in their seed: the largest
/// |loss difference| between any two of them (the range of the group). With two runs this is
/// the one difference we have; a standard deviation of two numbers would understate it by √2.
/// A Δ is "in the noise" when |Δ| ≤ this half-width. nil with fewer than two runs.
public func seedNoiseHalfWidth(_ losses: [Double]) -> Double? {
    guard losses.count >= 2, let lo = losses.min(), let hi = losses.max() else { return nil }
    return hi - lo
}

/// What a run's Δ against the baseline says, in words.
public enum Verdict: String, Codable, Sendable {
    case better, worse
    case inTheNoise = "in the noise"
    /// The paired interval holds 0 (and, with a seed band, |Δ| is outside it).
    case unclear
}

/// A run's verdict against the baseline. With a seed band (half-width `band`), the run is in the
/// noise exactly when |Δ| ≤ band — by definition for a member of a seed group that holds the
/// baseline (`sameSeedGroupAsBaseline`), whose |Δ| is one of the differences the band is the largest
/// of (a 1e-9 slack covers summation order for the rest). Outside the band, and without one, better or
/// worse by Δ's sign when the paired interval `deltaCI` excludes 0, else unclear: a Δ is worth believing
/// when it is both outside the seed band and significant. `inNoise` is nil without a band. A Δ of 0 with a
/// zero-width interval (the same losses on every window: an identical checkpoint) has the verdict in the noise
/// either way (`inNoise` still nil without a band).
public func runVerdict(delta: Double?, deltaCI: [Double]?, band: Double?,
                       sameSeedGroupAsBaseline: Bool) -> (inNoise: Bool?, verdict: Verdict?) {
    guard let delta, delta.isFinite else { return (nil, nil) }
    let direction: Verdict = delta < 0 ? .better : .worse
    let ci = deltaCI.flatMap { $0.count == 2 && $0[0].isFinite && $0[1].isFinite ? $0 : nil }
    // The same losses on every window (an identical checkpoint): no difference at all, not an unclear one.
    if delta == 0, ci == [0, 0] { return (band.map { _ in true }, .inTheNoise) }
    if let band {
        let inside = sameSeedGroupAsBaseline || abs(delta) <= band * (1 + 1e-9)
        guard !inside else { return (true, .inTheNoise) }
        guard let ci else { return (false, .unclear) }
        return (false, ci[0] > 0 || ci[1] < 0 ? direction : .unclear)
    }
    guard let ci else { return (nil, nil) }
    return (nil, ci[0] > 0 || ci[1] < 0 ? direction : .unclear)
}

/// Percentage of the baseline → reference gap a run closes: (L_base − L_run)/(L_base − L_ref)·100.
/// nil when the gap is 0 (or not finite).
public func gapClosedPercent(baseline: Double, run: Double, reference: Double) -> Double? {
    let gap = baseline - reference
    guard gap != 0, gap.isFinite else { return nil }
    return (baseline - run) / gap * 100
}

/// Optimizer steps of a run that saw `tokens` in batches of `batchSize` sequences of `context` tokens: nil when that is
/// under one step or the batch's token count overflows (a meta.json's batch_size of 2⁶³ − 1 trapped here).
public func trainingSteps(tokens: Int, batchSize: Int, context: Int) -> Int? {
    let (perStep, overflow) = batchSize.multipliedReportingOverflow(by: context)
    guard !overflow, perStep > 0, tokens / perStep >= 1 else { return nil }
    return tokens / perStep
}

/// AdamW's averaging timescale τ = 1/(η·λ) in optimizer steps (Wang & Aitchison, "How to set
/// AdamW's weight decay as you scale model and dataset size": AdamW's weights are an exponential
/// moving average of recent updates over about τ steps). nil unless η·λ > 0.
public func adamWTimescale(lr: Double, weightDecay: Double) -> Double? {
    let r = lr * weightDecay
    return r > 0 && r.isFinite ? 1 / r : nil
}
