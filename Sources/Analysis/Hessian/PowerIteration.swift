import Engine

// Top eigenvalues by power iteration with deflation (PyHessian's `eigenvalues`): for each of the
// top k, start from a Gaussian vector on the parameter blocks, and repeat
//   orthogonalise against the eigenvectors already found; normalise; w = Hv; λ = vᵀw; v = w/‖w‖
// until |λ − λ_prev| / (|λ_prev| + 1e-6) < tol or maxIterations. Power iteration finds the
// eigenvalue of largest magnitude; for a loss Hessian near a minimum that is the top one.

public struct EigenEstimate: Sendable {
    /// Eigenvalues in the order found (largest magnitude first).
    public var values: [Double]
    /// The unit eigenvectors, same order.
    public var vectors: [[Float]]
    /// Iterations used for each.
    public var iterations: [Int]
}

/// - progress: called with (eigenvalue index, iteration) after each iteration.
public func topEigenvalues<Op: HVPOperator>(_ op: Op, count k: Int, maxIterations: Int = 100, tol: Double = 1e-3,
                                             rng: inout SplitMix64,
                                             progress: ((Int, Int) -> Void)? = nil) throws -> EigenEstimate {
    let blocks = op.blocks
    var result = EigenEstimate(values: [], vectors: [], iterations: [])
    for e in 0..<k {
        var v = [Float](repeating: 0, count: op.dimension)
        for b in blocks { for i in b.range { v[i] = Float(rng.nextGaussian()) } }
        var lambda: Double? = nil
        var iterations = 0
        for it in 0..<max(1, maxIterations) {
            iterations = it + 1
            orthogonalize(&v, against: result.vectors)
            normalize(&v)
            let w = restricted(try op.hvp(v), to: blocks)
            let next = dotD(v, w)
            progress?(e, it + 1)
            v = w
            if let prev = lambda, abs(next - prev) / (abs(prev) + 1e-6) < tol { lambda = next; break }
            lambda = next
        }
        orthogonalize(&v, against: result.vectors)
        normalize(&v)
        result.values.append(lambda ?? 0)
        result.vectors.append(v)
        result.iterations.append(iterations)
    }
    return result
}

/// v −= Σ (vᵀu) u over unit vectors u (Gram–Schmidt, once).
func orthogonalize(_ v: inout [Float], against basis: [[Float]]) {
    for u in basis {
        let c = Float(dotD(v, u))
        for i in 0..<v.count { v[i] -= c * u[i] }
    }
}

func normalize(_ v: inout [Float]) {
    let n = normD(v)
    guard n > 0 else { return }
    let inv = Float(1 / n)
    for i in 0..<v.count { v[i] *= inv }
}
