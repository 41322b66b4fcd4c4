// Spectral norm of a matrix: power iteration on its Gram matrix, LAPACK where that does not converge.
//
// W is (R, K) row-major. With n = min(R, K) we form the n×n Gram matrix G = WᵀW (or WWᵀ when
// R < K) once, in Double, and run power iteration on G; σ_max² is G's top eigenvalue. For a
// (V, C) embedding that is a C×C problem: forming G costs V·C², each iteration only C².
//
// G is built from row blocks converted to Double (dsyrk, beta = 1), so a 50257×768 embedding
// needs a 4096×768 Double scratch, not a 309 MB copy. `gramNaive` and `symmetricMatVecNaive`
// are the loop references the BLAS versions are tested against.
//
// Power iteration's error falls as (λ₂/λ₁)^k: trained embeddings can have their top two singular values
// within 0.5% (λ₂/λ₁ ≈ 0.99), where 500 iterations left σ 0.24% low (an audit against numpy's SVD, the
// fixtures' tiny-ckpt.pt). So a run that has not converged by `maxIterations` hands G to LAPACK's dsyevr
// for its largest eigenvalue, exact to rounding: an O(n³) reduction (about 0.1 s at n = 768), paid only for
// the few matrices with a crowded top. Converged runs cost ~0.14 ms an iteration at n = 768.

import CBLAS
import Engine

/// σ_max and how it was found.
public struct SpectralEstimate: Sendable, Equatable {
    /// σ_max (the square root of the top eigenvalue of the Gram matrix); nil only if LAPACK failed.
    public var sigma: Double?
    public var iterations: Int
    /// Whether power iteration's residual (or stagnation) test passed before the iteration limit.
    public var converged: Bool
    /// Whether σ came from LAPACK (dsyevr), which it does exactly when power iteration did not converge.
    public var exact: Bool { !converged }
}

/// Upper and lower triangles of G (n, n), n = min(rows, cols): WᵀW when cols ≤ rows, else WWᵀ.
/// `w` is (rows, cols) row-major.
func gram(_ w: UnsafeBufferPointer<Float>, rows: Int, cols: Int) -> [Double] {
    let transpose = cols <= rows            // G = WᵀW, sum over rows
    let n = transpose ? cols : rows
    var g = [Double](repeating: 0, count: n * n)   // (n, n)
    let blockRows = 4096
    if transpose {
        // Accumulate Wᵀ_b W_b over row blocks W_b (b, cols).
        var scratch = [Double](repeating: 0, count: min(blockRows, rows) * cols)
        var r0 = 0
        while r0 < rows {
            let b = min(blockRows, rows - r0)
            for i in 0..<(b * cols) { scratch[i] = Double(w[r0 * cols + i]) }
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(b), 1.0,
                        scratch, Int32(cols), 1.0, &g, Int32(n))
            r0 += b
        }
    } else {
        // G = W Wᵀ with R < K: R is the small side, so one Double copy is at most R·K ≤ K²-ish;
        // still block over columns to bound memory: G = Σ_b W[:, b] W[:, b]ᵀ.
        let blockCols = max(1, min(cols, (blockRows * 768) / max(rows, 1)))
        var scratch = [Double](repeating: 0, count: rows * blockCols)  // (rows, bc)
        var c0 = 0
        while c0 < cols {
            let bc = min(blockCols, cols - c0)
            for r in 0..<rows {
                for j in 0..<bc { scratch[r * bc + j] = Double(w[r * cols + c0 + j]) }
            }
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(n), Int32(bc), 1.0,
                        scratch, Int32(bc), 1.0, &g, Int32(n))
            c0 += bc
        }
    }
    for i in 0..<n { for j in 0..<i { g[i * n + j] = g[j * n + i] } }   // mirror upper → lower
    return g
}

/// Loop reference for `gram`: the full (n, n) matrix, summed in Double.
func gramNaive(_ w: [Float], rows: Int, cols: Int) -> [Double] {
    let transpose = cols <= rows
    let n = transpose ? cols : rows
    var g = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0..<n {
            var s = 0.0
            if transpose {
                for r in 0..<rows { s += Double(w[r * cols + i]) * Double(w[r * cols + j]) }
            } else {
                for c in 0..<cols { s += Double(w[i * cols + c]) * Double(w[j * cols + c]) }
            }
            g[i * n + j] = s
        }
    }
    return g
}

/// y = G x for symmetric G (n, n), BLAS.
func symmetricMatVec(_ g: [Double], _ x: [Double], _ y: inout [Double], n: Int) {
    cblas_dsymv(CblasRowMajor, CblasUpper, Int32(n), 1.0, g, Int32(n), x, 1, 0.0, &y, 1)
}

/// Loop reference for `symmetricMatVec`.
func symmetricMatVecNaive(_ g: [Double], _ x: [Double], n: Int) -> [Double] {
    (0..<n).map { i in (0..<n).reduce(0.0) { $0 + g[i * n + $1] * x[$1] } }
}

/// Top eigenvalue of a symmetric positive semi-definite G (n, n) by power iteration
/// (PowerIteration.swift), from a deterministic all-positive start (SplitMix64, uniform in [0, 2):
/// not orthogonal to a top eigenvector with components of one sign, a Perron vector).
/// It stops when the residual ‖Gv − λv‖ ≤ `tolerance`·λ (λ's own error is then of order
/// tolerance²·λ / relative eigengap), or when λ stagnates (relative change ≤ tolerance², as with a
/// near-double top eigenvalue, where λ is right but v is not unique), or after `maxIterations` steps.
func topEigenvalue(_ g: [Double], n: Int, tolerance: Double, maxIterations: Int) -> (Double, Int, Bool) {
    var rng = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)
    let start = (0..<n).map { _ in rng.nextUnit() * 2 }
    var w = [Double](repeating: 0, count: n)
    let r = powerIteration(start: start, maxIterations: maxIterations, apply: { v in
        symmetricMatVec(g, v, &w, n: n)                      // w = G v
        return w
    }, stop: { it, lambda, prev, v, w in
        var residual = 0.0
        for i in 0..<n { let d = w[i] - lambda * v[i]; residual += d * d }
        if residual.squareRoot() <= tolerance * abs(lambda) { return true }   // also G v = 0 (G = 0)
        return it > 1 && prev.map { abs(lambda - $0) <= tolerance * tolerance * abs(lambda) } ?? false
    })
    return (r.value, r.iterations, r.converged)
}

/// σ_max of W (rows, cols), row-major.
public func spectralNorm(_ w: UnsafeBufferPointer<Float>, rows: Int, cols: Int,
                         tolerance: Double = 1e-6, maxIterations: Int = 500) -> SpectralEstimate {
    precondition(w.count == rows * cols, "internal: spectralNorm size mismatch")
    if rows == 0 || cols == 0 { return SpectralEstimate(sigma: 0, iterations: 0, converged: true) }
    let n = min(rows, cols)
    var g = gram(w, rows: rows, cols: cols)
    let (lambda, iterations, converged) = topEigenvalue(g, n: n, tolerance: tolerance, maxIterations: maxIterations)
    if converged { return SpectralEstimate(sigma: max(0, lambda).squareRoot(), iterations: iterations, converged: true) }
    return SpectralEstimate(sigma: largestEigenvalueLAPACK(&g, n: n).map { max(0, $0).squareRoot() },
                            iterations: iterations, converged: false)
}

/// The largest eigenvalue of symmetric G (n, n; both triangles filled, so its row-major order is LAPACK's
/// column-major), by dsyevr; G is overwritten. nil if LAPACK reports a failure.
func largestEigenvalueLAPACK(_ g: inout [Double], n: Int) -> Double? {
    var jobz = Int8(UInt8(ascii: "N")), range = Int8(UInt8(ascii: "I")), uplo = Int8(UInt8(ascii: "U"))
    var n32 = Int32(n), lda = Int32(n), il = Int32(n), iu = Int32(n), ldz = Int32(1), found = Int32(0), info = Int32(0)
    var vl = 0.0, vu = 0.0, abstol = 0.0
    var values = [Double](repeating: 0, count: n), z = [0.0], support = [Int32](repeating: 0, count: 2)
    var lwork = Int32(-1), liwork = Int32(-1), workSize = 0.0, iworkSize = Int32(0)
    dsyevr_(&jobz, &range, &uplo, &n32, &g, &lda, &vl, &vu, &il, &iu, &abstol, &found, &values, &z, &ldz,
            &support, &workSize, &lwork, &iworkSize, &liwork, &info)
    guard info == 0 else { return nil }
    lwork = Int32(workSize); liwork = iworkSize
    var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
    dsyevr_(&jobz, &range, &uplo, &n32, &g, &lda, &vl, &vu, &il, &iu, &abstol, &found, &values, &z, &ldz,
            &support, &work, &lwork, &iwork, &liwork, &info)
    return info == 0 && found == 1 ? values[0] : nil
}

/// σ_max of W (rows, cols), row-major.
public func spectralNorm(_ w: [Float], rows: Int, cols: Int,
                         tolerance: Double = 1e-6, maxIterations: Int = 500) -> SpectralEstimate {
    w.withUnsafeBufferPointer { spectralNorm($0, rows: rows, cols: cols, tolerance: tolerance,
                                             maxIterations: maxIterations) }
}
