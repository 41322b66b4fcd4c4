// Sequential scoring: the answer to a chosen precision, instead of always reading the whole set.
//
// The windows of a test set (HF's recipe, TestSets/Windows.swift) are a finite population of N
// clusters of tokens, and the test loss is the ratio R = Σ y / Σ x over all of them (y: a window's
// Σ NLL, x: its scored tokens). Visiting the windows in a seeded random order makes every prefix a
// simple random sample without replacement, so after n windows the ratio estimator R̂ = Σy/Σx has
// the linearised variance (Cochran, Sampling Techniques, 3rd ed., §6.4)
//   V̂(R̂) = (1 − n/N) · Σ(y_i − R̂·x_i)² / ((n − 1) · n · x̄²),   x̄ = Σx / n,
// and R̂ ± t_{n−1, (1+level)/2} · √V̂ is the interval. (1 − n/N) is the finite-population correction:
// the interval closes on the exact value when every window has been read. A paired difference
// A − B on the same windows is the same estimator with y_i = y_A,i − y_B,i: what makes a window
// hard for A makes it hard for B, so it is far tighter than two separate intervals.
// Scoring stops when the half-width is at most the target (after at least `minWindows` windows,
// so that the variance estimate itself is usable) or when the windows run out.

import Engine
import Foundation

/// An estimate from n of the N windows, with its confidence interval.
public struct SampledEstimate: Codable, Sendable, Equatable {
    public var estimate: Double
    public var lo: Double
    public var hi: Double
    public var windowsScored: Int
    public var windowsTotal: Int
    public var halfWidth: Double { (hi - lo) / 2 }
    public var fractionScored: Double { Double(windowsScored) / Double(max(windowsTotal, 1)) }
    enum CodingKeys: String, CodingKey { case estimate, lo, hi, windowsScored = "windows_scored", windowsTotal = "windows_total" }
}

/// The ratio estimate Σvalues/Σcounts of n sampled windows out of `population`, with the
/// without-replacement interval above. With n < 2 the variance is unknown: the interval is
/// (−∞, ∞) unless every window was read.
public func ratioEstimate(values: [Double], counts: [Int], population N: Int, level: Double = 0.95) -> SampledEstimate {
    let n = values.count
    let sx = Double(counts.reduce(0, +)), r = values.reduce(0, +) / max(sx, 1)
    if n >= N { return SampledEstimate(estimate: r, lo: r, hi: r, windowsScored: n, windowsTotal: N) }
    guard n >= 2 else { return SampledEstimate(estimate: r, lo: -.infinity, hi: .infinity, windowsScored: n, windowsTotal: N) }
    var ss = 0.0
    for i in 0..<n { let d = values[i] - r * Double(counts[i]); ss += d * d }
    let xbar = sx / Double(n)
    let variance = (1 - Double(n) / Double(N)) * ss / (Double(n - 1) * Double(n) * xbar * xbar)
    let h = studentTQuantile((1 + level) / 2, degreesOfFreedom: n - 1) * variance.squareRoot()
    return SampledEstimate(estimate: r, lo: r - h, hi: r + h, windowsScored: n, windowsTotal: N)
}

/// The fewest windows a sequential interval may stop on (`--ci-min-windows`, manifest `ci_min_windows`): the t
/// interval is a fixed-sample one applied with a stopping rule, and stopped on few windows it covers less than its
/// level — on the fixture's HF per-window sums, 4,000 random orders each: 88% at 2 windows, 93% at 5, 94.9% at 10,
/// 95% at 30 (the default).
public let minSequentialWindows = 10

/// When to stop: the interval's half-width at most `halfWidth`, at the given level, after at
/// least `minWindows` windows; windows visited in the order `visitOrder(seed:)` gives.
public struct SequentialRule: Sendable, Equatable {
    public var halfWidth: Double
    public var level = 0.95
    public var minWindows = 30
    public var seed: UInt64 = 0
    public init(halfWidth: Double, level: Double = 0.95, minWindows: Int = 30, seed: UInt64 = 0) {
        self.halfWidth = halfWidth; self.level = level; self.minWindows = minWindows; self.seed = seed
    }
}

/// A seeded random permutation of 0..<n (Fisher–Yates on SplitMix64, Lemire's reduction).
public func visitOrder(count n: Int, seed: UInt64) -> [Int] {
    var order = Array(0..<n), rng = SplitMix64(seed: seed)
    if n < 2 { return order }
    for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(rng.next().multipliedFullWidth(by: UInt64(i + 1)).high)
        order.swapAt(i, j)
    }
    return order
}

/// Runs the rule: `score(indices)` scores those windows (a batch, in visit order) and returns
/// each one's values (one array per series: one for a loss, two for a paired difference);
/// `statistic` turns the per-window values of every series so far into the values the interval
/// is taken over. Returns the estimate and, per series, what was scored, in visit order.
public func runSequential(order: [Int], counts: [Int], batch: Int, rule: SequentialRule,
                          score: (_ windows: [Int]) throws -> [[Double]],
                          statistic: ([[Double]]) -> [Double] = { $0[0] })
    rethrows -> (estimate: SampledEstimate, visited: [Int], series: [[Double]]) {
    let N = order.count
    var visited: [Int] = [], series: [[Double]] = [], c: [Int] = []
    var estimate = ratioEstimate(values: [], counts: [], population: N, level: rule.level)
    var next = 0
    while next < N {
        let chunk = Array(order[next..<min(N, next + max(1, batch))])
        let values = try score(chunk)
        if series.isEmpty { series = Array(repeating: [], count: values.count) }
        for s in 0..<values.count { series[s] += values[s] }
        visited += chunk; c += chunk.map { counts[$0] }
        next += chunk.count
        estimate = ratioEstimate(values: statistic(series), counts: c, population: N, level: rule.level)
        if visited.count >= min(N, rule.minWindows), estimate.halfWidth <= rule.halfWidth { break }
    }
    return (estimate, visited, series)
}

/// The paired form of `runSequential`, shared by every paired comparison (the report's runs
/// against its baseline): `score(indices)` returns both models' per-window Σ NLL on those windows,
/// and the interval is taken over y_i = y_A,i − y_B,i with the same token counts, so it estimates
/// L_A − L_B on the whole set. Returns the estimate of the difference, the windows read, and each
/// model's values on them (visit order).
public func runPairedSequential(order: [Int], counts: [Int], batch: Int, rule: SequentialRule,
                                score: (_ windows: [Int]) throws -> (a: [Double], b: [Double]))
    rethrows -> (estimate: SampledEstimate, visited: [Int], a: [Double], b: [Double]) {
    let run = try runSequential(order: order, counts: counts, batch: batch, rule: rule,
                                score: { w in let (a, b) = try score(w); return [a, b] },
                                statistic: { s in zip(s[0], s[1]).map { $0 - $1 } })
    return (run.estimate, run.visited, run.series.first ?? [], run.series.count > 1 ? run.series[1] : [])
}

// MARK: quantiles

/// Student's t quantile t_ν(p): closed forms for ν = 1 and 2; for 3 ≤ ν ≤ 50 the Cornish–Fisher value refined by
/// Newton steps on the exact distribution function (studentTCDF); past 50 the Cornish–Fisher value, within 1e-8
/// relative there (it is 11% low at ν = 1, 0.7% at ν = 2, 0.1% at ν = 3 for the 97.5% point).
public func studentTQuantile(_ p: Double, degreesOfFreedom nu: Int) -> Double {
    let v = max(nu, 1)
    if v == 1 { return tan(Double.pi * (p - 0.5)) }
    if v == 2 { return (2 * p - 1) / (2 * p * (1 - p)).squareRoot() }
    var t = cornishFisherT(p, degreesOfFreedom: v)
    guard v <= 50 else { return t }
    for _ in 0..<4 { t -= (studentTCDF(t, degreesOfFreedom: v) - p) / studentTDensity(t, degreesOfFreedom: v) }
    return t
}

/// P(T ≤ t) for Student's t with an integer ν ≥ 1, by the finite series of Abramowitz & Stegun 26.7.3 (odd ν)
/// and 26.7.4 (even ν) in θ = atan(t/√ν): ⌊ν/2⌋ terms.
public func studentTCDF(_ t: Double, degreesOfFreedom nu: Int) -> Double {
    let v = max(nu, 1), theta = atan(t / Double(v).squareRoot())
    let s = sin(theta), c = cos(theta), c2 = c * c
    var a: Double
    if v % 2 == 1 {
        var term = 1.0, sum = 0.0
        if v >= 3 {
            sum = 1
            for k in stride(from: 1, through: (v - 3) / 2, by: 1) { term *= Double(2 * k) / Double(2 * k + 1) * c2; sum += term }
        }
        a = 2 / Double.pi * (theta + s * c * sum)
    } else {
        var term = 1.0, sum = 1.0
        for k in stride(from: 1, through: (v - 2) / 2, by: 1) { term *= Double(2 * k - 1) / Double(2 * k) * c2; sum += term }
        a = s * sum
    }
    return (1 + a) / 2
}

/// Student's t density at t for ν degrees of freedom.
func studentTDensity(_ t: Double, degreesOfFreedom nu: Int) -> Double {
    let v = Double(max(nu, 1))
    return exp(lgamma((v + 1) / 2) - lgamma(v / 2) - (v + 1) / 2 * log1p(t * t / v)) / (v * Double.pi).squareRoot()
}

/// The Cornish–Fisher expansion of t_ν(p) around the normal quantile (Abramowitz & Stegun 26.7.5).
func cornishFisherT(_ p: Double, degreesOfFreedom nu: Int) -> Double {
    let x = normalQuantile(p), v = Double(max(nu, 1))
    let x2 = x * x
    let g1 = (x2 + 1) * x / 4
    let g2 = ((5 * x2 + 16) * x2 + 3) * x / 96
    let g3 = (((3 * x2 + 19) * x2 + 17) * x2 - 15) * x / 384
    let g4 = ((((79 * x2 + 776) * x2 + 1482) * x2 - 1920) * x2 - 945) * x / 92160
    return x + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
}
