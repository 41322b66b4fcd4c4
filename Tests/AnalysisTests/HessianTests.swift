import XCTest
import Foundation
import Engine
@testable import Analysis

/// Hutchinson and power iteration against a quadratic with a known Hessian, and the GPT-2
/// finite-difference HVP for symmetry and accuracy on a tiny random model.
final class HessianTests: XCTestCase {
    func quadratic(eigenvalues lambda: [Double], seed: UInt64) -> DenseSymmetricOperator {
        quadraticOperator(eigenvalues: lambda, seed: seed)
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

    /// Groups of blocks from the same probes: means add up to the total, one group of everything has
    /// the total's standard error, single blocks reproduce perBlock, and each group's estimate is
    /// within 4 standard errors of its exact diagonal-block trace.
    func testGroupedTraceSumsAndCoversExactBlockTraces() throws {
        let lambda = (0..<40).map { -3 + Double($0) * 0.4 }
        let op = DenseSymmetricOperator(n: 40, a: quadratic(eigenvalues: lambda, seed: 12).a,
                                        blocks: (0..<4).map { HVPBlock(name: "b\($0)", range: (10 * $0)..<(10 * $0 + 10)) })
        var rng = SplitMix64(seed: 13)
        let est = try hutchinsonTrace(op, samples: 200, rng: &rng)
        let groups = est.grouped(["x", "y", "x", "z"])
        XCTAssertEqual(groups.values.reduce(0) { $0 + $1.trace }, est.mean, accuracy: 1e-12 * abs(est.mean) + 1e-12)
        let all = est.grouped(["all", "all", "all", "all"])["all"]!
        XCTAssertEqual(all.trace, est.mean, accuracy: 1e-12 * abs(est.mean) + 1e-12)
        XCTAssertEqual(all.stderr, est.stderr, accuracy: 1e-12 * est.stderr)
        for (name, part) in est.grouped(op.blocks.map(\.name)) {
            XCTAssertEqual(part.trace, est.perBlock[name]!, accuracy: 1e-12)
            XCTAssertEqual(part.stderr, est.perBlockStderr[name]!, accuracy: 1e-9 * part.stderr)
        }
        let diag = { (r: Range<Int>) in r.reduce(0.0) { $0 + op.a[$1 * 40 + $1] } }
        let exact = ["x": diag(0..<10) + diag(20..<30), "y": diag(10..<20), "z": diag(30..<40)]
        for (name, part) in groups {
            XCTAssertGreaterThan(part.stderr, 0)
            XCTAssertEqual(part.trace, exact[name]!, accuracy: 4 * part.stderr, name)
        }
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
                                    samples: 10, seed: 7, topK: 2,
                                    density: DensityOptions(vectors: 2, steps: 5))
        XCTAssertEqual(r.samples, 10)
        XCTAssertEqual(Set(r.perTensor.keys), Set(w.parameterTensors.map(\.canonicalName)))
        XCTAssertEqual(Set(r.perLayer.keys), ["embeddings", "h.0", "h.1", "ln_f", "lm_head"])
        XCTAssertEqual(r.perTensor.values.reduce(0, +), r.trace, accuracy: 1e-9 * max(1, abs(r.trace)))
        XCTAssertEqual(r.perLayer.values.reduce(0, +), r.trace, accuracy: 1e-9 * max(1, abs(r.trace)))
        XCTAssertNil(r.gradNorms["h.0.attn.c_attn.bias"])
        let blocks = ["wte", "wpe", "ln_f", "lm_head"] + (0..<2).flatMap { l in
            ["ln_1", "attn.qkv", "attn.proj", "ln_2", "mlp.fc", "mlp.proj"].map { "h.\(l).\($0)" }
        }
        XCTAssertEqual(Set(r.byBlock.keys), Set(blocks))
        XCTAssertEqual(r.byBlock.values.reduce(0) { $0 + $1.trace }, r.trace, accuracy: 1e-9 * max(1, abs(r.trace)))
        XCTAssertEqual(r.byBlock["h.0.attn.qkv"]!.trace, r.perTensor["h.0.attn.c_attn.weight"]!, accuracy: 1e-12)
        XCTAssertEqual(r.topEigenvalues.count, 2)
        XCTAssertEqual(r.eigenResiduals.count, 2)
        XCTAssertGreaterThanOrEqual(abs(r.topEigenvalues[0]), abs(r.topEigenvalues[1]))
        XCTAssertEqual(r.density?.runs.count, 2)
        XCTAssertEqual(r.density?.hvps, 10)
        XCTAssertEqual(r.density?.grid.count, 10_000)
        let json = try JSONEncoder().encode(r)
        let keys = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        for k in ["trace", "stderr", "samples", "batch_loss", "per_tensor", "per_layer", "grad_norms",
                  "top_eigenvalues", "seconds", "epsilon", "by_block", "eigen_residuals", "eigen_steps"] { XCTAssertNotNil(keys[k], k) }
        XCTAssertEqual(try JSONDecoder().decode(HessianResult.self, from: json), r)
        // too few tokens is a typed error
        XCTAssertThrowsError(try hessianAnalysis(weights: w, tokens: Array(tokens[0..<32]), batch: 4, context: 8)) {
            XCTAssertEqual($0 as? HessianError, .notEnoughTokens(needed: 33, available: 32))
        }
    }

    /// A Lanczos basis that cannot fit in memory is refused before any work, saying how many steps would fit:
    /// GPT-2 small's 124,439,808 floats are 475 MiB a step, so 16 GiB holds 34 vectors, 31 steps beside the 3
    /// working vectors.
    func testLanczosBasisThatCannotFitIsRefusedBeforeWork() throws {
        let n = 124_439_808, gib16 = 16 << 30
        XCTAssertThrowsError(try checkLanczosMemory(dimension: n, topK: 1, maxIterations: 100, density: nil, available: gib16)) { e in
            XCTAssertEqual(e as? HessianError, .lanczosMemory(steps: 100, dimension: n, needed: 103 * n * 4, available: gib16))
            let text = (e as? HessianError)?.errorDescription ?? ""
            XCTAssertTrue(text.contains("at most 31 steps fit"), text)
            XCTAssertTrue(text.contains("47.7 GiB") && text.contains("16.0 GiB"), text)
        }
        XCTAssertNoThrow(try checkLanczosMemory(dimension: n, topK: 1, maxIterations: 31, density: nil, available: gib16))
        XCTAssertNoThrow(try checkLanczosMemory(dimension: n, topK: 0, maxIterations: 100, density: nil, available: 1), "no Lanczos run")
        XCTAssertThrowsError(try checkLanczosMemory(dimension: n, topK: 0, maxIterations: 1, density: DensityOptions(vectors: 1, steps: 100),
                                                    available: gib16), "the density's run counts too")
        XCTAssertNoThrow(try checkLanczosMemory(dimension: n, topK: 1, maxIterations: 100, density: nil, available: nil), "unknown: no refusal")
    }

    /// The CPU gradient's memory is checked before work (a batch of 8,000 windows allocated 72 GB at once and
    /// crashed). GPT-2 small, 4 × 1024, by hand: attention probabilities 12·4·12·1024² = 603,979,776 floats; the
    /// other activations 4096·(2·768 + 3 + 12·(10·768 + 2·3072 + 4)) = 685,977,600 (per layer ln1, qkv (3C),
    /// atty, attproj, residual2, ln2, fcproj, residual3; fch and its GELU (F each); two means and rstds); the
    /// backward's scratch 4096·(6·768 + 2·3072) = 44,040,192; six vectors of 124,439,808: 8,322,545,664 bytes.
    func testGradientBatchThatCannotFitIsRefusedBeforeWork() throws {
        let small = GPT2Config(vocabSize: 50257, contextLength: 1024, nEmbd: 768, nLayer: 12, nHead: 12)
        let n = 124_439_808, gib = 1 << 30
        XCTAssertThrowsError(try checkGradientMemory(config: small, dimension: n, batch: 4, context: 1024, available: 4 * gib)) { e in
            XCTAssertEqual(e as? HessianError, .batchMemory(batch: 4, context: 1024, needed: 8_322_545_664, available: 4 * gib))
            let text = (e as? HessianError)?.errorDescription ?? ""
            XCTAssertTrue(text.contains("4 × 1024") && text.contains("7.8 GiB") && text.contains("--batch"), text)
        }
        XCTAssertNoThrow(try checkGradientMemory(config: small, dimension: n, batch: 4, context: 1024, available: 8 * gib))
        XCTAssertNoThrow(try checkGradientMemory(config: small, dimension: n, batch: 4, context: 1024, available: nil), "unknown: no refusal")
    }
}
