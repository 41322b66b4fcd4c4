import Analysis
import Checkpoints
import Engine
import Foundation
import TestSets
import Tokenizer
import TestFixtures
import XCTest

/// `compare`: per-token diagnostics against PyTorch (tests/reference/compare_reference.py).
final class CompareTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/fixtures")

    struct Reference: Decodable {
        let loss_a: Double, loss_b: Double, kl_mean: Double, top1_agreement: Double, tokens_scored: Int
        let loss_by_position: [String: [Double]]
        let position_counts: [Int]
        let delta_quantiles: [String: Double]
    }

    /// Finite weights whose activations overflow f32 (a token embedding of 1e38: the residual stream reaches ±Inf and
    /// LayerNorm gives NaN) stop compare with one error naming the model, not a trap in the calibration bins.
    func testOverflowingForwardIsAnErrorNamingTheModel() throws {
        let config = GPT2Config(vocabSize: 64, contextLength: 16, nEmbd: 16, nLayer: 1, nHead: 2)
        let a = GPT2Weights.random(config: config, tied: true, biases: true, seed: 1)
        var b = a
        let wte = b.layout.range(TensorID(.wte))
        for i in wte { b.data[i] = b.data[i] >= 0 ? 3e38 : -3e38 }
        let tokens = (0..<64).map { Int32($0 % 64) }
        let plan = try WindowPlan(tokenCount: tokens.count, context: 16, stride: 16)
        let backend = CPUBackend(threads: 1)
        XCTAssertThrowsError(try compareTokens(a: GPT2Model(weights: a, backend: backend), b: GPT2Model(weights: b, backend: backend),
                                               names: ("a.safetensors", "b.safetensors"), tokens: tokens, testSet: "t", plan: plan, tokenizer: nil)) { e in
            let text = (e as? LocalizedError)?.errorDescription ?? ""
            XCTAssertTrue(text.hasPrefix("b.safetensors: the forward gives a non-finite loss"), text)
        }
        // Scoring's check (scoreCheckpoint, its sequential form and interpolation call it) refuses it rather than printing nan.
        let scores = scoreWindows(model: GPT2Model(weights: b, backend: backend), tokens: tokens, windows: plan.windows, batch: 2)
        XCTAssertThrowsError(try scores.requireFinite("b.safetensors")) { e in
            XCTAssertEqual((e as? LocalizedError)?.errorDescription,
                           "b.safetensors: the forward gives a non-finite loss (NaN or ±Inf) in window 0: its activations overflow f32; no loss is given")
        }
        XCTAssertNoThrow(try scoreWindows(model: GPT2Model(weights: a, backend: backend), tokens: tokens, windows: plan.windows, batch: 2)
            .requireFinite("a.safetensors"))
    }

    func testMatchesPyTorch() throws {
        let a = Self.fixtures.appendingPathComponent("runs/baseline/model.safetensors").path
        let b = Self.fixtures.appendingPathComponent("runs/stacked/model.safetensors").path
        let bin = Self.fixtures.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: a) else { throw missingFixtures("../shared/fixtures not found at \(Self.fixtures.path)") }
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.here.appendingPathComponent("Fixtures/compare-baseline-stacked.json")))
        let tokens = try loadTokenIDs(path: bin)
        let plan = try WindowPlan(tokenCount: tokens.ids.count, context: 256, stride: 256)
        let backend = CPUBackend(threads: 2)
        let r = try compareTokens(a: GPT2Model(weights: try loadCheckpoint(path: a).weights, backend: backend),
                              b: GPT2Model(weights: try loadCheckpoint(path: b).weights, backend: backend),
                              names: (a, b), tokens: tokens.ids, testSet: bin, plan: plan, tokenizer: try GPT2Tokenizer.load())
        XCTAssertEqual(r.tokensScored, ref.tokens_scored)
        XCTAssertEqual(r.positionCounts, ref.position_counts)
        XCTAssertEqual(r.lossA, ref.loss_a, accuracy: 1e-6); XCTAssertEqual(r.lossB, ref.loss_b, accuracy: 1e-6)
        let worstA = zip(r.lossByPosition.a, ref.loss_by_position["a"]!).map { abs($0 - $1) }.max()!
        let worstB = zip(r.lossByPosition.b, ref.loss_by_position["b"]!).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(max(worstA, worstB), 1e-5)
        XCTAssertEqual(r.klMean, ref.kl_mean, accuracy: 1e-6)
        XCTAssertEqual(r.top1Agreement, ref.top1_agreement, accuracy: 2e-4)  // a handful of fp32 near-ties may flip
        for (k, v) in ref.delta_quantiles { XCTAssertEqual(r.deltaQuantiles[k]!, v, accuracy: 1e-4, k) }
        print("compare vs PyTorch: loss \(abs(r.lossA - ref.loss_a)), \(abs(r.lossB - ref.loss_b)); by position \(max(worstA, worstB)); "
              + "KL \(abs(r.klMean - ref.kl_mean)); top-1 \(abs(r.top1Agreement - ref.top1_agreement))")
        // Segments: B's gains are its most negative mean Δ, in order, and each is the text it says.
        XCTAssertEqual(r.gains.count, 5); XCTAssertEqual(r.losses.count, 5)
        XCTAssertEqual(r.gains.map(\.deltaMean), r.gains.map(\.deltaMean).sorted())
        XCTAssertLessThan(r.gains[0].deltaMean, r.losses[0].deltaMean)
        let text = try String(contentsOfFile: Self.fixtures.appendingPathComponent("data/test-persuasion.txt").path, encoding: .utf8)
        for s in r.gains + r.losses {
            XCTAssertEqual(s.tokens.count, 32)
            XCTAssertEqual(s.deltaMean, s.tokens.reduce(0) { $0 + $1.delta } / 32, accuracy: 1e-9)
            XCTAssertEqual(s.text, s.tokens.map(\.text).joined())
            XCTAssertTrue(text.contains(s.text), "segment text not in the test set: \(s.text)")
        }
    }
}
