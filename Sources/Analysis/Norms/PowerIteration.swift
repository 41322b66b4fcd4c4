import Engine

// Power iteration on a symmetric operator: the spectral norm of a weight matrix (NormsSpectral.swift:
// the top eigenvalue of its Gram matrix, Double vectors, stopped on the residual). (The Hessian's top
// eigenvalues use Lanczos, Hessian/TopEigenvalues.swift: the same HVPs span a Krylov space that
// contains every power iterate, and one run gives all k.)
// Each step: w = A v; λ = vᵀw (the Rayleigh quotient of the unit iterate v); v = w, orthogonalised
// against `basis` and normalised. Power iteration finds the eigenvalue of largest magnitude; for
// a loss Hessian near a minimum, and for any Gram matrix, that is the top one.

struct PowerIterationResult<F: BinaryFloatingPoint> {
    /// λ of the last step.
    var value: Double
    /// The unit iterate after the last step (orthogonal to the basis).
    var vector: [F]
    var iterations: Int
    /// Whether `stop` said so before `maxIterations`.
    var converged: Bool
}

/// - stop(iteration, λ, previous λ, v, w): whether λ has converged, from the unit iterate v and w = A v.
func powerIteration<F: BinaryFloatingPoint>(start: [F], basis: [[F]] = [], maxIterations: Int,
                                            apply: ([F]) throws -> [F],
                                            stop: (_ iteration: Int, _ lambda: Double, _ previous: Double?,
                                                   _ v: [F], _ w: [F]) -> Bool,
                                            progress: ((Int) -> Void)? = nil) rethrows -> PowerIterationResult<F> {
    var v = start
    orthogonalize(&v, against: basis)
    normalize(&v)
    var lambda: Double? = nil
    for it in 1...max(1, maxIterations) {
        let w = try apply(v)
        let next = dotD(v, w)
        progress?(it)
        let done = stop(it, next, lambda, v, w)
        v = w
        orthogonalize(&v, against: basis)
        normalize(&v)
        lambda = next
        if done { return PowerIterationResult(value: next, vector: v, iterations: it, converged: true) }
    }
    return PowerIterationResult(value: lambda ?? 0, vector: v, iterations: max(1, maxIterations), converged: false)
}

/// v −= Σ (vᵀu) u over unit vectors u (Gram–Schmidt, once).
func orthogonalize<F: BinaryFloatingPoint>(_ v: inout [F], against basis: [[F]]) {
    for u in basis {
        let c = F(dotD(v, u))
        for i in 0..<v.count { v[i] -= c * u[i] }
    }
}

/// v /= ‖v‖ (left alone when zero).
func normalize<F: BinaryFloatingPoint>(_ v: inout [F]) {
    let n = normD(v)
    guard n > 0 else { return }
    let inv = F(1 / n)
    for i in 0..<v.count { v[i] *= inv }
}
