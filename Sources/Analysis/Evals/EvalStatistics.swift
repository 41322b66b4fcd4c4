// Statistics of benchmark accuracies: an interval for one run's accuracy, and a paired test of two runs on
// the same examples. Accuracies are means of 0/1 outcomes, so these are binomial, not bootstrap, methods.

import Foundation

/// Wilson's score interval for k successes in n trials at coverage `level`: better than p ± z·se when p is near
/// 0 or 1 or n is small (it never leaves [0, 1]). The estimate is k/n.
public func wilsonInterval(_ k: Int, _ n: Int, level: Double = 0.95) -> Interval {
    guard n > 0 else { return Interval(estimate: .nan, lo: .nan, hi: .nan) }
    let z = normalQuantile(0.5 + level / 2), nn = Double(n), p = Double(k) / nn
    let centre = (p + z * z / (2 * nn)) / (1 + z * z / nn)
    let half = z / (1 + z * z / nn) * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()
    // At k = 0 (k = n) the lower (upper) end is exactly 0 (1); rounding would put it a hair off.
    return Interval(estimate: p, lo: k == 0 ? 0 : max(0, centre - half), hi: k == n ? 1 : min(1, centre + half))
}

/// Two runs' outcomes on the same examples: Δ = acc(a) − acc(b) with Agresti–Min's paired interval, and McNemar's
/// exact test. Only the discordant examples carry information: `aOnly` (a right, b wrong) and `bOnly`.
public struct PairedAccuracy: Codable, Sendable, Equatable {
    public var delta: Interval
    public var aOnly: Int
    public var bOnly: Int
    /// Exact two-sided McNemar p-value: 2·P(X ≤ min(aOnly, bOnly)) for X ~ Binomial(aOnly + bOnly, ½), capped at 1;
    /// 1 when no example is discordant.
    public var pValue: Double
    enum CodingKeys: String, CodingKey { case delta, aOnly = "a_only", bOnly = "b_only", pValue = "p_value" }
}

/// Compares per-example outcomes `a` and `b` (same examples, same order): Δ = (aOnly − bOnly)/n with Agresti and
/// Min's interval for matched proportions (Stat. Med. 2005): ½ added to each cell of the 2×2 table, n + 2 examples,
/// Δ̃ ± z·√((p₁₂ + p₂₁ − Δ̃²)/(n + 2)), clipped to [−1, 1]. The plain normal interval it replaces had zero width
/// when no example was discordant, and covered far less than 95% when few were.
public func pairedAccuracy(_ a: [Bool], _ b: [Bool], level: Double = 0.95) throws -> PairedAccuracy {
    guard !a.isEmpty else { throw StatisticsError.empty }
    guard a.count == b.count else { throw StatisticsError.mismatched("paired outcomes for \(a.count) and \(b.count) examples") }
    let n = Double(a.count)
    let aOnly = zip(a, b).filter { $0 && !$1 }.count, bOnly = zip(a, b).filter { !$0 && $1 }.count
    let d = Double(aOnly - bOnly) / n
    let p12 = (Double(aOnly) + 0.5) / (n + 2), p21 = (Double(bOnly) + 0.5) / (n + 2), dt = p12 - p21
    let h = normalQuantile(0.5 + level / 2) * (max(p12 + p21 - dt * dt, 0) / (n + 2)).squareRoot()
    return PairedAccuracy(delta: Interval(estimate: d, lo: max(-1, dt - h), hi: min(1, dt + h)), aOnly: aOnly, bOnly: bOnly,
                          pValue: mcNemarExactP(aOnly, bOnly))
}

/// 2·P(X ≤ min(b, c)), X ~ Binomial(b + c, ½), capped at 1 (McNemar's exact test); the terms are summed in
/// log space, so any counts work.
public func mcNemarExactP(_ b: Int, _ c: Int) -> Double {
    let n = b + c
    guard n > 0 else { return 1 }
    let k = min(b, c)
    let logHalfN = Double(n) * log(0.5)
    func logChoose(_ n: Int, _ i: Int) -> Double { lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) }
    let logs = (0...k).map { logChoose(n, $0) + logHalfN }
    let m = logs.max()!
    let tail = exp(m) * logs.reduce(0) { $0 + exp($1 - m) }
    return min(1, 2 * tail)
}

/// The standard normal quantile Φ⁻¹(p), 0 < p < 1 (Acklam's rational approximation, relative error < 1.2e-9,
/// refined by one Newton step on erfc).
public func normalQuantile(_ p: Double) -> Double {
    precondition(p > 0 && p < 1, "internal: normal quantile of \(p)")
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
             -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
             4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let lowTail = 0.02425
    var x: Double
    if p < lowTail || p > 1 - lowTail {
        let q = (-2 * log(p < lowTail ? p : 1 - p)).squareRoot()
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        if p > 1 - lowTail { x = -x }
    } else {
        let q = p - 0.5, r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    }
    let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
    let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
    return x - u / (1 + x * u / 2)
}
