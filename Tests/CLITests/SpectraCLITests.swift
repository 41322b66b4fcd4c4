import Foundation
import XCTest

/// `gpt2lab spectra` end to end: its JSON against WeightWatcher's numbers for the same checkpoints
/// (Tests/AnalysisTests/Fixtures/spectra-weightwatcher.json, from tests/reference/spectra_reference.py), its charts,
/// and its refusals.
extension CLITests {
    func weightWatcherRun(_ checkpoint: String) throws -> [String: Any] {
        let path = Self.packageRoot.appendingPathComponent("Tests/AnalysisTests/Fixtures/spectra-weightwatcher.json").path
        let runs = try XCTUnwrap(try json(String(contentsOfFile: path, encoding: .utf8))["runs"] as? [[String: Any]])
        return try XCTUnwrap(runs.first { $0["checkpoint"] as? String == checkpoint })
    }

    func testSpectraJSONAndChartsMatchWeightWatcher() throws {
        let dir = try scratch("spectra")
        defer { try? FileManager.default.removeItem(at: dir) }
        let steps = try ["step-000571", "step-001143", "model"].map { try fixture("runs/baseline/\($0).safetensors") }
        let plot = dir.appendingPathComponent("alpha.png").path
        let r = try gpt2lab(["spectra"] + steps + ["--steps", "571,1143,2286", "--json", "--plot", plot])
        XCTAssertEqual(r.status, 0, r.err)
        let checkpoints = try XCTUnwrap(try json(r.out)["checkpoints"] as? [[String: Any]])
        XCTAssertEqual(checkpoints.count, 3)
        // The final checkpoint's means are WeightWatcher's summary means; every matrix is there.
        let ww = try weightWatcherRun("runs/baseline/model.safetensors")
        let summary = try XCTUnwrap(ww["ww_summary"] as? [String: Double])
        let last = checkpoints[2]
        XCTAssertEqual(try XCTUnwrap(last["mean_alpha_hat"] as? Double), summary["mean_alpha_weighted"]!,
                       accuracy: 1e-8 * abs(summary["mean_alpha_weighted"]!))
        XCTAssertEqual(try XCTUnwrap(last["mean_alpha"] as? Double), summary["mean_alpha"]!, accuracy: 1e-8 * summary["mean_alpha"]!)
        let matrices = try XCTUnwrap(last["matrices"] as? [[String: Any]])
        XCTAssertEqual(matrices.count, (ww["matrices"] as? [Any])?.count)
        let wte = try XCTUnwrap(matrices.first { $0["name"] as? String == "wte.weight" })
        XCTAssertEqual(wte["ww_skips"] as? Bool, true)
        // Both charts written, and marked as gpt2lab's.
        for path in [plot, dir.appendingPathComponent("alpha-steps.png").path] {
            let head = try XCTUnwrap(FileHandle(forReadingAtPath: path)).readData(ofLength: 8)
            XCTAssertEqual(Array(head), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], path)
        }
        XCTAssertTrue(r.err.contains("wrote \(plot)"), r.err)
    }

    func testSpectraTableAndRefusals() throws {
        let dir = try scratch("spectra-refusals")
        defer { try? FileManager.default.removeItem(at: dir) }
        let ckpt = try fixture("runs/reference/model.safetensors")
        let r = try gpt2lab(["spectra", ckpt])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("attn.q") && r.out.contains("mean α̂"), r.out)
        XCTAssertFalse(r.out.contains("lm_head"), "a tied head is the token embedding: \(r.out)")
        assertOneLineError(try gpt2lab(["spectra", ckpt, dir.appendingPathComponent("missing.safetensors").path]),
                           contains: "missing.safetensors")
        let mine = dir.appendingPathComponent("mine.png")
        try Data("not a chart".utf8).write(to: mine)
        assertOneLineError(try gpt2lab(["spectra", ckpt, "--plot", mine.path]), contains: "not a chart written by gpt2lab")
        XCTAssertEqual(try String(contentsOf: mine, encoding: .utf8), "not a chart")
        XCTAssertNotEqual(try gpt2lab(["spectra", ckpt, "--plot", dir.appendingPathComponent("x.svg").path]).status, 0)
        XCTAssertNotEqual(try gpt2lab(["spectra", ckpt, "--steps", "1,2"]).status, 0)
        let dup = try gpt2lab(["spectra", ckpt, ckpt, "--steps", "5,5"])
        XCTAssertEqual(dup.status, 64, dup.err)
        XCTAssertTrue(dup.err.contains("step 5 twice"), dup.err)
    }

    /// The steps chart (norms' and spectra's FILE-steps.png) is one run's: step-N checkpoints of two runs are not
    /// joined into one line (it drew both runs as one "during training" line), and a checkpoint without a step is
    /// named rather than silently left out.
    func testStepsChartIsOneRunsSteps() throws {
        let dir = try scratch("steps-one-run")
        defer { try? FileManager.default.removeItem(at: dir) }
        let runB = dir.appendingPathComponent("runB")
        try FileManager.default.createDirectory(at: runB, withIntermediateDirectories: true)
        let a = try ["step-000571", "step-001143"].map { try fixture("runs/baseline/\($0).safetensors") }
        for (i, name) in ["step-000571", "step-001143"].enumerated() {
            try FileManager.default.copyItem(atPath: a[i], toPath: runB.appendingPathComponent(name + ".safetensors").path)
        }
        let b = ["step-000571", "step-001143"].map { runB.appendingPathComponent($0 + ".safetensors").path }
        let plot = dir.appendingPathComponent("n.png").path
        let two = try gpt2lab(["norms"] + a + b + ["--plot", plot])
        XCTAssertEqual(two.status, 0, two.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("n-steps.png").path), "two runs joined as one")
        XCTAssertTrue(two.err.contains("not one run's"), two.err)
        let final = try fixture("runs/baseline/model.safetensors")
        let one = try gpt2lab(["norms"] + a + [final, "--plot", plot])
        XCTAssertEqual(one.status, 0, one.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("n-steps.png").path))
        XCTAssertTrue(one.err.contains("\(final) has no training step in its name"), one.err)
    }
}

extension CLITests {
    /// --qkv fused: one attn.qkv matrix per block, means equal to WeightWatcher's on q, k, v stacked (the
    /// fused fixture of tests/reference/spectra_reference.py), and a chart with its panel.
    func testSpectraFusedQKV() throws {
        let dir = try scratch("spectra-fused")
        defer { try? FileManager.default.removeItem(at: dir) }
        let plot = dir.appendingPathComponent("alpha.png").path
        let r = try gpt2lab(["spectra", try fixture("runs/baseline/model.safetensors"), "--qkv", "fused", "--json", "--plot", plot])
        XCTAssertEqual(r.status, 0, r.err)
        let s = try XCTUnwrap((try json(r.out)["checkpoints"] as? [[String: Any]])?.first)
        let roles = try XCTUnwrap(s["matrices"] as? [[String: Any]]).compactMap { $0["role"] as? String }
        XCTAssertEqual(roles.filter { $0 == "attn.qkv" }.count, 4)
        XCTAssertFalse(roles.contains("attn.q"))
        let path = Self.packageRoot.appendingPathComponent("Tests/AnalysisTests/Fixtures/spectra-weightwatcher-fused.json").path
        let runs = try XCTUnwrap(try json(String(contentsOfFile: path, encoding: .utf8))["runs"] as? [[String: Any]])
        let ww = try XCTUnwrap(runs.first { $0["checkpoint"] as? String == "runs/baseline/model.safetensors" }?["ww_summary"] as? [String: Double])
        XCTAssertEqual(try XCTUnwrap(s["mean_alpha"] as? Double), ww["mean_alpha"]!, accuracy: 1e-9 * ww["mean_alpha"]!)
        XCTAssertTrue(FileManager.default.fileExists(atPath: plot))
        let table = try gpt2lab(["spectra", try fixture("runs/baseline/model.safetensors"), "--qkv", "fused"])
        XCTAssertTrue(table.out.contains("attn.qkv") && table.out.contains("192×64"), table.out)
    }
}
