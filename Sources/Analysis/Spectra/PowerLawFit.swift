// The power-law fit of an ESD's tail, exactly as WeightWatcher's default (`pl_package='ww'`, its own
// `WWFit`, not the `powerlaw` package; no xmax, no fix_fingers):
//
// - keep the eigenvalues above 1e-5 (its EVALS_THRESH on the CPU), sorted ascending: x₀ ≤ … ≤ x_{n−1};
// - for every candidate xmin = x_i, i < n−1, with tail size k = n − i:
//     α_i = 1 + k / Σ_{j≥i} ln(x_j / x_i)                       (continuous power-law MLE)
//     D_i = max_{j<k} |1 − (x_{i+j}/x_i)^(1−α_i) − j/k|          (when α_i > 1, else 1)
//   D_i is WeightWatcher's distance: the fitted CDF at each tail point against the empirical CDF just
//   below it (j/k), not the two-sided Kolmogorov–Smirnov statistic;
// - take the first i with the smallest D_i: xmin = x_i, α = α_i, D = D_i, σ = (α − 1)/√k;
// - its `num_pl_spikes` counts all eigenvalues ≥ xmin.
// WeightWatcher 0.7.7 switches to a bias-corrected small-sample fit when fewer than 20 eigenvalues pass
// the threshold; we do not, and flag those matrices instead (SpectraFlag.fewEigenvalues).

import Foundation

/// WeightWatcher's threshold below which eigenvalues are left out of the fit (float64 SVD on the CPU).
public let powerLawEigenvalueThreshold = 1e-5

/// One power-law fit of an ESD tail.
public struct PowerLawFit: Codable, Sendable, Equatable {
    public var alpha: Double
    public var xmin: Double
    /// WeightWatcher's KS-like distance at the chosen xmin.
    public var D: Double
    /// (α − 1)/√(tail size): the MLE's standard error.
    public var sigma: Double
    /// Eigenvalues ≥ xmin (WeightWatcher's num_pl_spikes).
    public var tailCount: Int
    /// Eigenvalues that passed the threshold and entered the fit.
    public var fitted: Int

    enum CodingKeys: String, CodingKey { case alpha, xmin, D, sigma, tailCount = "tail_count", fitted }
}

/// Fits the ESD `evals` (any order) as WeightWatcher does; nil when fewer than two eigenvalues pass
/// the threshold (WeightWatcher's fit then fails too).
public func fitPowerLaw(_ evals: [Double], threshold: Double = powerLawEigenvalueThreshold) -> PowerLawFit? {
    let x = evals.filter { $0 > threshold }.sorted()
    let n = x.count
    guard n >= 2 else { return nil }
    let logs = x.map { Foundation.log($0) }
    var suffix = [Double](repeating: 0, count: n + 1)          // suffix[i] = Σ_{j≥i} ln x_j
    for i in stride(from: n - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + logs[i] }
    var best = (i: 0, alpha: Double.nan, D: Double.infinity)
    for i in 0..<(n - 1) {
        let k = Double(n - i)
        let alpha = 1 + k / (suffix[i] - k * logs[i])
        var D = 1.0
        if alpha > 1 {
            D = 0
            let xmin = x[i], e = 1 - alpha
            for j in 0..<(n - i) {
                let d = abs(1 - Foundation.pow(x[i + j] / xmin, e) - Double(j) / k)
                if d > D { D = d }
            }
        }
        if i == 0 || D < best.D { best = (i, alpha, D) }     // np.argmin: the first smallest
    }
    let xmin = x[best.i]
    let k = Double(n - best.i)
    return PowerLawFit(alpha: best.alpha, xmin: xmin, D: best.D, sigma: (best.alpha - 1) / k.squareRoot(),
                       tailCount: evals.filter { $0 >= xmin }.count, fitted: n)
}
