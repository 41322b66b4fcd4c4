import Analysis
import Checkpoints
import Engine
import Foundation
import TestFixtures
import XCTest
@testable import Report

/// The report with `ci = HALF_WIDTH`: each run against the baseline on the paired difference, in
/// one seeded order, checked against HF transformers' per-window losses of the fixtures
/// (shared/fixtures/expected/*.json), not against gpt2lab's own full scores.
final class SequentialReportTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "gpt2lab-seqreport-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func manifest(_ runs: [String], top: String) throws -> String {
        var s = "title = \"seq\"\ntest_set = \"\(Self.fixtures)/data/test-persuasion.bin\"\nbaseline = \"\(runs[0])\"\n\(top)\n"
        for r in runs { s += "\n[[run]]\nname = \"\(r)\"\ncheckpoint = \"\(Self.fixtures)/runs/\(r)/model.safetensors\"\n" }
        let path = dir + "/m.toml"
        try s.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// HF's per-window mean NLL and token counts of a fixture run (stride = context = 256).
    func hfWindows(_ run: String) throws -> (sums: [Double], counts: [Int], loss: Double) {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Self.fixtures)/expected/\(run).json"))
        let t = try XCTUnwrap(((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["tests"] as? [String: Any])?["test-persuasion"] as? [String: Any])
        let perWindow = try XCTUnwrap(t["per_window_loss"] as? [Double])
        let s256 = try XCTUnwrap(t["stride_256"] as? [String: Any])
        let tokens = try XCTUnwrap(s256["tokens_scored"] as? Int)
        let counts = perWindow.indices.map { min(256, tokens - 256 * $0) }
        return (zip(perWindow, counts).map { $0 * Double($1) }, counts, try XCTUnwrap(s256["loss"] as? Double))
    }

    func testPairedSequentialStopsEarlyAndCoversTheFullDelta() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures) else { throw missingFixtures("shared/fixtures not found at \(Self.fixtures)") }
        let o = testReportOptions(cache: nil, bootstrap: 200)
        let (r, extras) = try compareRuns(try loadManifest(path: try manifest(["baseline", "stacked"], top: "ci = 0.01")), options: o)
        let base = try hfWindows("baseline"), stacked = try hfWindows("stacked")
        let fullDelta = stacked.loss - base.loss      // HF, every window: −0.4350
        let row = try XCTUnwrap(r.run("stacked")), q = try XCTUnwrap(row.sequential)
        let N = base.counts.count
        XCTAssertEqual(q.windowsTotal, N)
        XCTAssertEqual(q.method, .paired)
        XCTAssertEqual(q.stopped, .halfWidth)
        // Measured: 116 of 450 windows (25.8%), Δ = −0.4358 ± 0.0098.
        print("sequential report, stacked vs baseline at ci 0.01: read \(q.windowsScored) of \(N) windows (\(q.fractionRead))")
        XCTAssertLessThan(q.fractionRead, 0.5, "a ±0.01 paired interval on runs 0.43 apart needs well under the whole set")
        let ci = try XCTUnwrap(row.deltaCI)
        XCTAssertLessThanOrEqual(ci[1] - ci[0], 0.02 + 1e-12)
        XCTAssertTrue(ci[0] <= fullDelta && fullDelta <= ci[1], "\(ci) contains HF's full-set Δ \(fullDelta)")
        // The windows read are the prefix of the seeded order; on them HF's numbers give the same Δ and losses.
        let read = Array(visitOrder(count: N, seed: 0).prefix(q.windowsScored))
        let x = Double(read.reduce(0) { $0 + base.counts[$1] })
        let hfDelta = read.reduce(0) { $0 + stacked.sums[$1] - base.sums[$1] } / x
        XCTAssertEqual(try XCTUnwrap(row.deltaVsBaseline), hfDelta, accuracy: 2e-5)
        XCTAssertEqual(q.loss, read.reduce(0) { $0 + stacked.sums[$1] } / x, accuracy: 2e-5)
        XCTAssertEqual(q.baselineLoss, read.reduce(0) { $0 + base.sums[$1] } / x, accuracy: 2e-5)
        XCTAssertNil(row.pValue)
        // The baseline was read on the same windows (the only other run's), its loss on them.
        let b = try XCTUnwrap(r.run("baseline")?.sequential)
        XCTAssertEqual(b.windowsScored, q.windowsScored)
        XCTAssertEqual(try XCTUnwrap(r.run("baseline")).loss, q.baselineLoss, accuracy: 1e-9)
        XCTAssertEqual(r.settings.sequential?.halfWidth, 0.01)

        // The page, CSV and JSON say it.
        let html = try renderReportHTML(r, charts: ReportChartSet(r, extras: extras), template: try loadReportTemplate().text)
        XCTAssertTrue(html.contains("Sequential scoring."))
        // It does not claim every run read every window (it said so, where runs read 32 to 268 of 450).
        XCTAssertTrue(html.contains("not every run reads them all") && !html.contains("on every one of these windows"))
        XCTAssertTrue(html.contains("\(q.windowsScored)/\(N) windows"))
        XCTAssertTrue(resultsCSV(r).hasPrefix("name,") && resultsCSV(r).contains("sequential paired,\(q.windowsScored),\(N),"))
        let json = String(decoding: try resultsJSON(r), as: UTF8.self)
        XCTAssertTrue(json.contains("\"fraction_read\"") && json.contains("\"baseline_loss\""))
    }

    func testWithoutCIThereIsNoSequentialOutput() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures) else { throw missingFixtures("shared/fixtures not found") }
        let o = testReportOptions(cache: nil, bootstrap: 200)
        let (r, _) = try compareRuns(try loadManifest(path: try manifest(["baseline", "stacked"], top: "max_tokens = 2049")), options: o)
        XCTAssertNil(r.settings.sequential)
        XCTAssertTrue(r.runs.allSatisfy { $0.sequential == nil && $0.stepLosses == nil })
        let json = String(decoding: try resultsJSON(r), as: UTF8.self)
        XCTAssertFalse(json.contains("sequential") || json.contains("step_losses"))
        XCTAssertFalse(resultsCSV(r).contains("windows_scored"))
    }

    func testBadSequentialKeys() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures) else { throw missingFixtures("shared/fixtures not found") }
        let cases: [(String, String)] = [
            ("ci = 0", "ci must be a positive half-width"), ("ci = -0.01", "ci must be a positive half-width"),
            ("ci = \"small\"", "key 'ci' must be a number"), ("ci = 0.01\nci_min_windows = 5", "'ci_min_windows' must be at least 10"),
            ("ci_seed = 3", "ci_seed without ci"), ("ci = 0.01\nci_seed = -1", "'ci_seed' must be at least 0"),
            ("loss_across_steps = \"yes\"", "'loss_across_steps' must be true or false"),
        ]
        for (top, needle) in cases {
            let path = try manifest(["baseline"], top: top)
            XCTAssertThrowsError(try loadManifest(path: path), top) { e in
                let message = (e as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(message.contains(needle) && message.hasPrefix(path) && !message.contains("\n"), "\(top): \(message)")
            }
        }
        let path = try manifest(["baseline"], top: "")
        try (String(contentsOfFile: path, encoding: .utf8) + "step_checkpoints = [\"\(Self.fixtures)/runs/baseline/step-000571.safetensors\"]\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try loadManifest(path: path)) { e in
            XCTAssertTrue(((e as? LocalizedError)?.errorDescription ?? "").contains("step_checkpoints without loss_across_steps"), "\(e)")
        }
    }

    /// A run whose forward overflows f32 (finite weights: the baseline with a token embedding of ±3e38) stops a
    /// sequential report with one error naming its checkpoint and window, as a full report does, where it gave a
    /// NaN Δ with exit 0.
    func testOverflowingRunStopsTheSequentialReport() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures) else { throw missingFixtures("shared/fixtures not found at \(Self.fixtures)") }
        let w = try loadCheckpoint(path: Self.fixtures + "/runs/baseline/model.safetensors").weights
        let tensors = w.parameterTensors.map { id -> TensorToWrite in
            let v = w.tensor(id)
            return TensorToWrite(name: id.kind == .lmHead ? "lm_head.weight" : "transformer." + id.canonicalName, shape: w.layout.shapes[id]!,
                                 dtype: .F32, values: id.kind == .wte ? v.map { $0 >= 0 ? 3e38 : -3e38 } : v)
        }
        let hot = dir + "/hot.safetensors"
        try writeSafetensors(path: hot, tensors: tensors)
        var text = try String(contentsOfFile: try manifest(["baseline"], top: "ci = 0.01"), encoding: .utf8)
        text += "\n[[run]]\nname = \"hot\"\ncheckpoint = \"\(hot)\"\nheads = 4\n"
        let path = dir + "/hot.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try compareRuns(try loadManifest(path: path), options: testReportOptions(cache: nil, bootstrap: 50))) { e in
            let message = (e as? LocalizedError)?.errorDescription ?? "\(e)"
            XCTAssertTrue(message.contains("\(hot): the forward gives a non-finite loss (NaN or ±Inf) in window "), message)
        }
    }
}
