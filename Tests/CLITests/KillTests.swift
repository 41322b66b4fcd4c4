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

    /// A folder with a manifest of two example runs and a first report made from it; returns
    /// (folder, report arguments). The caller removes the folder.
    func firstReport() throws -> (dir: String, args: [String]) {
        let bin = Self.root + "/examples/test-persuasion.bin", runs = Self.root + "/examples/runs"
        guard FileManager.default.fileExists(atPath: runs + "/wd-0.01/model.safetensors") else { throw XCTSkip("examples/runs missing") }
        let dir = NSTemporaryDirectory() + "gpt2lab-kill-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
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
        let args = ["report", manifest, "--out", dir + "/report", "--cache", dir + "/cache", "--bootstrap", "200"]
        let first = try start(args)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertNotNil(snapshot(dir + "/report")["index.html"])
        return (dir, args)
    }

    /// Reruns the report with other seeds (other numbers) and sends `signal` as soon as its
    /// temporary folder appears. Returns the report as it was before the interrupted run, or nil
    /// when five runs all finished first.
    func interruptWhileWriting(_ dir: String, _ args: [String], signal: Int32) throws -> [String: Data]? {
        for attempt in 0..<5 {
            let before = snapshot(dir + "/report")
            let p = try start(args + ["--seed", "\(attempt + 1)"])
            var sent = false
            while p.isRunning && !sent {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                if names.contains(where: { $0.hasPrefix(".report.tmp-") }) {
                    kill(p.processIdentifier, signal)
                    sent = true
                }
                usleep(200)
            }
            p.waitUntilExit()
            if sent {
                XCTAssertEqual(p.terminationReason, .uncaughtSignal, "dies of the signal")
                XCTAssertEqual(p.terminationStatus, signal)
                return before
            }
            XCTAssertEqual(p.terminationStatus, 0)
        }
        return nil
    }

    /// Hidden entries (temporaries) in `dir` and in its cache folder.
    func hiddenLeftovers(_ dir: String) -> [String] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(".") }
            + ((try? fm.contentsOfDirectory(atPath: dir + "/cache")) ?? []).filter { $0.hasPrefix(".") }.map { "cache/" + $0 }
    }

    /// SIGTERM (a scheduler's stop) and SIGINT (Ctrl-C) are caught: the run removes its own
    /// temporaries before dying of the signal, so nothing is left for the next run to clean.
    func testInterruptedReportRemovesItsTemporaries() throws {
        let (dir, args) = try firstReport()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for signal in [SIGTERM, SIGINT] {
            guard let before = try interruptWhileWriting(dir, args, signal: signal) else {
                throw XCTSkip("report finished before it could be interrupted mid-write (5 tries)")
            }
            XCTAssertEqual(snapshot(dir + "/report"), before, "signal \(signal): the previous report is intact, byte for byte")
            XCTAssertEqual(hiddenLeftovers(dir), [], "signal \(signal): no temporary left behind")
            let visible = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted()
            XCTAssertEqual(visible, ["cache", "m.toml", "report"], "no partial file beside the report")
        }
    }

    func testKilledReportLeavesThePreviousOneIntact() throws {
        let (dir, args) = try firstReport()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let before = try interruptWhileWriting(dir, args, signal: SIGKILL) else {
            throw XCTSkip("report finished before it could be killed mid-write (5 tries)")
        }
        XCTAssertEqual(snapshot(dir + "/report"), before, "the previous report is intact, byte for byte")
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
