import XCTest
import Foundation
import Engine
import Checkpoints
@testable import Analysis

/// Weight spectra against WeightWatcher 0.7.7 (tests/reference/spectra_reference.py →
/// Fixtures/spectra-weightwatcher.json) and the power-law fit against WeightWatcher's own fit of a numpy
/// Pareto sample (tests/reference/pareto_reference.py → Fixtures/pareto-sample.json).
final class SpectraTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let sharedFixtures = here.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/fixtures").standardizedFileURL

    func rel(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }

    // MARK: power-law fit

    struct Pareto: Decodable {
        struct Fit: Decodable { let alpha, xmin, D, sigma: Double; let tail_count: Int }
        let true_alpha: Double
        let values: [Double]
        let ww_fit: Fit
    }

    func testPowerLawFitMatchesWeightWatcherOnParetoSample() throws {
        let p = try JSONDecoder().decode(Pareto.self, from: Data(contentsOf: Self.here.appendingPathComponent("Fixtures/pareto-sample.json")))
        let fit = try XCTUnwrap(fitPowerLaw(p.values))
        XCTAssertEqual(fit.xmin, p.ww_fit.xmin, "the same xmin (a sample value, so exactly)")
        XCTAssertLessThan(rel(fit.alpha, p.ww_fit.alpha), 1e-12, "α \(fit.alpha) vs WeightWatcher \(p.ww_fit.alpha)")
        XCTAssertLessThan(rel(fit.D, p.ww_fit.D), 1e-10, "D \(fit.D) vs WeightWatcher \(p.ww_fit.D)")
        XCTAssertLessThan(rel(fit.sigma, p.ww_fit.sigma), 1e-12)
        XCTAssertEqual(fit.tailCount, p.ww_fit.tail_count)
        XCTAssertEqual(fit.fitted, p.values.count)
        // And the truth: within three standard errors of the α the sample was drawn with.
        XCTAssertLessThan(abs(fit.alpha - p.true_alpha), 3 * fit.sigma, "α \(fit.alpha) ± \(fit.sigma) vs 2.5")
    }

    func testPowerLawFitNeedsTwoEigenvaluesAboveThreshold() {
        XCTAssertNil(fitPowerLaw([]))
        XCTAssertNil(fitPowerLaw([1e-7, 3e-6, 2.0]))        // only one above 1e-5
        let fit = fitPowerLaw([1e-7, 1.0, 4.0])              // two: xmin is the smaller, α = 1 + 2/ln 4
        XCTAssertEqual(fit?.xmin, 1.0)
        XCTAssertEqual(fit?.alpha ?? 0, 1 + 2 / log(4.0), accuracy: 1e-14)
        XCTAssertEqual(fit?.tailCount, 2)
    }

    // MARK: ESD and the Marchenko–Pastur edge

    func testSingularValuesOfAKnownMatrix() throws {
        // W = [[3, 0], [0, 4], [0, 0]] (3×2): singular values 4, 3; its transpose the same.
        let w: [Float] = [3, 0, 0, 4, 0, 0]
        let s = try w.withUnsafeBufferPointer { try singularValues($0, rows: 3, cols: 2) }
        XCTAssertEqual(s[0], 4, accuracy: 1e-14); XCTAssertEqual(s[1], 3, accuracy: 1e-14)
        let t: [Float] = [3, 0, 0, 0, 4, 0]
        let e = try t.withUnsafeBufferPointer { try esdEigenvalues($0, rows: 2, cols: 3) }
        XCTAssertEqual(e[0], 9, accuracy: 1e-13); XCTAssertEqual(e[1], 16, accuracy: 1e-13)
        let bad: [Float] = [1, .nan]
        XCTAssertThrowsError(try bad.withUnsafeBufferPointer { try singularValues($0, rows: 1, cols: 2) })
    }

    func testMarchenkoPasturEdgeCountsAPlantedSpikeAndNoBulk() throws {
        // Gaussian 800×200 (Q = 4): no eigenvalue above the edge; plus a strong rank-one term: exactly one.
        var rng = SplitMix64(seed: 11)
        let rows = 800, cols = 200
        var w = (0..<(rows * cols)).map { _ in Float(rng.nextGaussian()) }
        var evals = try w.withUnsafeBufferPointer { try esdEigenvalues($0, rows: rows, cols: cols) }
        var mp = marchenkoPasturEdge(evals, n: rows, m: cols)
        XCTAssertEqual(mp.spikes, 0)
        XCTAssertLessThan(rel(evals.last!, mp.edge), 0.1, "the largest eigenvalue sits at the edge")
        let u = (0..<rows).map { _ in Float(rng.nextGaussian()) }, v = (0..<cols).map { _ in Float(rng.nextGaussian()) }
        for i in 0..<rows { for j in 0..<cols { w[i * cols + j] += 0.3 * u[i] * v[j] } }
        evals = try w.withUnsafeBufferPointer { try esdEigenvalues($0, rows: rows, cols: cols) }
        mp = marchenkoPasturEdge(evals, n: rows, m: cols)
        XCTAssertEqual(mp.spikes, 1)
    }

    // MARK: WeightWatcher on the fixture checkpoints

    struct WW: Decodable {
        struct Matrix: Decodable {
            let name: String; let shape: [Int]; let ww_default_skipped: Bool
            let alpha, xmin, D, lambda_max, alpha_weighted, stable_rank: Double
            let num_evals, num_pl_spikes, spikes_mp_edge: Int
            let mp_edge: Double; let warning: String
            let evals_smallest, evals_largest: [Double]
        }
        struct Run: Decodable {
            struct Summary: Decodable { let mean_alpha, mean_alpha_weighted: Double }
            let checkpoint: String; let matrices: [Matrix]; let ww_summary: Summary
        }
        let runs: [Run]
    }

    /// Raschka/gpjt names (what WeightWatcher saw) → our canonical names. A tied checkpoint stores its one
    /// embedding as `out_head.weight` (tok_emb is the alias in `__metadata__`); that is our wte.
    static func canonical(_ name: String, tied: Bool) -> String {
        let map: [(String, String)] = [("att.W_qkv.weight", "attn.c_attn.weight"),
                                       ("att.W_query.weight", "attn.c_attn.weight[q]"), ("att.W_key.weight", "attn.c_attn.weight[k]"),
                                       ("att.W_value.weight", "attn.c_attn.weight[v]"), ("att.out_proj.weight", "attn.c_proj.weight"),
                                       ("ff.layers.0.weight", "mlp.c_fc.weight"), ("ff.layers.2.weight", "mlp.c_proj.weight")]
        switch name {
        case "tok_emb.weight": return "wte.weight"
        case "pos_emb.weight": return "wpe.weight"
        case "out_head.weight": return tied ? "wte.weight" : "lm_head.weight"
        default:
            let parts = name.split(separator: ".", maxSplits: 2)   // trf_blocks, N, rest
            let rest = String(parts[2])
            return "h.\(parts[1])." + (map.first { $0.0 == rest }?.1 ?? rest)
        }
    }

    static func weightWatcher(_ file: String = "spectra-weightwatcher.json") throws -> WW {
        try JSONDecoder().decode(WW.self, from: Data(contentsOf: here.appendingPathComponent("Fixtures/" + file)))
    }

    func testSpectraMatchWeightWatcherOnFixtureRuns() throws {
        try assertSpectraMatchWeightWatcher(Self.weightWatcher(), qkv: .split)
    }

    /// --qkv fused against WeightWatcher given each block's q, k, v as one [3C, C] matrix (what it fits in an HF
    /// model's c_attn); on the HF-layout copy of the reference run, the mean α the audit measured there (2.94).
    func testFusedQKVMatchesWeightWatcher() throws {
        let ww = try Self.weightWatcher("spectra-weightwatcher-fused.json")
        try assertSpectraMatchWeightWatcher(ww, qkv: .fused)
        let hf = Self.sharedFixtures.appendingPathComponent("layouts/reference-hf.safetensors").path
        let s = try checkpointSpectra(checkpoint: hf, weights: try loadCheckpoint(path: hf, heads: 4, vocab: .all).weights, qkv: .fused)
        let want = try XCTUnwrap(ww.runs.first { $0.checkpoint == "runs/reference/model.safetensors" })
        XCTAssertLessThan(rel(s.meanAlpha!, want.ww_summary.mean_alpha), 1e-10)
        XCTAssertEqual(s.matrices.filter { $0.role == .qkv }.map(\.shape), Array(repeating: [384, 128], count: 6))
        XCTAssertFalse(s.matrices.contains { [.query, .key, .value].contains($0.role) })
    }

    func assertSpectraMatchWeightWatcher(_ ww: WW, qkv: QKVSpectra) throws {
        guard FileManager.default.fileExists(atPath: Self.sharedFixtures.appendingPathComponent("runs").path) else {
            throw XCTSkip("fixtures not found at \(Self.sharedFixtures.path)")
        }
        for run in ww.runs {
            let path = Self.sharedFixtures.appendingPathComponent(run.checkpoint).path
            let weights = try loadCheckpoint(path: path, vocab: .all).weights
            let s = try checkpointSpectra(checkpoint: path, weights: weights, qkv: qkv)
            let canonical = { (name: String) in Self.canonical(name, tied: weights.tied) }
            XCTAssertEqual(Set(s.matrices.map(\.name)), Set(run.matrices.map { canonical($0.name) }), run.checkpoint)
            for want in run.matrices {
                let label = "\(run.checkpoint) \(want.name)"
                let got = try XCTUnwrap(s.matrices.first { $0.name == canonical(want.name) }, label)
                XCTAssertEqual([got.n, got.m], [want.shape.max()!, want.shape.min()!], label)
                XCTAssertEqual(got.wwSkips, want.ww_default_skipped, label)
                XCTAssertLessThan(rel(got.lambdaMax, want.lambda_max), 1e-10, label)
                XCTAssertLessThan(rel(got.lambdaMin, want.evals_smallest[0]), 1e-9, label)
                XCTAssertLessThan(rel(got.stableRank, want.stable_rank), 1e-10, label)
                XCTAssertLessThan(rel(got.mpEdge, want.mp_edge), 1e-12, label)
                XCTAssertEqual(got.spikes, want.spikes_mp_edge, label)
                let fit = try XCTUnwrap(got.fit, label)
                XCTAssertLessThan(rel(fit.xmin, want.xmin), 1e-10, "\(label): xmin \(fit.xmin) vs \(want.xmin)")
                XCTAssertLessThan(rel(fit.alpha, want.alpha), 1e-10, "\(label): α \(fit.alpha) vs \(want.alpha)")
                XCTAssertLessThan(rel(fit.D, want.D), 1e-10, "\(label): D \(fit.D) vs \(want.D)")
                XCTAssertLessThan(rel(got.alphaHat!, want.alpha_weighted), 1e-10, label)
                XCTAssertEqual(fit.tailCount, want.num_pl_spikes, label)
                XCTAssertEqual(got.flags.contains(.alphaBelow2), want.warning == "over-trained", label)
                XCTAssertEqual(got.flags.contains(.alphaAbove6), want.warning == "under-trained", label)
            }
            XCTAssertLessThan(rel(s.meanAlpha!, run.ww_summary.mean_alpha), 1e-10, run.checkpoint)
            XCTAssertLessThan(rel(s.meanAlphaHat!, run.ww_summary.mean_alpha_weighted), 1e-10, run.checkpoint)
        }
    }
}
