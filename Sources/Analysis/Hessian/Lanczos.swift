import CBLAS
import Engine
import Foundation

// Lanczos with full reorthogonalisation on a symmetric operator (any HVPOperator: the loss Hessian,
// or a plain matrix in tests) — the one Krylov routine behind the Hessian's top eigenvalues and its
// spectral density (stochastic Lanczos quadrature, as PyHessian's `density`).
//
// Step j (q₀ the normalised start):  w = H q_j − α_j q_j − β_{j−1} q_{j−1},  α_j = q_jᵀ H q_j,
// then w is orthogonalised against every earlier q (one modified Gram–Schmidt pass, as PyHessian's
// `orthnormal`), β_j = ‖w‖ and q_{j+1} = w / β_j. (PyHessian takes β before the reorthogonalisation;
// after it, T is the projection QᵀHQ of the basis actually used.) T_m = tridiag(β, α, β); its
// eigenpairs (θ_i, s_i) are the Ritz pairs, y_i = Q s_i, and ‖H y_i − θ_i y_i‖ = β_{m−1}·|s_{m−1,i}|
// in exact arithmetic (the recurrence's residual estimate).

/// What m Lanczos steps leave: T's diagonal and off-diagonal (the basis stays in its KrylovSpace).
public struct LanczosRun: Sendable {
    /// α_0 … α_{m−1}, T's diagonal.
    public var alphas: [Double]
    /// β_0 … β_{m−1}: β_j couples q_j and q_{j+1}; the last one is the norm of the residual after step m.
    public var betas: [Double]
    /// Whether the run ended on a breakdown (β ≈ 0): the Krylov space is invariant and T's spectrum exact on it.
    public var invariant = false
    /// Seconds spent in the operator's products (one a step).
    public var productSeconds = 0.0
    public var steps: Int { alphas.count }
    public init(alphas: [Double], betas: [Double], invariant: Bool = false) {
        self.alphas = alphas; self.betas = betas; self.invariant = invariant
    }
}

/// β below this fraction of ‖T‖ (max |α|, β seen) is a breakdown: the Krylov space is invariant to
/// fp32 precision (e.g. a matrix smaller than the steps asked for), so the run stops there; T's
/// spectrum is then exact for that space and further vectors would be rounding noise.
let lanczosBreakdown = 1e-5

/// Runs up to `steps` Lanczos steps from `start` (restricted to the operator's blocks, normalised), its
/// vectors where the operator keeps them (`krylovSpace`).
/// - stop: called after each step with the run so far; true ends the run early.
public func lanczos<Op: HVPOperator>(_ op: Op, start: [Float], steps: Int,
                                     stop: ((LanczosRun) -> Bool)? = nil) throws -> LanczosRun {
    let cap = lanczosCap(op, steps)
    let space = try op.krylovSpace(steps: cap)
    return try lanczosRun(in: space, start: start, steps: cap, stop: stop)
}

func lanczosRun<S: KrylovSpace>(in space: S, start: [Float], steps: Int, stop: ((LanczosRun) -> Bool)?) throws -> LanczosRun {
    try lanczos(in: space, start: start, steps: steps, stop: stop).run
}

/// The steps a run can take: at most the operator's parameter count (then the space is exhausted).
func lanczosCap<Op: HVPOperator>(_ op: Op, _ steps: Int) -> Int {
    max(0, min(steps, op.blocks.reduce(0) { $0 + $1.range.count }))
}

/// The recurrence in `space`: the run and its basis q_0 … q_{m−1}.
func lanczos<S: KrylovSpace>(in space: S, start: [Float], steps cap: Int,
                             stop: ((LanczosRun) -> Bool)?) throws -> (run: LanczosRun, basis: [S.Vector]) {
    var q = try space.vector(start)
    let n0 = try space.dot(q, q).squareRoot()
    if n0 > 0 { try space.scale(&q, by: Float(1 / n0)) }
    var run = LanczosRun(alphas: [], betas: [])
    var basis = [q]
    var scale = 0.0
    for j in 0..<cap {
        let clock = Date()
        var w = try space.product(basis[j])
        run.productSeconds += Date().timeIntervalSince(clock)
        let alpha = try space.dot(w, basis[j])
        try space.axpy(-alpha, basis[j], &w)
        if j > 0 { try space.axpy(-run.betas[j - 1], basis[j - 1], &w) }
        for u in basis { try space.axpy(-(try space.dot(w, u)), u, &w) }
        let beta = try space.dot(w, w).squareRoot()
        run.alphas.append(alpha)
        run.betas.append(beta)
        scale = max(scale, abs(alpha), beta)
        run.invariant = beta <= lanczosBreakdown * scale
        let stopped = stop?(run) == true  // called after every step, the last one included
        if j == cap - 1 || run.invariant || stopped { break }
        try space.scale(&w, by: Float(1 / beta))
        basis.append(w)
    }
    if basis.count > run.steps { basis.removeLast(basis.count - run.steps) }
    return (run, basis)
}

/// The Ritz pairs of a run: T's eigenvalues ascending, with each eigenvector's first component
/// (the SLQ weight is its square) and last component (β_{m−1}·|last| is the residual estimate).
public struct RitzPairs: Sendable {
    public var values: [Double]
    /// vectors[i] = s_i, T's unit eigenvector for values[i] (components over the basis).
    public var vectors: [[Double]]
    /// β_{m−1}·|s_{m−1,i}|: ‖H y_i − θ_i y_i‖ by the recurrence.
    public var residualEstimates: [Double]
}

public func ritzPairs(_ run: LanczosRun) -> RitzPairs {
    let m = run.steps
    var t = [Double](repeating: 0, count: m * m)
    for i in 0..<m {
        t[i * m + i] = run.alphas[i]
        if i + 1 < m { t[i * m + i + 1] = run.betas[i]; t[(i + 1) * m + i] = run.betas[i] }
    }
    let (values, vectors) = symmetricEigen(t, n: m)
    let last = run.betas.last ?? 0
    return RitzPairs(values: values, vectors: vectors, residualEstimates: vectors.map { last * abs($0[m - 1]) })
}

/// Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations: values
/// ascending, unit eigenvectors as arrays. Accurate in every component (SLQ weights are squares of
/// first components, often tiny); O(n³) per sweep, meant for Lanczos's T (n ≤ a few hundred).
public func symmetricEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [[Double]]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    let total = a.reduce(0) { $0 + $1 * $1 }
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in (p + 1)..<max(p + 1, n) { off += a[p * n + q] * a[p * n + q] } }
        if off <= 1e-32 * total { break }
        for p in 0..<max(0, n - 1) {
            for q in (p + 1)..<n where a[p * n + q] != 0 {
                let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {  // columns p, q
                    let kp = a[k * n + p], kq = a[k * n + q]
                    a[k * n + p] = c * kp - s * kq; a[k * n + q] = s * kp + c * kq
                }
                for k in 0..<n {  // rows p, q
                    let pk = a[p * n + k], qk = a[q * n + k]
                    a[p * n + k] = c * pk - s * qk; a[q * n + k] = s * pk + c * qk
                }
                for k in 0..<n {
                    let kp = v[k * n + p], kq = v[k * n + q]
                    v[k * n + p] = c * kp - s * kq; v[k * n + q] = s * kp + c * kq
                }
            }
        }
    }
    let order = (0..<n).sorted { a[$0 * n + $0] < a[$1 * n + $1] }
    return (order.map { a[$0 * n + $0] }, order.map { k in (0..<n).map { v[$0 * n + k] } })
}

// fp32 vectors, BLAS (HostKrylov's; the basis is m vectors of every parameter, these loops dominate Lanczos's own
// cost on the host).

/// xᵀy accumulated in double.
func dsdot(_ x: [Float], _ y: [Float]) -> Double {
    x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in
        cblas_dsdot(Int32(x.count), xp.baseAddress, 1, yp.baseAddress, 1)
    } }
}

/// y += a·x.
func saxpy(_ a: Double, _ x: [Float], _ y: inout [Float]) {
    let n = Int32(x.count)
    x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
        cblas_saxpy(n, Float(a), xp.baseAddress, 1, yp.baseAddress, 1)
    } }
}
