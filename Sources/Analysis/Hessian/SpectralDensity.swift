import Engine
import Foundation

// The Hessian's eigenvalue density by stochastic Lanczos quadrature (SLQ; Ghorbani et al. 2019,
// PyHessian's `density` and density_plot.py's `density_generate`).
//
// For a unit start vector v, m Lanczos steps give T_m with eigenpairs (θ_i, s_i); the nodes θ_i with
// weights w_i = s_{0,i}² are the m-point Gauss quadrature of the spectral measure Σ_k (u_kᵀv)² δ(λ − λ_k),
// exact for polynomials of degree ≤ 2m − 1: Σ w_i θ_i^p = vᵀH^p v. With v a normalised Rademacher (or
// Gaussian) vector, E[vᵀH^p v] = tr(H^p)/n, so averaging over vectors estimates the density of the
// n eigenvalues, φ(t) = (1/n) Σ_k δ(t − λ_k), whose mass is 1.
//
// The density on a grid is PyHessian's broadening: each node becomes a Gaussian of variance
// σ² = sigmaSquared · max(1, λ_max − λ_min) (PyHessian's `sigma`, passed as the variance), on
// `bins` points from mean(min θ) − overhead to mean(max θ) + overhead, averaged over vectors and
// renormalised so that Σ density · Δgrid = 1.

/// How SLQ draws its start vectors (normalised either way).
public enum SLQProbe: String, Codable, Sendable, CaseIterable {
    case rademacher, gaussian
}

/// One SLQ vector's quadrature: T's eigenvalues (ascending) and the squared first components.
public struct SLQRun: Codable, Sendable, Equatable {
    public var nodes: [Double]
    public var weights: [Double]
    public init(nodes: [Double], weights: [Double]) { self.nodes = nodes; self.weights = weights }
}

/// PyHessian's density_generate defaults.
public struct DensityOptions: Sendable, Equatable {
    /// Start vectors (PyHessian's n_v).
    public var vectors = 1
    /// Lanczos steps per vector (PyHessian's iter).
    public var steps = 100
    public var probe = SLQProbe.rademacher
    public var bins = 10_000
    public var sigmaSquared = 1e-5
    public var overhead = 0.01
    public init(vectors: Int = 1, steps: Int = 100, probe: SLQProbe = .rademacher) {
        self.vectors = vectors; self.steps = steps; self.probe = probe
    }
}

/// The SLQ result as `gpt2lab hessian --density --json` prints it.
public struct HessianDensity: Codable, Sendable, Equatable {
    public var probe: SLQProbe
    /// Lanczos steps asked for per vector (a run may stop early on an invariant subspace).
    public var steps: Int
    /// Nodes and weights, one entry per start vector.
    public var runs: [SLQRun]
    public var grid: [Double]
    public var density: [Double]
    /// Variance of the broadening Gaussians.
    public var sigmaSquared: Double
    /// Hessian-vector products used, their total wall time, and the whole SLQ's wall time (the rest
    /// is Lanczos's own work: reorthogonalisation and T's eigen-decomposition).
    public var hvps: Int
    public var secondsHVP: Double
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case probe, steps, runs, grid, density, sigmaSquared = "sigma_squared", hvps, secondsHVP = "seconds_hvp", seconds
    }
}

/// One vector's Gauss quadrature from the unit start `v` (zero outside the operator's blocks).
public func lanczosQuadrature<Op: HVPOperator>(_ op: Op, start v: [Float], steps: Int,
                                                progress: ((Int) -> Void)? = nil) throws -> SLQRun {
    try lanczosQuadratureRun(op, start: v, steps: steps, progress: progress).quadrature
}

/// The quadrature and the run it came from (its products' count and time).
func lanczosQuadratureRun<Op: HVPOperator>(_ op: Op, start v: [Float], steps: Int,
                                            progress: ((Int) -> Void)?) throws -> (quadrature: SLQRun, run: LanczosRun) {
    let run = try lanczos(op, start: v, steps: steps) { progress?($0.steps); return false }
    let pairs = ritzPairs(run)
    return (SLQRun(nodes: pairs.values, weights: pairs.vectors.map { $0[0] * $0[0] }), run)
}

/// A start vector for SLQ on the operator's blocks.
func slqStart(dimension: Int, blocks: [HVPBlock], probe: SLQProbe, rng: inout SplitMix64) -> [Float] {
    switch probe {
    case .rademacher: return rademacher(dimension: dimension, blocks: blocks, rng: &rng)
    case .gaussian:
        var v = [Float](repeating: 0, count: dimension)
        for b in blocks { for i in b.range { v[i] = Float(rng.nextGaussian()) } }
        return v
    }
}

/// SLQ: `options.vectors` start vectors × `options.steps` Lanczos steps, then the broadened density.
/// - progress: (vector index, step, steps) after each step.
public func spectralDensity<Op: HVPOperator>(_ op: Op, options: DensityOptions, rng: inout SplitMix64,
                                              progress: ((Int, Int, Int) -> Void)? = nil) throws -> HessianDensity {
    let start = Date()
    var runs: [SLQRun] = [], hvps = 0, secondsHVP = 0.0
    for k in 0..<options.vectors {
        let v = slqStart(dimension: op.dimension, blocks: op.blocks, probe: options.probe, rng: &rng)
        let (quadrature, run) = try lanczosQuadratureRun(op, start: v, steps: options.steps) { progress?(k, $0, options.steps) }
        runs.append(quadrature)
        hvps += run.steps
        secondsHVP += run.productSeconds
    }
    let (grid, density, variance) = broadenedDensity(runs, bins: options.bins, sigmaSquared: options.sigmaSquared,
                                                     overhead: options.overhead)
    return HessianDensity(probe: options.probe, steps: options.steps, runs: runs, grid: grid, density: density,
                          sigmaSquared: variance, hvps: hvps, secondsHVP: secondsHVP,
                          seconds: Date().timeIntervalSince(start))
}

/// PyHessian's density_generate on nodes and weights: returns the grid, the density on it
/// (Σ density·Δ = 1) and the broadening variance used.
public func broadenedDensity(_ runs: [SLQRun], bins: Int = 10_000, sigmaSquared: Double = 1e-5,
                             overhead: Double = 0.01) -> (grid: [Double], density: [Double], variance: Double) {
    guard !runs.isEmpty, bins >= 2, runs.allSatisfy({ !$0.nodes.isEmpty }) else { return ([], [], 0) }
    let n = Double(runs.count)
    let hi = runs.reduce(0) { $0 + $1.nodes.max()! } / n + overhead
    let lo = runs.reduce(0) { $0 + $1.nodes.min()! } / n - overhead
    let step = (hi - lo) / Double(bins - 1)
    var grid = (0..<bins).map { lo + Double($0) * step }
    grid[bins - 1] = hi
    let variance = sigmaSquared * max(1, hi - lo)
    let norm = 1 / (2 * Double.pi * variance).squareRoot()
    var density = [Double](repeating: 0, count: bins)
    for (j, x) in grid.enumerated() {
        var s = 0.0
        for r in runs {
            var d = 0.0
            for (t, w) in zip(r.nodes, r.weights) { d += exp(-(t - x) * (t - x) / (2 * variance)) * norm * w }
            s += d
        }
        density[j] = s / n
    }
    let mass = density.reduce(0, +) * (grid[1] - grid[0])
    if mass > 0 { for j in 0..<bins { density[j] /= mass } }
    return (grid, density, variance)
}
