import Foundation
import XCTest
import Engine
@testable import Analysis

/// Norm statistics against values worked out by hand or with numpy (never with gpt2lab).
final class NormsTests: XCTestCase {
    func testMomentsOfSmallVector() {
        // [3, 4]: ‖w‖ = 5, Σw² = 25, rms = √12.5, mean 3.5, population std 0.5, max 4.
        let s = tensorNormStats([3, 4], shape: [2])
        XCTAssertEqual(s.l2, 5, accuracy: 1e-12)
        XCTAssertEqual(s.sumSq, 25, accuracy: 1e-12)
        XCTAssertEqual(s.rms, 12.5.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.mean, 3.5, accuracy: 1e-12)
        XCTAssertEqual(s.std, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.maxAbs, 4)
        XCTAssertEqual(s.count, 2)
        XCTAssertNil(s.spectralNorm)
        XCTAssertNil(s.stableRank)
    }

    func testMomentsWithNegativesAndLargeMean() {
        // [-2, 0, 2, 4]: mean 1, deviations -3 -1 1 3 → std √5; Σw² = 24; max |w| 4.
        let s = tensorNormStats([-2, 0, 2, 4], shape: [4])
        XCTAssertEqual(s.mean, 1, accuracy: 1e-12)
        XCTAssertEqual(s.std, 5.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.sumSq, 24, accuracy: 1e-12)
        XCTAssertEqual(s.maxAbs, 4)
        // LayerNorm-gain-like: 1000 values 1 ± 0.001 alternating; std is half their gap (two-pass,
        // no cancellation against the mean of 1).
        let g = (0..<1000).map { Float($0 % 2 == 0 ? 1.001 : 0.999) }
        let t = tensorNormStats(g, shape: [1000])
        XCTAssertEqual(t.std, (Double(Float(1.001)) - Double(Float(0.999))) / 2, accuracy: 1e-12)
    }

    func testEmptyAndZeroTensors() {
        let e = tensorNormStats([], shape: [0])
        XCTAssertEqual(e.count, 0)
        XCTAssertEqual(e.l2, 0)
        let z = tensorNormStats([Float](repeating: 0, count: 12), shape: [3, 4])
        XCTAssertEqual(z.spectralNorm, 0)
        XCTAssertNil(z.stableRank)
    }

    func testSpectralNormOfDiagonal() {
        // diag(5, 3, 1, 0.5) padded to 6×4: σ = 5, 3, 1, 0.5; ‖W‖²_F = 35.25, stable rank 35.25/25.
        var w = [Float](repeating: 0, count: 6 * 4)
        for (i, d) in [Float(5), 3, 1, 0.5].enumerated() { w[i * 4 + i] = d }
        let s = tensorNormStats(w, shape: [6, 4])
        XCTAssertEqual(s.spectralNorm!, 5, accuracy: 5e-6)
        XCTAssertEqual(s.stableRank!, 35.25 / 25, accuracy: 1e-5)
        // Wide orientation (4, 6) takes the WWᵀ branch: same singular values.
        var wt = [Float](repeating: 0, count: 4 * 6)
        for (i, d) in [Float(5), 3, 1, 0.5].enumerated() { wt[i * 6 + i] = d }
        XCTAssertEqual(tensorNormStats(wt, shape: [4, 6]).spectralNorm!, 5, accuracy: 5e-6)
    }

    /// W = Q₁ D Q₂ᵀ with orthogonal Q₁ (8×8), Q₂ (5×5) built from Givens rotations: W's singular
    /// values are exactly D's (up to W's rounding to Float).
    func testSpectralNormOfRotatedDiagonal() throws {
        func rotation(_ n: Int) -> [[Double]] {
            var q = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
            for (a, b, angle) in [(0, 1, 0.7), (1, 2, -1.1), (0, n - 1, 0.4), (2, 3, 2.0)] {
                let (c, s) = (cos(angle), sin(angle))
                for r in 0..<n {     // q ← q · G(a, b, angle)
                    let (x, y) = (q[r][a], q[r][b])
                    q[r][a] = c * x - s * y
                    q[r][b] = s * x + c * y
                }
            }
            return q
        }
        let d = [4.0, 3.9, 2.0, 1.0, 0.1]   // close top pair: a slow case for power iteration
        let q1 = rotation(8), q2 = rotation(5)
        func rotated(_ d: [Double]) -> [Float] {      // Q₁ D Q₂ᵀ, (8, 5)
            (0..<8).flatMap { i in (0..<5).map { j in Float((0..<5).reduce(0.0) { $0 + q1[i][$1] * d[$1] * q2[j][$1] }) } }
        }
        let w = rotated(d)
        let est = spectralNorm(w, rows: 8, cols: 5, tolerance: 1e-12, maxIterations: 2000)
        XCTAssertTrue(est.converged)
        XCTAssertEqual(try XCTUnwrap(est.sigma), 4, accuracy: 4 * 1e-6)
        let fro = d.reduce(0) { $0 + $1 * $1 }
        XCTAssertEqual(tensorNormStats(w, shape: [8, 5]).stableRank!, fro / 16, accuracy: 1e-4)

        // A top pair 0.01% apart (trained embeddings come within 0.5%): 500 power iterations leave σ ~2e-4 low,
        // so the estimate must come from LAPACK, exact to W's rounding (it was 0.24% low on a fixture embedding).
        let wc = rotated([10.0, 9.999, 3.0, 1.0, 0.5])
        let slow = spectralNorm(wc, rows: 8, cols: 5)
        XCTAssertFalse(slow.converged)
        XCTAssertTrue(slow.exact)
        XCTAssertEqual(try XCTUnwrap(slow.sigma), 10, accuracy: 10 * 1e-6)
        XCTAssertEqual(try XCTUnwrap(spectralNorm(wc, rows: 8, cols: 5).sigma), try XCTUnwrap(tensorNormStats(wc, shape: [8, 5]).spectralNorm))
        var g = gramNaive(wc, rows: 8, cols: 5)
        XCTAssertEqual(try XCTUnwrap(largestEigenvalueLAPACK(&g, n: 5)), 100, accuracy: 100 * 2e-6)
    }

    func testSpectralNormMatchesNumpy() {
        // LCG-filled 50×30 matrix, values rounded to Float. numpy reference:
        //   x=12345; v=[]
        //   for _ in range(1500): x=(1664525*x+1013904223)%2**32; v.append(x/2**32-0.5)
        //   W=np.array(v).astype(np.float32).reshape(50,30).astype(np.float64)
        //   np.linalg.svd(W, compute_uv=False)[:2] → 3.464646490171453, 3.4047509318777345
        //   (W**2).sum()                           → 123.06795467505417
        var x: UInt64 = 12345
        let w: [Float] = (0..<1500).map { _ in
            x = (1_664_525 &* x &+ 1_013_904_223) % (1 << 32)
            return Float(Double(x) / 4_294_967_296.0 - 0.5)
        }
        let sigma = 3.464646490171453, fro2 = 123.06795467505417
        let s = tensorNormStats(w, shape: [50, 30])
        XCTAssertEqual(s.spectralNorm!, sigma, accuracy: sigma * 1e-6)
        XCTAssertEqual(s.sumSq, fro2, accuracy: 1e-9)
        XCTAssertEqual(s.stableRank!, fro2 / (sigma * sigma), accuracy: 1e-5)
        // Transposed (30, 50): same σ through the other Gram branch.
        var wt = [Float](repeating: 0, count: 1500)
        for i in 0..<50 { for j in 0..<30 { wt[j * 50 + i] = w[i * 30 + j] } }
        XCTAssertEqual(spectralNorm(wt, rows: 30, cols: 50).sigma ?? 0, sigma, accuracy: sigma * 1e-6)
    }

    func testBLASGramAndMatVecMatchLoops() {
        var x: UInt64 = 7
        func next() -> Float {
            x = 6_364_136_223_846_793_005 &* x &+ 1_442_695_040_888_963_407
            return Float(Int64(x >> 11) % 2001 - 1000) / 1000
        }
        for (rows, cols) in [(37, 11), (11, 37), (5000, 3), (3, 9000)] {   // 5000 > one 4096-row block
            let w = (0..<(rows * cols)).map { _ in next() }
            let fast = w.withUnsafeBufferPointer { gram($0, rows: rows, cols: cols) }
            let slow = gramNaive(w, rows: rows, cols: cols)
            let maxDiff = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(maxDiff, 1e-9, "gram \(rows)×\(cols) max diff \(maxDiff)")
            let n = min(rows, cols)
            let v = (0..<n).map { Double($0) - 2.5 }
            var y = [Double](repeating: 0, count: n)
            symmetricMatVec(fast, v, &y, n: n)
            let ref = symmetricMatVecNaive(slow, v, n: n)
            let mv = zip(y, ref).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(mv, 1e-8, "matvec \(rows)×\(cols) max diff \(mv)")
        }
    }

    /// A tiny GPT-2 (V 7, T 3, C 4, L 2, F 8) with known values: every stored element is 1,
    /// except the token embedding which is 2; the LM head is tied (not stored).
    func tinyWeights(biases: Bool) -> GPT2Weights {
        let c = GPT2Config(vocabSize: 7, contextLength: 3, nEmbd: 4, nLayer: 2, nHead: 2, nInner: 8)
        var w = GPT2Weights(config: c, tied: true)
        for id in w.layout.tensors where id.kind != .lmHead {
            if !biases, [.qkvb, .attprojb, .fcb, .fcprojb].contains(id.kind) { continue }
            w.set(id, [Float](repeating: id.kind == .wte ? 2 : 1, count: w.layout.size(id)))
        }
        return w
    }

    func testCheckpointTotalsGroupsAndQKVParts() throws {
        let s = checkpointNormStats(checkpoint: "tiny", weights: tinyWeights(biases: true))
        // Decay group: wte 7·4 elements of 2² = 112; wpe 12; per layer qkvw 48 + attprojw 16 + fcw 32
        // + fcprojw 32 = 128, two layers 256. Total decay 112 + 12 + 256 = 380.
        XCTAssertEqual(s.decaySumSq, 380, accuracy: 1e-12)
        // No-decay: per layer ln1 8 + ln2 8 + qkvb 12 + attprojb 4 + fcb 8 + fcprojb 4 = 44, ×2 = 88; ln_f 8.
        XCTAssertEqual(s.noDecaySumSq, 96, accuracy: 1e-12)
        XCTAssertEqual(s.totalSumSq, 476, accuracy: 1e-12)
        XCTAssertNil(s.tensors["lm_head.weight"], "tied head is not a parameter")
        XCTAssertEqual(s.tensors["h.1.attn.c_attn.weight[k]"]?.count, 16)
        XCTAssertEqual(s.tensors["h.1.attn.c_attn.weight[k]"]?.spectralNorm ?? 0, 4, accuracy: 1e-9) // all-ones 4×4
        XCTAssertEqual(s.tensors["h.0.attn.c_attn.bias[v]"]?.l2 ?? 0, 2, accuracy: 1e-12)
        // All-ones (12, 4): σ = √(12·4), stable rank 1.
        XCTAssertEqual(s.tensors["h.0.attn.c_attn.weight"]?.spectralNorm ?? 0, 48.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(s.tensors["h.0.attn.c_attn.weight"]?.stableRank ?? 0, 1, accuracy: 1e-9)
        // Roles: layer 1's LayerNorm gains are ln_1 and ln_2 together: √8; linear biases √28.
        XCTAssertEqual(s.l2(role: .layerNormGain, layer: 1) ?? 0, 8.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.l2(role: .otherBias, layer: 1) ?? 0, 28.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.byRole["ln_gain"]?["final"] ?? 0, 2, accuracy: 1e-12)
        XCTAssertEqual(s.byRole["token_embedding"]?["embedding"] ?? 0, 112.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.byLayer["0"] ?? 0, (128.0 + 44).squareRoot(), accuracy: 1e-12)
        XCTAssertNil(s.byRole["lm_head"])

        // Bias-free model: no other_bias role at all; no-decay is LayerNorm only (2·16 + 8).
        let nb = checkpointNormStats(checkpoint: "nb", weights: tinyWeights(biases: false))
        XCTAssertNil(nb.byRole["other_bias"])
        XCTAssertEqual(nb.noDecaySumSq, 40, accuracy: 1e-12)
    }

    func testSourceTensorsAndJSONKeys() throws {
        let src: [NamedTensor] = [("tok_emb.weight", [2, 2], [1, 0, 0, 1]), ("norm.scale", [2], [3, 4]),
                                  ("norm.scale", [2], [9, 9])]   // repeated name: the first one is kept
        let s = checkpointNormStats(checkpoint: "tiny", weights: tinyWeights(biases: false), sourceTensors: src)
        XCTAssertEqual(s.sourceTensors.count, 2)
        XCTAssertEqual(s.sourceTensors["norm.scale"]?.l2 ?? 0, 5, accuracy: 1e-12)
        XCTAssertEqual(s.sourceTensors["tok_emb.weight"]?.spectralNorm ?? 0, 1, accuracy: 1e-9)

        let data = try JSONEncoder().encode(s)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["checkpoint", "tensors", "source_tensors", "total_sum_sq", "decay_sum_sq", "no_decay_sum_sq", "by_role"] {
            XCTAssertNotNil(json[key], key)
        }
        let t = try XCTUnwrap((json["tensors"] as? [String: Any])?["h.0.mlp.c_fc.weight"] as? [String: Any])
        XCTAssertEqual(Set(t.keys), ["l2", "sum_sq", "rms", "mean", "std", "max_abs", "count", "spectral_norm", "stable_rank"])
        XCTAssertEqual(try JSONDecoder().decode(CheckpointNormStats.self, from: data), s)
    }

    func testTrainingStepFromPath() {
        XCTAssertEqual(trainingStep(fromPath: "runs/baseline/step-001143.safetensors"), 1143)
        XCTAssertEqual(trainingStep(fromPath: "/x/step_000571.bin"), 571)
        XCTAssertEqual(trainingStep(fromPath: "step-0.safetensors"), 0)
        XCTAssertNil(trainingStep(fromPath: "runs/step-12/model.safetensors"))   // only the file name counts
        XCTAssertNil(trainingStep(fromPath: "runs/baseline/model.safetensors"))
        XCTAssertNil(trainingStep(fromPath: "steps.safetensors"))
        // nanoGPT-derived scripts (the weight-decay paper's) name checkpoints `…-iter=N.pt`.
        XCTAssertEqual(trainingStep(fromPath: "out/ckpt-iter=2000.pt"), 2000)
        XCTAssertEqual(trainingStep(fromPath: "out/iter_500.pt"), 500)
        XCTAssertNil(trainingStep(fromPath: "out/filter3.pt"))
        XCTAssertEqual(trainingStep(fromPath: "run-iter=10-step-20.pt"), 20)      // the last one wins
    }
}
