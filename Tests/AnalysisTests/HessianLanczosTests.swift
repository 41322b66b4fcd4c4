import XCTest
import Foundation
import Engine
@testable import Analysis

/// Lanczos (top eigenvalues, residuals) and stochastic Lanczos quadrature on explicit symmetric matrices,
/// against spectra known by construction and numpy's LAPACK (tests/reference/hessian_density.py →
/// Fixtures/hessian-density.json), and the density's broadening against a numpy re-implementation of
/// PyHessian's density_generate.
final class HessianLanczosTests: XCTestCase {
    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String, nodes: [[Double]], weights: [[Double]], bins: Int
            let grid: [Double], density: [Double], variance: Double
        }
        struct Matrix: Decodable { let n: Int, a: [Double], eigenvalues: [Double] }
        struct Tridiagonal: Decodable {
            let alphas: [Double], betas: [Double], eigenvalues: [Double], first_components_squared: [Double]
        }
        let cases: [Case]
        let matrix: Matrix
        let tridiagonal: Tridiagonal
    }

    static func reference() throws -> Reference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/hessian-density.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testTridiagonalEigenAndWeightsMatchNumpy() throws {
        let t = try Self.reference().tridiagonal
        let run = LanczosRun(alphas: t.alphas, betas: t.betas + [0])
        let pairs = ritzPairs(run)
        for (got, want) in zip(pairs.values, t.eigenvalues) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        for (s, want) in zip(pairs.vectors, t.first_components_squared) { XCTAssertEqual(s[0] * s[0], want, accuracy: 1e-12) }
        let m = try Self.reference().matrix
        let (values, _) = symmetricEigen(m.a, n: m.n)
        for (got, want) in zip(values, m.eigenvalues) { XCTAssertEqual(got, want, accuracy: 1e-11) }
    }

    func testTopEigenvaluesOnKnownSpectrum() throws {
        let lambda: [Double] = [10, 6, 3, 2, 1.5, 1, 0.5, 0.25] + [Double](repeating: 0.1, count: 52)
        let op = quadraticOperator(eigenvalues: lambda, seed: 4)
        var rng = SplitMix64(seed: 5)
        var seen: [Int] = []
        let eig = try topEigenvalues(op, count: 3, maxSteps: 60, tol: 1e-5, keepVectors: true, rng: &rng) { step, _, _ in seen.append(step) }
        XCTAssertTrue(eig.converged)
        XCTAssertLessThan(eig.steps, 60, "stops on the residual rule")
        XCTAssertEqual(seen, Array(1...eig.steps))
        for (k, want) in [10.0, 6, 3].enumerated() {
            XCTAssertEqual(eig.values[k], want, accuracy: 1e-4)
            // some eigenvalue lies within the explicit residual (+ fp32 rounding of the products)
            XCTAssertLessThanOrEqual(abs(eig.values[k] - want), eig.residuals[k] + 1e-5 * 10)
            XCTAssertLessThanOrEqual(eig.residuals[k], 1e-4 * want)
        }
        XCTAssertEqual(abs(dotD(eig.vectors[0], eig.vectors[1])), 0, accuracy: 1e-4)
    }

    /// Stopped early (residuals ~1e-2), the recurrence's β·|s_last| agrees with the explicit ‖Hy − θy‖.
    func testRecurrenceResidualMatchesExplicit() throws {
        let lambda = (0..<50).map { 0.1 * Double($0) } + [9, 7, 6.5]
        let op = quadraticOperator(eigenvalues: lambda, seed: 11)
        var rng = SplitMix64(seed: 2)
        let eig = try topEigenvalues(op, count: 2, maxSteps: 6, tol: 1e-12, rng: &rng)
        XCTAssertFalse(eig.converged)
        XCTAssertEqual(eig.steps, 6)
        for (explicit, recurrence) in zip(eig.residuals, eig.residualEstimates) {
            XCTAssertGreaterThan(explicit, 1e-3)
            XCTAssertEqual(recurrence, explicit, accuracy: 1e-4 * explicit + 1e-5)
        }
    }

    /// An indefinite matrix (numpy's eigenvalues): the top three by magnitude, as power iteration would rank them.
    func testTopEigenvaluesOnNumpyMatrix() throws {
        let m = try Self.reference().matrix
        let op = DenseSymmetricOperator(n: m.n, a: m.a)
        var rng = SplitMix64(seed: 3)
        let eig = try topEigenvalues(op, count: 3, maxSteps: 24, tol: 1e-6, rng: &rng)
        let want = m.eigenvalues.sorted { abs($0) > abs($1) }.prefix(3)
        for (got, w) in zip(eig.values, want) { XCTAssertEqual(got, w, accuracy: 1e-4) }
    }

    /// Gauss quadrature: m steps integrate degree ≤ 2m − 1 exactly, Σ w θ^p = vᵀA^p v / vᵀv.
    func testQuadratureIsExactForLowDegrees() throws {
        let lambda = (0..<30).map { -2 + 0.4 * Double($0) }
        let op = quadraticOperator(eigenvalues: lambda, seed: 6)
        var rng = SplitMix64(seed: 8)
        let v = rademacher(dimension: 30, blocks: op.blocks, rng: &rng)
        let run = try lanczosQuadrature(op, start: v, steps: 4)
        XCTAssertEqual(run.nodes.count, 4)
        var av = v.map(Double.init)
        let vv = dotD(v, v)
        for p in 0...7 {
            let exact = zip(v, av).reduce(0.0) { $0 + Double($1.0) * $1.1 } / vv
            let got = zip(run.nodes, run.weights).reduce(0.0) { $0 + $1.1 * pow($1.0, Double(p)) }
            XCTAssertEqual(got, exact, accuracy: 1e-4 * pow(10, Double(p)) + 1e-6, "moment \(p)")
            av = (0..<30).map { i in (0..<30).reduce(0.0) { $0 + op.a[i * 30 + $1] * av[$1] } }
        }
    }

    /// SLQ over many vectors: each vector's weights sum to 1, the density has mass 1, and the first two
    /// moments match tr(A)/n and tr(A²)/n within 3 standard errors of the estimator.
    func testDensityMomentsMatchTraces() throws {
        let lambda = (0..<40).map { -1 + 0.3 * Double($0) } + [25, 30]
        let n = Double(lambda.count)
        let op = quadraticOperator(eigenvalues: lambda, seed: 9)
        var rng = SplitMix64(seed: 10)
        var options = DensityOptions(vectors: 40, steps: 8)
        options.bins = 2000
        let d = try spectralDensity(op, options: options, rng: &rng)
        XCTAssertEqual(d.runs.count, 40)
        XCTAssertEqual(d.hvps, 40 * 8)
        var m1: [Double] = [], m2: [Double] = []
        for r in d.runs {
            XCTAssertEqual(r.weights.reduce(0, +), 1, accuracy: 1e-6)
            m1.append(zip(r.nodes, r.weights).reduce(0) { $0 + $1.0 * $1.1 })
            m2.append(zip(r.nodes, r.weights).reduce(0) { $0 + $1.0 * $1.0 * $1.1 })
        }
        func check(_ xs: [Double], _ exact: Double, _ what: String) {
            let mean = xs.reduce(0, +) / Double(xs.count)
            let sd = (xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)).squareRoot()
            let se = sd / Double(xs.count).squareRoot()
            XCTAssertGreaterThan(se, 0)
            XCTAssertEqual(mean, exact, accuracy: 3 * se, "\(what): \(mean) ± \(se) vs \(exact)")
        }
        check(m1, lambda.reduce(0, +) / n, "mean")
        check(m2, lambda.reduce(0) { $0 + $1 * $1 } / n, "second moment")
        let dx = d.grid[1] - d.grid[0]
        XCTAssertEqual(d.density.reduce(0, +) * dx, 1, accuracy: 1e-12)
        XCTAssertEqual(d.grid.count, 2000)
        // the grid spans the mean extreme nodes ± 0.01, and the top eigenvalues are resolved
        XCTAssertEqual(d.grid.last!, d.runs.map { $0.nodes.max()! }.reduce(0, +) / 40 + 0.01, accuracy: 1e-12)
        XCTAssertEqual(d.runs[0].nodes.last!, 30, accuracy: 1e-3)
    }

    func testBroadeningMatchesNumpy() throws {
        for c in try Self.reference().cases {
            let runs = zip(c.nodes, c.weights).map { SLQRun(nodes: $0, weights: $1) }
            let (grid, density, variance) = broadenedDensity(runs, bins: c.bins)
            XCTAssertEqual(variance, c.variance, accuracy: 1e-15 * c.variance)
            XCTAssertEqual(grid.count, c.grid.count)
            var worst = 0.0
            for (got, want) in zip(grid, c.grid) { XCTAssertEqual(got, want, accuracy: 1e-12 * max(1, abs(want))) }
            for (got, want) in zip(density, c.density) {
                let rel = abs(got - want) / max(abs(want), .leastNormalMagnitude)
                worst = max(worst, rel)
                XCTAssertLessThanOrEqual(rel, 1e-12, "\(c.name): \(got) vs \(want)")
            }
            print("broadening \(c.name): worst relative difference \(worst)")
        }
    }
}

/// ½xᵀAx with A = Q·diag(λ)·Qᵀ, Q a random orthogonal matrix (Gram–Schmidt), in Double; two blocks.
func quadraticOperator(eigenvalues lambda: [Double], seed: UInt64) -> DenseSymmetricOperator {
    let n = lambda.count
    var rng = SplitMix64(seed: seed)
    var q: [[Double]] = []
    while q.count < n {
        var v = (0..<n).map { _ in rng.nextGaussian() }
        for u in q { let c = zip(v, u).reduce(0) { $0 + $1.0 * $1.1 }; for i in 0..<n { v[i] -= c * u[i] } }
        let nv = (v.reduce(0) { $0 + $1 * $1 }).squareRoot()
        q.append(v.map { $0 / nv })
    }
    var a = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { for k in 0..<n { a[i * n + j] += q[k][i] * lambda[k] * q[k][j] } } }
    return DenseSymmetricOperator(n: n, a: a, blocks: [HVPBlock(name: "first", range: 0..<n / 2),
                                                         HVPBlock(name: "second", range: n / 2..<n)])
}
