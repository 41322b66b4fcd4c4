import Engine

// The Hessian's top eigenvalues by Lanczos (replacing PyHessian's power iteration with deflation).
// Lanczos from a start vector spans the Krylov space {v, Hv, …, H^{m−1}v}, which holds every power
// iterate from that start, so its extreme Ritz values are at least as close after m HVPs as power
// iteration's after m, and one run gives all k instead of k deflated runs (each restarting from
// scratch). "Top" means largest in magnitude, as power iteration finds (for a loss Hessian near a
// minimum, the largest ones).
//
// Stopping rule: after each step, T's Ritz pairs; stop once each of the k wanted has its recurrence
// residual β_{m−1}|s_{m−1,i}| ≤ tol·|θ_i| (and at least 2k steps were taken, so a k-fold cluster has
// room to show). Then the reported residual is the explicit ‖H y_i − θ_i y_i‖, one extra HVP per Ritz
// vector: with finite-difference HVPs the recurrence only knows the operator it was shown, while the
// explicit residual measures against a fresh product. For a symmetric operator some eigenvalue lies
// within that residual of θ_i.

public struct EigenEstimate: Sendable {
    /// The top k Ritz values, largest magnitude first.
    public var values: [Double]
    /// ‖H y − θ y‖ for each unit Ritz vector y, from one extra HVP each.
    public var residuals: [Double]
    /// β_{m−1}·|s_{m−1,i}|, the recurrence's estimate of the same (no HVP).
    public var residualEstimates: [Double]
    /// The unit Ritz vectors, same order (when asked for: `keepVectors`).
    public var vectors: [[Float]]
    /// Lanczos steps taken (HVPs, not counting the k for the residuals).
    public var steps: Int
    /// Whether the stopping rule held before `maxSteps`.
    public var converged: Bool
}

/// The k Ritz pairs of largest |θ| (indices into `pairs`), largest first.
func topIndices(_ pairs: RitzPairs, _ k: Int) -> [Int] {
    Array(pairs.values.indices.sorted { abs(pairs.values[$0]) > abs(pairs.values[$1]) }.prefix(k))
}

/// The top `k` eigenvalues of the operator by Lanczos with full reorthogonalisation from a Gaussian
/// start on its blocks, stopped on the residuals (see above) or after `maxSteps`; its vectors where the
/// operator keeps them (`krylovSpace`: a GPU's memory for the loss Hessian computed there).
/// - keepVectors: also return the unit Ritz vectors (k more vectors of every parameter on the host).
/// - progress: (step, maxSteps, worst residual estimate / |θ| so far) after each step.
public func topEigenvalues<Op: HVPOperator>(_ op: Op, count k: Int, maxSteps: Int = 100, tol: Double = 1e-3,
                                             keepVectors: Bool = false, rng: inout SplitMix64,
                                             progress: ((Int, Int, Double) -> Void)? = nil) throws -> EigenEstimate {
    guard k > 0 else {
        return EigenEstimate(values: [], residuals: [], residualEstimates: [], vectors: [], steps: 0, converged: true)
    }
    var start = [Float](repeating: 0, count: op.dimension)
    for b in op.blocks { for i in b.range { start[i] = Float(rng.nextGaussian()) } }
    let cap = lanczosCap(op, maxSteps)
    let space = try op.krylovSpace(steps: cap)
    return try topEigenvalues(in: space, count: k, start: start, steps: cap, maxSteps: maxSteps,
                              tol: tol, keepVectors: keepVectors, progress: progress)
}

func topEigenvalues<S: KrylovSpace>(in space: S, count k: Int, start: [Float], steps: Int, maxSteps: Int, tol: Double,
                                    keepVectors: Bool, progress: ((Int, Int, Double) -> Void)?) throws -> EigenEstimate {
    var converged = false
    let (run, basis) = try lanczos(in: space, start: start, steps: steps) { run in
        let pairs = ritzPairs(run)
        let top = topIndices(pairs, k)
        let worst = top.map { pairs.residualEstimates[$0] / max(abs(pairs.values[$0]), .leastNormalMagnitude) }.max() ?? 0
        progress?(run.steps, maxSteps, worst)
        converged = run.steps >= min(2 * k, maxSteps) && top.count == k && worst <= tol
        return converged
    }
    let pairs = ritzPairs(run)
    if run.invariant { converged = true }  // the Ritz values are exact on an invariant subspace
    var out = EigenEstimate(values: [], residuals: [], residualEstimates: [], vectors: [], steps: run.steps,
                            converged: converged)
    for i in topIndices(pairs, k) {
        var y = try space.combination(pairs.vectors[i], of: basis)
        let norm = try space.dot(y, y).squareRoot()
        if norm > 0 { try space.scale(&y, by: Float(1 / norm)) }
        var r = try space.product(y)
        try space.axpy(-pairs.values[i], y, &r)
        out.values.append(pairs.values[i])
        out.residuals.append(try space.dot(r, r).squareRoot())
        out.residualEstimates.append(pairs.residualEstimates[i])
        if keepVectors { out.vectors.append(try space.host(y)) }
    }
    return out
}
