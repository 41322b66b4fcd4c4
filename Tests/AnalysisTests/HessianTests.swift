import XCTest
import Foundation
import Engine
@testable import Analysis

/// Hutchinson and power iteration against a quadratic with a known Hessian, and the GPT-2
/// finite-difference HVP for symmetry and accuracy on a tiny random model.
final class HessianTests: XCTestCase {
    /// A = Q·diag(λ)·Qᵀ with a random orthogonal Q (Gram–Schmidt), in Double.
    func quadratic(eigenvalues lambda: [Double], seed: UInt64) -> DenseSymmetricOperator {
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

    func testHutchinsonOnQuadraticIsUnbiasedAndStopsOnTolerance() throws {
        let lambda = (0..<40).map { 1 + Double($0) * 0.25 }  // trace 235
        let op = quadratic(eigenvalues: lambda, seed: 3)
        let exact = lambda.reduce(0, +)
        var rng = SplitMix64(seed: 1)
        let est = try hutchinsonTrace(op, samples: 400, rng: &rng)
        XCTAssertEqual(est.samples, 400)
        XCTAssertEqual(est.mean, exact, accuracy: 4 * est.stderr)
        XCTAssertGreaterThan(est.stderr, 0)
        // blocks sum to the total, and each estimates its diagonal block's trace
        XCTAssertEqual(est.perBlock.values.reduce(0, +), est.mean, accuracy: 1e-6 * exact)
        let firstExact = (0..<20).reduce(0.0) { $0 + op.a[$1 * 40 + $1] }
        XCTAssertEqual(est.perBlock["first"]!, firstExact, accuracy: 0.1 * exact)
        // a diagonal matrix has zero variance under Rademacher probes: exact with one sample
        let diag = DenseSymmetricOperator(n: 3, a: [2, 0, 0, 0, 5, 0, 0, 0, -1])
        var r2 = SplitMix64(seed: 9)
        XCTAssertEqual(try hutchinsonTrace(diag, samples: 3, rng: &r2).mean, 6, accuracy: 1e-6)
        // tolerance stops early
        var r3 = SplitMix64(seed: 2)
        let early = try hutchinsonTrace(op, samples: 1000, tol: 0.05, rng: &r3)
        XCTAssertLessThan(early.samples, 1000)
        XCTAssertLessThan(early.stderr / abs(early.mean), 0.05)
        // same seed, same result
        var r4 = SplitMix64(seed: 1)
        XCTAssertEqual(try hutchinsonTrace(op, samples: 400, rng: &r4).sampleValues, est.sampleValues)
    }

    func testPowerIterationWithDeflationOnQuadratic() throws {
        let lambda: [Double] = [10, 6, 3, 2, 1.5, 1, 0.5, 0.25] + [Double](repeating: 0.1, count: 12)
        let op = quadratic(eigenvalues: lambda, seed: 4)
        var rng = SplitMix64(seed: 5)
        let eig = try topEigenvalues(op, count: 3, maxIterations: 200, tol: 1e-7, rng: &rng)
        XCTAssertEqual(eig.values[0], 10, accuracy: 1e-3)
        XCTAssertEqual(eig.values[1], 6, accuracy: 1e-3)
        XCTAssertEqual(eig.values[2], 3, accuracy: 1e-3)
        XCTAssertEqual(abs(dotD(eig.vectors[0], eig.vectors[1])), 0, accuracy: 1e-4)
    }

    // MARK: GPT-2 finite-difference HVP

    static let tiny = GPT2Config(vocabSize: 37, contextLength: 8, nEmbd: 16, nLayer: 2, nHead: 2, nInner: 64)

    func tinyOperator(tied: Bool, biases: Bool, relativeStep: Double = defaultRelativeStep) -> GPT2LossHessian {
        let w = GPT2Weights.random(config: Self.tiny, tied: tied, biases: biases, seed: 21)
        var rng = SplitMix64(seed: 8)
        let tokens = (0..<(4 * 8 + 1)).map { _ in Int32(rng.next() % 37) }
        return GPT2LossHessian(weights: w, backend: CPUBackend(threads: 2), inputs: Array(tokens[0..<32]),
                               targets: Array(tokens[1...32]), b: 4, t: 8, relativeStep: relativeStep)
    }

    func testHVPIsSymmetricAndStaysOnParameters() throws {
        let op = tinyOperator(tied: true, biases: false)
        var rng = SplitMix64(seed: 3)
        let v = rademacher(dimension: op.dimension, blocks: op.blocks, rng: &rng)
        let w = rademacher(dimension: op.dimension, blocks: op.blocks, rng: &rng)
        let hv = try op.hvp(v), hw = try op.hvp(w)
        let wHv = dotD(w, hv), vHw = dotD(v, hw)
        XCTAssertEqual(wHv, vHw, accuracy: 1e-3 * max(abs(wHv), abs(vHw), 1))
        // absent biases and the tied head are not parameters: Hv is zero there
        for id in op.weights.layout.tensors where !op.weights.isStored(id) {
            XCTAssertTrue(op.weights.layout.range(id).allSatisfy { hv[$0] == 0 }, id.canonicalName)
        }
    }

    /// Finite-difference error: δ = default against a Richardson-extrapolated reference,
    /// (4·H_{δ/2}v − H_δ v)/3 at δ = 1e-2, which is O(δ⁴)-accurate.
    func testHVPAccuracyOnTinyModel() throws {
        var rng = SplitMix64(seed: 4)
        let base = tinyOperator(tied: false, biases: true)
        let v = rademacher(dimension: base.dimension, blocks: base.blocks, rng: &rng)
        let coarse = try tinyOperator(tied: false, biases: true, relativeStep: 2e-2).hvp(v)
        let fine = try tinyOperator(tied: false, biases: true, relativeStep: 1e-2).hvp(v)
        let reference = zip(fine, coarse).map { (4 * $0 - $1) / 3 }
        let hv = try base.hvp(v)
        let err = normD(zip(hv, reference).map { $0 - $1 }) / normD(reference)
        print("tiny-model HVP relative error at δ=\(defaultRelativeStep): \(err)")
        XCTAssertLessThan(err, 1e-2)
        XCTAssertEqual(dotD(v, hv), dotD(v, reference), accuracy: 1e-2 * abs(dotD(v, reference)))
    }

    func testHessianAnalysisOnTinyModelSumsAndKeys() throws {
        let w = GPT2Weights.random(config: Self.tiny, tied: false, biases: false, seed: 2)
        var rng = SplitMix64(seed: 1)
        let tokens = (0..<40).map { _ in Int32(rng.next() % 37) }
        let r = try hessianAnalysis(weights: w, backend: CPUBackend(threads: 2), tokens: tokens, batch: 4, context: 8,
                                    samples: 10, seed: 7, topK: 2)
        XCTAssertEqual(r.samples, 10)
        XCTAssertEqual(Set(r.perTensor.keys), Set(w.parameterTensors.map(\.canonicalName)))
        XCTAssertEqual(Set(r.perLayer.keys), ["embeddings", "h.0", "h.1", "ln_f", "lm_head"])
        XCTAssertEqual(r.perTensor.values.reduce(0, +), r.trace, accuracy: 1e-9 * max(1, abs(r.trace)))
        XCTAssertEqual(r.perLayer.values.reduce(0, +), r.trace, accuracy: 1e-9 * max(1, abs(r.trace)))
        XCTAssertNil(r.gradNorms["h.0.attn.c_attn.bias"])
        XCTAssertEqual(r.topEigenvalues.count, 2)
        XCTAssertGreaterThanOrEqual(abs(r.topEigenvalues[0]), abs(r.topEigenvalues[1]) * 0.99)
        let json = try JSONEncoder().encode(r)
        let keys = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        for k in ["trace", "stderr", "samples", "batch_loss", "per_tensor", "per_layer", "grad_norms",
                  "top_eigenvalues", "seconds", "epsilon"] { XCTAssertNotNil(keys[k], k) }
        XCTAssertEqual(try JSONDecoder().decode(HessianResult.self, from: json), r)
        // too few tokens is a typed error
        XCTAssertThrowsError(try hessianAnalysis(weights: w, tokens: Array(tokens[0..<32]), batch: 4, context: 8)) {
            XCTAssertEqual($0 as? HessianError, .notEnoughTokens(needed: 33, available: 32))
        }
    }
}
