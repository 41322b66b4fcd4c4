import Foundation
import XCTest

/// What a user's files go through: every verb that writes checks its output path before any work,
/// replaces only a previous output of its own kind, and leaves everything else byte for byte.
extension CLITests {
    func example(_ relative: String) throws -> String {
        let path = Self.packageRoot.appendingPathComponent("examples/" + relative).path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("examples/\(relative) missing") }
        return path
    }

    func scratch(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2lab-\(name)-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every file below `dir` (relative path → bytes), to compare a user's files before and after.
    func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let paths = FileManager.default.subpaths(atPath: dir.path) ?? []
        for p in paths {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.path + "/" + p, isDirectory: &isDir), !isDir.boolValue {
                out[p] = try Data(contentsOf: dir.appendingPathComponent(p))
            }
        }
        return out
    }

    /// A small manifest over the example runs (first 2,049 tokens), written into `dir`.
    func smallManifest(in dir: URL, baseline: String = "baseline", extraRunLines: [String: String] = [:]) throws -> String {
        let runs = ["baseline", "baseline-seed67", "wd-0.01", "stacked"]
        var text = "title = \"t\"\ntest_set = \"\(try example("test-persuasion.bin"))\"\nbaseline = \"\(baseline)\"\nmax_tokens = 2049\n"
        for r in runs {
            text += "\n[[run]]\nname = \"\(r)\"\ncheckpoint = \"\(try example("runs/\(r)/model.safetensors"))\"\n"
            if r == "baseline-seed67" { text += "seed_group = \"baseline\"\n" }
            if let extra = extraRunLines[r] { text += extra + "\n" }
        }
        let path = dir.appendingPathComponent("m.toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func assertOneLineError(_ r: (status: Int32, out: String, err: String), contains: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "accepted: \(r.out)", file: file, line: line)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err, file: file, line: line)
        XCTAssertTrue(r.err.contains(contains), "'\(contains)' not in: \(r.err)", file: file, line: line)
    }

    func testReportOutNeverReplacesWhatIsNotAReport() throws {
        let dir = try scratch("report-out")
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try smallManifest(in: dir)
        let cache = dir.appendingPathComponent("cache").path
        // A folder with the user's notes, a file, and the current folder: refused, untouched.
        let notes = dir.appendingPathComponent("x")
        try FileManager.default.createDirectory(at: notes, withIntermediateDirectories: true)
        try Data("hi\n".utf8).write(to: notes.appendingPathComponent("notes.md"))
        let file = dir.appendingPathComponent("file.txt")
        try Data("mine\n".utf8).write(to: file)
        let before = try snapshot(dir)
        assertOneLineError(try gpt2lab(["report", manifest, "--out", notes.path, "--cache", cache]), contains: "notes.md")
        assertOneLineError(try gpt2lab(["report", manifest, "--out", file.path, "--cache", cache]), contains: "is a file")
        assertOneLineError(try gpt2lab(["report", manifest, "--out", ".", "--cache", cache]), contains: "current folder")
        // "x/nosuch/.." is x whatever "nosuch" is (a missing "nosuch" let it pass as a new folder, and x was replaced).
        assertOneLineError(try gpt2lab(["report", manifest, "--out", notes.path + "/nosuch/..", "--cache", cache]), contains: "notes.md")
        assertOneLineError(try gpt2lab(["report", manifest, "--out", "~/gpt2lab-report", "--cache", cache]), contains: "only a shell expands")
        XCTAssertEqual(try snapshot(dir), before, "the user's files changed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache), "refused before any scoring")

        // A new folder is written; a second run replaces its own report.
        let out = dir.appendingPathComponent("deep/new").path
        let first = try gpt2lab(["report", manifest, "--out", out, "--cache", cache])
        XCTAssertEqual(first.status, 0, first.err)
        let again = try gpt2lab(["report", manifest, "--out", out, "--cache", cache])
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertTrue(again.err.contains("baseline: cached"), again.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/index.html"))
        // Once the user adds a file of their own to it, it is theirs: refused.
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: out + "/notes.md"))
        assertOneLineError(try gpt2lab(["report", manifest, "--out", out, "--cache", cache]), contains: "notes.md")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/notes.md")), Data("mine\n".utf8))
        // A PNG is the report's only when gpt2lab drew it: a screenshot of the user's is theirs.
        try FileManager.default.removeItem(atPath: out + "/notes.md")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: out + "/screenshot.png"))
        assertOneLineError(try gpt2lab(["report", manifest, "--out", out, "--cache", cache]), contains: "screenshot.png")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/screenshot.png"))
        // A chart gpt2lab drew for another command, saved into the report's folder, is the user's: the report's
        // own charts are the ones its page shows (a re-run deleted `norms --plot` charts there).
        try FileManager.default.removeItem(atPath: out + "/screenshot.png")
        let mine = try gpt2lab(["norms", try example("runs/baseline/model.safetensors"), "--plot", out + "/my-norms.png"])
        XCTAssertEqual(mine.status, 0, mine.err)
        assertOneLineError(try gpt2lab(["report", manifest, "--out", out, "--cache", cache]), contains: "my-norms.png")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/my-norms.png"))
    }

    func testPartAndChartOutputsAreCheckedBeforeAnyWork() throws {
        let dir = try scratch("outputs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = try example("runs/baseline/model.safetensors"), bin = try example("test-persuasion.bin")
        let mine = dir.appendingPathComponent("p.json"), png = dir.appendingPathComponent("n.png")
        try Data("{\"mine\": 1}\n".utf8).write(to: mine)
        try Data("not a chart of gpt2lab's".utf8).write(to: png)
        let before = try snapshot(dir)
        let score = ["score", ckpt, "--test-set", bin, "--max-tokens", "3000", "--shard", "0/2", "--out"]
        // A missing folder fails at once: no "shard 0/2: windows" line (that comes after scoring).
        assertOneLineError(try gpt2lab(score + [dir.path + "/missing/p.json"]), contains: "does not exist")
        assertOneLineError(try gpt2lab(score + [mine.path]), contains: "not a gpt2lab part file")
        assertOneLineError(try gpt2lab(score + [dir.path]), contains: "is a folder")
        let evalData = try example("evals/lambada.jsonl")
        assertOneLineError(try gpt2lab(["eval", ckpt, "--task", "lambada", "--data", evalData, "--shard", "0/2", "--out", mine.path]),
                           contains: "not a gpt2lab part file")
        assertOneLineError(try gpt2lab(["norms", ckpt, "--plot", png.path]), contains: "not a chart written by gpt2lab")
        XCTAssertEqual(try snapshot(dir), before, "the user's files changed")

        // gpt2lab's own outputs are replaced on a second run.
        let part = dir.appendingPathComponent("part.json").path
        for _ in 0..<2 { XCTAssertEqual(try gpt2lab(score + [part]).status, 0) }
        let plot = dir.appendingPathComponent("norms.png").path
        for _ in 0..<2 {
            let r = try gpt2lab(["norms", ckpt, "--plot", plot])
            XCTAssertEqual(r.status, 0, r.err)
        }
        XCTAssertEqual(try snapshot(dir)[mine.lastPathComponent], before[mine.lastPathComponent])
    }

    /// Output to a full stdout (`> /dev/full`) is one error line and exit 1, in JSON (where a write trapped with a
    /// backtrace) and in text (where the output was lost and the exit was 0).
    func testFullStandardOutputIsAnError() throws {
        guard let full = FileHandle(forWritingAtPath: "/dev/full") else { throw XCTSkip("no /dev/full here") }
        let ckpt = try fixture("runs/baseline/model.safetensors"), bin = try fixture("data/test-persuasion.bin")
        for args in [["score", ckpt, "--test-set", bin, "--max-tokens", "600", "--json"],
                     ["score", ckpt, "--test-set", bin, "--max-tokens", "600"], ["inspect", ckpt]] {
            let p = Process(), err = Pipe()
            p.executableURL = try binary()
            p.arguments = args
            p.standardOutput = full; p.standardError = err
            try p.run()
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 1, "\(args): \(e)")
            XCTAssertEqual(e, "gpt2lab: cannot write the output to standard output: No space left on device\n", "\(args)")
        }
    }

    /// A steps chart from an earlier run of the same --plot is removed when this run draws none, so the folder
    /// never pairs new charts with a steps chart of other checkpoints.
    func testStaleStepsChartIsRemoved() throws {
        let dir = try scratch("stale-steps")
        defer { try? FileManager.default.removeItem(at: dir) }
        let steps = [try fixture("runs/baseline/step-000571.safetensors"), try fixture("runs/baseline/step-001143.safetensors")]
        for command in ["norms", "spectra"] {
            let plot = dir.appendingPathComponent("\(command).png").path, stepsPlot = dir.appendingPathComponent("\(command)-steps.png").path
            XCTAssertEqual(try gpt2lab([command] + steps + ["--plot", plot]).status, 0, command)
            XCTAssertTrue(FileManager.default.fileExists(atPath: stepsPlot), command)
            let one = try gpt2lab([command, steps[0], "--plot", plot])
            XCTAssertEqual(one.status, 0, one.err)
            XCTAssertFalse(FileManager.default.fileExists(atPath: stepsPlot), command)
            XCTAssertTrue(one.err.contains("removed \(stepsPlot)"), one.err)
        }
    }

    /// Heads change the numbers, so they are part of the score key: the cache scores again and
    /// `merge` refuses parts scored with different heads, naming the setting. A bare state dict (no
    /// config anywhere) is where the heads are the user's to give.
    func testHeadsArePartOfTheScoreKey() throws {
        let dir = try scratch("heads")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pth = dir.appendingPathComponent("model.pth").path
        try FileManager.default.copyItem(atPath: try fixture("formats/baseline-model.pth"), toPath: pth)
        let bin = try example("test-persuasion.bin")
        let common = ["score", pth, "--test-set", bin, "--max-tokens", "3000"]
        let p0 = dir.appendingPathComponent("p0.json").path, p1 = dir.appendingPathComponent("p1.json").path
        XCTAssertEqual(try gpt2lab(common + ["--shard", "0/2", "--out", p0, "--heads", "4"]).status, 0)
        XCTAssertEqual(try gpt2lab(common + ["--shard", "1/2", "--out", p1, "--heads", "2"]).status, 0)
        let merged = try gpt2lab(["merge", p0, p1])
        assertOneLineError(merged, contains: "heads (2 vs 4)")
        XCTAssertFalse(merged.err.contains("context"), "names only what differs: \(merged.err)")

        let cache = dir.appendingPathComponent("cache").path
        func manifest(heads: Int) throws -> String {
            let path = dir.appendingPathComponent("m\(heads).toml").path
            try """
                title = "t"
                test_set = "\(bin)"
                baseline = "baseline"
                max_tokens = 2049

                [[run]]
                name = "baseline"
                checkpoint = "\(try example("runs/baseline/model.safetensors"))"

                [[run]]
                name = "bare"
                checkpoint = "\(pth)"
                heads = \(heads)
                """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let r1 = try gpt2lab(["report", try manifest(heads: 4), "--out", dir.path + "/r1", "--cache", cache])
        XCTAssertEqual(r1.status, 0, r1.err)
        let r2 = try gpt2lab(["report", try manifest(heads: 2), "--out", dir.path + "/r2", "--cache", cache])
        XCTAssertEqual(r2.status, 0, r2.err)
        XCTAssertTrue(r2.err.contains("baseline: cached"), r2.err)
        XCTAssertTrue(r2.err.contains("bare: scoring"), "heads changed, so scored again: \(r2.err)")
    }

    /// With the stacked run as the baseline and a seed group of baseline + baseline-seed67 (which does
    /// not hold the baseline), the seed runs are compared like any run: 0.4 nats worse is "worse", not noise.
    func testVerdictComparesASeedGroupWithoutTheBaselineLikeAnyRun() throws {
        let dir = try scratch("verdict")
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try smallManifest(in: dir, baseline: "stacked")
        let r = try gpt2lab(["report", manifest, "--out", dir.path + "/r", "--cache", dir.path + "/cache", "--json", "--bootstrap", "200"])
        XCTAssertEqual(r.status, 0, r.err)
        let runs = try XCTUnwrap(try json(r.out)["runs"] as? [[String: Any]])
        func run(_ name: String) throws -> [String: Any] { try XCTUnwrap(runs.first { $0["name"] as? String == name }) }
        let band = try XCTUnwrap((try json(r.out)["seed_noise"] as? [String: Any])?["half_width"] as? Double)
        for name in ["baseline", "baseline-seed67", "wd-0.01"] {
            let x = try run(name)
            let delta = try XCTUnwrap(x["delta_vs_baseline"] as? Double)
            XCTAssertGreaterThan(delta, band, name)
            XCTAssertEqual(x["in_noise"] as? Bool, false, name)
            XCTAssertEqual(x["verdict"] as? String, "worse", name)
        }
        XCTAssertTrue(NSNull().isEqual(try run("stacked")["verdict"]), "the baseline has no verdict")
        let html = try String(contentsOfFile: dir.path + "/r/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<td class=\"worse\">worse</td>"), "worse is shown as worse (red), never green")
        XCTAssertFalse(html.contains("class=\"better\">worse"))
    }
}

/// `report --device`: without a GPU, `cuda` stops with one line before any scoring and writes nothing;
/// `auto` scores on the CPU, so the report's numbers are the CPU's and its settings name no device.
extension CLITests {
    func testReportDeviceWithoutGPU() throws {
        guard try cudaProblem() != nil else { throw XCTSkip("this machine has a working GPU") }
        let dir = try scratch("report-device")
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = try smallManifest(in: dir), cache = dir.path + "/cache"
        let cuda = try gpt2lab(["report", manifest, "--out", dir.path + "/r", "--cache", cache, "--device", "cuda"])
        assertOneLineError(cuda, contains: "--device cuda:0: ")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path + "/r"), "nothing written")
        XCTAssertFalse(cuda.err.contains("scoring"), cuda.err)
        let auto = try gpt2lab(["report", manifest, "--out", dir.path + "/a", "--cache", cache, "--device", "auto", "--json", "--bootstrap", "100"])
        XCTAssertEqual(auto.status, 0, auto.err)
        let cpu = try gpt2lab(["report", manifest, "--out", dir.path + "/c", "--cache", cache, "--json", "--bootstrap", "100"])
        XCTAssertTrue(cpu.err.contains("baseline: cached"), "auto scored on the CPU, under the CPU's key: \(cpu.err)")
        let a = try json(auto.out), c = try json(cpu.out)
        XCTAssertNil((a["settings"] as? [String: Any])?["device"])
        XCTAssertEqual((a["runs"] as? [[String: Any]])?.map { $0["loss"] as? Double }, (c["runs"] as? [[String: Any]])?.map { $0["loss"] as? Double })
    }
}
