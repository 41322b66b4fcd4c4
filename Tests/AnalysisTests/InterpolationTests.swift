import Checkpoints
import Engine
import Foundation
import TestSets
import TestFixtures
import XCTest
@testable import Analysis

/// `interpolate` on the fixture runs: its endpoints are the checkpoints' own scores (bit for bit) and HF's
/// losses; its midpoint is the score of an averaged checkpoint this test writes itself.
final class InterpolationTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures").standardized

    func fixture(_ p: String) throws -> String {
        let path = Self.fixtures.appendingPathComponent(p).path
        guard FileManager.default.fileExists(atPath: path) else { throw missingFixtures("\(path) not found") }
        return path
    }

    /// HF transformers' loss over the whole text (windows of 256, stride 256).
    func hfLoss(_ run: String) throws -> Double {
        let url = URL(fileURLWithPath: try fixture("expected/\(run).json"))
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let t = (root["tests"] as! [String: Any])["test-persuasion"] as! [String: Any]
        return try XCTUnwrap((t["stride_256"] as? [String: Any])?["loss"] as? Double)
    }

    func testEndpointsAndMidpoint() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let toks = try loadTokenIDs(path: bin)
        let a = try loadCheckpoint(path: try fixture("runs/baseline/model.safetensors"))
        let b = try loadCheckpoint(path: try fixture("runs/wd-0.01/model.safetensors"))
        let (plan, s, gpu) = try scoreInterpolation(a, b, ts: [0, 0.5, 1], tokens: toks, testSetPath: bin, maxTokens: 4096, threads: 2)
        XCTAssertNil(gpu, "scored on the CPU")
        XCTAssertEqual(plan.windows.count, 16)
        // t = 0 and t = 1 are the checkpoints themselves: `score`'s sums, bit for bit.
        for (ck, scores) in [(a, s[0]), (b, s[2])] {
            let (_, direct, _) = try scoreCheckpoint(ck, tokens: toks, testSetPath: bin, maxTokens: 4096, threads: 2)
            XCTAssertEqual(scores.nllSums, direct.nllSums, ck.path)
        }
        // t = 0.5: a checkpoint averaged here, written as F32 nanoGPT-named safetensors, loaded and scored.
        let wa = a.weights, wb = b.weights
        var tensors: [TensorToWrite] = []
        for id in wa.parameterTensors {
            let x = wa.tensor(id), y = wb.tensor(id)
            var avg = [Float](repeating: 0, count: x.count)
            for i in 0..<x.count { avg[i] = Float(0.5) * x[i] + Float(0.5) * y[i] }
            let name = "_orig_mod." + (id.kind == .lmHead ? "lm_head.weight" : "transformer." + id.canonicalName)
            tensors.append(TensorToWrite(name: name, shape: wa.layout.shapes[id]!, dtype: .F32, values: avg))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-interp-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let avgPath = dir.appendingPathComponent("average.safetensors").path
        try writeSafetensors(path: avgPath, tensors: tensors)
        let mid = try loadCheckpoint(path: avgPath, heads: 4)
        let (_, direct, _) = try scoreCheckpoint(mid, tokens: toks, testSetPath: bin, maxTokens: 4096, threads: 2)
        XCTAssertEqual(s[1].nllSums, direct.nllSums)
        XCTAssertNotEqual(s[1].loss, s[0].loss)
    }

    /// Over the whole text, the endpoints are HF transformers' losses (stride 256) within 2e-4.
    func testEndpointsMatchHF() throws {
        let bin = try fixture("data/test-persuasion.bin")
        let toks = try loadTokenIDs(path: bin)
        let a = try loadCheckpoint(path: try fixture("runs/baseline/model.safetensors"))
        let b = try loadCheckpoint(path: try fixture("runs/wd-0.01/model.safetensors"))
        let r = try interpolate(a, b, ts: [0, 1], tokens: toks, testSetPath: bin, stride: 256, threads: 2)
        XCTAssertEqual(r.points[0].loss, try hfLoss("baseline"), accuracy: 2e-4)
        XCTAssertEqual(r.points[1].loss, try hfLoss("wd-0.01"), accuracy: 2e-4)
        XCTAssertEqual(r.lossA, r.points[0].loss); XCTAssertEqual(r.lossB, r.points[1].loss)
        XCTAssertNil(r.barrier)
    }

    func testSummaryBarrier() throws {
        // Three windows of 10 tokens; t = 0.5 sits 0.3 nats/token above the line at every window, so
        // every resample gives 0.3 (up to rounding).
        let counts = [10, 10, 10]
        let s0 = WindowScores(nllSums: [40, 50, 60], counts: counts), s1 = WindowScores(nllSums: [20, 30, 40], counts: counts)
        let mid = WindowScores(nllSums: [33, 43, 53], counts: counts)
        let (points, barrier) = try interpolationSummary(ts: [0, 0.5, 1], scores: [s0, mid, s1], s0: s0, s1: s1)
        XCTAssertEqual(points.map(\.excess), [0, 0.3, 0], accuracy: 1e-12)
        let top = try XCTUnwrap(barrier)
        XCTAssertEqual(top.t, 0.5)
        XCTAssertEqual(top.ci[0], 0.3, accuracy: 1e-12); XCTAssertEqual(top.ci[1], 0.3, accuracy: 1e-12)
        XCTAssertEqual(points[1].loss, 129.0 / 30)
        XCTAssertNil(try interpolationSummary(ts: [0, 1], scores: [s0, s1], s0: s0, s1: s1).barrier)
        XCTAssertEqual(interpolationGrid(from: 0, to: 1, count: 11)[3], 0.3, accuracy: 1e-15)
        XCTAssertEqual(interpolationGrid(from: -0.25, to: 1.25, count: 7), [-0.25, 0, 0.25, 0.5, 0.75, 1, 1.25])
        // −0.1 + 1.2·1/12 is 1.4e-17 in floating point and −0.1 + 1.2·11/12 is 1.0000000000000002: the grid has 0 and 1.
        let g = interpolationGrid(from: -0.1, to: 1.1, count: 13)
        XCTAssertEqual(g[1], 0); XCTAssertEqual(g[11], 1); XCTAssertEqual(g[0], -0.1); XCTAssertEqual(g[12], 1.1)
        XCTAssertEqual(g[6], 0.5, accuracy: 1e-15)
        XCTAssertFalse(interpolationGrid(from: 0.05, to: 0.95, count: 10).contains { $0 == 0 || $0 == 1 })
    }

    func testShapesDiffer() throws {
        let a = try loadCheckpoint(path: try fixture("runs/baseline/model.safetensors"))
        let r = try loadCheckpoint(path: try fixture("runs/reference/model.safetensors"))
        let d = shapeDifferences(a, r)
        XCTAssertTrue(d.contains("width 64 vs 128") && d.contains("layers 4 vs 6"), "\(d)")
        XCTAssertTrue(shapeDifferences(a, a).isEmpty)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
