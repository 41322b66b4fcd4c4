import Foundation
import XCTest

/// A `gpt2lab report` killed (SIGKILL) while it writes leaves the previous report as it was and
/// no partial file in it; its hidden temporary folder is cleared by the next run.
final class KillTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func binary() throws -> String {
        let candidates = [
            Bundle(for: KillTests.self).bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        ].map { $0.appendingPathComponent("gpt2lab").path }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("gpt2lab binary not found in \(candidates)")
        }
        return path
    }

    func start(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Every file under `dir` (relative path → bytes).
    func snapshot(_ dir: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for case let f as String in FileManager.default.enumerator(atPath: dir) ?? FileManager.default.enumerator(atPath: "/dev/null")! {
            if let d = FileManager.default.contents(atPath: dir + "/" + f) { out[f] = d }
        }
        return out
    }

    func testKilledReportLeavesThePreviousOneIntact() throws {
        let bin = Self.root + "/examples/test-persuasion.bin", runs = Self.root + "/examples/runs"
        guard FileManager.default.fileExists(atPath: runs + "/wd-0.01/model.safetensors") else { throw XCTSkip("examples/runs missing") }
        let dir = NSTemporaryDirectory() + "gpt2lab-kill-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let manifest = dir + "/m.toml"
        try """
        title = "kill test"
        test_set = "\(bin)"
        max_tokens = 1025
        baseline = "baseline"
        [[run]]
        name = "baseline"
        checkpoint = "\(runs)/baseline/model.safetensors"
        [[run]]
        name = "wd"
        checkpoint = "\(runs)/wd-0.01/model.safetensors"
        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let out = dir + "/report", args = ["report", manifest, "--out", out, "--cache", dir + "/cache", "--bootstrap", "200"]
        let first = try start(args)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        var before = snapshot(out)
        XCTAssertNotNil(before["index.html"])

        // Again, with another seed (different numbers); SIGKILL as soon as its temporary folder appears.
        var killedWhileWriting = false
        for attempt in 0..<5 where !killedWhileWriting {
            before = snapshot(out)
            let p = try start(args + ["--seed", "\(attempt + 1)"])
            while p.isRunning {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                if names.contains(where: { $0.hasPrefix(".report.tmp-") }) {
                    kill(p.processIdentifier, SIGKILL)
                    killedWhileWriting = true
                    break
                }
                usleep(200)
            }
            p.waitUntilExit()
            if killedWhileWriting { XCTAssertEqual(p.terminationReason, .uncaughtSignal) } else { XCTAssertEqual(p.terminationStatus, 0) }
        }
        guard killedWhileWriting else { throw XCTSkip("report finished before it could be killed mid-write (5 tries)") }
        XCTAssertEqual(snapshot(out), before, "the previous report is intact, byte for byte")
        let visible = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(visible, ["cache", "m.toml", "report"], "no partial file beside the report")
        XCTAssertTrue(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.hasPrefix(".report.tmp-") },
                      "the killed run's hidden temporary is what it left")

        // The next run clears what the killed one left.
        let next = try start(args)
        next.waitUntilExit()
        XCTAssertEqual(next.terminationStatus, 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".report.") }
        XCTAssertEqual(leftovers, [], "stale temporaries removed")
    }
}
