import TestFixtures
import XCTest
import Foundation
import Engine
import Checkpoints
@testable import Analysis

/// Weight norms against numpy (float64 over the stored bf16 values; `expected/*.json` → `norms`,
/// `sum_sq_all`, by the checkpoint's own names; see the fixtures README).
final class NormsFixtureTests: XCTestCase {
    static let fixtures: URL = URL(fileURLWithPath: #filePath)  // …/Tests/AnalysisTests/this.swift
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("../shared/fixtures").standardizedFileURL

    /// (checkpoint under runs/, expected JSON under expected/)
    static let cases: [(String, String)] = [
        ("baseline/model.safetensors", "baseline.json"),
        ("baseline-seed67/model.safetensors", "baseline-seed67.json"),
        ("wd-0.01/model.safetensors", "wd-0.01.json"),
        ("stacked/model.safetensors", "stacked.json"),
        ("reference/model.safetensors", "reference.json"),
        ("baseline/step-000571.safetensors", "baseline-step-000571.json"),
        ("baseline/step-001143.safetensors", "baseline-step-001143.json"),
    ]

    struct Expected: Decodable { let norms: [String: Double]; let sum_sq_all: Double }

    func testNormsMatchNumpyForEveryRun() throws {
        let root = Self.fixtures
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("runs").path) else {
            throw missingFixtures("fixtures not found at \(root.path) (expected ../shared/fixtures beside the package)")
        }
        var options = NormOptions()
        options.spectral = false
        for (ckpt, expectedFile) in Self.cases {
            let path = root.appendingPathComponent("runs/\(ckpt)").path
            let exp = try JSONDecoder().decode(Expected.self,
                                               from: Data(contentsOf: root.appendingPathComponent("expected/\(expectedFile)")))
            let ck = try loadCheckpoint(path: path)
            let stats = checkpointNormStats(checkpoint: path, weights: ck.weights,
                                            sourceTensors: try readSourceTensors(path: path), options: options)
            XCTAssertEqual(Set(stats.sourceTensors.keys), Set(exp.norms.keys), "\(ckpt): tensor names")
            var worst = 0.0, worstName = ""
            for (name, want) in exp.norms {
                guard let got = stats.sourceTensors[name]?.l2 else { continue }
                let rel = abs(got - want) / max(want, 1e-300)
                if rel > worst { worst = rel; worstName = name }
                XCTAssertLessThan(rel, 1e-6, "\(ckpt) \(name): got \(got), numpy \(want)")
            }
            let relTotal = abs(stats.totalSumSq - exp.sum_sq_all) / exp.sum_sq_all
            XCTAssertLessThan(relTotal, 1e-6, "\(ckpt): total ‖θ‖² \(stats.totalSumSq) vs sum_sq_all \(exp.sum_sq_all)")
            XCTAssertEqual(stats.decaySumSq + stats.noDecaySumSq, stats.totalSumSq,
                           accuracy: 1e-9 * stats.totalSumSq, ckpt)
            print("\(ckpt): \(exp.norms.count) tensors, max rel. error \(worst) (\(worstName)); " +
                  "total ‖θ‖² rel. error \(relTotal)")
        }
    }

    /// A trained embedding whose top two singular values are 0.3% apart (36.112 and 35.996): power iteration
    /// stopped at its cap 0.24% low, and nothing said so. numpy's SVD of the stored float32 `wte` (50,304 × 16):
    /// σ₁ = 36.111961770159965, stable rank ‖W‖²_F/σ₁² = 15.33522920424963.
    func testCrowdedEmbeddingSpectralNormMatchesNumpySVD() throws {
        let path = Self.fixtures.appendingPathComponent("formats/tiny-ckpt.pt").path
        guard FileManager.default.fileExists(atPath: path) else { throw missingFixtures("fixtures not found at \(path)") }
        let ck = try loadCheckpoint(path: path, heads: 2)
        let stats = checkpointNormStats(checkpoint: path, weights: ck.weights)
        let wte = try XCTUnwrap(stats.tensors["wte.weight"])
        XCTAssertEqual(try XCTUnwrap(wte.spectralNorm), 36.111961770159965, accuracy: 36.11 * 1e-9)
        XCTAssertEqual(try XCTUnwrap(wte.stableRank), 15.33522920424963, accuracy: 15.34 * 1e-8)
    }
}
