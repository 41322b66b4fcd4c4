import Checkpoints
import Foundation
import TestFixtures
import XCTest
@testable import Analysis
@testable import Report

/// Counts the comparison's checkpoint opens, by path: each header read and each load.
private final class OpenCounter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var peeks: [String: Int] = [:], loads: [String: Int] = [:]
    func peek(_ p: String) { lock.lock(); peeks[p, default: 0] += 1; lock.unlock() }
    func load(_ p: String) { lock.lock(); loads[p, default: 0] += 1; lock.unlock() }
    var opener: CheckpointOpener {
        CheckpointOpener(peek: { [self] p, h, v in peek(p); return try CheckpointOpener.files.peek(p, h, v) },
                         load: { [self] p, h, v in load(p); return try CheckpointOpener.files.load(p, h, v) })
    }
}

/// The report's phases share one load of each checkpoint: every phase of a run (score, norms,
/// completions, Hessian, benchmarks, per-token against the baseline) reads the same copy, and each
/// step checkpoint is loaded once; a checkpoint's header is read once, for the checks.
final class CheckpointOpensTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let fixtures = root + "/../shared/fixtures"

    func manifest(top: String) throws -> (path: String, checkpoints: [String]) {
        guard FileManager.default.fileExists(atPath: Self.fixtures + "/runs") else { throw missingFixtures("../shared/fixtures not found") }
        let dir = NSTemporaryDirectory() + "gpt2lab-opens-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        var s = "title = \"opens\"\ntest_set = \"\(Self.fixtures)/data/test-persuasion.bin\"\nbaseline = \"baseline\"\nmax_tokens = 1025\n"
            + "hellaswag = \"\(Self.root)/examples/evals/hellaswag.jsonl\"\nlambada = \"\(Self.root)/examples/evals/lambada.jsonl\"\n"
            + "eval_limit = 3\nper_token = true\nper_token_max_tokens = 256\nloss_across_steps = true\n\(top)\n"
        var checkpoints: [String] = []
        for r in ["baseline", "wd-0.01", "stacked"] {
            let ck = "\(Self.fixtures)/runs/\(r)/model.safetensors"
            checkpoints.append(ck)
            s += "\n[[run]]\nname = \"\(r)\"\ncheckpoint = \"\(ck)\"\n"
        }
        try s.write(toFile: dir + "/m.toml", atomically: true, encoding: .utf8)
        return (dir + "/m.toml", checkpoints)
    }

    func assertEachOpenedOnce(top: String) throws {
        let (path, checkpoints) = try manifest(top: top)
        let counter = OpenCounter()
        var o = testReportOptions(cache: nil, bootstrap: 50, completions: true)
        o.completionTokens = 3
        o.hessianSamples = 1
        let (r, _) = try compareRuns(try loadManifest(path: path), options: o, opener: counter.opener) { _ in }
        // Every phase ran on the shared loads.
        XCTAssertEqual(r.runs.map { $0.completion != nil && $0.hessianTrace != nil }, [true, true, true])
        XCTAssertEqual(r.evals?.map { $0.runs.count }, [3, 3])
        XCTAssertEqual(r.perToken?.map(\.run), ["wd-0.01", "stacked"])
        let steps = ["step-000571", "step-001143"].map { "\(Self.fixtures)/runs/baseline/\($0).safetensors" }
        XCTAssertEqual(r.run("baseline")?.stepLosses?.filter { $0.source != .run }.map(\.checkpoint), steps)
        XCTAssertEqual(counter.loads, Dictionary(uniqueKeysWithValues: (checkpoints + steps).map { ($0, 1) }), "one load per checkpoint")
        XCTAssertEqual(counter.peeks, Dictionary(uniqueKeysWithValues: (checkpoints + steps).map { ($0, 1) }), "one header read per checkpoint")
    }

    func testFullScoresOpenEachCheckpointOnce() throws { try assertEachOpenedOnce(top: "") }

    func testSequentialScoresOpenEachCheckpointOnce() throws { try assertEachOpenedOnce(top: "ci = 0.05") }
}
