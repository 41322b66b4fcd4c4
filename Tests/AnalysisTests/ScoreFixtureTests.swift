import Checkpoints
import Foundation
import TestSets
import TestFixtures
import XCTest
@testable import Analysis

/// Every fixture checkpoint scores within 2e-4 of HF transformers' loss (../shared/fixtures/expected),
/// at stride T (disjoint windows, also per window) and T/2, and layout variants derived from them too.
final class ScoreFixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures").standardized
    static let tolerance = 2e-4

    struct Expected { let loss256: Double; let loss128: Double; let tokens: Int; let perWindow: [Double]? }

    func expected(_ json: String) throws -> Expected {
        let url = Self.fixtures.appendingPathComponent("expected/\(json)")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let t = (root["tests"] as! [String: Any])["test-persuasion"] as! [String: Any]
        let s256 = t["stride_256"] as! [String: Any], s128 = t["stride_128"] as! [String: Any]
        return Expected(loss256: s256["loss"] as! Double, loss128: s128["loss"] as! Double,
                        tokens: s256["tokens_scored"] as! Int, perWindow: t["per_window_loss"] as? [Double])
    }

    func tokens() throws -> (TokenFile, String) {
        let bin = Self.fixtures.appendingPathComponent("data/test-persuasion.bin").path
        guard FileManager.default.fileExists(atPath: bin) else { throw missingFixtures("../shared/fixtures not found at \(Self.fixtures.path)") }
        return (try loadTokenIDs(path: bin), bin)
    }

    func check(_ checkpoint: String, _ json: String, heads: Int? = nil) throws {
        let (toks, bin) = try tokens()
        let want = try expected(json)
        let ck = try loadCheckpoint(path: Self.fixtures.appendingPathComponent(checkpoint).path, heads: heads)
        let (r256, _, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, stride: 256, threads: 2)
        XCTAssertEqual(r256.loss, want.loss256, accuracy: Self.tolerance, "\(checkpoint) stride 256")
        XCTAssertEqual(r256.tokensScored, want.tokens)
        if let pw = want.perWindow {
            XCTAssertEqual(r256.windowLosses.count, pw.count)
            let worst = zip(r256.windowLosses, pw).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-3, "\(checkpoint): worst per-window difference")
        }
        let (r128, _, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, stride: 128, threads: 2)
        XCTAssertEqual(r128.loss, want.loss128, accuracy: Self.tolerance, "\(checkpoint) stride 128")
        XCTAssertEqual(r128.tokensScored, want.tokens)
    }

    func testRuns() throws {
        for run in ["baseline", "baseline-seed67", "wd-0.01", "stacked", "reference"] {
            try check("runs/\(run)/model.safetensors", "\(run).json")
        }
    }

    func testLayouts() throws {
        try check("layouts/reference-hf.safetensors", "layouts/reference-hf.safetensors.json", heads: 4)
        try check("layouts/reference-tf_model-f16.h5", "layouts/reference-tf_model-f16.h5.json", heads: 4)
        try check("layouts/weight-tying-nanogpt.safetensors", "layouts/weight-tying-nanogpt.safetensors.json", heads: 4)
        try check("layouts/weight-tying-keras-hub.weights.h5", "layouts/weight-tying-keras-hub.weights.h5.json", heads: 4)
    }

    /// A derived layout: the baseline (Raschka names, bf16) rewritten as HF Conv1D names in F32 and
    /// as nanoGPT Linear names in F16 scores like the original (F16 within rounding).
    func testDerivedLayouts() throws {
        let (toks, bin) = try tokens()
        let src = Self.fixtures.appendingPathComponent("runs/baseline/model.safetensors").path
        let ck = try loadCheckpoint(path: src)
        let w = ck.weights
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-derived-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func transpose(_ v: [Float], rows: Int, cols: Int) -> [Float] {
            var t = [Float](repeating: 0, count: v.count)
            for r in 0..<rows { for c in 0..<cols { t[c * rows + r] = v[r * cols + c] } }
            return t
        }
        var hf: [TensorToWrite] = [], nano: [TensorToWrite] = []
        for id in w.parameterTensors {
            let shape = w.layout.shapes[id]!
            let v = w.tensor(id)
            let hfName = "transformer." + id.canonicalName.replacingOccurrences(of: "lm_head.weight", with: "LMHEAD")
            if shape.count == 2 && id.layer != nil {
                hf.append(TensorToWrite(name: hfName, shape: [shape[1], shape[0]], dtype: .F32, values: transpose(v, rows: shape[0], cols: shape[1])))
            } else {
                hf.append(TensorToWrite(name: id.kind == .lmHead ? "lm_head.weight" : hfName, shape: shape, dtype: .F32, values: v))
            }
            nano.append(TensorToWrite(name: "_orig_mod." + (id.kind == .lmHead ? "lm_head.weight" : "transformer." + id.canonicalName),
                                      shape: shape, dtype: .F16, values: v))
        }
        let hfPath = dir.appendingPathComponent("hf.safetensors").path, nanoPath = dir.appendingPathComponent("nano.safetensors").path
        try writeSafetensors(path: hfPath, tensors: hf)
        try writeSafetensors(path: nanoPath, tensors: nano)
        let base = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 20_000, threads: 2).0.loss
        let a = try loadCheckpoint(path: hfPath, heads: 4), b = try loadCheckpoint(path: nanoPath, heads: 4)
        XCTAssertEqual(a.layout, .hf); XCTAssertEqual(b.layout, .nanogpt)
        XCTAssertEqual(try scoreCheckpoint(a, tokens: toks, testSetPath: bin, maxTokens: 20_000, threads: 2).0.loss, base, accuracy: 1e-6)
        XCTAssertEqual(try scoreCheckpoint(b, tokens: toks, testSetPath: bin, maxTokens: 20_000, threads: 2).0.loss, base, accuracy: 2e-3)
    }
}
