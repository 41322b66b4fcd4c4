import Analysis
import Foundation
import TestFixtures
import XCTest
@testable import Report

/// The report's paths between runs (manifest `interpolate`): the endpoints against HF transformers'
/// losses of the two checkpoints, the excess and barrier from the points' own losses, the cap, the page,
/// and the pairs the checks refuse before anything is scored.
final class InterpolationReportTests: XCTestCase {
    static let root = ReportTests.root
    static let fixtures = URL(fileURLWithPath: root).deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    var dir = ""

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: Self.fixtures + "/runs/wd-0.01/model.safetensors") else {
            throw missingFixtures("../shared/fixtures not found at \(Self.fixtures)")
        }
        dir = NSTemporaryDirectory() + "gpt2lab-interp-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func manifest(_ runs: [String], top: String) throws -> String {
        var s = "title = \"paths\"\ntest_set = \"\(Self.fixtures)/data/test-persuasion.bin\"\nbaseline = \"\(runs[0])\"\n\(top)\n\n"
        for r in runs { s += "[[run]]\nname = \"\(r)\"\ncheckpoint = \"\(Self.fixtures)/runs/\(r)/model.safetensors\"\n\n" }
        let path = dir + "/m.toml"
        try s.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// HF transformers' loss over the whole test set (windows of 256, stride 256), from the fixtures.
    func hfLoss(_ run: String) throws -> Double {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/expected/\(run).json"))) as? [String: Any]
        let t = (root?["tests"] as? [String: Any])?["test-persuasion"] as? [String: Any]
        return try XCTUnwrap((t?["stride_256"] as? [String: Any])?["loss"] as? Double)
    }

    /// Uncapped, t = 0 and t = 1 are the two runs: HF's losses on the whole test set; each excess is the
    /// point's loss over the line between them; the barrier is the largest interior excess; the page and
    /// results.json carry the section.
    func testEndpointsAreTheRunsAndThePageShowsThePath() throws {
        let path = try manifest(["baseline", "wd-0.01"],
                                top: "interpolate = [[\"baseline\", \"wd-0.01\"]]\ninterpolate_points = 3\ninterpolate_max_tokens = 1000000")
        let m = try loadManifest(path: path)
        XCTAssertEqual(m.interpolate, [RunPair("baseline", "wd-0.01")]); XCTAssertEqual(m.interpolatePoints, 3)
        let (r, extras) = try compareRuns(m, options: testReportOptions(cache: dir + "/cache", bootstrap: 200))
        let p = try XCTUnwrap(r.interpolation?.first)
        XCTAssertEqual(r.interpolation?.count, 1)
        XCTAssertEqual([p.a, p.b], ["baseline", "wd-0.01"])
        let x = p.result
        XCTAssertEqual(x.tokensScored, 115_030); XCTAssertEqual(x.windows, r.settings.windows, "the report's windows")
        XCTAssertEqual(x.points.map(\.t), [0, 0.5, 1])
        XCTAssertEqual(x.lossA, try hfLoss("baseline"), accuracy: 1e-5)
        XCTAssertEqual(x.lossB, try hfLoss("wd-0.01"), accuracy: 1e-5)
        XCTAssertEqual(x.lossA, try XCTUnwrap(r.run("baseline")).loss, accuracy: 1e-9, "the report's own score")
        XCTAssertEqual(x.lossB, try XCTUnwrap(r.run("wd-0.01")).loss, accuracy: 1e-9)
        for q in x.points {
            XCTAssertEqual(q.excess, q.loss - (1 - q.t) * x.lossA - q.t * x.lossB, accuracy: 1e-9, "t = \(q.t)")
            XCTAssertTrue(q.excessCI[0] <= q.excess && q.excess <= q.excessCI[1], "t = \(q.t)")
        }
        let interior = x.points.filter { $0.t > 0 && $0.t < 1 }
        let top = try XCTUnwrap(interior.max { $0.excess < $1.excess })
        XCTAssertEqual(x.barrier?.t, top.t); XCTAssertEqual(x.barrier?.excess, top.excess)
        print("report path baseline → wd-0.01: L(0) \(x.lossA) (HF \(try hfLoss("baseline"))), L(1) \(x.lossB), barrier \(top.excess) at t = \(top.t)")

        let out = dir + "/report"
        try writeReport(r, extras: extras, to: out, template: try loadReportTemplate().text)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<h2>Paths between runs</h2>"))
        XCTAssertTrue(html.contains("src=\"interpolation-1.png\""))
        let png = try Data(contentsOf: URL(fileURLWithPath: out + "/interpolation-1.png"))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as? [String: Any])
        let pairs = try XCTUnwrap(json["interpolation"] as? [[String: Any]])
        XCTAssertEqual(pairs.first?["a"] as? String, "baseline")
        XCTAssertEqual(((pairs.first?["result"] as? [String: Any])?["points"] as? [Any])?.count, 3)
    }

    /// The cap: the report's first windows up to interpolate_max_tokens scored tokens, every point on them.
    func testCapIsTheReportsFirstWindows() throws {
        let path = try manifest(["baseline", "wd-0.01"], top: "interpolate = [[\"wd-0.01\", \"baseline\"]]\ninterpolate_points = 2\n"
                                + "interpolate_max_tokens = 600")
        let (r, _) = try compareRuns(try loadManifest(path: path), options: testReportOptions(cache: dir + "/cache", bootstrap: 100))
        let x = try XCTUnwrap(r.interpolation?.first?.result)
        XCTAssertEqual(x.tokensScored, 600); XCTAssertEqual(x.windows, 3)
        XCTAssertEqual(x.points.map(\.t), [0, 1])
        XCTAssertNil(x.barrier, "no point strictly between the runs")
    }

    /// Pairs naming no run, a run twice, or the same pair twice; keys without `interpolate`; shapes that
    /// differ — each refused with one line before anything is scored.
    func testBadPairsAreRefusedBeforeScoring() throws {
        func refuse(_ runs: [String], _ top: String, _ needle: String, line: Int?) throws {
            let path = try manifest(runs, top: top)
            XCTAssertThrowsError(try compareRuns(try loadManifest(path: path), options: testReportOptions(cache: dir + "/cache", bootstrap: 10))) { e in
                let message = (e as? LocalizedError)?.errorDescription ?? ""
                XCTAssertTrue(message.hasPrefix(path + (line.map { ":\($0)" } ?? "") + ": "), message)
                XCTAssertTrue(message.contains(needle), "'\(needle)' in: \(message)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
        let two = ["baseline", "wd-0.01"]
        try refuse(two, "interpolate = [[\"baseline\", \"nope\"]]", "interpolate names no run 'nope' (runs are: baseline, wd-0.01)", line: 4)
        try refuse(two, "interpolate = [[\"baseline\", \"baseline\"]]", "interpolate pairs 'baseline' with itself", line: 4)
        try refuse(two, "interpolate = [[\"baseline\", \"wd-0.01\"], [\"wd-0.01\", \"baseline\"]]",
                   "interpolate names the pair 'wd-0.01', 'baseline' twice", line: 4)
        try refuse(two, "interpolate = [\"baseline\", \"wd-0.01\"]", "key 'interpolate' must be an array of run-name pairs", line: 4)
        try refuse(two, "interpolate_points = 5", "interpolate_points without interpolate", line: 4)
        try refuse(two, "frequencies = \"\(Self.fixtures)/data/test-persuasion.bin\"", "frequencies without per_token", line: 4)
        try refuse(["baseline", "reference"], "interpolate = [[\"baseline\", \"reference\"]]",
                   "interpolate: runs 'baseline' and 'reference' cannot be interpolated: their shapes differ (layers 4 vs 6", line: nil)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/cache"), "nothing was scored")
    }
}
